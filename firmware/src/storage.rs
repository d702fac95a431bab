//! Snapshot storage on the board. Without an SD card driver built in, every
//! write fails with `no SD card`, which `snapshot_now` reports as
//! `{"ok":false,"reason":"storage: no SD card"}` (`docs/protocol.md`).

use cam_core::storage::NoStorage;

/// The board's card: none.
pub const NO_CARD: NoStorage = NoStorage("no SD card");
