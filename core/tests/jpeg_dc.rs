//! The DC-coefficient luma grid against the full decode (zune-jpeg + cell
//! averaging), on every frame of every fixture: the same cells, within the
//! rounding and clipping of the inverse DCT.

use std::path::Path;

use cam_core::detector::LumaGrid;
use cam_core::{DetectorConfig, FrameError, jpeg_dc};

fn full_grid(jpeg: &[u8]) -> LumaGrid {
    use zune_core::bytestream::ZCursor;
    use zune_core::colorspace::ColorSpace;
    use zune_core::options::DecoderOptions;
    let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::Luma);
    let mut d = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(jpeg), options);
    let luma = d.decode().unwrap();
    let (w, h) = d.dimensions().unwrap();
    LumaGrid::from_luma(&luma, w, h, 8).unwrap()
}

#[test]
fn dc_grid_matches_the_full_decode_on_every_fixture_frame() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let mut frames = 0;
    for clip in std::fs::read_dir(&fixtures).unwrap() {
        let clip = clip.unwrap().path();
        if !clip.join("manifest.csv").exists() {
            continue;
        }
        for entry in std::fs::read_dir(&clip).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "jpg") {
                continue;
            }
            let jpeg = std::fs::read(&path).unwrap();
            let dc = jpeg_dc::luma_grid(&jpeg, 4096).unwrap().expect("baseline JPEG");
            let full = full_grid(&jpeg);
            assert_eq!((dc.cols, dc.rows), (full.cols, full.rows), "{}", path.display());
            let worst = dc.cells.iter().zip(&full.cells).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
            // The full decode clips pixels to 0-255 after the inverse DCT;
            // the DC is the unclipped mean: near black or white they differ a little.
            assert!(worst <= 4, "{}: a cell differs by {worst} grey levels", path.display());
            frames += 1;
        }
    }
    assert!(frames > 800, "{frames} frames checked");
}

#[test]
fn corrupt_and_truncated_frames_are_errors() {
    let jpeg =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/cdnet_highway/frame_00100.jpg")).unwrap();
    assert!(jpeg_dc::luma_grid(b"not a jpeg", 4096).is_err());
    assert!(jpeg_dc::luma_grid(&[], 4096).is_err());
    for cut in [20, 200, jpeg.len() / 2, jpeg.len() - 200] {
        assert!(jpeg_dc::luma_grid(&jpeg[..cut], 4096).is_err(), "cut at {cut}");
    }
    assert!(matches!(jpeg_dc::luma_grid(&jpeg, 100), Err(FrameError::BadSize(320, 240))));
    // Garbage in the entropy-coded data must not panic.
    let mut bad = jpeg.clone();
    for (i, b) in bad.iter_mut().enumerate().skip(700).step_by(7) {
        *b ^= (i % 251) as u8;
    }
    let _ = jpeg_dc::luma_grid(&bad, 4096);
    let _ = DetectorConfig::default();
}
