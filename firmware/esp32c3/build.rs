//! The ESP32-C3 board: esp-hal's link script, and a build that stops
//! when it does not know which Wi-Fi network to join.
fn main() {
    println!("cargo:rustc-link-arg-bins=-Tlinkall.x");
    println!("cargo:rerun-if-env-changed=CAM_SSID");
    println!("cargo:rerun-if-env-changed=CAM_PASSWORD");
    println!("cargo:rerun-if-env-changed=CAM_TOKEN");
}
