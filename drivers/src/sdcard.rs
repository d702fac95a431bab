//! Snapshot storage on a FAT16/FAT32 SD card (embedded-sdmmc), as the
//! core's [`Storage`].
//!
//! **Names.** embedded-sdmmc creates 8.3 names only, so the cam's paths are
//! mapped (see [`card_path`]): a snapshot `/sdcard/snaps/manual-<S>[-<N>].jpg`
//! (`S` Unix seconds, `N` the same-second number, 1 when absent) is stored
//! as `SNAPS/<S / 86400>/<S % 86400, 5 digits><N, 3 digits>.JPG`: one folder
//! per UTC day, named by its day number since 1970-01-01. Other paths are
//! kept as they are when each part is already a valid 8.3 name, and refused
//! otherwise. `.` and `..` are refused: no path leaves the card's folders.
//!
//! **Crash safety.** FAT has no rename here, so a write is journalled: the
//! data goes first to [`JOURNAL`] (header, target, length, bytes), then to
//! the target, and the journal is deleted last. [`SdStorage::open`] and
//! every write first replay a complete journal (the target is rewritten in
//! full) and drop an incomplete one (the target was never touched). A power
//! cut at any point therefore leaves the target absent or whole; the test
//! `tests/sdcard.rs` cuts the power after every single block write.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use cam_core::storage::Storage;
use embedded_sdmmc::{BlockDevice, Directory, Mode, TimeSource, Timestamp, VolumeIdx, VolumeManager};

/// The journal file, in the card's root folder.
pub const JOURNAL: &str = "CAMHIL.JNL";
const MAGIC: &[u8; 8] = b"CAMHILJ1";
/// Bytes copied at a time (one block).
const CHUNK: usize = 512;

/// Why a cam path has no place on the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// Not under `/sdcard/`.
    NotOnCard(String),
    /// An empty, `.` or `..` part: it would leave the card's folders.
    Escapes(String),
    /// A part that is neither a snapshot name nor a valid 8.3 name.
    NotRepresentable(String),
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathError::NotOnCard(p) => write!(f, "{p:?} is not under /sdcard/"),
            PathError::Escapes(p) => write!(f, "{p:?} leaves the card's folders"),
            PathError::NotRepresentable(p) => write!(f, "{p:?} has no 8.3 name on the card"),
        }
    }
}

/// Where a cam path lives on the card: folders from the root, then the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardPath {
    /// Folder names (8.3, upper case), outermost first.
    pub dirs: Vec<String>,
    /// File name (8.3, upper case).
    pub file: String,
}

impl fmt::Display for CardPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.dirs {
            write!(f, "{d}/")?;
        }
        f.write_str(&self.file)
    }
}

/// Maps a cam path (`/sdcard/...`) to its place on the card (see the module
/// docs). Example: `/sdcard/snaps/manual-1700000000-2.jpg` →
/// `SNAPS/19675/80000002.JPG`.
///
/// # Errors
/// [`PathError`] for paths off the card, escaping, or without an 8.3 form.
pub fn card_path(path: &str) -> Result<CardPath, PathError> {
    let rest = path.strip_prefix("/sdcard/").ok_or_else(|| PathError::NotOnCard(path.to_string()))?;
    let parts: Vec<&str> = rest.split('/').collect();
    if parts.iter().any(|p| p.is_empty() || *p == "." || *p == "..") {
        return Err(PathError::Escapes(path.to_string()));
    }
    let (file, dirs) = parts.split_last().ok_or_else(|| PathError::Escapes(path.to_string()))?;
    let mut dirs: Vec<String> = dirs
        .iter()
        .map(|d| short_name(d))
        .collect::<Option<_>>()
        .ok_or_else(|| PathError::NotRepresentable(path.to_string()))?;
    if let Some((secs, n)) = snapshot_name(file) {
        dirs.push(format!("{}", secs / 86_400));
        let file = format!("{:05}{n:03}.JPG", secs % 86_400);
        return Ok(CardPath { dirs, file });
    }
    let file = short_name(file).ok_or_else(|| PathError::NotRepresentable(path.to_string()))?;
    Ok(CardPath { dirs, file })
}

