#!/usr/bin/env bash
# Builds the firmware's qemu-virt board (`firmware/qemu-virt`) with the HIL
# routes and leaves it at target/firmware/cam-fw-qemu.elf, where
# `cam-hil run --target qemu:…`, `cam-hil qemu` and the tests look for it.
# With `--broken` it also builds the deliberately broken builds, each
# breaking one protocol row: target/firmware/cam-fw-qemu-<feature>.elf.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add riscv32imc-unknown-none-elf >/dev/null
built=firmware/target/riscv32imc-unknown-none-elf/release/cam-fw-qemu
mkdir -p target/firmware
(cd firmware && cargo build --locked --release -p cam-fw-qemu --features hil)
cp "$built" target/firmware/cam-fw-qemu.elf
echo "target/firmware/cam-fw-qemu.elf: $(stat -c %s target/firmware/cam-fw-qemu.elf) bytes"
if [ "${1:-}" = "--broken" ]; then
  for feature in break-drop-events break-ignore-last-event-id; do
    (cd firmware && cargo build --locked --release -p cam-fw-qemu --features "hil $feature")
    cp "$built" "target/firmware/cam-fw-qemu-$feature.elf"
    echo "target/firmware/cam-fw-qemu-$feature.elf"
  done
  # Leave the working build last, so an incremental rebuild is a no-op.
  (cd firmware && cargo build --locked --release -p cam-fw-qemu --features hil)
fi
