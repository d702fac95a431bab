//! Any bytes as a frame: the detector's DC-coefficient path and its full
//! decode never panic, a refused frame changes nothing, and where both
//! paths decode they agree on the grid's shape.
#![no_main]

use cam_core::detector::LumaGrid;
use cam_core::{Cam, DetectorConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let dc = cam_core::jpeg_dc::luma_grid(bytes, 1024);
    let full = LumaGrid::from_jpeg(bytes, &DetectorConfig { cell_px: 16, max_dimension: 1024, ..Default::default() });
    if let (Ok(Some(a)), Ok(b)) = (&dc, &full) {
        assert_eq!((a.cols / 2, a.rows / 2), (b.cols, b.rows), "8 px and 16 px grids of one frame");
    }
    let mut cam = Cam::default();
    let before = cam.status();
    if cam.process_frame(bytes.to_vec(), 1).is_err() {
        assert_eq!(cam.status(), before);
        assert!(cam.latest().is_none());
    }
});