/// `manual-<S>.jpg` → (S, 1); `manual-<S>-<N>.jpg` → (S, N) for N in 2..=999.
fn snapshot_name(name: &str) -> Option<(u64, u32)> {
    let stem = name.strip_prefix("manual-")?.strip_suffix(".jpg")?;
    let (secs, n) = match stem.split_once('-') {
        Some((s, n)) => (s, n.parse::<u32>().ok().filter(|n| (2..=999).contains(n))?),
        None => (stem, 1),
    };
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u64 = secs.parse().ok()?;
    // Day folders have at most 5 digits (until the year 2243).
    (secs / 86_400 < 100_000).then_some((secs, n))
}

/// `name` as an 8.3 name in upper case, if it is one.
fn short_name(name: &str) -> Option<String> {
    let (base, ext) = name.split_once('.').unwrap_or((name, ""));
    let ok =
        |s: &str, max: usize| s.len() <= max && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    (!base.is_empty() && ok(base, 8) && ok(ext, 3) && !ext.contains('.')).then(|| name.to_ascii_uppercase())
}

/// What went wrong on the card.
#[derive(Debug)]
pub enum SdError<E: core::error::Error> {
    /// The path has no place on the card.
    Path(PathError),
    /// The card or its file system failed.
    Fs(embedded_sdmmc::Error<E>),
}

impl<E: core::error::Error> fmt::Display for SdError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SdError::Path(e) => write!(f, "{e}"),
            SdError::Fs(e) => write!(f, "SD card: {e}"),
        }
    }
}

impl<E: core::error::Error> From<embedded_sdmmc::Error<E>> for SdError<E> {
    fn from(e: embedded_sdmmc::Error<E>) -> Self {
        SdError::Fs(e)
    }
}

/// What [`SdStorage::open`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// No journal: the last write completed.
    Clean,
    /// A complete journal was replayed: this file was rewritten in full.
    Replayed(String),
    /// An incomplete journal was dropped: its write never reached the target.
    Dropped,
}

type Vm<D, T> = VolumeManager<D, T, 4, 2, 1>;
type Dir<'a, D, T> = Directory<'a, D, T, 4, 2, 1>;

/// The cam's snapshot store on the first partition of an SD card.
pub struct SdStorage<D: BlockDevice, T: TimeSource> {
    vm: Vm<D, T>,
    volume: embedded_sdmmc::RawVolume,
}

impl<D: BlockDevice, T: TimeSource> SdStorage<D, T> {
    /// Opens the first partition (MBR; FAT16 or FAT32) and replays or drops
    /// a journal left by a power cut.
    ///
    /// # Errors
    /// No card, no partition, not FAT, or a card failure.
    pub fn open(device: D, clock: T) -> Result<(Self, Recovery), SdError<D::Error>> {
        let vm: Vm<D, T> = VolumeManager::new_with_limits(device, clock, 0);
        let volume = vm.open_raw_volume(VolumeIdx(0))?;
        let mut store = SdStorage { vm, volume };
        let recovery = store.recover()?;
        Ok((store, recovery))
    }

    /// Gives the block device back.
    pub fn release(self) -> D {
        let _ = self.vm.close_volume(self.volume);
        self.vm.free().0
    }

