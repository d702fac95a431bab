//! Snapshot storage on an SD card image in RAM: an MBR with one FAT16
//! partition, formatted and read back by a second FAT implementation
//! (`fatfs`). The power is cut after every single block write of a
//! snapshot; after the reboot the snapshot is absent or whole, and the
//! snapshots before it are untouched.

use std::cell::{Cell, RefCell};
use std::io::{Cursor, Read};
use std::rc::Rc;

use cam_core::storage::Storage;
use cam_core::{Cam, DetectorConfig};
use cam_drivers::sdcard::{Recovery, SdStorage, UnixClock};
use embedded_sdmmc::{Block, BlockCount, BlockDevice, BlockIdx};

const PARTITION_START: u32 = 2048;
const PARTITION_BLOCKS: u32 = 16 * 2048; // 16 MiB

#[derive(Debug)]
struct PowerCut;

impl std::fmt::Display for PowerCut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("power cut")
    }
}
impl std::error::Error for PowerCut {}

/// A card in RAM whose power can be cut after a number of block writes:
/// writes after that fail and change nothing.
#[derive(Clone)]
struct RamCard {
    bytes: Rc<RefCell<Vec<u8>>>,
    writes_left: Rc<Cell<Option<usize>>>,
    writes: Rc<Cell<usize>>,
}

impl RamCard {
    fn formatted() -> RamCard {
        let mut volume = Cursor::new(vec![0u8; PARTITION_BLOCKS as usize * 512]);
        fatfs::format_volume(&mut volume, fatfs::FormatVolumeOptions::new().fat_type(fatfs::FatType::Fat16))
            .expect("format");
        let mut disk = vec![0u8; PARTITION_START as usize * 512];
        let entry = &mut disk[0x1BE..0x1CE];
        entry[4] = 0x06; // FAT16
        entry[8..12].copy_from_slice(&PARTITION_START.to_le_bytes());
        entry[12..16].copy_from_slice(&PARTITION_BLOCKS.to_le_bytes());
        disk[510] = 0x55;
        disk[511] = 0xAA;
        disk.extend_from_slice(&volume.into_inner());
        RamCard::from_bytes(disk)
    }

    fn from_bytes(bytes: Vec<u8>) -> RamCard {
        RamCard { bytes: Rc::new(RefCell::new(bytes)), writes_left: Rc::new(Cell::new(None)), writes: Rc::default() }
    }

    /// The card as it is now, powered again.
    fn reboot(&self) -> RamCard {
        RamCard::from_bytes(self.bytes.borrow().clone())
    }

    fn cut_power_after(&self, writes: usize) {
        self.writes_left.set(Some(writes));
    }

    /// The file at `path` as a desktop would read it.
    fn read_with_fatfs(&self, path: &str) -> Option<Vec<u8>> {
        let bytes = self.bytes.borrow()[PARTITION_START as usize * 512..].to_vec();
        let fs = fatfs::FileSystem::new(Cursor::new(bytes), fatfs::FsOptions::new()).expect("a FAT volume");
        let mut file = fs.root_dir().open_file(path).ok()?;
        let mut out = Vec::new();
        file.read_to_end(&mut out).expect("readable");
        Some(out)
    }
}

impl BlockDevice for RamCard {
    type Error = PowerCut;

    fn read(&self, blocks: &mut [Block], start: BlockIdx) -> Result<(), PowerCut> {
        let bytes = self.bytes.borrow();
        for (i, b) in blocks.iter_mut().enumerate() {
            let at = (start.0 as usize + i) * 512;
            b.contents.copy_from_slice(&bytes[at..at + 512]);
        }
        Ok(())
    }

    fn write(&self, blocks: &[Block], start: BlockIdx) -> Result<(), PowerCut> {
        let mut bytes = self.bytes.borrow_mut();
        for (i, b) in blocks.iter().enumerate() {
            match self.writes_left.get() {
                Some(0) => return Err(PowerCut),
                Some(n) => self.writes_left.set(Some(n - 1)),
                None => {}
            }
            self.writes.set(self.writes.get() + 1);
            let at = (start.0 as usize + i) * 512;
            bytes[at..at + 512].copy_from_slice(&b.contents);
        }
        Ok(())
    }

    fn num_blocks(&self) -> Result<BlockCount, PowerCut> {
        Ok(BlockCount((self.bytes.borrow().len() / 512) as u32))
    }
}

fn clock() -> UnixClock<fn() -> u64> {
    UnixClock(|| 1_700_000_000_000)
}

type Card = SdStorage<RamCard, UnixClock<fn() -> u64>>;

fn open(card: RamCard) -> (Card, Recovery) {
    SdStorage::open(card, clock()).expect("the card mounts")
}

/// Bytes that look like nothing in particular, `len` long.
fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

