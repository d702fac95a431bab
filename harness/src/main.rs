//! `cam-hil`: run scenarios against a cam. See `cam-hil --help`.

use std::path::PathBuf;
use std::process::ExitCode;

use cam_hil::report::TextReporter;
use cam_hil::suite::{self, Selection};
use cam_hil::synth::{self, SquareClip};
use cam_hil::target::TargetSpec;
use clap::{Parser, Subcommand};

/// The camhil scenario harness: replays recorded frames into a cam and
/// asserts its SSE events and WebSocket acks.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run scenario files (exit 0: all passed, 1: a scenario failed, 2: the
    /// run could not start).
    Run {
        /// Scenario files or folders (default: scenarios/).
        paths: Vec<PathBuf>,
        /// Only scenarios with this tag (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// `sim` (a fresh in-process simulator per scenario) or
        /// `url:http://HOST:PORT`.
        #[arg(long, default_value = "sim")]
        target: TargetSpec,
        /// Token for a `url:` target.
        #[arg(long, env = "CAM_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// PEM CA certificates to trust for an `https://` target (e.g. its
        /// self-signed certificate).
        #[arg(long)]
        ca: Option<PathBuf>,
    },
    /// Write a generated clip with exact ground truth into a fixture folder.
    Synth {
        /// Folder to write.
        dir: PathBuf,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Run { paths, tags, target, token, ca } => {
            let paths = if paths.is_empty() { vec![PathBuf::from("scenarios")] } else { paths };
            let target = target.with_credentials(token, ca);
            let scenarios = match suite::discover(&paths).and_then(|f| suite::load_all(&f, &Selection { tags })) {
                Ok(s) if s.is_empty() => {
                    eprintln!("cam-hil: no scenario selected");
                    return ExitCode::from(2);
                }
                Ok(s) => s,
                Err(e) => {
                    eprintln!("{:?}", miette::Report::new(e));
                    return ExitCode::from(2);
                }
            };
            let mut reporter = TextReporter::new(std::io::stdout());
            let (summary, _) = suite::run(&scenarios, &target, &mut reporter).await;
            if summary.failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        Command::Synth { dir } => match synth::bright_square(&dir, SquareClip::default()) {
            Ok(()) => {
                println!("cam-hil: wrote {}", dir.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("cam-hil: cannot write {}: {e}", dir.display());
                ExitCode::from(2)
            }
        },
    }
}