    fn root(&self) -> Result<Dir<'_, D, T>, SdError<D::Error>> {
        Ok(self.vm.open_root_dir(self.volume)?.to_directory(&self.vm))
    }

    /// Opens the folders of `dirs` from the root, creating missing ones when
    /// `create`; `Ok(None)` when one is missing and `create` is false.
    fn walk(&self, dirs: &[String], create: bool) -> Result<Option<Dir<'_, D, T>>, SdError<D::Error>> {
        let mut dir = self.root()?;
        for name in dirs {
            let next = match dir.open_dir(name.as_str()) {
                Ok(d) => d,
                Err(embedded_sdmmc::Error::NotFound) if create => {
                    dir.make_dir_in_dir(name.as_str())?;
                    dir.open_dir(name.as_str())?
                }
                Err(embedded_sdmmc::Error::NotFound) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            dir = next;
        }
        Ok(Some(dir))
    }

    /// Replays a complete journal, drops an incomplete one.
    fn recover(&mut self) -> Result<Recovery, SdError<D::Error>> {
        let root = self.root()?;
        let journal = match root.open_file_in_dir(JOURNAL, Mode::ReadOnly) {
            Ok(f) => f,
            Err(embedded_sdmmc::Error::NotFound) => return Ok(Recovery::Clean),
            Err(e) => return Err(e.into()),
        };
        let header = read_header(&journal)?;
        let complete = header.as_ref().is_some_and(|h| journal.length() as usize == h.data_start + h.data_len);
        let outcome = match header {
            Some(h) if complete => {
                let target = card_path_of_journal(&h.target).map_err(SdError::Path)?;
                let dir = self.walk(&target.dirs, true)?.expect("created");
                let out = dir.open_file_in_dir(target.file.as_str(), Mode::ReadWriteCreateOrTruncate)?;
                let mut buf = [0u8; CHUNK];
                loop {
                    let n = journal.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    out.write(&buf[..n])?;
                }
                out.close()?;
                Recovery::Replayed(h.target)
            }
            _ => Recovery::Dropped,
        };
        journal.close()?;
        root.delete_entry_in_dir(JOURNAL)?;
        Ok(outcome)
    }
}

struct Header {
    target: String,
    data_start: usize,
    data_len: usize,
}

/// The journal's header, with the file positioned at the data; `None` when
/// it is cut short or not a journal.
fn read_header<D: BlockDevice, T: TimeSource>(
    f: &embedded_sdmmc::File<'_, D, T, 4, 2, 1>,
) -> Result<Option<Header>, embedded_sdmmc::Error<D::Error>> {
    let mut fixed = [0u8; 10];
    if read_exact(f, &mut fixed)? < fixed.len() || &fixed[..8] != MAGIC {
        return Ok(None);
    }
    let path_len = usize::from(u16::from_le_bytes([fixed[8], fixed[9]]));
    let mut path = alloc::vec![0u8; path_len];
    let mut len = [0u8; 4];
    if read_exact(f, &mut path)? < path_len || read_exact(f, &mut len)? < 4 {
        return Ok(None);
    }
    let Ok(target) = String::from_utf8(path) else { return Ok(None) };
    Ok(Some(Header { target, data_start: 10 + path_len + 4, data_len: u32::from_le_bytes(len) as usize }))
}

