//! The `virt` machine's PLIC (at 0x0C00_0000): device interrupts to hart
//! 0's machine mode (context 0), and the machine-external interrupt that
//! wakes whatever waits on a device ([`crate::net`]).

/// The PLIC's registers.
const BASE: usize = 0x0C00_0000;
/// Priority of source `n`: `BASE + 4 n`.
const PRIORITY: usize = BASE;
/// Enable bits of context 0.
const ENABLE: usize = BASE + 0x2000;
/// Priority threshold of context 0.
const THRESHOLD: usize = BASE + 0x20_0000;
/// Claim/complete of context 0.
const CLAIM: usize = BASE + 0x20_0004;

/// Routes source `irq` to hart 0's machine mode and enables the
/// machine-external interrupt.
pub fn enable(irq: u32) {
    // SAFETY: the PLIC's registers, at the address the machine puts them.
    unsafe {
        core::ptr::write_volatile((PRIORITY + 4 * irq as usize) as *mut u32, 1);
        let word = (ENABLE + 4 * (irq as usize / 32)) as *mut u32;
        core::ptr::write_volatile(word, core::ptr::read_volatile(word) | 1 << (irq % 32));
        core::ptr::write_volatile(THRESHOLD as *mut u32, 0);
        riscv::register::mie::set_mext();
    }
}

#[riscv_rt::core_interrupt(riscv::interrupt::Interrupt::MachineExternal)]
fn machine_external() {
    loop {
        // SAFETY: claiming and completing are the PLIC's protocol.
        let irq = unsafe { core::ptr::read_volatile(CLAIM as *const u32) };
        if irq == 0 {
            return;
        }
        crate::net::interrupt(irq);
        // SAFETY: as above.
        unsafe { core::ptr::write_volatile(CLAIM as *mut u32, irq) };
    }
}
