#!/usr/bin/env bash
# Nightly HIL run on real boards: builds the firmware with the HIL routes,
# flashes every attached ESP32-C3 (espflash skips regions that already hold
# the same bytes), runs the scenario suite spread over the boards while
# reading their consoles, and writes JUnit XML and the HTML report; then
# scores the detector on every labelled clip on the same cams (`cam-hil
# eval --target`), which must give the core's outcome on every frame.
#
#   CAM_SSID=… CAM_PASSWORD=… [CAM_TOKEN=…] bash ci/nightly.sh [PORT...]
#
# Without PORTs it takes every /dev/ttyACM* and /dev/ttyUSB*. With
# `--virtual` it runs the firmware's qemu-virt build on the emulated board
# instead (`--target qemu:…`, needs qemu-system-riscv32), without flashing:
# CI uses that to prove this script and the firmware's boot log and console.
# With `--labgrid TARGET…` it runs on labgrid places instead of local ports
# (`labgrid:PLACE` or `labgrid:tag=board=esp32c3`; LG_COORDINATOR set,
# labgrid-client on PATH; flash on the exporter hosts first: docs/labs.md).
# Results: target/nightly/<UTC time>/{junit.xml,report/index.html,eval.md,eval/index.html}.
set -euo pipefail
cd "$(dirname "$0")/.."
out="target/nightly/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
# What a board cannot serve (reading its card back on the host, TLS, fault
# plans, auth without CAM_TOKEN) is skipped by the harness, each scenario
# with its reason.
skip=()
eval_extra=()

if [ "${1:-}" = "--virtual" ]; then
  # The firmware's own code on the emulated board (QEMU `virt`), one fresh
  # board per scenario: its real boot log and console lines.
  command -v qemu-system-riscv32 >/dev/null || { echo "qemu-system-riscv32 not found: apt-get install qemu-system-misc" >&2; exit 2; }
  bash ci/firmware-qemu.sh
  cargo build --locked -q -p cam-hil
  targets=(--target "qemu:target/firmware/cam-fw-qemu.elf" --jobs 2)
  flash=()
  # Under `-icount`, so the eval's cost table counts exact instructions
  # per frame.
  eval_extra=(--icount)
elif [ "${1:-}" = "--labgrid" ]; then
  shift
  [ $# -gt 0 ] || { echo "--labgrid needs at least one labgrid:PLACE or labgrid:tag=KEY=VALUE target" >&2; exit 2; }
  cargo build --locked -q -p cam-hil
  targets=()
  for t in "$@"; do targets+=(--target "$t"); done
  flash=()
  lab=1
else
  ports=("$@")
  if [ ${#ports[@]} -eq 0 ]; then
    shopt -s nullglob
    ports=(/dev/ttyACM* /dev/ttyUSB*)
  fi
  [ ${#ports[@]} -gt 0 ] || { echo "no board attached" >&2; exit 2; }
  rustup target add riscv32imc-unknown-none-elf >/dev/null
  (cd firmware && cargo build --locked --release --features hil)
  cargo build --locked --release -q -p cam-hil
  targets=()
  for p in "${ports[@]}"; do targets+=(--target "board:$p"); done
  flash=(--flash firmware/target/riscv32imc-unknown-none-elf/release/cam-fw)
fi

hil=./target/debug/cam-hil
[ -x ./target/release/cam-hil ] && [ "${1:-}" != "--virtual" ] && [ -z "${lab:-}" ] && hil=./target/release/cam-hil
set +e
"$hil" run "${targets[@]}" "${flash[@]}" "${skip[@]}" --junit "$out/junit.xml" --report "$out/report"
status=$?
# The detector's quality on every labelled clip, measured on the same cams
# (frames replayed over the HIL routes, SSE events scored): the table of
# `cam-hil eval`, and each cam must give the core's outcome on every frame.
labelled=()
for clip in fixtures/*/; do [ -f "$clip/labels.csv" ] && labelled+=("${clip%/}"); done
"$hil" eval "${targets[@]}" "${eval_extra[@]}" "${labelled[@]}" --report "$out/eval" >"$out/eval.md"
eval_status=$?
set -e
cat "$out/eval.md"
[ "$status" -ne 0 ] || status=$eval_status
echo "nightly: results in $out (exit $status; detector quality in $out/eval.md, $out/eval/index.html)"
exit $status
