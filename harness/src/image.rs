//! `cam-hil image`: the firmware ELF as an ESP32-C3 app image (espflash as a
//! library), checked and measured: image size against the app partition
//! and against a budget, and the static RAM the ELF reserves.

use std::path::Path;

use espflash::flasher::{FlashData, FlashSettings};
use espflash::image_format::idf::IdfBootloaderFormat;
use espflash::target::Chip;
use object::{Object, ObjectSection};

/// ESP32-C3 data RAM, as the CPU addresses it.
const DRAM: std::ops::Range<u64> = 0x3FC8_0000..0x3FCE_0000;
/// ESP32-C3 instruction RAM, as the CPU addresses it.
const IRAM: std::ops::Range<u64> = 0x4037_C000..0x403E_0000;
/// The first byte of every ESP app image.
const IMAGE_MAGIC: u8 = 0xE9;
/// The chip id an ESP32-C3 image header carries.
const ESP32C3_CHIP_ID: u16 = 5;

/// What `cam-hil image` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageReport {
    /// App image size, in bytes.
    pub app_size: u32,
    /// Size of the app partition it goes to, in bytes.
    pub partition_size: u32,
    /// Static data in data RAM (`.data*`, `.bss*`: globals, task arenas,
    /// the main heap), in bytes.
    pub dram: u64,
    /// The stack region, in bytes.
    pub stack: u64,
    /// Code placed in instruction RAM (`.trap`, `.rwtext*`), in bytes.
    pub iram: u64,
}

impl ImageReport {
    /// Image size as a percentage of the app partition.
    pub fn percent_of_partition(&self) -> f64 {
        f64::from(self.app_size) * 100.0 / f64::from(self.partition_size.max(1))
    }
}

/// Builds the app image of `elf` for the ESP32-C3 with the default
/// partition table, checks its header, writes it to `out` if given, and
/// measures it.
///
/// # Errors
/// The ELF is not an ESP32-C3 application, the image does not fit its
/// partition or has a bad header, or `out` cannot be written.
pub fn build(elf: &[u8], out: Option<&Path>) -> Result<ImageReport, String> {
    let chip = Chip::Esp32c3;
    let flash = FlashData::new(FlashSettings::default(), 0, None, chip, chip.default_xtal_frequency());
    let image = IdfBootloaderFormat::new(elf, &flash, None, None, None, None).map_err(|e| format!("app image: {e}"))?;
    let meta = image.metadata();
    let number =
        |key: &str| meta.get(key).and_then(|v| v.parse::<u32>().ok()).ok_or(format!("no {key} in the image metadata"));
    let (app_size, partition_size) = (number("app_size")?, number("part_size")?);
    let app = image.ota_segments().next().ok_or("no app segment")?;
    let bytes = app.data();
    if bytes.first() != Some(&IMAGE_MAGIC) {
        return Err(format!(
            "bad image header: first byte {:#04x}, not {IMAGE_MAGIC:#04x}",
            bytes.first().copied().unwrap_or(0)
        ));
    }
    // Extended header: chip id at bytes 12..14 (little endian).
    let chip_id = bytes.get(12..14).map(|b| u16::from_le_bytes([b[0], b[1]]));
    if chip_id != Some(ESP32C3_CHIP_ID) {
        return Err(format!("image is for chip id {chip_id:?}, not the ESP32-C3 ({ESP32C3_CHIP_ID})"));
    }
    if let Some(path) = out {
        std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let (dram, stack, iram) = static_ram(elf)?;
    Ok(ImageReport { app_size, partition_size, dram, stack, iram })
}

/// Bytes of static data, stack and IRAM code, by section name and place.
fn static_ram(elf: &[u8]) -> Result<(u64, u64, u64), String> {
    let file = object::File::parse(elf).map_err(|e| format!("ELF: {e}"))?;
    let (mut dram, mut stack, mut iram) = (0, 0, 0);
    for section in file.sections() {
        let (name, addr, size) = (section.name().unwrap_or(""), section.address(), section.size());
        if DRAM.contains(&addr) && (name.starts_with(".data") || name.starts_with(".bss")) {
            dram += size;
        } else if DRAM.contains(&addr) && name == ".stack" {
            stack += size;
        } else if IRAM.contains(&addr) && (name == ".trap" || name.starts_with(".rwtext")) {
            iram += size;
        }
    }
    Ok((dram, stack, iram))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_an_esp32c3_elf() {
        assert!(build(b"not an ELF", None).unwrap_err().starts_with("app image:"));
        // The host's own test binary is an ELF, but not an ESP32-C3 app.
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert!(build(&me, None).is_err());
    }
}
