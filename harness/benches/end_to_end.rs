//! End to end through the simulator over loopback: a frame posted to
//! `POST /hil/frame`, detected, framed as an SSE `motion` event and
//! received by an SSE client (the harness's own). Every frame differs from
//! the one before (the bright-square clip's empty and square frames in
//! turn), so every frame raises an event.
//!
//! `cargo bench -p cam-hil --bench end_to_end` reports frames per second
//! (criterion, one frame in flight at a time) and then, from a separate
//! pass of 2,000 frames, the latency from injection to the SSE event at
//! the client: p50, p99 and max.

use std::path::Path;
use std::time::{Duration, Instant};

use cam_hil::client::{Http, SseKind, SseStream, open_sse};
use cam_hil::target::Endpoint;
use cam_sim::{SimConfig, Simulator};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn frames() -> [Vec<u8>; 2] {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/synthetic_bright_square");
    let read = |n: usize| std::fs::read(dir.join(format!("frame_{n:05}.jpg"))).expect("fixture frame");
    [read(0), read(10)]
}

/// Posts one frame and waits for its event; the time of each.
async fn one(http: &Http, sse: &mut SseStream, jpeg: &[u8]) -> Duration {
    let sent = Instant::now();
    let reply = http
        .request(reqwest::Method::POST, "/hil/frame")
        .header("Content-Type", "image/jpeg")
        .body(jpeg.to_vec())
        .send()
        .await
        .expect("frame posted");
    assert!(reply.status().is_success(), "{}", reply.status());
    loop {
        let item = tokio::time::timeout(Duration::from_secs(10), sse.rx.recv())
            .await
            .expect("a motion event within 10 s")
            .expect("SSE stream open");
        match item.kind {
            SseKind::Event { name, .. } if name == "motion" => return item.at - sent,
            SseKind::Error(e) => panic!("SSE: {e}"),
            _ => {}
        }
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let frames = frames();
    let (_sim, http, mut sse) = rt.block_on(async {
        let sim = Simulator::start(SimConfig::default()).await.expect("simulator");
        let endpoint = Endpoint::new(format!("http://{}", sim.addr()), None);
        let http = Http::new(&endpoint).expect("client");
        let mut sse = open_sse(&endpoint, None).expect("SSE");
        while !matches!(sse.rx.recv().await.expect("SSE").kind, SseKind::Connected { status: 200, .. }) {}
        // The first frame of a cam raises nothing: prime it.
        // Frame n of the benchmark is frames[n % 2], from n = 1: a different one.
        http.request(reqwest::Method::POST, "/hil/frame").body(frames[0].clone()).send().await.expect("prime");
        (sim, http, sse)
    });
    let mut n = 0usize;
    let mut group = c.benchmark_group("end_to_end");
    group.throughput(Throughput::Elements(1));
    group.bench_function("frame_to_sse_event", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    n += 1;
                    total += one(&http, &mut sse, &frames[n % 2]).await;
                }
                total
            })
        })
    });
    group.finish();

    let mut latencies: Vec<Duration> = rt.block_on(async {
        let mut out = Vec::with_capacity(2000);
        for _ in 0..2000 {
            n += 1;
            out.push(one(&http, &mut sse, &frames[n % 2]).await);
        }
        out
    });
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    let total: Duration = latencies.iter().sum();
    println!(
        "end_to_end/latency: {} frames, {:.0} frames/s, injection to SSE event p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        latencies.len(),
        latencies.len() as f64 / total.as_secs_f64(),
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        latencies[latencies.len() - 1].as_secs_f64() * 1e3,
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
