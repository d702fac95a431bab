//! `cam-sim`: the cam on a desktop. See `cam-sim --help`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use cam_sim::clip::{ClipCamera, capture_loop};
use cam_sim::{Fault, Faults, SimConfig, Simulator, TlsFiles};
use clap::Parser;
use footage::Clip;

/// The camhil desktop simulator: the cam's protocol (SSE events, WebSocket
/// commands, HIL frame injection, dashboard) on a desktop.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Directory standing in for /sdcard (snapshots go to DIR/snaps/).
    #[arg(long, default_value = "sim-sdcard")]
    snapshot_dir: PathBuf,
    /// Seconds between `: keepalive` comments on idle SSE streams.
    #[arg(long, default_value_t = cam_core::protocol::DEFAULT_KEEPALIVE_S)]
    keepalive: u64,
    /// Motion events kept for clients resuming with Last-Event-ID.
    #[arg(long, default_value_t = cam_core::event_log::DEFAULT_CAPACITY)]
    event_buffer: usize,
    /// Events an SSE client may fall behind before it is disconnected (it
    /// then resumes with Last-Event-ID).
    #[arg(long, default_value_t = 64)]
    client_queue: usize,
    /// Require this token on every route but / and /app.js.
    #[arg(long, env = "CAM_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Serve HTTPS/WSS with this PEM certificate chain (needs --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's PEM private key.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Replay this clip folder through the capture loop (as a live camera).
    #[arg(long)]
    fixture: Option<PathBuf>,
    /// Replay speed, as a multiple of the recorded frame rate.
    #[arg(long, default_value_t = 1.0, requires = "fixture")]
    speed: f64,
    /// Start the clip over when it ends.
    #[arg(long = "loop", requires = "fixture")]
    looping: bool,
    /// Print the firmware's serial console (boot log, motion lines) on a new
    /// pseudo-terminal; its path is printed as `cam-sim: console on PATH`.
    #[arg(long)]
    console_pty: bool,
    /// Serve without the HIL routes (`POST /hil/frame`, `/hil/reset`
    /// answer 404), like a production firmware build.
    #[arg(long)]
    no_hil: bool,
    /// Break one protocol behaviour on purpose (repeatable), to check that
    /// a harness notices.
    #[arg(long = "fault", value_enum)]
    faults: Vec<Fault>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        // Colours only on a terminal: logs in files and CI stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    let clip = match args.fixture.as_ref().map(Clip::load).transpose() {
        Ok(clip) => clip,
        Err(e) => {
            eprintln!("cam-sim: cannot load fixture: {e}");
            return ExitCode::from(2);
        }
    };
    let config = SimConfig {
        listen: args.listen,
        snapshot_dir: args.snapshot_dir,
        keepalive: Duration::from_secs(args.keepalive.max(1)),
        token: args.token,
        event_buffer: args.event_buffer.max(1),
        client_queue: args.client_queue.max(1),
        faults: Faults::from(args.faults),
        console_pty: args.console_pty,
        no_hil: args.no_hil,
        tls: args.tls_cert.zip(args.tls_key).map(|(cert, key)| TlsFiles { cert, key }),
        ..SimConfig::default()
    };
    let sim = match Simulator::start(config).await {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("cam-sim: cannot start on {}: {e}", args.listen);
            return ExitCode::from(2);
        }
    };
    if let Some(path) = sim.console_path() {
        println!("cam-sim: console on {}", path.display());
    }
    println!("cam-sim: listening on {}", sim.url());
    if let Some(clip) = clip {
        tracing::info!(clip = %clip.name(), frames = clip.frames.len(), speed = args.speed, "replaying fixture");
        let camera = ClipCamera::new(clip, args.speed, args.looping);
        let shared = sim.shared().clone();
        tokio::spawn(async move {
            let Ok(()) = capture_loop(camera, shared).await;
            tracing::info!("fixture replay finished");
        });
    }
    match tokio::signal::ctrl_c().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cam-sim: cannot wait for Ctrl-C: {e}");
            ExitCode::FAILURE
        }
    }
}
