#!/usr/bin/env bash
# Runs each cargo-fuzz target for a set time (default 60 s each) under
# AddressSanitizer and prints executions and the outcome per target.
# Crashes are saved under fuzz/artifacts/TARGET/.
#
# Sanitizers are an unstable rustc feature. The script uses a nightly
# toolchain when rustup has one; otherwise the stable toolchain with
# RUSTC_BOOTSTRAP=1, which unlocks `-Zsanitizer=address` (rustup's stable
# x86_64 Linux std ships the ASan runtime). SANITIZER=none runs libFuzzer's
# coverage only.
# Usage: bash ci/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz@0.13.2
secs="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(sse_framing commands scenario frame last_event_id)
sanitizer="${SANITIZER:-address}"
if [ "$sanitizer" = none ]; then
  cargo=(cargo)
  toolchain="$(rustc --version), no sanitizer"
elif cargo +nightly --version >/dev/null 2>&1; then
  cargo=(cargo +nightly)
  toolchain="$(rustc +nightly --version), ASan"
else
  export RUSTC_BOOTSTRAP=1
  cargo=(cargo)
  toolchain="$(rustc --version) with RUSTC_BOOTSTRAP=1, ASan"
fi
echo "fuzz: $toolchain, ${secs} s per target"
mkdir -p target/fuzz-logs
status=0
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  # Seed the frame target with real frames.
  [ "$t" = frame ] && cp -n fixtures/synthetic_bright_square/frame_0000[0-9].jpg fixtures/cdnet_highway/frame_0000[0-4].jpg "fuzz/corpus/$t/" 2>/dev/null || true
  log="target/fuzz-logs/$t.log"
  if (cd fuzz && "${cargo[@]}" fuzz run --sanitizer "$sanitizer" "$t" -- -max_total_time="$secs" -max_len=65536) >"$log" 2>&1; then
    outcome=ok
  else
    outcome="FAILED (see $log, fuzz/artifacts/$t/)"
    status=1
  fi
  runs=$(grep -o 'Done [0-9]* runs' "$log" | grep -o '[0-9]*' || echo "?")
  echo "fuzz $t: $runs executions in ${secs} s: $outcome"
done
exit $status
