//! The console lines of `docs/protocol.md` ("Console"), printed on the
//! USB serial port.

use cam_core::{FrameError, MotionEvent};
use esp_println::println;

/// `cam-fw: camhil <version> on esp32c3`.
pub fn banner() {
    println!("cam-fw: camhil {} on esp32c3", env!("CARGO_PKG_VERSION"));
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
// Frames reach the cam only through the HIL route until a camera
// driver feeds a capture loop (see README).
#[cfg_attr(not(feature = "hil"), allow(dead_code))]
pub fn motion(e: &MotionEvent) {
    println!("cam-fw: motion id={} frame={} change={:.4} count={}", e.id, e.frame, e.change, e.count);
}

/// An undecodable frame.
// Frames reach the cam only through the HIL route until a camera
// driver feeds a capture loop (see README).
#[cfg_attr(not(feature = "hil"), allow(dead_code))]
pub fn frame_refused(e: &FrameError) {
    println!("cam-fw: frame refused: {e}");
}

/// `POST /hil/reset`.
// Frames reach the cam only through the HIL route until a camera
// driver feeds a capture loop (see README).
#[cfg_attr(not(feature = "hil"), allow(dead_code))]
pub fn hil_reset() {
    println!("cam-fw: hil reset");
}
