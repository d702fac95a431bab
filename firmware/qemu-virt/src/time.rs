//! embassy time on the machine timer: the CLINT's `mtime` (10 MHz on
//! `virt`) read as 1 MHz ticks, as esp-hal's driver gives them on the C3;
//! alarms through `mtimecmp` and the machine-timer interrupt.

use core::cell::RefCell;
use core::task::Waker;

use critical_section::Mutex;
use embassy_time_driver::Driver;
use embassy_time_queue_utils::Queue;

/// CLINT `mtime` (64 bits) on `virt`.
const MTIME: usize = 0x0200_BFF8;
/// CLINT `mtimecmp` of hart 0.
const MTIMECMP: usize = 0x0200_4000;
/// `mtime` ticks per embassy tick (10 MHz / 1 MHz).
const MTIME_PER_TICK: u64 = 10;

struct MachineTimer {
    queue: Mutex<RefCell<Queue>>,
}

embassy_time_driver::time_driver_impl!(static DRIVER: MachineTimer = MachineTimer {
    queue: Mutex::new(RefCell::new(Queue::new())),
});

/// `mtime` now: the high half, the low half, and the high half again until
/// no carry fell between them.
fn mtime() -> u64 {
    loop {
        // SAFETY: the CLINT's registers, at the address the machine puts them.
        let (hi, lo, hi2) = unsafe {
            let p = MTIME as *const u32;
            (core::ptr::read_volatile(p.add(1)), core::ptr::read_volatile(p), core::ptr::read_volatile(p.add(1)))
        };
        if hi == hi2 {
            return (u64::from(hi) << 32) | u64::from(lo);
        }
    }
}

/// Sets `mtimecmp` without a moment in which it is below both values: the
/// high half to all ones first.
fn set_mtimecmp(value: u64) {
    // SAFETY: the CLINT's registers, at the address the machine puts them.
    unsafe {
        let p = MTIMECMP as *mut u32;
        core::ptr::write_volatile(p.add(1), u32::MAX);
        core::ptr::write_volatile(p, value as u32);
        core::ptr::write_volatile(p.add(1), (value >> 32) as u32);
    }
}

impl MachineTimer {
    /// Arms the alarm for the queue's next expiry (in ticks), or disarms it.
    fn rearm(&self, queue: &mut Queue) {
        let mut next = queue.next_expiration(self.now());
        loop {
            if next == u64::MAX {
                set_mtimecmp(u64::MAX);
                return;
            }
            set_mtimecmp(next.saturating_mul(MTIME_PER_TICK));
            // Already past: the interrupt may have been missed; run the queue again.
            if next > self.now() {
                return;
            }
            next = queue.next_expiration(self.now());
        }
    }
}

impl Driver for MachineTimer {
    fn now(&self) -> u64 {
        mtime() / MTIME_PER_TICK
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        critical_section::with(|cs| {
            let mut queue = self.queue.borrow(cs).borrow_mut();
            if queue.schedule_wake(at, waker) {
                self.rearm(&mut queue);
            }
        });
    }
}

/// Disarms the alarm and enables the machine-timer interrupt; call once at
/// boot, before the executor runs (its `wfi` needs an interrupt to wake it).
pub fn init() {
    set_mtimecmp(u64::MAX);
    // SAFETY: enabling an interrupt whose handler is defined below.
    unsafe { riscv::register::mie::set_mtimer() };
}

#[riscv_rt::core_interrupt(riscv::interrupt::Interrupt::MachineTimer)]
fn machine_timer() {
    critical_section::with(|cs| DRIVER.rearm(&mut DRIVER.queue.borrow(cs).borrow_mut()));
}
