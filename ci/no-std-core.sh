#!/usr/bin/env bash
# The core and the drivers must stay no_std: build them for the firmware's target.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add riscv32imc-unknown-none-elf >/dev/null
cargo build --locked --release -p camhil-core -p camhil-drivers --target riscv32imc-unknown-none-elf
