//! The simulator's side of `docs/protocol.md` that the scenario harness
//! does not reach through its own clients: SSE resume and framing details,
//! WebSocket limits and frame kinds, token checks before streams and
//! upgrades.

use std::time::Duration;

use cam_core::event_log::EventId;
use cam_core::protocol::{CLOSE_TOO_BIG, MAX_WS_MESSAGE};
use cam_sim::{SimConfig, Simulator};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

const STILL: &[u8] = include_bytes!("../../fixtures/synthetic_bright_square/frame_00000.jpg");
const SQUARE: &[u8] = include_bytes!("../../fixtures/synthetic_bright_square/frame_00010.jpg");

async fn sim(config: SimConfig) -> (Simulator, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = SimConfig { snapshot_dir: dir.path().into(), ..config };
    (Simulator::start(config).await.unwrap(), dir)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Injects still, square, still, square, … so every frame after the first
/// is a motion event; returns the number of events made.
async fn make_events(sim: &Simulator, n: usize) {
    let client = http();
    for i in 0..=n {
        let body = if i % 2 == 0 { STILL } else { SQUARE };
        let r = client.post(format!("{}/hil/frame", sim.url())).body(body).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
}

/// The SSE id `<boot>-<seq>` of the simulator's current boot.
fn id(sim: &Simulator, seq: u64) -> String {
    EventId { boot: sim.shared().boot(), seq }.to_string()
}

/// `GET /events` with `Last-Event-ID: last_id`.
async fn events_after(sim: &Simulator, last_id: &str) -> reqwest::Response {
    let url = format!("{}/events", sim.url());
    http().get(url).header("Last-Event-ID", last_id).send().await.unwrap()
}

/// Reads an SSE response until `blocks` blank-line-terminated blocks have
/// arrived; returns the text.
async fn read_blocks(resp: reqwest::Response, blocks: usize) -> String {
    let mut stream = resp.bytes_stream();
    let mut text = String::new();
    while text.matches("\n\n").count() < blocks {
        let chunk = stream.next().await.expect("stream open").unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    text
}

#[tokio::test]
async fn events_stream_headers_retry_and_ids() {
    let (sim, _d) = sim(SimConfig::default()).await;
    let resp = http().get(format!("{}/events", sim.url())).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert_eq!(resp.headers()["cache-control"], "no-cache");
    make_events(&sim, 2).await;
    let text = read_blocks(resp, 3).await;
    let blocks: Vec<&str> = text.split("\n\n").collect();
    let (boot, id1, id2) = (sim.shared().boot(), id(&sim, 1), id(&sim, 2));
    // A new client is told its place first, with `retry:`.
    assert_eq!(
        blocks[0],
        format!("event: hello\nid: {boot:08x}-0\nretry: 3000\ndata: {{\"boot\":\"{boot:08x}\",\"newest\":0}}")
    );
    assert!(blocks[1].starts_with(&format!("event: motion\nid: {id1}\ndata: {{\"ts\":")), "retry only once: {text}");
    assert!(blocks[2].starts_with(&format!("event: motion\nid: {id2}\ndata: ")), "{text}");
    assert!(blocks[2].contains(r#""count":2,"change":"#) && blocks[2].ends_with(r#""frame":3}"#), "{text}");
}

/// A client that connects mid-boot and is cut before its first `motion`
/// event resumes from its `hello` id and misses nothing.
#[tokio::test]
async fn a_new_client_cut_before_its_first_event_resumes_from_its_hello() {
    let (sim, _d) = sim(SimConfig::default()).await;
    make_events(&sim, 3).await;
    let resp = http().get(format!("{}/events", sim.url())).send().await.unwrap();
    let hello = read_blocks(resp, 1).await; // then the client is cut
    let place = hello.lines().nth(1).and_then(|l| l.strip_prefix("id: ")).unwrap().to_string();
    assert_eq!(place, id(&sim, 3), "{hello}");
    make_events(&sim, 2).await; // events 4 and 5, while it is away
    let resumed = read_blocks(events_after(&sim, &place).await, 2).await;
    assert!(!resumed.contains("event: hello"), "a resuming client has its place: {resumed}");
    assert_eq!(seqs(&resumed), [4, 5], "{resumed}");
}

#[tokio::test]
async fn last_event_id_resumes_after_that_id() {
    let (sim, _d) = sim(SimConfig::default()).await;
    make_events(&sim, 4).await;
    let resp = events_after(&sim, &id(&sim, 2)).await;
    let text = read_blocks(resp, 2).await;
    assert!(text.starts_with(&format!("event: motion\nid: {}\nretry: 3000\n", id(&sim, 3))), "{text}");
    assert!(text.contains(&format!("\n\nevent: motion\nid: {}\n", id(&sim, 4))), "{text}");
    // A bare number (a cam with numeric ids, or typed by hand) resumes by seq.
    let text = read_blocks(events_after(&sim, "3").await, 1).await;
    assert!(text.starts_with(&format!("event: motion\nid: {}\n", id(&sim, 4))), "{text}");
}

#[tokio::test]
async fn a_resume_id_that_left_the_buffer_gets_a_gap_event() {
    let (sim, _d) = sim(SimConfig { event_buffer: 2, ..SimConfig::default() }).await;
    make_events(&sim, 5).await;
    let resp = events_after(&sim, &id(&sim, 1)).await;
    let text = read_blocks(resp, 3).await;
    let gap = format!("event: gap\nid: {}\nretry: 3000\ndata: {{\"missed_from\":2,\"first\":4}}\n\n", id(&sim, 3));
    assert!(text.starts_with(&gap), "{text}");
    assert_eq!(seqs(&text), [3, 4, 5], "{text}");
}

#[tokio::test]
async fn a_bad_last_event_id_is_refused() {
    let (sim, _d) = sim(SimConfig::default()).await;
    for bad in ["abc", "12-x", "-1", "123456789-1"] {
        assert_eq!(events_after(&sim, bad).await.status(), 400, "{bad:?}");
    }
}

#[tokio::test]
async fn idle_streams_get_keepalive_comments() {
    let (sim, _d) = sim(SimConfig { keepalive: Duration::from_millis(50), ..SimConfig::default() }).await;
    let resp = http().get(format!("{}/events", sim.url())).send().await.unwrap();
    let text = read_blocks(resp, 3).await;
    assert!(text.starts_with("event: hello\n") && text.ends_with("\n\n: keepalive\n\n: keepalive\n\n"), "{text}");
}

/// A client's end of `GET /control`.
type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn control(sim: &Simulator) -> Ws {
    let url = format!("ws://{}/control", sim.addr());
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// The cam's next message is a close frame with `code`.
async fn expect_close(ws: &mut Ws, code: u16) {
    match ws.next().await {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), code),
        other => panic!("expected close {code}, got {other:?}"),
    }
}

#[tokio::test]
async fn an_oversize_message_closes_with_1009() {
    let (sim, _d) = sim(SimConfig::default()).await;
    let mut ws = control(&sim).await;
    ws.send(Message::text("x".repeat(MAX_WS_MESSAGE + 1))).await.unwrap();
    expect_close(&mut ws, CLOSE_TOO_BIG).await;
}

#[tokio::test]
async fn a_message_of_exactly_16_kib_is_answered() {
    let (sim, _d) = sim(SimConfig::default()).await;
    let mut ws = control(&sim).await;
    let mut text = String::from(r#"{"cmd":"status","pad":""#);
    text.push_str(&" ".repeat(MAX_WS_MESSAGE - text.len() - 2));
    text.push_str("\"}");
    assert_eq!(text.len(), MAX_WS_MESSAGE);
    ws.send(Message::text(text)).await.unwrap();
    let Some(Ok(Message::Text(ack))) = ws.next().await else { panic!("no ack") };
    assert!(ack.starts_with(r#"{"ok":true,"threshold":0.003"#), "{ack}");
}

#[tokio::test]
async fn binary_frames_are_answered_like_bad_json_and_pings_are_ponged() {
    let (sim, _d) = sim(SimConfig::default()).await;
    let mut ws = control(&sim).await;
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    let Some(Ok(Message::Text(ack))) = ws.next().await else { panic!("no ack") };
    assert_eq!(ack.as_str(), r#"{"error":"bad json"}"#);
    ws.send(Message::Ping(b"hi".to_vec().into())).await.unwrap();
    let Some(Ok(Message::Pong(p))) = ws.next().await else { panic!("no pong") };
    assert_eq!(&p[..], b"hi");
    ws.close(None).await.unwrap();
    // The cam answers the close: the stream ends cleanly.
    while let Some(msg) = ws.next().await {
        assert!(matches!(msg, Ok(Message::Close(_))), "{msg:?}");
    }
}

#[tokio::test]
async fn token_is_checked_on_every_route_but_the_dashboard() {
    let (sim, _d) = sim(SimConfig { token: Some("s3cret".into()), ..SimConfig::default() }).await;
    let client = http();
    for path in ["/", "/app.js"] {
        let r = client.get(format!("{}{path}", sim.url())).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    for (method, path) in [
        ("GET", "/events"),
        ("GET", "/control"),
        ("GET", "/status"),
        ("GET", "/snapshot.jpg"),
        ("POST", "/hil/frame"),
        ("POST", "/hil/reset"),
    ] {
        let url = format!("{}{path}", sim.url());
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = client.request(m.clone(), &url).send().await.unwrap();
        assert_eq!(r.status(), 401, "{method} {path}");
        assert_eq!(r.text().await.unwrap(), r#"{"error":"unauthorized"}"#);
        let r = client.request(m.clone(), &url).bearer_auth("wrong").send().await.unwrap();
        assert_eq!(r.status(), 401, "{method} {path} wrong token");
        let r = client.request(m, format!("{url}?token=s3cret")).send().await.unwrap();
        assert_ne!(r.status(), 401, "{method} {path} with ?token=");
    }
    // The WebSocket upgrade itself is refused without the token.
    let err = tokio_tungstenite::connect_async(format!("ws://{}/control", sim.addr())).await.unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
    let ok = tokio_tungstenite::connect_async(format!("ws://{}/control?token=s3cret", sim.addr())).await;
    assert!(ok.is_ok());
}

#[tokio::test]
async fn hil_reset_keeps_event_ids_increasing() {
    let (sim, _d) = sim(SimConfig::default()).await;
    make_events(&sim, 2).await;
    let r = http().post(format!("{}/hil/reset", sim.url())).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), r#"{"ok":true}"#);
    let resp = events_after(&sim, &id(&sim, 2)).await;
    make_events(&sim, 1).await;
    let text = read_blocks(resp, 1).await;
    let id3 = format!("id: {}\n", id(&sim, 3));
    assert!(text.contains(&id3) && text.contains(r#""count":1"#) && text.contains(r#""frame":2}"#), "{text}");
}

#[tokio::test]
async fn a_message_far_over_the_limit_also_closes_with_1009() {
    let (sim, _d) = sim(SimConfig::default()).await;
    let mut ws = control(&sim).await;
    ws.send(Message::text("x".repeat(1024 * 1024))).await.unwrap();
    expect_close(&mut ws, CLOSE_TOO_BIG).await;
}

#[tokio::test]
async fn a_text_frame_that_is_not_utf8_closes_with_1007() {
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    let (sim, _d) = sim(SimConfig::default()).await;
    let mut ws = control(&sim).await;
    let bad = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
    ws.send(Message::Frame(bad)).await.unwrap();
    expect_close(&mut ws, 1007).await;
}

/// Reads a raw HTTP/1.1 SSE response from `sock` until its body ends (the
/// last chunk); returns the ids of the motion events in it.
async fn read_until_body_ends(sock: &mut tokio::net::TcpStream) -> Vec<u64> {
    use tokio::io::AsyncReadExt;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    while !raw.ends_with(b"\r\n0\r\n\r\n") {
        let n = sock.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed before the body ended");
        raw.extend_from_slice(&buf[..n]);
    }
    seqs(&String::from_utf8_lossy(&raw))
}

/// The `seq` of every `id:` line, all of one boot, but for the `hello`
/// event a new client gets first.
fn seqs(text: &str) -> Vec<u64> {
    let mut name = "";
    let mut ids = Vec::new();
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("event: ") {
            name = n;
        } else if let Some(id) = line.strip_prefix("id: ")
            && name != "hello"
        {
            ids.push(EventId::parse(id).expect(id));
        }
    }
    assert!(ids.windows(2).all(|w: &[EventId]| w[0].boot == w[1].boot), "one boot: {text}");
    ids.iter().map(|id| id.seq).collect()
}

#[tokio::test]
async fn a_stalled_sse_client_is_dropped_without_holding_anything_up() {
    use tokio::io::AsyncWriteExt;
    const EVENTS: usize = 1500;
    let (sim, _d) = sim(SimConfig { client_queue: 8, event_buffer: 2000, ..SimConfig::default() }).await;

    // A client that asks for the stream and then never reads, with a tiny
    // receive window so the cam's side fills up quickly.
    let raw = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    raw.set_recv_buffer_size(1024).unwrap();
    raw.connect(&sim.addr().into()).unwrap();
    raw.set_nonblocking(true).unwrap();
    let mut stalled = tokio::net::TcpStream::from_std(std::net::TcpStream::from(raw)).unwrap();
    stalled.write_all(b"GET /events HTTP/1.1\r\nHost: cam\r\n\r\n").await.unwrap();
    // Its subscription exists once its response headers are out; wait for
    // the first bytes of them.
    let mut first = [0u8; 1];
    stalled.peek(&mut first).await.unwrap();

    // A healthy client reading everything, and a WebSocket.
    let healthy = http().get(format!("{}/events", sim.url())).send().await.unwrap();
    let reader = tokio::spawn(read_blocks(healthy, EVENTS + 1)); // its `hello`, then the events
    let mut ws = control(&sim).await;

    make_events(&sim, EVENTS).await; // every frame acked: the detector never waited
    ws.send(Message::text(r#"{"cmd":"status"}"#)).await.unwrap();
    let Some(Ok(Message::Text(ack))) = ws.next().await else { panic!("no ack") };
    assert!(ack.contains(&format!(r#""trigger_count":{EVENTS}"#)), "{ack}");
    let all = seqs(&reader.await.unwrap());
    assert_eq!(all, (1..=EVENTS as u64).collect::<Vec<_>>(), "the healthy client got every event in order");

    // The stalled client was cut off: its body ended early...
    let got = read_until_body_ends(&mut stalled).await;
    assert!(!got.is_empty() && got.len() < EVENTS, "stalled client got {} events", got.len());
    assert_eq!(got, (1..=got.len() as u64).collect::<Vec<_>>());
    // ...and resuming from its last id gives it the rest: nothing lost.
    let resumed = read_blocks(events_after(&sim, &id(&sim, got.len() as u64)).await, EVENTS - got.len()).await;
    assert_eq!(seqs(&resumed), (got.len() as u64 + 1..=EVENTS as u64).collect::<Vec<_>>());
}

/// Reads an SSE response until its body ends; returns the text.
async fn read_to_end(resp: reqwest::Response) -> String {
    let mut stream = resp.bytes_stream();
    let mut text = String::new();
    while let Some(chunk) = stream.next().await {
        text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
    }
    text
}

/// The simulator's own reboot (what a reset line does to a board): open
/// streams end after the old boot's events, the WebSocket drops without a
/// close frame, and the ids start again under a new boot number.
#[tokio::test]
async fn a_reboot_ends_connections_after_the_events_already_published() {
    let (sim, _dir) = sim(SimConfig::default()).await;
    let old = sim.shared().boot();
    let stream = http().get(format!("{}/events", sim.url())).send().await.unwrap();
    let mut ws = control(&sim).await;
    make_events(&sim, 2).await; // frames 1..=3: events 1 and 2
    sim.reboot();
    let text = read_to_end(stream).await;
    assert_eq!(seqs(&text), [1, 2], "both events of the old boot, then the end: {text}");
    assert!(text.contains(&format!("id: {old:08x}-2\n")), "{text}");
    match ws.next().await {
        Some(Ok(Message::Close(frame))) => panic!("a reboot sends no close frame: {frame:?}"),
        other => assert!(matches!(other, None | Some(Err(_))), "the connection is gone: {other:?}"),
    }
    let new = sim.shared().boot();
    assert_ne!(new, old);
    let status: serde_json::Value =
        http().get(format!("{}/status", sim.url())).send().await.unwrap().json().await.unwrap();
    assert_eq!((status["frames"].as_u64(), status["trigger_count"].as_u64()), (Some(0), Some(0)), "state lost");
}

/// The case bare numeric ids cannot tell: the client comes back only after
/// the new boot has issued more events than its old id. The boot in the id
/// still says "reboot": a `restart` event, then every event of the new boot.
#[tokio::test]
async fn a_client_from_before_a_reboot_gets_a_restart_event_however_late_it_comes_back() {
    let (sim, _dir) = sim(SimConfig::default()).await;
    let old = id(&sim, 2);
    make_events(&sim, 2).await; // old boot: events 1, 2
    sim.reboot();
    make_events(&sim, 5).await; // new boot: events 1..=5
    let text = read_blocks(events_after(&sim, &old).await, 6).await;
    let new = sim.shared().boot();
    let restart = format!(
        "event: restart\nid: {new:08x}-0\nretry: 3000\ndata: {{\"last_id\":\"{old}\",\"boot\":\"{new:08x}\"}}\n\n"
    );
    assert!(text.starts_with(&restart), "{text}");
    assert_eq!(seqs(&text), [0, 1, 2, 3, 4, 5], "{text}");
    // The same id on the same boot is an ordinary resume.
    let text = read_blocks(events_after(&sim, &id(&sim, 2)).await, 3).await;
    assert_eq!(seqs(&text), [3, 4, 5], "{text}");
}

/// Oversized (413), empty and truncated frames are refused with a clear
/// error, and none of them changes the cam.
#[tokio::test]
async fn oversized_empty_and_truncated_frames_are_refused_and_change_nothing() {
    let (sim, _dir) = sim(SimConfig::default()).await;
    let post = |body: Vec<u8>| http().post(format!("{}/hil/frame", sim.url())).body(body).send();
    assert_eq!(post(STILL.to_vec()).await.unwrap().status(), 200);
    let oversized = vec![0u8; cam_sim::routes::MAX_FRAME_BYTES + 1];
    assert_eq!(post(oversized).await.unwrap().status(), 413);
    for (what, body) in [("empty", Vec::new()), ("truncated", SQUARE[..SQUARE.len() / 2].to_vec())] {
        let r = post(body).await.unwrap();
        assert_eq!(r.status(), 400, "{what}");
        assert_eq!(r.text().await.unwrap(), r#"{"error":"bad frame"}"#, "{what}");
    }
    let status: serde_json::Value =
        http().get(format!("{}/status", sim.url())).send().await.unwrap().json().await.unwrap();
    assert_eq!((status["frames"].as_u64(), status["trigger_count"].as_u64()), (Some(1), Some(0)));
    // The reference is still the still frame: the square is motion.
    let r: serde_json::Value = post(SQUARE.to_vec()).await.unwrap().json().await.unwrap();
    assert_eq!((r["frame"].as_u64(), r["motion"].as_bool()), (Some(2), Some(true)), "{r}");
}

#[tokio::test]
async fn the_virtual_boards_power_switch_reboots_it_as_labgrid_drives_it() {
    let (sim, _d) = sim(SimConfig::default()).await;
    let before = sim.shared().boot();
    let get = |path: &str| http().get(format!("{}{path}", sim.url())).send();
    let r = get("/hil/power/").await.unwrap();
    assert_eq!((r.status().as_u16(), r.text().await.unwrap()), (200, "1".to_string()), "simplerest reads 1: on");
    let r = get("/hil/power/0").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(sim.shared().boot(), before, "off changes nothing: the simulator cannot be off");
    let r = get("/hil/power/1").await.unwrap();
    assert_eq!((r.status().as_u16(), r.text().await.unwrap()), (200, "1".to_string()));
    assert_ne!(sim.shared().boot(), before, "on is a reboot: a new boot number");
    let r = get("/hil/power/2").await.unwrap();
    assert_eq!(r.status(), 400, "only 0 and 1");
}
