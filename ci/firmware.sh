#!/usr/bin/env bash
# Builds the ESP32-C3 board's firmware (`firmware/esp32c3`) with and without the HIL routes, turns both
# ELFs into app images with `cam-hil image` (espflash as a library), checks
# them with esptool's image-info, and checks that the production build has
# no HIL route. Prints image size and static RAM (see docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add riscv32imc-unknown-none-elf >/dev/null
# One target directory for both builds, so the host-side build scripts and
# proc macros are built once (CI's disk is small): the production ELF is
# copied aside before the HIL build writes over its path.
built=firmware/target/riscv32imc-unknown-none-elf/release/cam-fw
elf=target/firmware/cam-fw.elf
hil_elf=target/firmware/cam-fw-hil.elf
mkdir -p target/firmware
# The C3 board will not build without a network to join; CI's images join
# a network that does not exist, which is fine for images that are only
# checked.
export CAM_SSID="${CAM_SSID:-camhil-ci}"
(cd firmware && cargo fmt --check && cargo build --locked --release -p cam-fw)
cp "$built" "$elf"
(cd firmware && cargo build --locked --release -p cam-fw --features hil)
cp "$built" "$hil_elf"
cargo run --locked -q -p cam-hil -- image "$elf" --out target/firmware/cam-fw.bin --budget-percent 50
cargo run --locked -q -p cam-hil -- image "$hil_elf" --out target/firmware/cam-fw-hil.bin --budget-percent 50
if grep -aq "/hil/frame" "$elf"; then
  echo "the production firmware contains the HIL routes" >&2
  exit 1
fi
grep -aq "/hil/frame" "$hil_elf" || { echo "the hil firmware lacks its HIL routes" >&2; exit 1; }
python3 -m pip install -q --disable-pip-version-check esptool >/dev/null 2>&1 || pip install -q esptool
for image in target/firmware/cam-fw.bin target/firmware/cam-fw-hil.bin; do
  info=$(python3 -m esptool --chip esp32c3 image-info "$image")
  echo "$info" | grep -q "Chip ID: 5 (ESP32-C3)" || { echo "$image: not an ESP32-C3 image" >&2; exit 1; }
  [ "$(echo "$info" | grep -c '(valid)')" -ge 2 ] || { echo "$image: checksum or hash invalid" >&2; echo "$info" >&2; exit 1; }
  echo "$image: valid ESP32-C3 image (esptool image-info)"
done
