#!/usr/bin/env bash
# clippy, warnings as errors, for the firmware's app and both boards, with
# the features CI builds (the boards build one at a time: each has its own
# runtime). Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/../firmware"
rustup component add clippy >/dev/null 2>&1 || true
export CAM_SSID="${CAM_SSID:-camhil-ci}"
cargo clippy --locked --release -p cam-fw-app --features hil -- -D warnings
cargo clippy --locked --release -p cam-fw --features hil -- -D warnings
cargo clippy --locked --release -p cam-fw-qemu --features hil -- -D warnings
