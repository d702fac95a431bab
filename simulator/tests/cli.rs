//! The `cam-sim` binary: prints its real address once ready, and with
//! `--fixture` its own capture loop turns a clip into motion events.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use futures_util::StreamExt;

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn fixture_replay_reaches_an_sse_client() {
    let dir = tempfile::tempdir().unwrap();
    let clip = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/synthetic_bright_square");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cam-sim"))
        .args(["--listen", "127.0.0.1:0", "--fixture", clip, "--speed", "4", "--loop", "--snapshot-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let _child = Kill(child);
    let url = line.trim().strip_prefix("cam-sim: listening on ").unwrap_or_else(|| panic!("{line:?}"));
    assert!(url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"), "{url}");

    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let resp = client.get(format!("{url}/events")).send().await.unwrap();
    let mut stream = resp.bytes_stream();
    let mut text = String::new();
    // The square appears on frame 10 (0.5 s in at speed 4): wait for it.
    // First comes the `hello` event, giving this new client its place.
    while !text.contains("event: motion\n") || !text.ends_with("\n\n") {
        text.push_str(std::str::from_utf8(&stream.next().await.unwrap().unwrap()).unwrap());
    }
    let blocks: Vec<&str> = text.split("\n\n").collect();
    assert!(blocks[0].starts_with("event: hello\nid: ") && blocks[0].contains("\nretry: 3000\n"), "{text}");
    let id = blocks[1].lines().nth(1).and_then(|l| l.strip_prefix("id: ")).unwrap_or_else(|| panic!("{text}"));
    assert!(blocks[1].starts_with("event: motion\n") && id.ends_with("-1"), "{text}");
    let status: serde_json::Value = client.get(format!("{url}/status")).send().await.unwrap().json().await.unwrap();
    assert!(status["frames"].as_u64().unwrap() >= 11, "{status}");
}

#[test]
fn console_pty_prints_the_firmware_boot_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cam-sim"))
        .args(["--listen", "127.0.0.1:0", "--console-pty", "--snapshot-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let _child = Kill(child);
    let (mut console, mut listening) = (String::new(), String::new());
    stdout.read_line(&mut console).unwrap();
    stdout.read_line(&mut listening).unwrap();
    let path = console.trim().strip_prefix("cam-sim: console on ").unwrap_or_else(|| panic!("{console:?}"));
    let url = listening.trim().strip_prefix("cam-sim: listening on ").unwrap();
    let port =
        serialport::new(path, 115_200).exclusive(false).timeout(std::time::Duration::from_secs(5)).open().unwrap();
    assert_eq!(port.name().as_deref(), Some(path));
    let mut lines = BufReader::new(port).lines();
    let boot: Vec<String> = (0..7).map(|_| lines.next().unwrap().unwrap().trim_end().to_string()).collect();
    assert_eq!(boot[0], "ESP-ROM:esp32c3-api1-20210207");
    let number = boot[4].strip_prefix("cam-fw: boot ").unwrap_or_else(|| panic!("{boot:?}"));
    assert!(number.len() == 8 && number.bytes().all(|b| b.is_ascii_hexdigit()), "{boot:?}");
    assert_eq!(boot[6], format!("cam-fw: listening on {url}"));
}

#[tokio::test]
async fn no_hil_removes_the_hil_routes_and_the_token_never_reaches_the_logs() {
    const TOKEN: &str = "s3cret-7f3a9c";
    let dir = tempfile::tempdir().unwrap();
    let log = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cam-sim"))
        .args(["--listen", "127.0.0.1:0", "--no-hil", "--token", TOKEN, "--snapshot-dir"])
        .arg(dir.path().join("sd"))
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let child = Kill(child);
    let url = line.trim().strip_prefix("cam-sim: listening on ").unwrap_or_else(|| panic!("{line:?}")).to_string();

    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let bearer = format!("Bearer {TOKEN}");
    let frame =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/synthetic_bright_square/frame_00000.jpg"))
            .unwrap();
    for path in ["/hil/frame", "/hil/reset"] {
        let resp = client.post(format!("{url}{path}")).header("Authorization", &bearer).body(frame.clone());
        assert_eq!(resp.send().await.unwrap().status(), 404, "{path} is absent with --no-hil");
    }
    let status = client.get(format!("{url}/status?token={TOKEN}")).send().await.unwrap();
    assert_eq!(status.status(), 200);
    let status = client.get(format!("{url}/status")).header("Authorization", &bearer).send().await.unwrap();
    assert_eq!(status.status(), 200);
    assert_eq!(client.get(format!("{url}/status?token=wrong")).send().await.unwrap().status(), 401);

    drop(child);
    let logged = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert!(logged.contains("target=/status?token=***"), "requests are logged, token redacted:\n{logged}");
    assert!(logged.contains("target=/hil/frame") && logged.contains("status=404"), "{logged}");
    assert!(!logged.contains(TOKEN) && !line.contains(TOKEN) && !rest.contains(TOKEN), "the token leaked:\n{logged}");
}
