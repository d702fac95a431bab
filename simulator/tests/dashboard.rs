//! The dashboard in real headless Chromium (through chromedriver): against
//! a simulator replaying recorded footage, motion events appear in the
//! list, both buttons get their acks shown, and the threshold slider
//! changes `GET /status`. Leaves a screenshot at
//! `target/tmp/dashboard.png`.
//!
//! Needs `chromium` and `chromium-driver` (Debian packages; `.ci/run`
//! installs them). Without chromedriver the test says so and passes,
//! unless `CAMHIL_REQUIRE_BROWSER` is set, as it is in CI.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cam_sim::clip::{Clip, ClipCamera, capture_loop};
use cam_sim::{SimConfig, Simulator};
use fantoccini::{ClientBuilder, Locator};
use serde_json::json;

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(name)).find(|p| p.is_file())
}

/// Starts chromedriver on a free loopback port; returns it once it says it
/// is listening.
fn start_chromedriver(path: &std::path::Path) -> (Kill, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let stdout = child.stdout.take().unwrap();
    let child = Kill(child);
    for line in BufReader::new(stdout).lines() {
        if line.expect("chromedriver output").contains("started successfully") {
            return (child, port);
        }
    }
    panic!("chromedriver exited without starting");
}

/// Waits until the element matching `xpath` exists (fantoccini polls, with
/// a deadline).
async fn wait_for(client: &fantoccini::Client, xpath: &str) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::XPath(xpath))
        .await
        .unwrap_or_else(|e| panic!("{xpath}: {e}"))
}

#[tokio::test]
async fn dashboard_shows_events_acks_and_moves_the_threshold() {
    let Some(driver) = which("chromedriver") else {
        assert!(std::env::var_os("CAMHIL_REQUIRE_BROWSER").is_none(), "chromedriver not found on PATH");
        eprintln!("skipped: no chromedriver on PATH (apt-get install chromium chromium-driver)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig { snapshot_dir: dir.path().into(), ..SimConfig::default() }).await.unwrap();
    let clip = Clip::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/cdnet_highway")).unwrap();
    tokio::spawn(capture_loop(ClipCamera::new(clip, 5.0, true), sim.shared().clone()));

    let (_driver, port) = start_chromedriver(&driver);
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": which("chromium").unwrap_or_else(|| "/usr/bin/chromium".into()),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=900,1000",
                     format!("--user-data-dir={}", profile.path().display())],
        }),
    );
    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.enforce_http(true);
    let client = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session");
    client.goto(&sim.url()).await.unwrap();

    // Both connections come up, and motion events from the footage appear.
    wait_for(&client, "//span[@id='sse-state' and text()='connected']").await;
    wait_for(&client, "//span[@id='ws-state' and text()='connected']").await;
    wait_for(&client, "//ul[@id='events']/li[3]").await;
    let first = client.find(Locator::Css("#events li")).await.unwrap().text().await.unwrap();
    assert!(first.contains("change 0.") && first.contains('#'), "{first}");

    // Save snapshot: the ack names the file, which holds a frame.
    client.find(Locator::Id("snap-btn")).await.unwrap().click().await.unwrap();
    let ack = wait_for(&client, "//div[@id='ack' and starts-with(., 'Snapshot saved: /sdcard/snaps/manual-')]").await;
    let saved = ack.text().await.unwrap().trim_start_matches("Snapshot saved: ").to_string();
    let bytes = std::fs::read(sim.shared().storage().host_path(&saved).unwrap()).unwrap();
    assert_eq!(&bytes[..2], b"\xff\xd8", "a JPEG");

    // Reset counter: the ack is shown.
    client.find(Locator::Id("reset-btn")).await.unwrap().click().await.unwrap();
    wait_for(&client, "//div[@id='ack' and text()='Counter reset']").await;

    // Five steps right on the slider: the cam's threshold follows.
    let slider = client.find(Locator::Id("threshold")).await.unwrap();
    for _ in 0..5 {
        slider.send_keys("\u{E014}").await.unwrap(); // ArrowRight
    }
    wait_for(&client, "//div[@id='ack' and text()='Threshold set to 0.10']").await;
    let status = sim.shared().with_cam(|cam| cam.status());
    assert!((status.threshold - 0.10).abs() < 1e-9, "{status:?}");

    // The latest frame is shown.
    wait_for(&client, "//img[@id='frame' and not(@hidden)]").await;
    let png = client.screenshot().await.unwrap();
    std::fs::write(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png"), png).unwrap();
    client.close().await.unwrap();
}
