//! Load through the fault layer, on loopback, stopping by itself:
//!
//! 1. **Cuts under load.** `CLIENTS` SSE clients (default 200, the harness's
//!    own client: eventsource with `Last-Event-ID` resume) reach one
//!    simulator through one fault proxy that cuts each connection after any
//!    event with probability 0.05, half the cuts in the middle of an event.
//!    The highway clip's 308 frames go in as fast as acked. Each client
//!    is subscribed once it has its place (the cam's `hello` event), as
//!    the harness's own scenarios are; a cut in the middle of the `hello`
//!    itself only makes it connect again. Every client must then receive
//!    every acked event exactly once, in order; the run fails otherwise.
//! 2. **What the proxy costs.** `GET /status` on a kept-alive connection,
//!    straight to the simulator and through a fault proxy with no fault,
//!    interleaved (`ROUNDS`, default 2,000 each), medians and p99 of each
//!    and the proxy's added latency.
//!
//! `cargo bench -p cam-hil --bench fault_load` (or `bash ci/load.sh`).
//! Figures: `docs/benchmarks.md`.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use cam_core::event_log::EventId;
use cam_hil::client::{SseKind, open_sse};
use cam_hil::faults::FaultPlan;
use cam_hil::faults::proxy::FaultProxy;
use cam_hil::target::Endpoint;
use cam_sim::{SimConfig, Simulator};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benchmarks; nothing to list here
    }
    let (clients, rounds) = (env("CLIENTS", 200), env("ROUNDS", 2000));
    let tmp = tempfile::tempdir().unwrap();
    let config = SimConfig { snapshot_dir: tmp.path().into(), retry_ms: 20, client_queue: 512, ..SimConfig::default() };
    let sim = Simulator::start(config).await.unwrap();
    let upstream = sim.addr().to_string();

    // 1. Cuts under load.
    let plan = FaultPlan { seed: 7, sse_cut_chance: 0.05, ..FaultPlan::default() };
    let proxy = FaultProxy::start(&upstream, plan.clone()).await.unwrap();
    let through = Endpoint::new(format!("http://{}", proxy.addr()), None);
    let mut streams = Vec::with_capacity(clients);
    let mut cut_in_hello = 0;
    for _ in 0..clients {
        let mut sse = open_sse(&through, None).unwrap();
        // Placed (its `hello` in) before the first frame. An error is a cut
        // before the `hello` was whole: the client connects again.
        let mut cut = false;
        loop {
            let item = tokio::time::timeout(Duration::from_secs(30), sse.rx.recv()).await;
            match item.expect("a `hello` within 30 s").expect("stream").kind {
                SseKind::Event { name, .. } if name == "hello" => break,
                SseKind::Event { name, .. } => panic!("a new client's first event is `{name}`, not `hello`"),
                SseKind::Error(_) => cut = true,
                _ => {}
            }
        }
        cut_in_hello += usize::from(cut);
        streams.push(sse);
    }
    let clip = footage::Clip::load(Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/cdnet_highway")).unwrap();
    let post = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut acked = Vec::new();
    let start = Instant::now();
    for frame in &clip.frames {
        let r = post.post(format!("{}/hil/frame", sim.url())).body(frame.jpeg.clone()).send().await.unwrap();
        let reply: cam_core::protocol::FrameReply = r.json().await.unwrap();
        if let Some(id) = reply.id.as_deref().and_then(EventId::parse) {
            acked.push(id);
        }
    }
    let last = *acked.last().expect("the highway clip raises events");
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|mut sse| {
            tokio::spawn(async move {
                let mut got = Vec::new();
                while got.last() != Some(&last) {
                    match tokio::time::timeout(Duration::from_secs(60), sse.rx.recv()).await {
                        Ok(Some(item)) => {
                            if let SseKind::Event { name, id: Some(id), .. } = item.kind
                                && name == "motion"
                            {
                                got.push(EventId::parse(&id).expect("a <boot>-<seq> id"));
                            }
                        }
                        _ => break,
                    }
                }
                got
            })
        })
        .collect();
    let mut bad = 0;
    for task in tasks {
        let got = task.await.unwrap();
        if got != acked {
            eprintln!("fault_load: a client got {:?}", got.iter().map(|i| i.seq).collect::<Vec<_>>());
            bad += 1;
        }
    }
    let elapsed = start.elapsed();
    let notes = proxy.take_notes();
    let cuts = notes.iter().filter(|(_, n)| n.contains(" cut by ")).count();
    let mid = notes.iter().filter(|(_, n)| n.contains("in the middle of an event")).count();
    println!(
        "fault_load: {clients} clients through the fault proxy, {} acked events each, {cuts} cuts \
         ({mid} of them mid-event; {cut_in_hello} clients cut in their `hello`, placed on the next connection): \
         clients missing, repeating or reordering an event: {bad}; {:.2} s",
        acked.len(),
        elapsed.as_secs_f64()
    );
    drop(proxy);

    // 2. What the proxy costs, fault-free.
    let idle = FaultProxy::start(&upstream, FaultPlan::default()).await.unwrap();
    let direct = reqwest::Client::builder().no_proxy().build().unwrap();
    let proxied = reqwest::Client::builder().no_proxy().build().unwrap();
    let (direct_url, proxied_url) = (format!("{}/status", sim.url()), format!("http://{}/status", idle.addr()));
    let (mut a, mut b) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for _ in 0..rounds {
        for (client, url, out) in [(&direct, &direct_url, &mut a), (&proxied, &proxied_url, &mut b)] {
            let t = Instant::now();
            let r = client.get(url.as_str()).send().await.unwrap();
            let _ = r.bytes().await.unwrap();
            out.push(t.elapsed());
        }
    }
    let q = |v: &mut Vec<Duration>, p: f64| {
        v.sort();
        v[((v.len() as f64 * p) as usize).min(v.len() - 1)].as_secs_f64() * 1e6
    };
    let (a50, a99, b50, b99) = (q(&mut a, 0.5), q(&mut a, 0.99), q(&mut b, 0.5), q(&mut b, 0.99));
    println!(
        "fault_load: GET /status round trip, {rounds} interleaved each: direct p50 {a50:.0} µs p99 {a99:.0} µs; \
         through the idle fault proxy p50 {b50:.0} µs p99 {b99:.0} µs; added p50 {:.0} µs, p99 {:.0} µs",
        b50 - a50,
        b99 - a99
    );
    let unique: HashSet<_> = acked.iter().collect();
    if bad > 0 || unique.len() != acked.len() || cuts == 0 {
        std::process::exit(1);
    }
}
