//! The ways this board stops: a panic, a trap, or a device it cannot run
//! without. Each prints its lines on the UART (the panic lines as
//! esp-backtrace prints them on the C3, so the harness reads both alike),
//! then ends QEMU with a failure status through the machine's test device
//! (SiFive test finisher at 0x10_0000).

use core::fmt::Write;

use crate::uart::Uart;

/// The test finisher's register: `0x3333 | code << 16` ends QEMU with
/// `code`; `0x7777` resets the machine.
const FINISHER: usize = 0x10_0000;

/// Ends QEMU with exit status `code`.
pub fn exit(code: u16) -> ! {
    // SAFETY: the test device, at the address the machine puts it.
    unsafe { core::ptr::write_volatile(FINISHER as *mut u32, 0x3333 | u32::from(code) << 16) };
    loop {
        riscv::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    riscv::interrupt::disable();
    let mut uart = Uart;
    let _ = write!(uart, "\r\n\r\n====================== PANIC ======================\r\n{info}\r\n");
    exit(1)
}

/// An exception (illegal instruction, misaligned or faulting access, …):
/// `cam-fw: trap: mcause=<n> mepc=0x… mtval=0x…`, then QEMU ends.
#[unsafe(export_name = "ExceptionHandler")]
fn exception(frame: &riscv_rt::TrapFrame) -> ! {
    let (mcause, mepc, mtval) =
        (riscv::register::mcause::read().bits(), riscv::register::mepc::read(), riscv::register::mtval::read());
    let _ =
        write!(Uart, "cam-fw: trap: mcause={mcause} mepc={mepc:#010x} mtval={mtval:#010x} ra={:#010x}\r\n", frame.ra);
    exit(2)
}

/// An interrupt nothing handles: `cam-fw: trap: unexpected interrupt …`.
#[unsafe(export_name = "DefaultHandler")]
fn unexpected_interrupt() {
    let mcause = riscv::register::mcause::read().bits();
    let _ = write!(Uart, "cam-fw: trap: unexpected interrupt mcause={mcause:#010x}\r\n");
    exit(2)
}
