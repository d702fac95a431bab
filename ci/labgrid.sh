#!/usr/bin/env bash
# labgrid places as targets, for real on loopback (docs/labs.md): PyPI
# labgrid in a venv, Debian ser2net, a coordinator, and an exporter per
# board. cam1 is the firmware on the emulated board (QEMU virt): its UART
# on a pty as a RawSerialPort, a power relay resetting it as a
# NetworkPowerPort (labgrid's `simplerest` model), its forwarded HTTP port
# as a NetworkService. cam2 is the simulator's virtual board
# (cam-sim --console-pty, its /hil/power route). Then:
#   1. the protocol scenarios pass through --target labgrid:cam1, and the
#      place is released; a second run under another identity, asking for
#      the same place meanwhile, queues and passes after it;
#   2. a failing run releases it too;
#   3. a run ended with SIGTERM or SIGINT while it holds the place
#      releases it;
#   4. after a run killed with SIGKILL (its lock left behind) the next run
#      under the same identity takes the place back and passes;
#   5. `cam-hil labgrid release` releases a place by hand;
#   6. with two places, a board that vanishes mid-run is retired with a
#      clear message while the other place carries on;
#   7. (LABGRID_NIGHTLY=1) ci/nightly.sh --labgrid runs the whole suite
#      over two places.
# Every wait is bounded; everything started is stopped by its pid.
#
#   bash ci/labgrid.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# Waits up to $1 s for the command after it to succeed.
wait_for() {
  local limit=$1; shift
  local end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || { echo "labgrid.sh: timed out after ${limit} s: $*" >&2; return 1; }
    sleep 0.2
  done
}

