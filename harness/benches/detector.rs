//! Detector time per frame (decode + compare), QVGA and VGA, on real
//! footage: `cargo bench -p cam-hil --bench detector`.
//!
//! QVGA frames are the highway fixture's; VGA frames are the same frames
//! scaled ×2 with a Lanczos filter and re-encoded at quality 80 (what the
//! OV2640 sends at VGA). Each iteration runs one frame through a
//! `Detector` whose reference is the previous frame, as the cam does.

use std::hint::black_box;
use std::path::Path;

use cam_core::{Detector, DetectorConfig};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;

fn highway() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/cdnet_highway");
    (0..60).map(|i| std::fs::read(dir.join(format!("frame_{i:05}.jpg"))).expect("fixture frame")).collect()
}

fn to_vga(jpeg: &[u8]) -> Vec<u8> {
    let img = image::load_from_memory(jpeg).expect("decodes").to_rgb8();
    let big = image::imageops::resize(&img, 640, 480, FilterType::Lanczos3);
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 80).encode_image(&big).expect("encodes");
    out
}

fn bench(c: &mut Criterion) {
    let qvga = highway();
    let vga: Vec<Vec<u8>> = qvga.iter().map(|f| to_vga(f)).collect();
    let mut group = c.benchmark_group("detector");
    for (name, frames, config) in [
        // The defaults: frame differencing with shake removal.
        ("qvga", &qvga, DetectorConfig::default()),
        ("vga", &vga, DetectorConfig::default()),
        // The full-decode path (zune-jpeg luma + averaging), for comparison.
        ("qvga_full_decode", &qvga, DetectorConfig { cell_px: 16, ..DetectorConfig::default() }),
        // What shake removal costs: the defaults without it.
        ("qvga_no_shake", &qvga, DetectorConfig { tolerate_shake: false, ..DetectorConfig::default() }),
        // The seed's detector, the defaults before tuning.
        ("qvga_seed", &qvga, DetectorConfig::seed()),
    ] {
        group.throughput(Throughput::Elements(1));
        let mut detector = Detector::new(config);
        let mut i = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % frames.len();
                black_box(detector.process(black_box(&frames[i])).expect("good frame"))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
