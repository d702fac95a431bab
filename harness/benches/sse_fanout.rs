//! 1,000 SSE clients on one simulator over loopback: every client must
//! receive every event, in order; reports the delivery latency from frame
//! injection to arrival at each client (p50, p99, max).
//!
//! `cargo bench -p cam-hil --bench sse_fanout` (or `bash ci/load.sh`).
//! Options through the environment: `CLIENTS` (default 1000), `EVENTS`
//! (default 100). Exits non-zero if any client missed or reordered an event.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cam_core::event_log::EventId;
use cam_sim::{SimConfig, Simulator};
use tokio::sync::Barrier;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benchmarks; nothing to list here
    }
    let (clients, events) = (env("CLIENTS", 1000), env("EVENTS", 100));
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/synthetic_bright_square");
    let frames =
        [std::fs::read(dir.join("frame_00000.jpg")).unwrap(), std::fs::read(dir.join("frame_00010.jpg")).unwrap()];
    let tmp = tempfile::tempdir().unwrap();
    let config = SimConfig { snapshot_dir: tmp.path().into(), client_queue: events + 16, ..SimConfig::default() };
    let sim = Simulator::start(config).await.unwrap();
    let url = format!("{}/events", sim.url());
    let client = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(0).build().unwrap();

    // Every client connected (headers received) before the first frame.
    let ready = Arc::new(Barrier::new(clients + 1));
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (client, url, ready) = (client.clone(), url.clone(), ready.clone());
        tasks.push(tokio::spawn(async move {
            let mut resp = client.get(url).send().await.expect("connect");
            assert_eq!(resp.status(), 200);
            ready.wait().await;
            let (mut text, mut got) = (String::new(), Vec::with_capacity(events));
            while got.len() < events {
                let chunk = resp.chunk().await.expect("stream ok").expect("stream open");
                let at = Instant::now();
                text.push_str(std::str::from_utf8(&chunk).unwrap());
                while let Some(end) = text.find("\n\n") {
                    let block: String = text.drain(..end + 2).collect();
                    if block.starts_with("event: motion")
                        && let Some(id) = block.lines().find_map(|l| l.strip_prefix("id: "))
                    {
                        got.push((EventId::parse(id).expect("a <boot>-<seq> id").seq, at));
                    }
                }
            }
            got
        }));
    }
    ready.wait().await;

    let post = reqwest::Client::builder().no_proxy().build().unwrap();
    // Prime: the first frame of a cam raises nothing.
    post.post(format!("{}/hil/frame", sim.url())).body(frames[0].clone()).send().await.unwrap();
    let mut sent = Vec::with_capacity(events);
    let start = Instant::now();
    for i in 0..events {
        let at = Instant::now();
        let r = post.post(format!("{}/hil/frame", sim.url())).body(frames[(i + 1) % 2].clone()).send().await.unwrap();
        assert_eq!(r.status(), 200);
        sent.push(at);
    }
    let mut latencies = Vec::with_capacity(clients * events);
    let mut bad = 0;
    for task in tasks {
        let got = tokio::time::timeout(Duration::from_secs(60), task).await.expect("all delivered").unwrap();
        let ids: Vec<u64> = got.iter().map(|(id, _)| *id).collect();
        if ids != (1..=events as u64).collect::<Vec<_>>() {
            bad += 1;
        }
        for (id, at) in got {
            latencies.push(at - sent[id as usize - 1]);
        }
    }
    let elapsed = start.elapsed();
    latencies.sort();
    let q = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)].as_secs_f64() * 1e3;
    println!(
        "sse_fanout: {clients} clients x {events} events = {} deliveries in {:.2} s; clients with a missing or \
         reordered event: {bad}; injection to arrival p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        elapsed.as_secs_f64(),
        q(0.5),
        q(0.99),
        q(1.0)
    );
    if bad > 0 || latencies.len() != clients * events {
        std::process::exit(1);
    }
}
