//! Board `qemu-virt`: riscv-rt's `link.x`, which includes `memory.x`: this
//! board's memory map, copied from `virt.x` (kept out of the crate root so
//! the linker cannot pick up a stray `memory.x` instead).
use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("memory.x"), include_bytes!("virt.x")).expect("OUT_DIR is writable");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rerun-if-changed=virt.x");
    println!("cargo:rerun-if-env-changed=CAM_TOKEN");
}