#[test]
fn snapshots_are_written_where_a_desktop_finds_them() {
    let card = RamCard::formatted();
    let (mut store, recovery) = open(card.clone());
    assert_eq!(recovery, Recovery::Clean);
    let data = payload(5000, 1);
    assert!(!store.exists("/sdcard/snaps/manual-1700000000.jpg").unwrap());
    store.write_atomic("/sdcard/snaps/manual-1700000000.jpg", &data).unwrap();
    assert!(store.exists("/sdcard/snaps/manual-1700000000.jpg").unwrap());
    assert!(!store.exists("/sdcard/snaps/manual-1700000000-2.jpg").unwrap());
    drop(store);
    assert_eq!(card.read_with_fatfs("SNAPS/19675/80000001.JPG"), Some(data));
    assert_eq!(card.read_with_fatfs("CAMHIL.JNL"), None, "the journal is gone after a write");
}

#[test]
fn snapshot_now_through_the_core_names_same_second_snapshots_apart() {
    let card = RamCard::formatted();
    let (mut store, _) = open(card.clone());
    let mut cam = Cam::new(DetectorConfig::default(), 16, 0);
    let jpeg =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/synthetic_bright_square/frame_00000.jpg"))
            .expect("fixture");
    cam.process_frame(jpeg.clone(), 1_700_000_000_000).unwrap();
    let first = cam.handle_text(r#"{"cmd":"snapshot_now"}"#, 1_700_000_000, &mut store);
    let second = cam.handle_text(r#"{"cmd":"snapshot_now"}"#, 1_700_000_000, &mut store);
    let first = serde_json::to_value(&first).unwrap();
    let second = serde_json::to_value(&second).unwrap();
    assert_eq!(first["saved"], "/sdcard/snaps/manual-1700000000.jpg", "{first}");
    assert_eq!(second["saved"], "/sdcard/snaps/manual-1700000000-2.jpg", "{second}");
    drop(store);
    assert_eq!(card.read_with_fatfs("SNAPS/19675/80000001.JPG").as_ref(), Some(&jpeg));
    assert_eq!(card.read_with_fatfs("SNAPS/19675/80000002.JPG").as_ref(), Some(&jpeg));
}

#[test]
fn a_power_cut_at_any_block_write_leaves_the_snapshot_absent_or_whole() {
    let base = RamCard::formatted();
    let earlier = payload(3000, 7);
    {
        let (mut store, _) = open(base.clone());
        store.write_atomic("/sdcard/snaps/manual-1700000000.jpg", &earlier).unwrap();
    }
    let data = payload(4600, 3); // 9 blocks: spans several clusters' worth of writes
    let path = "/sdcard/snaps/manual-1700000001.jpg";
    let total = {
        let card = base.reboot();
        let (mut store, _) = open(card.clone());
        let before = card.writes.get();
        store.write_atomic(path, &data).unwrap();
        card.writes.get() - before
    };
    assert!(total > 10, "a journalled write takes many block writes, got {total}");

    let (mut absent, mut whole, mut replayed) = (0, 0, 0);
    for cut in 0..total {
        let card = base.reboot();
        let (mut store, _) = open(card.clone());
        card.cut_power_after(cut);
        // The error is the file system's view of the dead card ("power cut",
        // or "disk full" when the cut hits a cluster allocation).
        store.write_atomic(path, &data).expect_err("the power was cut");
        drop(store);

        let card = card.reboot();
        let (mut store, recovery) = open(card.clone());
        if matches!(recovery, Recovery::Replayed(_)) {
            replayed += 1;
        }
        let on_card = card.read_with_fatfs("SNAPS/19675/80001001.JPG");
        assert_eq!(store.exists(path).unwrap(), on_card.is_some(), "cut after {cut}");
        match on_card {
            None => absent += 1,
            Some(bytes) => {
                assert!(
                    bytes == data,
                    "cut after {cut} writes: half a snapshot ({} of {} bytes)",
                    bytes.len(),
                    data.len()
                );
                whole += 1;
            }
        }
        assert!(
            card.read_with_fatfs("SNAPS/19675/80000001.JPG") == Some(earlier.clone()),
            "cut after {cut}: earlier lost"
        );
        assert_eq!(card.read_with_fatfs("CAMHIL.JNL"), None, "recovery removes the journal");
        // The card takes new snapshots after the cut.
        store.write_atomic("/sdcard/snaps/manual-1700000002.jpg", &data).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
    }
    assert!(absent > 0 && whole > 0 && replayed > 0, "absent {absent}, whole {whole}, replayed {replayed}");
}

#[test]
fn bad_paths_are_refused_and_nothing_is_written() {
    let card = RamCard::formatted();
    let (mut store, _) = open(card.clone());
    let before = card.writes.get();
    for path in ["/sdcard/../x.jpg", "/etc/passwd", "/sdcard/snaps/much-too-long-a-name.jpg"] {
        let err = store.write_atomic(path, b"x").expect_err(path);
        assert!(!err.to_string().is_empty());
    }
    assert_eq!(card.writes.get(), before);
}

#[test]
fn a_card_without_a_fat_partition_is_an_error() {
    let card = RamCard::from_bytes(vec![0u8; 4096 * 512]);
    let err = SdStorage::open(card, clock()).err().expect("no partition");
    assert!(err.to_string().starts_with("SD card:"), "{err}");
}
