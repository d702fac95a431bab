#!/usr/bin/env bash
# The whole suite fifty times in a row on the simulator (issue 7: a harness
# that flakes is worse than none), but for the `faults` scenarios: their
# faults take real time (a 10 s stall, recorded-pace replays) and they run
# once in every other CI step (the simulator run, the emulated firmware,
# cargo test). Any failure fails the script, with the
# failing run's report. Usage: bash ci/repeat.sh [N] (default 50).
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-50}"
start=$(date +%s)
cargo run --locked -q -p cam-hil -- run --repeat "$n" --jobs 2 --skip-tag faults > target/repeat.log 2>&1 || {
  grep -v '^PASS' target/repeat.log >&2
  exit 1
}
tail -1 target/repeat.log
echo "repeat: $n runs of the suite in $(( $(date +%s) - start )) s"