fn read_exact<D: BlockDevice, T: TimeSource>(
    f: &embedded_sdmmc::File<'_, D, T, 4, 2, 1>,
    buf: &mut [u8],
) -> Result<usize, embedded_sdmmc::Error<D::Error>> {
    let mut got = 0;
    while got < buf.len() {
        let n = f.read(&mut buf[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(got)
}

/// The journal names its target by its card path (`SNAPS/19675/80000001.JPG`).
fn card_path_of_journal(target: &str) -> Result<CardPath, PathError> {
    let parts: Vec<&str> = target.split('/').collect();
    let (file, dirs) = parts.split_last().ok_or_else(|| PathError::Escapes(target.to_string()))?;
    let valid = |p: &&str| short_name(p).is_some_and(|s| s == **p);
    if !valid(file) || !dirs.iter().all(valid) {
        return Err(PathError::NotRepresentable(target.to_string()));
    }
    Ok(CardPath { dirs: dirs.iter().map(|d| d.to_string()).collect(), file: file.to_string() })
}

impl<D: BlockDevice, T: TimeSource> Storage for SdStorage<D, T> {
    type Error = SdError<D::Error>;

    fn exists(&mut self, path: &str) -> Result<bool, Self::Error> {
        let target = card_path(path).map_err(SdError::Path)?;
        let Some(dir) = self.walk(&target.dirs, false)? else { return Ok(false) };
        match dir.find_directory_entry(target.file.as_str()) {
            Ok(_) => Ok(true),
            Err(embedded_sdmmc::Error::NotFound) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Journalled write (module docs): after a power cut the file at `path`
    /// is absent or whole.
    fn write_atomic(&mut self, path: &str, data: &[u8]) -> Result<(), Self::Error> {
        let target = card_path(path).map_err(SdError::Path)?;
        let name = target.to_string();
        let path_len =
            u16::try_from(name.len()).map_err(|_| SdError::Path(PathError::NotRepresentable(name.clone())))?;
        let data_len = u32::try_from(data.len()).map_err(|_| SdError::Fs(embedded_sdmmc::Error::Unsupported))?;
        self.recover()?;
        {
            let root = self.root()?;
            let journal = root.open_file_in_dir(JOURNAL, Mode::ReadWriteCreateOrTruncate)?;
            let mut header = Vec::with_capacity(14 + name.len());
            header.extend_from_slice(MAGIC);
            header.extend_from_slice(&path_len.to_le_bytes());
            header.extend_from_slice(name.as_bytes());
            header.extend_from_slice(&data_len.to_le_bytes());
            journal.write(&header)?;
            journal.write(data)?;
            journal.close()?;
        }
        {
            let dir = self.walk(&target.dirs, true)?.expect("created");
            let out = dir.open_file_in_dir(target.file.as_str(), Mode::ReadWriteCreateOrTruncate)?;
            out.write(data)?;
            out.close()?;
        }
        self.root()?.delete_entry_in_dir(JOURNAL)?;
        Ok(())
    }
}

/// A FAT [`TimeSource`] from a function returning ms since the Unix epoch
/// (UTC). A board without a wall clock gets 1970-01-01 plus its uptime.
pub struct UnixClock<F: Fn() -> u64>(pub F);

impl<F: Fn() -> u64> TimeSource for UnixClock<F> {
    fn get_timestamp(&self) -> Timestamp {
        let secs = (self.0)() / 1000;
        let (y, m, d) = civil_from_days((secs / 86_400) as i64);
        let sod = secs % 86_400;
        // FAT dates run from 1980; embedded-sdmmc's from 1970 to 2097.
        let year = y.clamp(1980, 2097) as u16;
        Timestamp::from_calendar(year, m, d, (sod / 3600) as u8, (sod / 60 % 60) as u8, (sod % 60) as u8).unwrap_or(
            Timestamp {
                year_since_1970: 10,
                zero_indexed_month: 0,
                zero_indexed_day: 0,
                hours: 0,
                minutes: 0,
                seconds: 0,
            },
        )
    }
}

/// (year, month 1–12, day 1–31) of a day number since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_paths_map_to_day_folders_and_8_3_names() {
        let p = card_path("/sdcard/snaps/manual-1700000000.jpg").unwrap();
        assert_eq!(p.to_string(), "SNAPS/19675/80000001.JPG");
        let p = card_path("/sdcard/snaps/manual-1700000000-2.jpg").unwrap();
        assert_eq!(p.to_string(), "SNAPS/19675/80000002.JPG");
        assert_eq!(card_path("/sdcard/snaps/manual-7.jpg").unwrap().to_string(), "SNAPS/0/00007001.JPG");
        assert_eq!(card_path("/sdcard/log/boot.txt").unwrap().to_string(), "LOG/BOOT.TXT");
    }

    #[test]
    fn paths_that_escape_or_do_not_fit_are_refused() {
        assert!(matches!(card_path("/sdcard/../etc/passwd"), Err(PathError::Escapes(_))));
        assert!(matches!(card_path("/sdcard/snaps//x.jpg"), Err(PathError::Escapes(_))));
        assert!(matches!(card_path("/tmp/x.jpg"), Err(PathError::NotOnCard(_))));
        assert!(matches!(card_path("/sdcard/snaps/a-very-long-name.jpg"), Err(PathError::NotRepresentable(_))));
        assert!(matches!(card_path("/sdcard/snaps/manual-5-1000.jpg"), Err(PathError::NotRepresentable(_))));
        assert!(matches!(card_path("/sdcard/snaps/manual--5.jpg"), Err(PathError::NotRepresentable(_))));
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_675), (2023, 11, 14));
        assert_eq!(civil_from_days(20_513), (2026, 3, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
