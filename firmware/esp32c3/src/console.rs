//! The board's console lines (`docs/protocol.md`, "Console"), on the C3's
//! USB serial port through esp-println; the app's lines go the same way
//! ([`write`]).

use cam_fw_app::println;

/// The app's console output: bytes to the USB serial port.
pub fn write(bytes: &[u8]) {
    esp_println::Printer::write_bytes(bytes);
}

/// After DHCP.
pub fn wifi_connected() {
    println!("cam-fw: wifi: connected");
}

/// The access point went away; the Wi-Fi task reconnects.
pub fn wifi_disconnected() {
    println!("cam-fw: wifi: disconnected");
}

/// A connection attempt failed; the Wi-Fi task tries again in 2 s.
pub fn wifi_failed(e: &dyn core::fmt::Debug) {
    println!("cam-fw: wifi: connect failed: {e:?}");
}

/// `cam-fw: camera: ready (<w>x<h> JPEG)`: the ArduCAM answered and is
/// configured.
#[cfg(feature = "arducam")]
pub fn camera_ready(config: &cam_drivers::arducam::Config) {
    let (w, h) = config.resolution.size();
    println!("cam-fw: camera: ready ({w}x{h} JPEG)");
}

/// `cam-fw: sd: mounted (<recovery>)`.
#[cfg(feature = "arducam")]
pub fn sd_mounted(recovery: &cam_drivers::sdcard::Recovery) {
    println!("cam-fw: sd: mounted ({})", crate::board::describe(recovery));
}

/// `cam-fw: <part>: <error>`: a part that is absent or failed (`camera`,
/// `sd`, `spi`, `i2c`); the cam runs without it.
#[cfg(feature = "arducam")]
pub fn hardware(part: &str, e: &dyn core::fmt::Debug) {
    println!("cam-fw: {part}: {e:?}");
}

/// `cam-fw: camera: <error>`: a capture failed; the loop goes on.
#[cfg(feature = "arducam")]
pub fn capture_failed(e: &dyn core::fmt::Display) {
    println!("cam-fw: camera: {e}");
}
