//! The board's storage: a RAM disk where the C3 has its SD card, in the
//! `DISK` region of `virt.x` (256 KiB, outside the app's RAM), so
//! `snapshot_now` works on the emulated board. Files are appended and never
//! freed; a write that does not fit fails with `RAM disk full`, and nothing
//! is left at its path. Its contents last until QEMU ends.

use cam_core::storage::Storage;

/// Files it holds at most.
const MAX_FILES: usize = 32;
/// Longest path, in bytes.
const MAX_PATH: usize = 96;

unsafe extern "C" {
    static _disk_start: u8;
    static _disk_end: u8;
}

/// One file's path (its bytes are in the region; nothing on the board
/// reads them back: the harness sees snapshots through `snapshot_now`'s
/// acks, as on the C3).
#[derive(Clone, Copy)]
struct Entry {
    path: [u8; MAX_PATH],
    path_len: usize,
}

impl Entry {
    fn path(&self) -> &[u8] {
        &self.path[..self.path_len]
    }
}

/// The RAM disk.
pub struct RamDisk {
    files: [Option<Entry>; MAX_FILES],
    /// Bytes of the region used so far.
    used: usize,
}

/// Why a write failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskError {
    /// The region is used up.
    Full,
    /// [`MAX_FILES`] files exist.
    TooManyFiles,
    /// The path is longer than [`MAX_PATH`] bytes.
    PathTooLong,
}

impl core::fmt::Display for DiskError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            DiskError::Full => "RAM disk full",
            DiskError::TooManyFiles => "RAM disk: too many files",
            DiskError::PathTooLong => "RAM disk: path too long",
        })
    }
}

impl RamDisk {
    /// An empty disk over the `DISK` region.
    pub fn new() -> Self {
        Self { files: [None; MAX_FILES], used: 0 }
    }

    fn region() -> (usize, usize) {
        let start = core::ptr::addr_of!(_disk_start) as usize;
        (start, core::ptr::addr_of!(_disk_end) as usize - start)
    }

    fn find(&self, path: &str) -> Option<usize> {
        self.files.iter().position(|f| f.is_some_and(|e| e.path() == path.as_bytes()))
    }
}

impl Storage for RamDisk {
    type Error = DiskError;

    fn exists(&mut self, path: &str) -> Result<bool, DiskError> {
        Ok(self.find(path).is_some())
    }

    /// The bytes are written first, then the file's entry points at them:
    /// a reader sees the old file or the new one, never part of it.
    fn write_atomic(&mut self, path: &str, data: &[u8]) -> Result<(), DiskError> {
        if path.len() > MAX_PATH {
            return Err(DiskError::PathTooLong);
        }
        let slot = match self.find(path) {
            Some(i) => i,
            None => self.files.iter().position(Option::is_none).ok_or(DiskError::TooManyFiles)?,
        };
        let (start, size) = Self::region();
        if size - self.used < data.len() {
            return Err(DiskError::Full);
        }
        // SAFETY: bytes `used..used + len` of the DISK region belong to no
        // file yet, and nothing else uses the region.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), (start + self.used) as *mut u8, data.len()) };
        let mut entry = Entry { path: [0; MAX_PATH], path_len: path.len() };
        entry.path[..path.len()].copy_from_slice(path.as_bytes());
        self.used += data.len();
        self.files[slot] = Some(entry);
        Ok(())
    }
}
