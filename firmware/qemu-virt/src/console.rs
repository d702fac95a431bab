//! The board's own console lines (`docs/protocol.md`, "Console"), on the
//! UART with the app's.

use cam_fw_app::println;

/// The network is up: `cam-fw: net: up (virtio-net <mac>)`, where the C3
/// prints `cam-fw: wifi: connected`.
pub fn net_up(mac: [u8; 6]) {
    let [a, b, c, d, e, f] = mac;
    println!("cam-fw: net: up (virtio-net {a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x})");
}

/// `cam-fw: net: <what>`: the network device misbehaved; the packet is lost.
pub fn net_error(what: &str) {
    println!("cam-fw: net: {what}");
}

/// `cam-fw: <device>: <error>` at boot, for a device the board cannot run
/// without; the board then stops QEMU.
pub fn missing(device: &str, what: &dyn core::fmt::Display) {
    println!("cam-fw: {device}: {what}");
}
