//! The dashboard in real headless Chromium (through chromedriver): against
//! a simulator replaying recorded footage, motion events appear in the
//! list, both buttons get their acks shown, and the threshold slider
//! changes `GET /status`. Leaves a screenshot at
//! `target/tmp/dashboard.png`.
//!
//! Needs `chromium` and `chromium-driver` (Debian packages; `.ci/run`
//! installs them). Without chromedriver the test says so and passes,
//! unless `CAMHIL_REQUIRE_BROWSER` is set, as it is in CI.

use cam_sim::clip::{ClipCamera, capture_loop};
use cam_sim::{SimConfig, Simulator};
use fantoccini::Locator;
use footage::Clip;

mod browser;

use browser::{Browser, browser, wait_for};

/// Replays `clip` through the simulator's capture loop, looping, `speed`
/// times as fast as recorded.
fn replay(sim: &Simulator, clip: &str, speed: f64) {
    let clip = Clip::load(format!("{}/../fixtures/{clip}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    tokio::spawn(capture_loop(ClipCamera::new(clip, speed, true), sim.shared().clone()));
}

#[tokio::test]
async fn dashboard_shows_events_acks_and_moves_the_threshold() {
    let Some(Browser { client, _driver, _profile }) = browser().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig { snapshot_dir: dir.path().into(), ..SimConfig::default() }).await.unwrap();
    replay(&sim, "cdnet_highway", 5.0);
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

    // Five steps right on the slider (logarithmic, from the default 0.003):
    // the cam's threshold follows.
    let slider = client.find(Locator::Id("threshold")).await.unwrap();
    for _ in 0..5 {
        slider.send_keys("\u{E014}").await.unwrap(); // ArrowRight
    }
    wait_for(&client, "//div[@id='ack' and text()='Threshold set to 0.0048']").await;
    let status = sim.shared().with_cam(|cam| cam.status());
    assert!((status.threshold - 0.0048).abs() < 1e-9, "{status:?}");

    // The latest frame is shown.
    wait_for(&client, "//img[@id='frame' and not(@hidden)]").await;
    let png = client.screenshot().await.unwrap();
    std::fs::write(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png"), png).unwrap();
    client.close().await.unwrap();
}

/// The cam reboots while the page is open: the page's `EventSource`
/// resumes with an id of the old boot, gets the `restart` event and says
/// so; its WebSocket reconnects.
#[tokio::test]
async fn dashboard_tells_the_owner_when_the_cam_restarted() {
    let Some(Browser { client, _driver, _profile }) = browser().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = SimConfig { snapshot_dir: dir.path().into(), retry_ms: 100, ..SimConfig::default() };
    let sim = Simulator::start(config).await.unwrap();
    client.goto(&sim.url()).await.unwrap();
    wait_for(&client, "//span[@id='sse-state' and text()='connected']").await;
    wait_for(&client, "//span[@id='ws-state' and text()='connected']").await;
    // Frames only once the page listens, so it holds an id of the old boot.
    let old = sim.shared().boot();
    let (mut published, _) = sim.shared().subscribe(None);
    replay(&sim, "cdnet_highway", 5.0);
    // Once the old boot has published a few events, the reset line.
    for _ in 0..3 {
        published.recv().await.unwrap();
    }
    sim.reboot();
    let new = sim.shared().boot();
    assert_ne!(new, old);
    // A marker in the event list, above the new boot's events.
    let marker = format!("//ul[@id='events']/li[@class='restart' and text()='cam restarted (boot {new:08x})']");
    wait_for(&client, &marker).await;
    wait_for(&client, &format!("{marker}/preceding-sibling::li")).await;
    wait_for(&client, "//span[@id='ws-state' and text()='connected']").await;
    let png = client.screenshot().await.unwrap();
    std::fs::write(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard_restart.png"), png).unwrap();
    client.close().await.unwrap();
}

#[tokio::test]
async fn over_https_with_a_token_the_page_uses_wss_and_its_token() {
    let Some(Browser { client, _driver, _profile }) = browser().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let config = SimConfig {
        snapshot_dir: dir.path().join("sdcard"),
        token: Some("s3cret".into()),
        tls: Some(cam_sim::TlsFiles { cert: cert_path, key: key_path }),
        ..SimConfig::default()
    };
    let sim = Simulator::start(config).await.unwrap();
    replay(&sim, "synthetic_bright_square", 4.0);
    client.goto(&format!("{}/?token=s3cret", sim.url())).await.unwrap();
    wait_for(&client, "//span[@id='ws-state' and text()='connected']").await;
    wait_for(&client, "//span[@id='sse-state' and text()='connected']").await;
    wait_for(&client, "//ul[@id='events']/li").await;
    wait_for(&client, "//div[@id='ack' and starts-with(., 'Connected: ')]").await;
    let proto: String =
        client.execute("return ws.url.split(':')[0];", vec![]).await.unwrap().as_str().unwrap().to_string();
    assert_eq!(proto, "wss");
    wait_for(&client, "//img[@id='frame' and not(@hidden)]").await;
    client.close().await.unwrap();
}
