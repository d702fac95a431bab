//! WebSocket command rate, and storms of clients that vanish, on one
//! simulator over loopback (bounded, stopping by itself):
//!
//! 1. Command rate: `CMD_CLIENTS` (default 4) WebSocket clients each send
//!    `CMDS` (default 5,000) `status` commands one after another; every ack
//!    must be `{"ok":true,…}`. Reports commands per second.
//! 2. Storms: ten times, 200 clients open `GET /events` and 200 open
//!    `GET /control`, then all vanish at once (sockets dropped, no close
//!    handshake). After each storm the runtime's live task count must
//!    return to its baseline, and the heap bytes in use (counted by this
//!    binary's allocator) must come back to within 1 MiB of theirs.
//!    Reports both, and the process's resident memory (VmRSS, which the
//!    allocator keeps after a peak), at baseline, peak and after.
//!
//! `cargo bench -p cam-hil --bench storms` (or `bash ci/load.sh`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cam_sim::{SimConfig, Simulator};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

/// The system allocator, counting the bytes in use.
struct Counting;
static IN_USE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            IN_USE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn heap_kib() -> usize {
    IN_USE.load(Ordering::Relaxed) / 1024
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn tasks() -> usize {
    tokio::runtime::Handle::current().metrics().num_alive_tasks()
}

/// Polls until the live task count is back to `baseline` (the server
/// noticing the vanished sockets); how long it took, or `None` after 10 s.
/// The runtime has no event for "a task ended", so this checks the
/// condition every 5 ms against a deadline; the time is what is reported.
async fn settle(baseline: usize) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if tasks() <= baseline {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    None
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig { snapshot_dir: tmp.path().into(), ..SimConfig::default() }).await.unwrap();
    let ws_url = format!("ws://{}/control", sim.addr());
    let frame = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/synthetic_bright_square/frame_00000.jpg"),
    )
    .unwrap();
    reqwest::Client::new().post(format!("{}/hil/frame", sim.url())).body(frame).send().await.unwrap();

    // 1. Command rate.
    let (clients, cmds) = (env("CMD_CLIENTS", 4), env("CMDS", 5000));
    let start = Instant::now();
    let mut runs = Vec::new();
    for _ in 0..clients {
        let url = ws_url.clone();
        runs.push(tokio::spawn(async move {
            let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
            let mut good = 0;
            for _ in 0..cmds {
                ws.send(Message::Text(r#"{"cmd":"status"}"#.into())).await.unwrap();
                match ws.next().await {
                    Some(Ok(Message::Text(t))) if t.starts_with(r#"{"ok":true,"threshold":"#) => good += 1,
                    other => panic!("bad ack: {other:?}"),
                }
            }
            ws.close(None).await.ok();
            good
        }));
    }
    let mut good = 0;
    for r in runs {
        good += r.await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "ws_commands: {clients} clients x {cmds} status commands, {good} correct acks in {secs:.2} s: {:.0} commands/s",
        good as f64 / secs
    );
    assert_eq!(good, clients * cmds);

    // 2. Storms.
    let baseline_tasks = tasks();
    let http = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(0).build().unwrap();
    let (baseline_rss, baseline_heap) = (rss_kib(), heap_kib());
    let (mut peak_tasks, mut peak_rss, mut peak_heap, mut worst_settle) = (0, 0, 0, Duration::ZERO);
    let mut after_heap = Vec::new();
    for storm in 1..=10 {
        let mut held = Vec::new();
        for _ in 0..200 {
            let resp = http.get(format!("{}/events", sim.url())).send().await.unwrap();
            assert_eq!(resp.status(), 200);
            held.push(resp);
        }
        let mut sockets = Vec::new();
        for _ in 0..200 {
            sockets.push(tokio_tungstenite::connect_async(ws_url.clone()).await.unwrap().0);
        }
        peak_tasks = peak_tasks.max(tasks());
        peak_rss = peak_rss.max(rss_kib());
        peak_heap = peak_heap.max(heap_kib());
        drop(held);
        drop(sockets); // no close frames: the clients just vanish
        match settle(baseline_tasks).await {
            Some(t) => {
                worst_settle = worst_settle.max(t);
                after_heap.push(heap_kib());
            }
            None => {
                println!("storm {storm}: {} tasks still alive, baseline {baseline_tasks}", tasks());
                std::process::exit(1);
            }
        }
    }
    println!(
        "storms: 10 x (200 SSE + 200 WebSocket clients vanishing): live tasks baseline {baseline_tasks}, peak \
         {peak_tasks}, after {}; back to baseline within {:.0} ms of each storm; heap in use baseline \
         {baseline_heap} KiB, peak {peak_heap} KiB, after each storm {after_heap:?} KiB; VmRSS baseline \
         {baseline_rss} KiB, peak {peak_rss} KiB, after {} KiB",
        tasks(),
        worst_settle.as_secs_f64() * 1e3,
        rss_kib()
    );
    if after_heap.iter().any(|&h| h > baseline_heap + 1024) {
        println!("storms: the heap did not come back to its baseline");
        std::process::exit(1);
    }
}
