//! Where snapshots go: a small trait the targets implement (the simulator
//! on a directory, the firmware on an SD card).
//!
//! Source: seed chapter "Two-way control with WebSockets" (`snapshot_now`
//! writes `/sdcard/snaps/manual-<unix seconds>.jpg`).

use core::fmt::Display;

/// A file store addressed by the cam's absolute paths (`/sdcard/...`).
pub trait Storage {
    /// What went wrong; shown to the client as `storage: <message>`.
    type Error: Display;

    /// Whether a file exists at `path`.
    ///
    /// # Errors
    /// When the store cannot be read.
    fn exists(&mut self, path: &str) -> Result<bool, Self::Error>;

    /// Writes `data` to `path` so that a reader sees either the whole file
    /// or none (write to a temporary name, then rename). Creates parent
    /// directories as needed.
    ///
    /// # Errors
    /// When the store cannot be written; nothing is left at `path` then.
    fn write_atomic(&mut self, path: &str, data: &[u8]) -> Result<(), Self::Error>;
}
