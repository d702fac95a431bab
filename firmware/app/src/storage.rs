//! Snapshot storage: whatever the board installs with [`install`] (the C3's
//! SD card), else nothing, and every write fails with `no SD card`, which
//! `snapshot_now` reports as `{"ok":false,"reason":"storage: no SD card"}`
//! (`docs/protocol.md`).

use alloc::boxed::Box;
use alloc::string::{String, ToString};

use cam_core::storage::{NoStorage, Storage};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::mutex::Mutex;

/// No card.
pub const NO_CARD: NoStorage = NoStorage("no SD card");

/// A board's store, its errors as text.
pub type DynStorage = dyn Storage<Error = String> + Send;

/// The store `snapshot_now` writes to. Never held together with the cam
/// lock: a snapshot's bytes are copied under the cam lock, then written
/// under this one.
pub static STORAGE: Mutex<CriticalSectionRawMutex, Option<Box<DynStorage>>> = Mutex::new(None);

/// Makes `store` the board's snapshot store.
pub async fn install<S>(store: S)
where
    S: Storage + Send + 'static,
{
    *STORAGE.lock().await = Some(Box::new(TextErrors(store)));
}

/// A store whose errors are shown as text.
struct TextErrors<S>(S);

impl<S: Storage> Storage for TextErrors<S> {
    type Error = String;

    fn exists(&mut self, path: &str) -> Result<bool, String> {
        self.0.exists(path).map_err(|e| e.to_string())
    }

    fn write_atomic(&mut self, path: &str, data: &[u8]) -> Result<(), String> {
        self.0.write_atomic(path, data).map_err(|e| e.to_string())
    }
}

/// Writes through the installed store, or refuses with `no SD card`.
pub(crate) struct Installed<'a>(pub(crate) &'a mut Option<Box<DynStorage>>);

impl Storage for Installed<'_> {
    type Error = String;

    fn exists(&mut self, path: &str) -> Result<bool, String> {
        match self.0 {
            Some(s) => s.exists(path),
            None => {
                let mut none = NO_CARD;
                none.exists(path).map_err(|e| e.to_string())
            }
        }
    }

    fn write_atomic(&mut self, path: &str, data: &[u8]) -> Result<(), String> {
        match self.0 {
            Some(s) => s.write_atomic(path, data),
            None => {
                let mut none = NO_CARD;
                none.write_atomic(path, data)
            }
            .map_err(|e| e.to_string()),
        }
    }
}
