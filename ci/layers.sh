#!/usr/bin/env bash
# The harness's layers, checked: it links the simulator only for the `sim`
# target (cargo feature `sim`), builds without it, and nothing else in it
# reaches for the simulator crate.
set -euo pipefail
cd "$(dirname "$0")/.."

# Without the feature, no path to cam-sim at all.
if cargo tree --locked -p cam-hil --no-default-features -e normal,build --prefix none | grep -q '^cam-sim '; then
  echo "layers: cam-hil without its sim feature still depends on cam-sim" >&2
  exit 1
fi
# With it, cam-sim comes in through that feature only.
tree=$(cargo tree --locked -p cam-hil -e normal,build,features -i cam-sim)
echo "$tree"
grep -q 'cam-hil feature "sim"' <<<"$tree" || { echo "layers: cam-sim reached otherwise than by cam-hil's sim feature" >&2; exit 1; }
# The harness builds without it, and only its sim target names the crate.
cargo build --locked -q -p cam-hil --no-default-features
users=$(grep -rl 'cam_sim' harness/src | grep -v '^harness/src/target/sim.rs$' || true)
if [ -n "$users" ]; then
  echo "layers: harness code other than target/sim.rs uses cam_sim: $users" >&2
  exit 1
fi
# The network client knows nothing of scenarios.
if grep -n 'crate::scenario\|crate::steps' harness/src/client.rs; then
  echo "layers: the network client imports scenario types" >&2
  exit 1
fi
echo "layers: the simulator only behind the sim target; the client without scenario types"
