//! The cam's firmware app: everything of the firmware that is not the chip.
//!
//! A board crate (`../esp32c3`, `../qemu-virt`) brings up its chip, heap,
//! console, network and entropy, then hands them to this crate:
//!
//! 1. [`console::set_output`]: where console lines go (a UART, USB serial);
//! 2. [`state::init`]: the cam, with this boot's number;
//! 3. [`storage::install`], when the board has a card or a RAM disk;
//! 4. [`serve`]: the web tasks on the board's network stack, then the
//!    `listening on` line the harness waits for.
//!
//! A board with a camera feeds its frames through [`state::camera_frame`];
//! HIL frames (`POST /hil/frame`) take the frame source from it while a test
//! injects them ([`frames`]).
//!
//! What the app serves is `docs/protocol.md`, built from the camhil core
//! (`../../core`): the same detector, state, event log, commands and SSE
//! framing as the simulator. Its memory bounds are in [`limits`]; both
//! boards build with them, so what does not fit on the C3 does not fit on
//! the emulated board either.
#![no_std]
#![recursion_limit = "256"]

extern crate alloc;

pub mod console;
mod control;
mod events;
pub mod frames;
#[cfg(feature = "hil")]
mod hil;
pub mod limits;
pub mod state;
pub mod storage;
mod tcp;
mod web;

use embassy_executor::Spawner;
use embassy_net::Stack;

pub use web::router;

/// What a board tells the app about itself.
#[derive(Clone, Copy)]
pub struct Board {
    /// The board's name on the console's first line (`esp32c3`, `qemu-virt`).
    pub name: &'static str,
    /// The heap's figures now, in bytes.
    pub heap: fn() -> HeapUse,
    /// The CPU's counters now, or `None` where the board cannot read them.
    pub counters: fn() -> Option<Counters>,
}

/// Heap use, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapUse {
    /// Allocated now.
    pub used: usize,
    /// The most ever allocated at once since boot.
    pub peak: usize,
    /// The heap's size.
    pub size: usize,
}

/// The CPU's cycle and retired-instruction counters (RISC-V `mcycle` and
/// `minstret`, or the ESP32-C3's performance counter), read at one point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    /// Cycles.
    pub cycles: u64,
    /// Instructions retired; `None` where only cycles can be counted.
    pub instret: Option<u64>,
}

static BOARD: critical_section::Mutex<core::cell::Cell<Option<Board>>> =
    critical_section::Mutex::new(core::cell::Cell::new(None));

/// Names the board: call once at boot, before [`console::banner`].
pub fn set_board(board: Board) {
    critical_section::with(|cs| BOARD.borrow(cs).set(Some(board)));
}

pub(crate) fn board() -> Option<Board> {
    critical_section::with(|cs| BOARD.borrow(cs).get())
}

/// Serves `docs/protocol.md` on `stack`, port [`limits::PORT`]: spawns the
/// [`limits::WEB_TASKS`] web tasks, waits for the network's IPv4
/// configuration and for every task's socket to be in LISTEN, and only then
/// prints `cam-fw: listening on http://<ip>:<port>`: a client that connects
/// on that line gets a SYN-ACK, not a RST.
///
/// # Panics
/// When the executor has no slot left for a web task (a build error: the
/// task pool is sized by [`limits::WEB_TASKS`]).
pub async fn serve(spawner: Spawner, stack: Stack<'static>) {
    for id in 0..limits::WEB_TASKS {
        spawner.spawn(web::web_task(id, stack).expect("web task slot"));
    }
    stack.wait_config_up().await;
    web::all_listening().await;
    if let Some(config) = stack.config_v4() {
        console::listening(config.address.address(), limits::PORT);
    }
}
