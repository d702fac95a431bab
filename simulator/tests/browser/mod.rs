//! Headless Chromium through chromedriver for the dashboard tests: the
//! simulator's (`simulator/tests/dashboard.rs`) and the firmware's on the
//! emulated board (`harness/tests/integration/emulated.rs`, which includes
//! this file by path).
//!
//! Needs `chromium` and `chromium-driver` (Debian packages; `.ci/run`
//! installs them). Without chromedriver [`browser`] says so and returns
//! `None`, unless `CAMHIL_REQUIRE_BROWSER` is set, as it is in CI.

// Each test binary that includes this file uses a part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use serde_json::json;

pub struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn which(name: &str) -> Option<std::path::PathBuf> {
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
pub async fn wait_for(client: &fantoccini::Client, xpath: &str) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::XPath(xpath))
        .await
        .unwrap_or_else(|e| panic!("{xpath}: {e}"))
}

/// A headless Chromium session (and what must live as long as it), or
/// `None` when chromedriver is missing and not required.
pub struct Browser {
    pub client: fantoccini::Client,
    pub _driver: Kill,
    pub _profile: tempfile::TempDir,
}

pub async fn browser() -> Option<Browser> {
    let Some(driver) = which("chromedriver") else {
        assert!(std::env::var_os("CAMHIL_REQUIRE_BROWSER").is_none(), "chromedriver not found on PATH");
        eprintln!("skipped: no chromedriver on PATH (apt-get install chromium chromium-driver)");
        return None;
    };
    let (driver, port) = start_chromedriver(&driver);
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": which("chromium").unwrap_or_else(|| "/usr/bin/chromium".into()),
            // The TLS test's cam has a self-signed certificate.
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=900,1000",
                     "--ignore-certificate-errors", format!("--user-data-dir={}", profile.path().display())],
        }),
    );
    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.enforce_http(true);
    let client = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session");
    Some(Browser { client, _driver: driver, _profile: profile })
}
