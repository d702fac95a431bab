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

/// A store with nothing in it that refuses every write with `reason`
/// (`snapshot_now` then answers `{"ok":false,"reason":"storage: <reason>"}`):
/// for a board without a card, or an evaluation without files.
#[derive(Debug, Clone, Copy)]
pub struct NoStorage(pub &'static str);

impl Storage for NoStorage {
    type Error = &'static str;

    fn exists(&mut self, _path: &str) -> Result<bool, Self::Error> {
        Ok(false)
    }

    fn write_atomic(&mut self, _path: &str, _data: &[u8]) -> Result<(), Self::Error> {
        Err(self.0)
    }
}
