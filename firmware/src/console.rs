//! The console lines of `docs/protocol.md` ("Console"), printed on the
//! USB serial port.

use cam_core::{FrameError, MotionEvent};
use esp_println::println;

/// `cam-fw: camhil <version> on esp32c3`.
pub fn banner() {
    println!("cam-fw: camhil {} on esp32c3", env!("CARGO_PKG_VERSION"));
}

/// This boot's number, the first half of every SSE id.
pub fn boot(boot: u32) {
    println!("cam-fw: boot {boot:08x}");
}

/// After DHCP.
pub fn wifi_connected() {
    println!("cam-fw: wifi: connected");
}

/// Serving: the harness takes the cam's address from this line.
pub fn listening(ip: embassy_net::Ipv4Address, port: u16) {
    println!("cam-fw: listening on http://{ip}:{port}");
}

/// Each motion event.
#[cfg_attr(not(any(feature = "hil", feature = "arducam")), allow(dead_code))]
pub fn motion(e: &MotionEvent) {
    println!("cam-fw: motion id={} frame={} change={:.4} count={}", e.id, e.frame, e.change, e.count);
}

/// An undecodable frame.
#[cfg_attr(not(any(feature = "hil", feature = "arducam")), allow(dead_code))]
pub fn frame_refused(e: &FrameError) {
    println!("cam-fw: frame refused: {e}");
}

/// `POST /hil/reset`.
#[cfg_attr(not(feature = "hil"), allow(dead_code))]
pub fn hil_reset() {
    println!("cam-fw: hil reset");
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
