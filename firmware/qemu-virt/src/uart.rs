//! The console: the `virt` machine's NS16550A UART at 0x1000_0000 (QEMU's
//! `-serial`). Output only; QEMU's UART needs no set-up.

/// The UART's registers.
const BASE: usize = 0x1000_0000;
/// Transmit holding register.
const THR: usize = 0;
/// Line status register; bit 5: the transmit holding register is empty.
const LSR: usize = 5;
const LSR_THRE: u8 = 1 << 5;

/// Writes `bytes` to the UART, waiting for room before each.
pub fn write(bytes: &[u8]) {
    for &b in bytes {
        // SAFETY: the UART's registers, at the address the machine puts them.
        unsafe {
            while core::ptr::read_volatile((BASE + LSR) as *const u8) & LSR_THRE == 0 {}
            core::ptr::write_volatile((BASE + THR) as *mut u8, b);
        }
    }
}

/// A `core::fmt::Write` on the UART, for the panic and trap handlers,
/// which must not rely on anything else.
pub struct Uart;

impl core::fmt::Write for Uart {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        write(s.as_bytes());
        Ok(())
    }
}
