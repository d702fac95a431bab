//! [`cam_core::storage::Storage`] on a desktop directory standing in for
//! the cam's `/sdcard`.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use cam_core::storage::Storage;

/// The `/sdcard` of the simulated cam: a directory on the host.
#[derive(Debug, Clone)]
pub struct DirStorage {
    root: PathBuf,
}

/// The mount point that [`DirStorage`] maps onto its directory.
pub const SDCARD: &str = "/sdcard";

impl DirStorage {
    /// Maps `/sdcard` onto `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The host path for a cam path (`/sdcard/snaps/a.jpg` →
    /// `ROOT/snaps/a.jpg`).
    ///
    /// # Errors
    /// A path outside `/sdcard` or with `..`, `.` or empty components.
    pub fn host_path(&self, cam_path: &str) -> std::io::Result<PathBuf> {
        let rel = cam_path.strip_prefix(SDCARD).and_then(|r| r.strip_prefix('/')).ok_or_else(|| invalid(cam_path))?;
        let rel = Path::new(rel);
        if rel.components().next().is_some() && rel.components().all(|c| matches!(c, Component::Normal(_))) {
            Ok(self.root.join(rel))
        } else {
            Err(invalid(cam_path))
        }
    }

    /// The directory standing in for `/sdcard`.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

fn invalid(p: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{p}: not under {SDCARD}"))
}

impl Storage for DirStorage {
    type Error = std::io::Error;

    fn exists(&mut self, path: &str) -> std::io::Result<bool> {
        self.host_path(path)?.try_exists()
    }

    fn write_atomic(&mut self, path: &str, data: &[u8]) -> std::io::Result<()> {
        let target = self.host_path(path)?;
        let dir = target.parent().ok_or_else(|| invalid(path))?;
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile_in(dir)?;
        let result = (|| {
            tmp.1.write_all(data)?;
            tmp.1.sync_all()?;
            std::fs::rename(&tmp.0, &target)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp.0);
        }
        result
    }
}

fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!(".tmp-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let path = dir.join(name);
    let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path)?;
    Ok((path, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_sdcard_paths_and_refuses_escapes() {
        let s = DirStorage::new("/tmp/x");
        assert_eq!(s.host_path("/sdcard/snaps/a.jpg").unwrap(), Path::new("/tmp/x/snaps/a.jpg"));
        for bad in ["/etc/passwd", "/sdcard/../etc", "/sdcardx/a", "/sdcard/snaps/../../a", "/sdcard/"] {
            assert!(s.host_path(bad).is_err(), "{bad}");
        }
    }
}
