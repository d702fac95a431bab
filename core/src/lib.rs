//! # camhil-core: the cam without hardware or network I/O
//!
//! Everything the motion camera ("the cam") does that is neither a camera
//! sensor, a file system nor a socket lives here, so the ESP32 firmware and
//! the desktop simulator run the same logic. `#![no_std]` + `alloc`.
//!
//! Follow one frame through it:
//!
//! 1. a target hands JPEG bytes and a capture timestamp (ms since the Unix
//!    epoch) to [`Cam::process_frame`];
//! 2. the [`detector`] decodes the JPEG to luma, averages it into a grid of
//!    cells and compares that grid with the previous frame's: `change` is the
//!    fraction of cells that moved ([`detector::Detector`]);
//! 3. if `change > threshold` (the [`gate`]'s rules) the [`state::Cam`]
//!    bumps its trigger count and appends a [`event_log::MotionEvent`] to the
//!    [`event_log::EventLog`], which gives it an increasing `id`;
//! 4. the target frames that event with [`sse`] and pushes it to every
//!    `GET /events` client; WebSocket commands on `GET /control` are parsed
//!    and applied by [`command`]; the detector keys `set_detector` may
//!    change are defined once, in [`settings`].
//!
//! The wire contract itself (routes, JSON shapes, limits) is
//! `docs/protocol.md`; its constants are in [`protocol`].
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod camera;
pub mod command;
pub mod detector;
pub mod event_log;
pub mod fixture;
pub mod gate;
pub mod jpeg_dc;
pub mod protocol;
pub mod settings;
pub mod sse;
pub mod state;
pub mod storage;
pub mod stream;
pub mod web;

pub use command::{Ack, Command};
pub use detector::{Detector, DetectorConfig, FrameError, Measurement};
pub use event_log::{EventLog, MotionEvent, Resume};
pub use state::{Cam, FrameOutcome};
