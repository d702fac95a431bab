//! The cam's hardware, written on the embedded-hal 1.0 traits so that it
//! builds for the board (`firmware/`) and is tested on the host against
//! emulated chips (`tests/`):
//!
//! - [`arducam`]: the ArduCAM Mini 2MP, an OV2640 sensor behind the
//!   ArduChip frame FIFO (SPI for the FIFO, I2C/SCCB for the sensor).
//! - [`ov2640`]: the sensor's register settings for JPEG at QVGA or VGA.
//! - [`capture`]: the capture loop at a configured rate, as the core's
//!   [`cam_core::camera::Camera`].
//! - [`sdcard`]: snapshot storage on a FAT-formatted SD card
//!   (embedded-sdmmc), as the core's [`cam_core::storage::Storage`], with
//!   crash-safe writes.
//!
//! Nothing here knows about the network or the detector; the cam's logic is
//! in `cam_core`.
#![no_std]

extern crate alloc;

pub mod arducam;
pub mod capture;
pub mod ov2640;
pub mod sdcard;