if ! command -v ser2net >/dev/null; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q ser2net >/dev/null
fi
venv=target/labgrid-venv
if [ ! -x "$venv/bin/labgrid-client" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check labgrid
fi
export PATH="$root/$venv/bin:$PATH"
cargo build --locked -q -p cam-hil -p cam-sim
hil=$root/target/debug/cam-hil
command -v qemu-system-riscv32 >/dev/null || { echo "qemu-system-riscv32 not found: apt-get install qemu-system-misc" >&2; exit 2; }
[ -f target/firmware/cam-fw-qemu.elf ] || bash ci/firmware-qemu.sh

# A free loopback port (bound and let go; the coordinator and QEMU need a
# number).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export LG_COORDINATOR=127.0.0.1:$(free_port)
(cd "$work" && exec labgrid-coordinator -l "$LG_COORDINATOR" >coordinator.log 2>&1) &
pids+=($!)
wait_for 20 labgrid-client places

# Exports console PTY as place NAME (exporter NAME, tag board=esp32c3) with
# the power switch at URL (labgrid's `simplerest` model) and, when given,
# the cam's forwarded port as a NetworkService.
export_board() {
  local name=$1 pty=$2 power=$3 cam_port=${4:-}
  {
    echo "cam:"
    echo "  RawSerialPort:"
    echo "    port: \"$pty\""
    echo "    speed: 115200"
    echo "  NetworkPowerPort:"
    echo "    model: simplerest"
    echo "    host: \"$power\""
    echo "    index: 0"
    if [ -n "$cam_port" ]; then
      echo "  NetworkService:"
      echo "    address: 127.0.0.1"
      echo "    port: $cam_port"
      echo "    username: cam"
    fi
  } >"$work/$name.yaml"
  (cd "$work" && exec labgrid-exporter -c "$LG_COORDINATOR" -n "$name" --hostname 127.0.0.1 "$name.yaml" >"$name.exporter.log" 2>&1) &
  pids+=($!)
  wait_for 20 sh -c "labgrid-client resources | grep -q $name/cam/NetworkSerialPort"
  labgrid-client -p "$name" create
  labgrid-client -p "$name" add-match "$name/cam/*"
  labgrid-client -p "$name" set-tags board=esp32c3
}

# An emulated board NAME: the firmware's qemu-virt build in QEMU, its UART
# on a pty, its monitor behind a power relay (ci/power_relay.py: power on is
# `system_reset`), its port 80 forwarded to loopback and exported as the
# place's NetworkService (its console names the guest's own address,
# 10.0.2.15, which the host cannot reach). Its pid in $work/NAME.pid.
start_fw_board() {
  local name=$1 fwd pty
  fwd=$(free_port)
  qemu-system-riscv32 -machine virt -cpu rv32,a=off,f=off,d=off,h=off -smp 1 -m 128M -bios none -display none \
    -serial pty -monitor "unix:$work/$name.mon,server=on,wait=off" -global virtio-mmio.force-legacy=false \
    -device virtio-rng-device -device virtio-net-device,netdev=n0 \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$fwd-:80" -kernel "$root/target/firmware/cam-fw-qemu.elf" \
    >"$work/$name.qemu.log" 2>&1 &
  pids+=($!)
  echo $! >"$work/$name.pid"
  wait_for 20 grep -q "redirected to /dev/pts" "$work/$name.qemu.log"
  pty=$(sed -n 's|.*redirected to \(/dev/pts/[0-9]*\).*|\1|p' "$work/$name.qemu.log")
  python3 ci/power_relay.py "$work/$name.mon" >"$work/$name.relay" &
  pids+=($!)
  wait_for 10 test -s "$work/$name.relay"
  export_board "$name" "$pty" "http://127.0.0.1:$(head -1 "$work/$name.relay")/relay/{value}" "$fwd"
}

# A virtual board NAME: the simulator with its console on a pty and its
# power switch (GET /hil/power/{0,1}). Its pid in $work/NAME.pid.
start_board() {
  local name=$1
  "$root/target/debug/cam-sim" --listen 127.0.0.1:0 --console-pty >"$work/$name.sim.log" 2>&1 &
  pids+=($!)
  echo $! >"$work/$name.pid"
  wait_for 20 grep -q "listening on" "$work/$name.sim.log"
  export_board "$name" "$(sed -n 's/^cam-sim: console on //p' "$work/$name.sim.log")" \
    "$(sed -n 's/^cam-sim: listening on //p' "$work/$name.sim.log")/hil/power/{value}"
}
# cam1 is the firmware on the emulated board; cam2, later, the simulator.
start_fw_board cam1

acquired_by() { labgrid-client -p "${1:-cam1}" show | sed -n 's/^  acquired: //p'; }
released() {
  local place=${2:-cam1} who
  who=$(acquired_by "$place")
  [ "$who" = "None" ] || { echo "labgrid.sh: $place still acquired by $who ($1)" >&2; exit 1; }
  echo "labgrid.sh: $1: $place released"
}
export LG_HOSTNAME=ci LG_USERNAME=camhil

# 1. The protocol scenarios through the place by name; meanwhile a second
# run under another identity asks for the same place, queues, and passes
# once the first has released it.
LG_USERNAME=first "$hil" run --target labgrid:cam1 --tag protocol --junit "$work/junit.xml" >"$work/first.log" 2>&1 &
first=$!
pids+=($first)
wait_for 60 grep -q "acquired place cam1" "$work/first.log"
LG_USERNAME=second "$hil" run --target labgrid:cam1 scenarios/console.toml >"$work/second.log" 2>&1 &
second=$!
pids+=($second)
wait_for 60 grep -q "waiting" "$work/second.log"
set +e; wait $first; a=$?; wait $second; b=$?; set -e
cat "$work/first.log" "$work/second.log"
if [ $a != 0 ] || [ $b != 0 ]; then
  echo "labgrid.sh: the protocol run exited $a, the queued run $b" >&2; exit 1
fi
grep -q "reservation .* waiting; places acquired: cam1 by ci/first" "$work/second.log"
# Every scenario's report names the place, its serial port on the exporter
# and the reservation, and the cam at its forwarded address.
grep -q 'labgrid place cam1 (serial 127\.0\.0\.1:[0-9]*, reservation [A-Z0-9]*) at http://127\.0\.0\.1:[0-9]*' "$work/junit.xml" \
  || { echo "labgrid.sh: the JUnit report does not name the place, its serial port and reservation" >&2; exit 1; }
released "a passing run and a queued one"
# By tag.
"$hil" run --target labgrid:tag=board=esp32c3 scenarios/console.toml
released "a passing run by tag"

# 2. A failing run: a scenario expecting an event no frame raises.
cat >"$work/fails.toml" <<EOF
name = "expects an event that never comes"
fixture = "$root/fixtures/synthetic_lighting"
[[step]]
replay = { from = 0, to = 3 }
[[step]]
expect_events = { count = 1 }
EOF
set +e
"$hil" run --target labgrid:cam1 "$work/fails.toml"
status=$?
set -e
[ $status = 1 ] || { echo "labgrid.sh: the failing run exited $status, not 1" >&2; exit 1; }
released "a failing run"

# Starts a protocol run on cam1 logging to $work/$1.log, waits until it
# holds the place, sends it signal $2, and leaves its exit status in
# $status.
signal_run() {
  "$hil" run --target labgrid:cam1 --tag protocol >"$work/$1.log" 2>&1 &
  local run=$!
  pids+=($run)
  wait_for 60 grep -q "acquired place cam1" "$work/$1.log"
  kill "-$2" $run
  set +e; wait $run; status=$?; set -e
}

# 3. SIGTERM (a cancelled CI job) and SIGINT (Ctrl-C) while the place is
# held.
for sig in TERM INT; do
  signal_run "$sig" "$sig"
  [ $status = 130 ] || { echo "labgrid.sh: the run ended by SIG$sig exited $status, not 130" >&2; cat "$work/$sig.log" >&2; exit 1; }
  released "a run ended by SIG$sig"
done

# 4. SIGKILL leaves the lock; the next run takes the place back.
signal_run kill KILL
[ "$(acquired_by cam1)" = "ci/camhil" ] || { echo "labgrid.sh: SIGKILL left no lock to take back" >&2; exit 1; }
"$hil" run --target labgrid:cam1 scenarios/console.toml 2>&1 | tee "$work/back.log"
grep -q "taking it back" "$work/back.log" || { echo "labgrid.sh: the stale lock was not taken back" >&2; exit 1; }
released "the run after a SIGKILL"

# 5. Releasing by hand.
labgrid-client -p cam1 acquire >/dev/null
"$hil" labgrid release cam1
released "cam-hil labgrid release"

# 6. Two places; one board vanishes mid-run: it is retired, cam1 carries on.
# Two 30-s scenarios (SSE keepalive comments), one on each place; cam2's
# board goes once both are under way.
start_board cam2
sed 's/^name = "/name = "(second copy) /' scenarios/keepalive.toml >"$work/keepalive2.toml"
sed -i "s|^fixture = \"\.\./|fixture = \"$root/|" "$work/keepalive2.toml"
"$hil" run --target labgrid:cam1 --target labgrid:cam2 scenarios/keepalive.toml "$work/keepalive2.toml" >"$work/two.log" 2>&1 &
run=$!
pids+=($run)
wait_for 60 sh -c "[ \$(grep -c '^SLOW' '$work/two.log') -ge 2 ]"
kill "$(cat "$work/cam2.pid")"
set +e; wait $run; status=$?; set -e
cat "$work/two.log"
[ $status = 1 ] || { echo "labgrid.sh: the run that lost a board exited $status, not 1" >&2; exit 1; }
grep -q "vanished" "$work/two.log" || { echo "labgrid.sh: no message that cam2 vanished" >&2; exit 1; }
failed=$(sed -n 's/^[0-9]* passed, \([0-9]*\) failed.*/\1/p' "$work/two.log")
[ "$failed" = 1 ] || { echo "labgrid.sh: expected the one scenario running on cam2 to fail, $failed failed" >&2; exit 1; }
released "a run that lost cam2" cam1
released "a run that lost cam2" cam2

# 7. (LABGRID_NIGHTLY=1 only: minutes more) The nightly script on the lab:
# the whole suite spread over two emulated firmware boards must pass.
if [ -n "${LABGRID_NIGHTLY:-}" ]; then
  start_fw_board cam3
  bash ci/nightly.sh --labgrid labgrid:cam1 labgrid:cam3 2>&1 | tee "$work/nightly.log" | tail -3
  grep -q "(exit 0)$" "$work/nightly.log" || { echo "labgrid.sh: the nightly script on the lab failed" >&2; exit 1; }
  released "the nightly script" cam1
  released "the nightly script" cam3
fi
echo "labgrid.sh: all checks passed"
