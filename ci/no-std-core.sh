#!/usr/bin/env bash
# The core must stay no_std: build it for the firmware's target.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add riscv32imc-unknown-none-elf >/dev/null
cargo build --locked --release -p camhil-core --target riscv32imc-unknown-none-elf
