//! Snapshot storage on the board. Without an SD card driver built in, every
//! write fails with `no SD card`, which `snapshot_now` reports as
//! `{"ok":false,"reason":"storage: no SD card"}` (`docs/protocol.md`).

use cam_core::storage::Storage;

/// The board's card: none.
pub struct NoCard;

impl Storage for NoCard {
    type Error = &'static str;

    fn exists(&mut self, _path: &str) -> Result<bool, Self::Error> {
        Ok(false)
    }

    fn write_atomic(&mut self, _path: &str, _data: &[u8]) -> Result<(), Self::Error> {
        Err("no SD card")
    }
}
