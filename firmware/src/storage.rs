//! Snapshot storage on the board: the SD card when one is mounted
//! (feature `arducam`, `board.rs`), else nothing, and every write fails with
//! `no SD card`, which `snapshot_now` reports as
//! `{"ok":false,"reason":"storage: no SD card"}` (`docs/protocol.md`).

use alloc::string::{String, ToString};

use cam_core::storage::{NoStorage, Storage};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::mutex::Mutex;

/// No card.
pub const NO_CARD: NoStorage = NoStorage("no SD card");

/// The board's store.
pub enum BoardStorage {
    /// A mounted SD card.
    #[cfg(feature = "arducam")]
    Card(crate::board::Card),
    /// No card.
    None(NoStorage),
}

/// The store `snapshot_now` writes to; lock it before the cam.
pub static STORAGE: Mutex<CriticalSectionRawMutex, BoardStorage> = Mutex::new(BoardStorage::None(NO_CARD));

impl Storage for BoardStorage {
    type Error = String;

    fn exists(&mut self, path: &str) -> Result<bool, String> {
        match self {
            #[cfg(feature = "arducam")]
            BoardStorage::Card(card) => card.exists(path).map_err(|e| e.to_string()),
            BoardStorage::None(none) => none.exists(path).map_err(|e| e.to_string()),
        }
    }

    fn write_atomic(&mut self, path: &str, data: &[u8]) -> Result<(), String> {
        match self {
            #[cfg(feature = "arducam")]
            BoardStorage::Card(card) => card.write_atomic(path, data).map_err(|e| e.to_string()),
            BoardStorage::None(none) => none.write_atomic(path, data).map_err(|e| e.to_string()),
        }
    }
}
