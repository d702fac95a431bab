//! Prints the detector's `change` for every frame of a clip, with its label
//! where the clip has `labels.csv`:
//! `cargo run -p camhil-core --example changes -- fixtures/cdnet_highway`
use cam_core::{Detector, DetectorConfig, fixture};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).ok_or("usage: changes CLIP_DIR")?);
    let manifest = fixture::parse_manifest(&std::fs::read_to_string(dir.join("manifest.csv"))?)?;
    let labels = match std::fs::read_to_string(dir.join("labels.csv")) {
        Ok(text) => fixture::labels_for(&manifest, &text)?,
        Err(_) => vec![None; manifest.len()],
    };
    let mut detector = Detector::new(DetectorConfig::default());
    println!("index,t_ms,change,label");
    for (i, row) in manifest.iter().enumerate() {
        let m = detector.process(&std::fs::read(dir.join(&row.file))?)?;
        let change = m.change;
        let label = labels[i].map(|m| u8::from(m).to_string()).unwrap_or_default();
        println!("{i},{},{change:.4},{label}", row.t_ms);
    }
    Ok(())
}
