//! The console lines of `docs/protocol.md` ("Console"), written to the
//! board's console (the C3's USB serial port, the `virt` machine's UART)
//! through the writer the board sets with [`set_output`].

use core::cell::Cell;
use core::fmt::{self, Write};

use cam_core::{FrameError, MotionEvent};
use critical_section::Mutex;

/// Where console bytes go.
pub type Output = fn(&[u8]);

static OUTPUT: Mutex<Cell<Option<Output>>> = Mutex::new(Cell::new(None));

/// Sends console output to `write` (bytes as they are; lines end `\r\n`).
/// Until it is called, console lines go nowhere.
pub fn set_output(write: Output) {
    critical_section::with(|cs| OUTPUT.borrow(cs).set(Some(write)));
}

struct Out(Output);

impl Write for Out {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        (self.0)(s.as_bytes());
        Ok(())
    }
}

/// Writes one console line: `args` then `\r\n`. Use [`println!`](crate::println).
pub fn print_line(args: fmt::Arguments<'_>) {
    if let Some(write) = critical_section::with(|cs| OUTPUT.borrow(cs).get()) {
        let mut out = Out(write);
        let _ = out.write_fmt(args);
        let _ = out.write_str("\r\n");
    }
}

/// One console line, formatted like `core::format_args!`.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => { $crate::console::print_line(format_args!($($arg)*)) };
}

/// `cam-fw: camhil <version> on <board>`.
pub fn banner() {
    let name = crate::board().map_or("?", |b| b.name);
    crate::println!("cam-fw: camhil {} on {name}", env!("CARGO_PKG_VERSION"));
}

/// `cam-fw: boot <8 hex digits>`: this boot's number, the first half of
/// every SSE id.
pub fn boot(boot: u32) {
    crate::println!("cam-fw: boot {boot:08x}");
}

/// `cam-fw: listening on http://<ip>:<port>`: the harness takes the cam's
/// address from this line.
pub fn listening(ip: embassy_net::Ipv4Address, port: u16) {
    crate::println!("cam-fw: listening on http://{ip}:{port}");
}

/// `cam-fw: motion id=<boot>-<seq> frame=<seq> change=<x.xxxx> count=<n>`.
pub fn motion(e: &MotionEvent) {
    crate::println!("cam-fw: motion id={} frame={} change={:.4} count={}", e.id, e.frame, e.change, e.count);
}

/// `cam-fw: frame refused: <why>`.
pub fn frame_refused(e: &FrameError) {
    crate::println!("cam-fw: frame refused: {e}");
}

/// `cam-fw: cost frame=<seq> cycles=<n> instret=<n>`: what one frame
/// through the detector cost, from the CPU's own counters (`instret=-`
/// where the board counts cycles only).
pub fn cost(frame: u64, cycles: u64, instret: Option<u64>) {
    match instret {
        Some(i) => crate::println!("cam-fw: cost frame={frame} cycles={cycles} instret={i}"),
        None => crate::println!("cam-fw: cost frame={frame} cycles={cycles} instret=-"),
    }
}

/// `cam-fw: hil reset`, then `cam-fw: heap: <used> B used, <peak> B peak
/// of <size> B` (the peak since boot: after a suite, its high-water mark).
pub fn hil_reset() {
    crate::println!("cam-fw: hil reset");
    if let Some(h) = crate::board().map(|b| (b.heap)()) {
        crate::println!("cam-fw: heap: {} B used, {} B peak of {} B", h.used, h.peak, h.size);
    }
}

/// `cam-fw: frames: hil` or `cam-fw: frames: camera`: who feeds the
/// detector from now on ([`crate::frames`]).
pub fn frame_source(hil: bool) {
    crate::println!("cam-fw: frames: {}", if hil { "hil" } else { "camera" });
}
