//! `cam-hil`: run scenarios against a cam. See `cam-hil --help`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use cam_hil::record::{self, Recording};
use cam_hil::report::{self, TextReporter};
use cam_hil::suite::{self, RunOptions, Selection};
use cam_hil::synth::{self, SquareClip};
use cam_hil::target::{Endpoint, TargetSpec};
use clap::{Args, Parser, Subcommand};

/// The camhil scenario harness: replays recorded frames into a cam and
/// asserts its SSE events and WebSocket acks.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// More detail on stderr (-v: info, -vv: debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run scenario files (exit 0: all passed, 1: a scenario failed, 2: the
    /// run could not start).
    Run(Box<RunArgs>),
    /// Record frames from a live cam (its /snapshot.jpg) into a new fixture folder.
    Record {
        /// The cam's URL, e.g. http://192.0.2.7 or https://cam.local.
        #[arg(long = "from")]
        from: String,
        /// Seconds to record (above 0, at most a week).
        #[arg(long, value_parser = parse_duration_s)]
        duration: std::time::Duration,
        /// Polls of /snapshot.jpg per second (above 0, at most 1000).
        #[arg(long, default_value_t = 10.0, value_parser = parse_fps)]
        fps: f64,
        /// Token for the cam.
        #[arg(long, env = "CAM_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// PEM CA certificates to trust for an `https://` cam.
        #[arg(long)]
        ca: Option<PathBuf>,
        /// The new fixture folder.
        dir: PathBuf,
    },
    /// Turn the firmware ELF into an ESP32-C3 app image, check it and report
    /// its size and static RAM (exit 1 when over budget).
    Image {
        /// The firmware ELF.
        elf: PathBuf,
        /// Write the app image here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Fail if the image takes more than this share of its app partition, in percent.
        #[arg(long, default_value_t = 50.0)]
        budget_percent: f64,
    },
    /// Score the detector on clip folders against their labels.csv
    /// (precision, recall, F1, false alarms per hour of still footage): the
    /// core in process, or with `--target` a cam (exit 0: scored, 1: a clip
    /// failed or the cam disagreed with the core, 2: could not start).
    Eval(Box<EvalArgs>),
    /// labgrid chores: `cam-hil labgrid release PLACE` releases a place this
    /// identity holds (a lock a killed run left).
    Labgrid {
        #[command(subcommand)]
        action: LabgridAction,
    },
    /// Boot the firmware's qemu-virt build on the emulated board for a person:
    /// prints its console, then `cam-hil: firmware at http://ADDR` once it
    /// serves; runs until Ctrl-C (or until the firmware stops QEMU).
    Qemu {
        /// The firmware ELF (`target/firmware/cam-fw-qemu.elf`).
        elf: PathBuf,
        /// Loopback address forwarded to the firmware's port 80; port 0
        /// picks a free port.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// `qemu-system-riscv32` (default: found on PATH).
        #[arg(long)]
        qemu: Option<PathBuf>,
        /// Count instructions exactly (`-icount shift=0`).
        #[arg(long)]
        icount: bool,
        /// Capture the board's network traffic to this pcap file.
        #[arg(long)]
        pcap: Option<PathBuf>,
    },
    /// Write a generated clip with exact ground truth into a fixture folder.
    Synth {
        /// `bright-square` (the protocol scenarios' clip), `lighting` (lights
        /// only, nothing moves), `walker` (an object crosses while a light
        /// goes on), `exposure` (auto-exposure settling while an object
        /// crosses), `shake` (camera shake while an object crosses),
        /// `typing` (a small figure typing and phoning), `sitter` (a person
        /// walks in, sits still, leaves), `left_object` (a box carried in
        /// and left), `slow_walker` (3 pixels a frame at 4 fps) or
        /// `daylight` (a slow daylight rise with a person moving at times).
        #[arg(long, default_value = "bright-square")]
        preset: String,
        /// Folder to write.
        dir: PathBuf,
    },
}

/// `cam-hil eval`.
#[derive(Debug, Args)]
struct EvalArgs {
    /// Clip folders.
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Motion threshold on `change`, a fraction of the cells (0 to 1).
    #[arg(long, default_value_t = cam_core::protocol::DEFAULT_THRESHOLD, value_parser = parse_threshold)]
    threshold: f64,
    /// Score every threshold tuning tries (0.00005 to 0.30) and write a
    /// precision/recall curve per clip into this folder (SVG). In process
    /// only.
    #[arg(long, conflicts_with = "targets")]
    sweep: Option<PathBuf>,
    /// Write an HTML report (scores, change plots, precision/recall
    /// curves) to DIR/index.html.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Frames a detected event may be off its labelled segment.
    #[arg(long, default_value_t = 2)]
    tolerance: usize,
    /// Turn off the lighting compensation and the lightswitch rule. In
    /// process only (on a cam: `--detector compensate_lighting=false,…`).
    #[arg(long, conflicts_with = "targets")]
    no_lighting_rules: bool,
    /// Detector settings as `key=value,…` (the keys of
    /// `docs/detector.md`), e.g. `background=true,tolerate_shake=false`;
    /// applied after the flag above.
    #[arg(long, value_parser = parse_detector_change)]
    detector: Option<cam_core::settings::DetectorChange>,
    /// Leave-one-clip-out instead: tune camhil's settings (and the
    /// baselines') on all clips but one, keeping to the seed detector's
    /// event precision on each, score on the one left out, for every
    /// clip; then the settings tuned on every clip (`docs/detector.md`,
    /// "Choosing the defaults").
    #[arg(long, conflicts_with_all = ["threshold", "sweep", "report", "no_lighting_rules", "detector", "targets"])]
    loco: bool,
    /// The OpenCV baselines' per-frame scores, as `python3
    /// ci/baselines_opencv.py --scores FILE DIR…` writes them: with
    /// `--loco`, tuned leave-one-clip-out beside camhil; otherwise tuned on
    /// the clips given (as the cam's defaults are chosen) and their rows
    /// printed beside camhil's (in process or on `--target`), one table.
    #[arg(long)]
    baselines: Option<PathBuf>,
    /// Score the clips on these cams instead of in process (as `cam-hil
    /// run --target`; repeatable: clips are spread over them), at
    /// `--threshold` and with `--detector` sent to the cam, its own
    /// settings otherwise; each cam must agree on every frame with the
    /// core run at the settings the cam reports.
    #[command(flatten)]
    target: TargetArgs,
    /// Clips scored at once on `sim` and `qemu:` targets, each on its own
    /// cam.
    #[arg(short, long, default_value_t = 1, conflicts_with = "loco")]
    jobs: usize,
}

/// `cam-hil labgrid …`.
#[derive(Subcommand, Debug)]
enum LabgridAction {
    /// Release PLACE if this identity holds it (`labgrid-client release-from`).
    Release {
        /// The place's name.
        place: String,
        #[command(flatten)]
        lab: LabArgs,
    },
}

/// Where the labgrid lab is (`labgrid:` targets, `cam-hil labgrid`).
#[derive(Args, Debug, Clone, Default)]
struct LabArgs {
    /// labgrid coordinator `HOST:PORT` (default: `LG_COORDINATOR`).
    #[arg(long)]
    coordinator: Option<String>,
    /// `labgrid-client` (default: found on PATH).
    #[arg(long)]
    labgrid_client: Option<PathBuf>,
    /// Identity `HOST/USER` labgrid places are locked under (default:
    /// `LG_HOSTNAME`/`LG_USERNAME`, else this host and user). A run finds
    /// a place its identity left locked by a run that is gone and takes it
    /// back.
    #[arg(long)]
    identity: Option<String>,
}

impl LabArgs {
    /// The lab these flags (and labgrid's environment) name.
    fn resolve(&self) -> Result<cam_hil::labgrid::Lab, String> {
        cam_hil::labgrid::Lab::resolve(self.labgrid_client.clone(), self.coordinator.clone(), self.identity.clone())
    }
}

/// The cams under test (`cam-hil run`, `cam-hil eval --target`) and how
/// to reach them.
#[derive(Debug, Args)]
struct TargetArgs {
    /// `sim` (a fresh in-process simulator per scenario), `url:http://HOST:PORT`,
    /// `board:SERIAL_PORT` (a board whose console prints its address),
    /// `labgrid:PLACE` or `labgrid:tag=KEY=VALUE,…` (a place in a labgrid
    /// lab, reserved and released), or `qemu:ELF` (the firmware's qemu-virt
    /// build on a fresh emulated board per scenario). Repeatable: scenarios
    /// are spread over the targets. `run` defaults to `sim`; `eval`
    /// without it scores the core in process.
    #[arg(long = "target")]
    targets: Vec<TargetSpec>,
    /// Token for a `url:` target.
    #[arg(long, env = "CAM_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// PEM CA certificates to trust for an `https://` target (e.g. its self-signed certificate).
    #[arg(long)]
    ca: Option<PathBuf>,
    /// `qemu-system-riscv32` for `qemu:` targets (default: found on PATH).
    #[arg(long)]
    qemu: Option<PathBuf>,
    /// Run `qemu:` targets with `-icount shift=0`, so the firmware's
    /// `cam-fw: cost` console lines count exact instructions.
    #[arg(long)]
    icount: bool,
    /// Baud rate of a board's console.
    #[arg(long, default_value_t = cam_hil::target::DEFAULT_BAUD)]
    baud: u32,
    /// For `labgrid:` targets.
    #[command(flatten)]
    lab: LabArgs,
    /// Flash this firmware ELF to every board target before running
    /// (espflash; regions already holding the same bytes are skipped).
    #[arg(long)]
    flash: Option<PathBuf>,
}

impl TargetArgs {
    /// The targets named, with their token, CA, board, QEMU and lab
    /// settings; `default` when none is named.
    ///
    /// # Errors
    /// A `labgrid:` target without a lab (no coordinator, no
    /// `labgrid-client`).
    fn specs(&self, default: &[TargetSpec]) -> Result<Vec<TargetSpec>, String> {
        let named = if self.targets.is_empty() { default.to_vec() } else { self.targets.clone() };
        let lab = if named.iter().any(TargetSpec::is_labgrid) { Some(self.lab.resolve()?) } else { None };
        Ok(named
            .into_iter()
            .map(|t| {
                let t = t
                    .with_credentials(self.token.clone(), self.ca.clone())
                    .with_board(self.baud, self.flash.clone())
                    .with_qemu(self.qemu.clone(), self.icount);
                match &lab {
                    Some(lab) => t.with_lab(lab),
                    None => t,
                }
            })
            .collect())
    }
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Scenario files or folders (default: scenarios/).
    paths: Vec<PathBuf>,
    /// Only scenarios with this tag (repeatable).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// No scenario with this tag (repeatable).
    #[arg(long = "skip-tag")]
    skip_tags: Vec<String>,
    /// Only scenarios whose name or file name contains this text.
    #[arg(short = 'k', long = "filter")]
    name: Option<String>,
    /// List the selected scenarios and exit.
    #[arg(long)]
    list: bool,
    /// Scenarios run at once, each on its own simulator (1 against a cam at a URL).
    #[arg(short, long, default_value_t = 1)]
    jobs: usize,
    /// Run each scenario this many times (to hunt flakes).
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Run only shard I of N (e.g. 2/4), for splitting a suite across machines.
    #[arg(long, value_parser = parse_shard)]
    shard: Option<(usize, usize)>,
    /// Start no new scenario after the first failure.
    #[arg(long)]
    fail_fast: bool,
    #[command(flatten)]
    target: TargetArgs,
    /// Write JUnit XML (one test case per scenario run) to this file;
    /// rewritten after every scenario.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Write the HTML report (steps, timelines, change plots, filmstrips)
    /// into this folder; rewritten after every scenario.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Apply this fault plan to every selected scenario, in place of its own
    /// (`seed=7,sse_cut_chance=0.1,latency_ms=20`; keys as in `[config]
    /// fault_plan`, docs/scenarios.md "Fault plans").
    #[arg(long)]
    fault_plan: Option<cam_hil::faults::FaultPlan>,
    /// Seed every fault plan with this (to replay a run's faults: each
    /// scenario under a plan prints its seed).
    #[arg(long)]
    seed: Option<u64>,
    /// `human` (lines, and a status line per running scenario on a
    /// terminal) or `json` (one libtest-like JSON object per line for each
    /// scenario and step event, on stdout).
    #[arg(long, value_enum, default_value_t = MessageFormat::Human)]
    message_format: MessageFormat,
}

/// How `cam-hil run` writes its progress and results on stdout.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum MessageFormat {
    /// Lines for people.
    Human,
    /// JSON lines for tools.
    Json,
}

/// A threshold as the cam takes it: a fraction of the cells in `[0, 1]`.
fn parse_threshold(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err(format!("{text:?}: expected a fraction of the cells from 0 to 1, e.g. 0.003")),
    }
}

/// `--duration` of `cam-hil record`: seconds, above 0 and at most a week.
fn parse_duration_s(text: &str) -> Result<std::time::Duration, String> {
    const WEEK_S: f64 = 7.0 * 24.0 * 3600.0;
    match text.trim().parse::<f64>() {
        Ok(s) if s > 0.0 && s <= WEEK_S => Ok(std::time::Duration::from_secs_f64(s)),
        Ok(_) => Err(format!("{text}: seconds above 0 and at most {WEEK_S} (a week)")),
        Err(_) => Err(format!("{text}: not a number of seconds")),
    }
}

/// `--fps` of `cam-hil record`: above 0 and at most [`cam_hil::record::MAX_FPS`].
fn parse_fps(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(f) if f > 0.0 && f <= cam_hil::record::MAX_FPS => Ok(f),
        Ok(_) => Err(format!("{text}: polls a second above 0 and at most {}", cam_hil::record::MAX_FPS)),
        Err(_) => Err(format!("{text}: not a number")),
    }
}

fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let bad = || format!("{text:?}: expected I/N with 1 <= I <= N, e.g. 2/4");
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
    if i == 0 || n == 0 || i > n {
        return Err(bad());
    }
    Ok((i, n))
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // The SSE client warns of every connection the fault proxy cuts: what
    // the harness reports on its timeline already.
    let default_filter = ["warn,eventsource_client=error", "info", "debug"][usize::from(cli.verbose.min(2))];
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default_filter.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Run(args) => run(*args).await,
        Command::Labgrid { action: LabgridAction::Release { place, lab } } => {
            let released = async {
                let lab = lab.resolve()?;
                lab.release_from(&place).await.map(|()| lab.identity)
            };
            match released.await {
                Ok(identity) => {
                    println!("cam-hil: released labgrid place {place} (held by {identity})");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("cam-hil: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Qemu { elf, listen, qemu, icount, pcap } => {
            boot_qemu(&cam_hil::qemu::QemuSpec { elf, binary: qemu, icount, pcap }, listen).await
        }
        Command::Record { from, duration, fps, token, ca, dir } => {
            let endpoint = Endpoint { ca_file: ca, ..Endpoint::new(from.trim_end_matches('/'), token) };
            let rec = Recording {
                endpoint,
                duration,
                fps,
                dir: dir.clone(),
                progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            };
            match record::record(&rec).await {
                Ok(r) => {
                    println!(
                        "cam-hil: recorded {} frames into {} ({} repeats skipped)",
                        r.frames,
                        dir.display(),
                        r.repeats
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("cam-hil: record: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Image { elf, out, budget_percent } => {
            let bytes = match std::fs::read(&elf) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("cam-hil: {}: {e}", elf.display());
                    return ExitCode::from(2);
                }
            };
            match cam_hil::image::build(&bytes, out.as_deref()) {
                Ok(r) => {
                    println!(
                        "cam-hil: {}: app image {} bytes ({:.1} % of its {} byte partition); static data {} bytes, stack {} bytes, IRAM code {} bytes",
                        elf.display(),
                        r.app_size,
                        r.percent_of_partition(),
                        r.partition_size,
                        r.dram,
                        r.stack,
                        r.iram
                    );
                    if r.percent_of_partition() > budget_percent {
                        eprintln!("cam-hil: over budget: {:.1} % > {budget_percent} %", r.percent_of_partition());
                        return ExitCode::from(1);
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("cam-hil: {}: {e}", elf.display());
                    ExitCode::from(1)
                }
            }
        }
        Command::Eval(args) if args.loco => eval_loco(&args.dirs, args.baselines.as_deref(), args.tolerance),
        Command::Eval(args) if !args.target.targets.is_empty() => eval_on_targets(&args).await,
        Command::Eval(args) => {
            let mut config = cam_core::DetectorConfig::default();
            if args.no_lighting_rules {
                config.compensate_lighting = false;
                config.lightswitch = 2.0;
            }
            if let Some(change) = args.detector {
                change.apply(&mut config);
            }
            let outputs = EvalOutputs { sweep: args.sweep.as_deref(), report: args.report.as_deref() };
            eval(&args.dirs, args.threshold, outputs, args.tolerance, config, args.baselines.as_deref())
        }
        Command::Synth { preset, dir } => match match preset.as_str() {
            "bright-square" => synth::bright_square(&dir, SquareClip::default()),
            name => match synth::Spec::presets().into_iter().find(|(n, _)| *n == name) {
                Some((_, spec)) => spec.write(&dir, &preset),
                None => {
                    let names: Vec<&str> = synth::Spec::presets().iter().map(|(n, _)| *n).collect();
                    eprintln!("cam-hil: unknown preset {name:?}: bright-square or {}", names.join(", "));
                    return ExitCode::from(2);
                }
            },
        } {
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

/// `key=value,…` as detector settings: each value is read as JSON (`true`,
/// `20`, `0.5`), checked as a scenario's `detector = { … }` is.
fn parse_detector_change(text: &str) -> Result<cam_core::settings::DetectorChange, String> {
    let mut obj = serde_json::Map::new();
    for pair in text.split(',').filter(|p| !p.trim().is_empty()) {
        let (key, value) = pair.split_once('=').ok_or_else(|| format!("`{pair}` is not key=value"))?;
        let value = serde_json::from_str(value.trim())
            .map_err(|_| format!("`{key}`: {value:?} is not a number or true/false"))?;
        obj.insert(key.trim().to_string(), value);
    }
    cam_core::settings::DetectorChange::from_config_object(&obj).map_err(|e| e.to_string())
}

async fn run(mut args: RunArgs) -> ExitCode {
    let paths = if args.paths.is_empty() { vec![PathBuf::from("scenarios")] } else { std::mem::take(&mut args.paths) };
    let selection = Selection {
        tags: std::mem::take(&mut args.tags),
        skip_tags: std::mem::take(&mut args.skip_tags),
        name: args.name.take(),
        shard: args.shard,
    };
    let loaded = suite::discover(&paths).and_then(|f| Ok((suite::load_all(&f, &selection)?, f)));
    let (mut scenarios, left_out) = match loaded.and_then(|(s, f)| Ok((s, suite::left_out_by_tag(&f, &selection)?))) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{:?}", miette::Report::new(e));
            return ExitCode::from(2);
        }
    };
    for s in &mut scenarios {
        if let Some(plan) = &args.fault_plan {
            s.needs.fault_plan = Some(plan.clone());
        }
        if let (Some(seed), Some(plan)) = (args.seed, s.needs.fault_plan.as_mut()) {
            plan.seed = seed;
        }
    }
    if args.list {
        for s in &scenarios {
            println!("{}  [{}]  {}", s.path.display(), s.tags.join(", "), s.name);
        }
        return ExitCode::SUCCESS;
    }
    if scenarios.is_empty() {
        eprintln!("cam-hil: no scenario selected");
        return ExitCode::from(2);
    }
    let targets = match args.target.specs(&[TargetSpec::Sim]) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cam-hil: {e}");
            return ExitCode::from(2);
        }
    };
    let code = run_on_targets(&args, scenarios, left_out, &targets).await;
    // Whatever happened (passed, failed, stopped by Ctrl-C or SIGTERM),
    // labgrid places are released and their reservations cancelled.
    for target in &targets {
        target.release().await;
    }
    code
}

/// The run proper, once the targets are known: probe, run, report.
async fn run_on_targets(
    args: &RunArgs,
    scenarios: Vec<cam_hil::scenario::Scenario>,
    left_out: Vec<(cam_hil::scenario::Scenario, String)>,
    targets: &[TargetSpec],
) -> ExitCode {
    // Ctrl-C or SIGTERM (a cancelled CI job) stops the run cleanly, also
    // while a target is still being probed (a labgrid place in the queue).
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        stop_signal().await;
        eprintln!("cam-hil: stopping: the running scenarios end, their targets stop, the reports are written");
        let _ = cancel_tx.send(true);
    });
    for target in targets {
        let mut cancelled = cancel_rx.clone();
        let probed = tokio::select! {
            probed = target.probe() => probed,
            _ = cancelled.wait_for(|c| *c) => return ExitCode::from(130),
        };
        if let Err(e) = probed {
            eprintln!("cam-hil: {e}");
            return ExitCode::from(2);
        }
    }
    if args.jobs > 1 && targets.iter().any(|t| !t.fresh_per_scenario()) {
        eprintln!("cam-hil: a cam runs scenarios one at a time (--jobs applies to the simulator and qemu targets)");
    }
    let files =
        std::sync::Arc::new(std::sync::Mutex::new(report::FileReporter::new(args.junit.clone(), args.report.clone())));
    let mut reporters: Vec<Box<dyn report::Reporter>> = vec![Box::new(Shared(files.clone()))];
    reporters.push(match args.message_format {
        MessageFormat::Json => Box::new(report::JsonReporter::new(std::io::stdout())),
        // A status line per running scenario on an interactive terminal.
        MessageFormat::Human if std::io::IsTerminal::is_terminal(&std::io::stderr()) => {
            Box::new(TextReporter::with_status(std::io::stdout(), indicatif::MultiProgress::new()))
        }
        MessageFormat::Human => Box::new(TextReporter::new(std::io::stdout())),
    });
    let mut reporter = report::Tee(reporters);
    let options = RunOptions {
        jobs: args.jobs,
        repeat: args.repeat,
        fail_fast: args.fail_fast,
        left_out: left_out
            .into_iter()
            .map(|(s, tag)| (s.name, s.path, format!("tagged `{tag}`, left out by --skip-tag")))
            .collect(),
        cancel: Some(cancel_rx.clone()),
    };
    let (summary, _) = suite::run_on(&scenarios, targets, &options, &mut reporter).await;
    let errors = files.lock().map(|f| f.errors.clone()).unwrap_or_default();
    for e in &errors {
        eprintln!("cam-hil: {e}");
    }
    if let Some(dir) = args.report.as_ref().filter(|_| errors.is_empty()) {
        eprintln!("cam-hil: report in {}", dir.join("index.html").display());
    }
    if *cancel_rx.borrow() {
        return ExitCode::from(130);
    }
    match (summary.failed, errors.is_empty()) {
        (0, true) => ExitCode::SUCCESS,
        (0, false) => ExitCode::from(2),
        _ => ExitCode::from(1),
    }
}

/// A reporter the caller keeps a handle on (to read its errors after).
struct Shared<R>(std::sync::Arc<std::sync::Mutex<R>>);

impl<R: report::Reporter> report::Reporter for Shared<R> {
    fn event(&mut self, event: &cam_hil::run_event::RunEvent) {
        if let Ok(mut r) = self.0.lock() {
            r.event(event);
        }
    }
}

/// Ctrl-C, or SIGTERM (what a CI system sends a job it cancels).
async fn stop_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let terminated = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminated => {}
    }
}

/// `cam-hil qemu`: the firmware on the emulated board until Ctrl-C.
async fn boot_qemu(spec: &cam_hil::qemu::QemuSpec, listen: std::net::SocketAddr) -> ExitCode {
    use cam_hil::board::ConsoleLine;
    let (mut machine, mut session) = match cam_hil::qemu::Machine::boot(spec, listen).await {
        Ok(m) => m,
        Err(e) => {
            eprintln!("cam-hil: {e}");
            return ExitCode::from(2);
        }
    };
    // The boot log so far, then the address, then the console as it comes.
    let boot_log = machine.log();
    for line in &boot_log {
        println!("{line}");
    }
    println!(
        "cam-hil: firmware at {} (listening {:.1} ms after QEMU started)",
        machine.url(),
        machine.boot_time.as_secs_f64() * 1e3
    );
    let mut printed = boot_log.len() as u64;
    let status = loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break None,
            line = session.lines.recv() => match line {
                Ok(ConsoleLine::Line(_, seq, text)) if seq > printed => {
                    printed = seq;
                    println!("{text}");
                }
                Ok(ConsoleLine::Line(..)) => {}
                Ok(ConsoleLine::Gone(_)) | Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                    break tokio::task::block_in_place(|| machine.wait()).ok();
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => println!("cam-hil: ({n} console lines lost)"),
            },
        }
    };
    match status {
        None => ExitCode::SUCCESS,
        Some(s) => {
            eprintln!("cam-hil: QEMU ended ({s})");
            ExitCode::from(1)
        }
    }
}

/// Where `cam-hil eval` writes besides the table.
struct EvalOutputs<'a> {
    sweep: Option<&'a std::path::Path>,
    report: Option<&'a std::path::Path>,
}

/// `cam-hil eval --loco`: leave-one-clip-out tables for camhil and the
/// baselines, every family keeping to the seed's event precision on the
/// clips it is tuned on; camhil compared with the baselines tuned that
/// way and without the floor; then what tuning on every clip chooses.
fn eval_loco(dirs: &[PathBuf], baselines: Option<&Path>, tolerance: usize) -> ExitCode {
    use cam_hil::tune::{self, LabelledClip};
    let mut clips = Vec::new();
    for dir in dirs {
        match footage::Clip::load(dir) {
            Ok(c) if c.frames.iter().any(|f| f.label.is_some()) => clips.push(c),
            Ok(c) => eprintln!("cam-hil: {} has no labelled frame (labels.csv): left out", c.name()),
            Err(e) => {
                eprintln!("cam-hil: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if clips.len() < 2 {
        eprintln!("cam-hil: --loco needs at least two labelled clips (one is left out, the others are tuned on)");
        return ExitCode::from(2);
    }
    let labelled: Vec<LabelledClip> = clips.iter().map(LabelledClip::of).collect();
    // The cam's defaults and the seed's detector, as they are, for
    // comparison: the defaults should be what tuning on every clip chooses,
    // and event precision should not fall below the seed's. They run with
    // the tuned variants, over the clips decoded once, and are then set
    // apart from them.
    let fixed = [
        ("camhil defaults", cam_core::DetectorConfig::default(), cam_core::protocol::DEFAULT_THRESHOLD),
        ("camhil seed", cam_core::DetectorConfig::seed(), cam_core::protocol::SEED_THRESHOLD),
    ];
    let mut variants = tune::camhil_variants();
    variants.extend(fixed.iter().map(|(name, config, _)| (name.to_string(), *config)));
    let (mut families, fixed_series) = match tune::camhil_family(&clips, variants) {
        Ok(mut camhil) => {
            let fixed_series = camhil.variants.split_off(camhil.variants.len() - fixed.len());
            (vec![camhil], fixed_series)
        }
        Err(e) => {
            eprintln!("cam-hil: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(path) = baselines {
        match baseline_families(path, &labelled) {
            Ok(more) => families.extend(more),
            Err(code) => return code,
        }
    }
    println!("Leave-one-clip-out: each clip scored with the settings tuned on all the others.\n");
    println!(
        "| clip | detector | settings (tuned without this clip) | frame precision | frame recall | frame F1 | events | event precision | event recall | event F1 | camhil's frame F1 at or above every baseline's |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    // Every family keeps, on each clip it is tuned on, to the seed's event
    // precision there (`tune`'s module docs).
    let (seed_config, seed_threshold) = (fixed[1].1, fixed[1].2);
    let floor = tune::precision_floor(&labelled, &fixed_series[1], seed_threshold, seed_config.hysteresis, tolerance);
    let loco: Vec<_> = families.iter().filter_map(|f| tune::leave_one_out(f, &labelled, tolerance, &floor)).collect();
    // The baselines tuned on mean frame F1 alone, without the floor: camhil
    // is compared with them too, so that its verdict does not rest on what
    // the floor costs them.
    let loco_free: Vec<_> =
        families.iter().skip(1).filter_map(|f| tune::leave_one_out(f, &labelled, tolerance, &[])).collect();
    let row = |clip: &str, detector: &str, settings: &str, m: &cam_hil::eval::Metrics, verdict: &str| {
        println!(
            "| {clip} | {detector} | {settings} | {:.3} | {:.3} | {:.3} | {} | {:.3} | {:.3} | {:.3} | {verdict} |",
            m.frame_precision,
            m.frame_recall,
            m.frame_f1(),
            m.detected,
            m.precision,
            m.recall,
            m.f1
        );
    };
    let mut below = Vec::new();
    let mut below_free = Vec::new();
    let mut less_precise = Vec::new();
    let mut means = vec![(0.0, 0.0); families.len()];
    for (c, clip) in labelled.iter().enumerate() {
        for (k, (name, config, threshold)) in fixed.iter().enumerate() {
            let frames = tune::decide(clip, &fixed_series[k].series[c], *threshold, config.hysteresis);
            if let Some(m) = cam_hil::eval::score(&frames, *threshold, tolerance) {
                let settings = format!(
                    "cell_delta={},tolerate_shake={},grade_cells={}, threshold={threshold}, hysteresis={}",
                    config.cell_delta, config.tolerate_shake, config.grade_cells, config.hysteresis
                );
                row(&clip.name, name, &settings, &m, "");
            }
        }
        // The seed's precision is the clip's floor.
        let seed_precision = floor.get(c).copied().unwrap_or(0.0);
        if loco[0][c].1.precision < seed_precision {
            less_precise.push(format!("{} ({:.3} against {seed_precision:.3})", clip.name, loco[0][c].1.precision));
        }
        // Compared unrounded: camhil is family 0, the baselines follow.
        let camhil_f1 = loco[0][c].1.frame_f1();
        // The baselines (tuned one way or the other) above camhil here.
        let beaten_by = |baselines: &[Vec<(tune::Choice, cam_hil::eval::Metrics)>]| -> Vec<String> {
            families
                .iter()
                .skip(1)
                .zip(baselines)
                .filter(|(_, l)| l[c].1.frame_f1() > camhil_f1)
                .map(|(f, l)| format!("{} {:.3}", f.name, l[c].1.frame_f1()))
                .collect()
        };
        let beaten = beaten_by(&loco[1..]);
        for (list, names) in [(&mut below, &beaten), (&mut below_free, &beaten_by(&loco_free))] {
            if !names.is_empty() {
                list.push(format!("{} (camhil {camhil_f1:.3}; {})", clip.name, names.join(", ")));
            }
        }
        for (k, family) in families.iter().enumerate() {
            let (choice, m) = &loco[k][c];
            let settings = choice.describe(family);
            let verdict = match (k, beaten.is_empty(), families.len() > 1) {
                (0, true, true) => "yes",
                (0, false, _) => "no",
                _ => "",
            };
            row(&clip.name, &family.name, &settings, m, verdict);
            means[k].0 += m.frame_f1() / labelled.len() as f64;
            means[k].1 += m.f1 / labelled.len() as f64;
        }
    }
    if families.len() > 1 {
        println!(
            "\ncamhil's frame F1 is at or above every baseline's on {} of {} clips{}",
            labelled.len() - below.len(),
            labelled.len(),
            if below.is_empty() { ".".to_string() } else { format!("; below on {}.", below.join("; ")) }
        );
        println!(
            "\nAgainst the baselines tuned on mean frame F1 alone (no floor on event precision), it is at or above every baseline's on {} of {} clips{}",
            labelled.len() - below_free.len(),
            labelled.len(),
            if below_free.is_empty() { ".".to_string() } else { format!("; below on {}.", below_free.join("; ")) }
        );
    }
    println!(
        "\ncamhil's event precision is at or above the seed detector's on {} of {} clips{}",
        labelled.len() - less_precise.len(),
        labelled.len(),
        if less_precise.is_empty() { ".".to_string() } else { format!("; below on {}.", less_precise.join("; ")) }
    );
    // What the frame scores are made of: the frames camhil got wrong on
    // each clip left out, beside the baselines' on the same clip.
    let wrong_rows: Vec<String> = labelled
        .iter()
        .enumerate()
        .filter_map(|(c, clip)| {
            let wrong: Vec<cam_hil::eval::WrongFrames> = families
                .iter()
                .zip(&loco)
                .map(|(family, l)| {
                    let (choice, _) = l[c];
                    let series = &family.variants[choice.variant].series[c];
                    cam_hil::eval::WrongFrames::of(&tune::decide(clip, series, choice.threshold, choice.hysteresis))
                })
                .collect();
            if wrong[0].is_empty() {
                return None;
            }
            let all: Vec<String> = families.iter().zip(&wrong).map(|(f, w)| format!("{}: {w}", f.name)).collect();
            Some(format!("- {}: {}", clip.name, all.join("; ")))
        })
        .collect();
    if !wrong_rows.is_empty() {
        println!("\nThe frames camhil got wrong, left out (frame indices in the clip):\n\n{}", wrong_rows.join("\n"));
    }
    println!("\nMean over the clips left out:\n");
    println!("| detector | frame F1 | event F1 |\n|---|---|---|");
    for (k, family) in families.iter().enumerate() {
        println!("| {} | {:.3} | {:.3} |", family.name, means[k].0, means[k].1);
    }
    for (family, l) in families.iter().skip(1).zip(&loco_free) {
        let n = l.len().max(1) as f64;
        let (frame, event) = l.iter().fold((0.0, 0.0), |(a, b), (_, m)| (a + m.frame_f1() / n, b + m.f1 / n));
        println!("| {} (mean frame F1 alone) | {frame:.3} | {event:.3} |", family.name);
    }
    println!("\nTuned on every clip:\n");
    let mut defaults_tuned = None;
    println!(
        "| detector | settings | threshold | hysteresis | mean frame F1 | mean event F1 |\n|---|---|---|---|---|---|"
    );
    for (k, family) in families.iter().enumerate() {
        let (choice, scores) = tune::tune(family, &labelled, tolerance, &floor);
        let n = scores.len().max(1) as f64;
        if k == 0 {
            // The cam's defaults should be this choice (`DetectorConfig`'s docs).
            let chosen =
                cam_core::DetectorConfig { hysteresis: choice.hysteresis, ..tune::camhil_variants()[choice.variant].1 };
            defaults_tuned = Some(chosen == fixed[0].1 && choice.threshold == fixed[0].2);
        }
        println!(
            "| {} | {}{} | {} | {} | {:.3} | {:.3} |",
            family.name,
            family.variants[choice.variant].settings,
            if choice.floor_kept { "" } else { " (floor not kept)" },
            choice.threshold,
            choice.hysteresis,
            scores.iter().map(cam_hil::eval::Metrics::frame_f1).sum::<f64>() / n,
            scores.iter().map(|m| m.f1).sum::<f64>() / n
        );
    }
    match defaults_tuned {
        Some(true) => println!("\nThe cam's defaults are camhil's choice tuned on every clip."),
        _ => println!(
            "\nThe cam's defaults are not camhil's choice tuned on every clip: update `DetectorConfig::default` and `DEFAULT_THRESHOLD`."
        ),
    }
    ExitCode::SUCCESS
}

/// Loads every clip folder of `dirs`, or says which one could not be.
fn load_clips(dirs: &[PathBuf]) -> Result<Vec<footage::Clip>, ExitCode> {
    dirs.iter()
        .map(|dir| {
            footage::Clip::load(dir).map_err(|e| {
                eprintln!("cam-hil: {e}");
                ExitCode::from(2)
            })
        })
        .collect()
}

/// `cam-hil eval` in process: every clip through the core's cam.
fn eval(
    dirs: &[PathBuf],
    threshold: f64,
    outputs: EvalOutputs<'_>,
    tolerance: usize,
    config: cam_core::DetectorConfig,
    baselines: Option<&Path>,
) -> ExitCode {
    let clips = match load_clips(dirs) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let baselines = match tuned_baselines(baselines, &clips, tolerance) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let frames = clips.iter().map(|clip| cam_hil::eval::run(clip, config, threshold)).collect();
    let scored = Scored { clips: &clips, frames, threshold, tolerance, settings: format!("{config:?}"), baselines };
    if scored.report(outputs, Some(config)) { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

/// The baselines of the scores file at `path`, if any, tuned on the
/// labelled clips of `clips` (as the cam's defaults are chosen): their
/// clips' names, in the order of their scores, and each family tuned.
/// Exit code 2 after saying why for a file that cannot be read or used.
fn tuned_baselines(
    path: Option<&Path>,
    clips: &[footage::Clip],
    tolerance: usize,
) -> Result<Option<Baselines>, ExitCode> {
    use cam_hil::tune::{self, LabelledClip};
    let Some(path) = path else { return Ok(None) };
    let labelled_clips: Vec<&footage::Clip> =
        clips.iter().filter(|c| c.frames.iter().any(|f| f.label.is_some())).collect();
    let labelled: Vec<LabelledClip> = labelled_clips.iter().map(|c| LabelledClip::of(c)).collect();
    let families = baseline_families(path, &labelled)?;
    // The floor on event precision they keep to while tuning: the seed's.
    let seed = match tune::camhil_family(&labelled_clips, vec![("seed".into(), cam_core::DetectorConfig::seed())]) {
        Ok(mut family) => family.variants.swap_remove(0),
        Err(e) => {
            eprintln!("cam-hil: {e}");
            return Err(ExitCode::from(2));
        }
    };
    let hysteresis = cam_core::DetectorConfig::seed().hysteresis;
    let floor = tune::precision_floor(&labelled, &seed, cam_core::protocol::SEED_THRESHOLD, hysteresis, tolerance);
    let names = labelled.iter().map(|c| c.name.clone()).collect();
    Ok(Some((names, tune::tuned_on_all(&families, &labelled, tolerance, &floor))))
}

/// The baseline families of the scores file at `path`, over `labelled`
/// ([`cam_hil::tune::baseline_families`]); exit code 2 after saying why
/// for a file that cannot be read or used.
fn baseline_families(
    path: &Path,
    labelled: &[cam_hil::tune::LabelledClip],
) -> Result<Vec<cam_hil::tune::Family>, ExitCode> {
    std::fs::read_to_string(path)
        .map_err(|e| format!("{}: {e}", path.display()))
        .and_then(|t| cam_hil::tune::baseline_families(&t, labelled))
        .map_err(|e| {
            eprintln!("cam-hil: {e}");
            ExitCode::from(2)
        })
}

/// Baselines beside camhil: the names of the clips they were tuned on, and
/// each family tuned ([`cam_hil::tune::Tuned`], scores in that order).
type Baselines = (Vec<String>, Vec<cam_hil::tune::Tuned>);

/// What `cam-hil eval` found per clip, ready to report.
struct Scored<'a> {
    clips: &'a [footage::Clip],
    /// Per clip, its frames as the detector saw them, or why not.
    frames: Vec<Result<Vec<cam_hil::eval::EvalFrame>, String>>,
    threshold: f64,
    tolerance: usize,
    /// The settings, as the HTML report names them.
    settings: String,
    /// The baselines' rows to print beside camhil's, if any.
    baselines: Option<Baselines>,
}

impl Scored<'_> {
    /// Prints the table and the frames each clip got wrong, and writes
    /// `outputs`; precision/recall curves by sweeping `sweep` (a detector
    /// run in process) over the thresholds. Whether nothing failed.
    fn report(self, outputs: EvalOutputs<'_>, sweep: Option<cam_core::DetectorConfig>) -> bool {
        use cam_hil::eval;
        use cam_hil::report::html::{self, EvalEntry};
        let beside = self.baselines.is_some();
        println!("{}", if beside { eval::DETECTOR_TABLE_HEADER } else { eval::TABLE_HEADER });
        let (threshold, tolerance) = (self.threshold, self.tolerance);
        let mut failed = false;
        let mut entries = Vec::new();
        let mut wrong_rows = Vec::new();
        for (clip, frames) in self.clips.iter().zip(self.frames) {
            let name = clip.name();
            let frames = match frames {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("cam-hil: {name}: {e}");
                    failed = true;
                    continue;
                }
            };
            let metrics = eval::score(&frames, threshold, tolerance);
            match &metrics {
                Some(m) if beside => println!("{}", eval::detector_row(&name, "camhil", m)),
                Some(m) => println!("{}", eval::table_row(&name, m)),
                None => {
                    let events = frames.windows(2).filter(|w| w[1].motion && !w[0].motion).count()
                        + usize::from(frames.first().is_some_and(|f| f.motion));
                    let detector = if beside { " camhil |" } else { "" };
                    println!(
                        "| {name} |{detector} {} | {events} | (no labels) | | | | | | | |",
                        eval::threshold_text(threshold)
                    );
                }
            }
            let mut beside = Vec::new();
            if let Some((names, tuned)) = &self.baselines
                && let Some(c) = names.iter().position(|n| *n == name)
            {
                for t in tuned {
                    let detector = format!("{} ({})", t.name, t.settings);
                    println!("{}", eval::detector_row(&name, &detector, &t.scores[c]));
                    beside.push((detector, t.scores[c]));
                }
            }
            let labelled = clip.frames.iter().any(|f| f.label.is_some());
            let mut sweep_svg = None;
            let wanted = outputs.sweep.is_some() || outputs.report.is_some();
            if let Some(config) = sweep.filter(|_| labelled && wanted) {
                match eval::sweep(clip, config, &eval::default_thresholds(), tolerance) {
                    Ok(points) => {
                        let svg = eval::sweep_svg(&name, &points);
                        if let Some(out) = outputs.sweep {
                            let path = out.join(format!("{name}-sweep.svg"));
                            if let Err(e) = std::fs::create_dir_all(out).and_then(|()| std::fs::write(&path, &svg)) {
                                eprintln!("cam-hil: {}: {e}", path.display());
                                failed = true;
                            } else {
                                let best = points.iter().fold(&points[0], |b, m| if m.f1 > b.f1 { m } else { b });
                                eprintln!(
                                    "cam-hil: {} (best F1 {:.2} at threshold {})",
                                    path.display(),
                                    best.f1,
                                    eval::threshold_text(best.threshold)
                                );
                            }
                        }
                        sweep_svg = Some(svg);
                    }
                    Err(e) => {
                        eprintln!("cam-hil: {e}");
                        failed = true;
                    }
                }
            }
            let wrong = eval::WrongFrames::of(&frames);
            if !wrong.is_empty() {
                wrong_rows.push(format!("- {name}: {wrong}"));
            }
            entries.push(EvalEntry { name, metrics, frames, sweep_svg, beside });
        }
        if !wrong_rows.is_empty() {
            println!("\nFrames wrong (indices in the clip):\n\n{}", wrong_rows.join("\n"));
        }
        if let Some(dir) = outputs.report {
            match html::write_eval(dir, &entries, threshold, &self.settings) {
                Ok(()) => eprintln!("cam-hil: report in {}", dir.join("index.html").display()),
                Err(e) => {
                    eprintln!("cam-hil: {e}");
                    failed = true;
                }
            }
        }
        !failed
    }
}

/// `cam-hil eval --target`: every clip replayed into the cams named, each
/// clip's frames checked against the core's on the same frames, then
/// scored as in process.
async fn eval_on_targets(args: &EvalArgs) -> ExitCode {
    use cam_hil::eval::{self, target};
    let clips = match load_clips(&args.dirs) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // Before any cam runs: a scores file that cannot be used stops it.
    let baselines = match tuned_baselines(args.baselines.as_deref(), &clips, args.tolerance) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let targets = match args.target.specs(&[]) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cam-hil: {e}");
            return ExitCode::from(2);
        }
    };
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        stop_signal().await;
        eprintln!("cam-hil: stopping: the running clips end, their targets stop");
        let _ = cancel_tx.send(true);
    });
    let mut on_target = Vec::new();
    let probed = futures_util::future::try_join_all(targets.iter().map(TargetSpec::probe)).await;
    if let Err(e) = probed {
        eprintln!("cam-hil: {e}");
    } else {
        // Progress on stderr: stdout holds the table alone.
        let mut reporter = TextReporter::new(std::io::stderr());
        let options = RunOptions { jobs: args.jobs, cancel: Some(cancel_rx.clone()), ..RunOptions::default() };
        let dirs: Vec<(&Path, usize)> = clips.iter().map(|c| (c.dir.as_path(), c.frames.len())).collect();
        on_target = target::run(&dirs, args.threshold, args.detector, &targets, &options, &mut reporter).await;
    }
    for t in &targets {
        t.release().await;
    }
    if on_target.is_empty() {
        return ExitCode::from(2);
    }
    if *cancel_rx.borrow() {
        return ExitCode::from(130);
    }
    let costs: Vec<String> = clips
        .iter()
        .zip(&on_target)
        .filter_map(|(clip, o)| target::cost_row(&clip.name(), clip.frames.len(), &o.costs))
        .collect();
    // The core in process, at the settings each clip's cam reported: the
    // figures the target must reproduce.
    let mut reported = None;
    let mut frames = Vec::new();
    let mut agree = true;
    for (clip, o) in clips.iter().zip(on_target) {
        let checked = o.frames.and_then(|seen| {
            let config = o.settings?;
            let core = eval::run(clip, config, args.threshold).map_err(|e| format!("in process: {e}"))?;
            let differ = target::disagreements(&core, &seen);
            if !differ.is_empty() {
                agree = false;
                eprintln!("cam-hil: {}: the target and the core differ on {} frame(s):", clip.name(), differ.len());
                for d in differ.iter().take(10) {
                    eprintln!("  {d}");
                }
            }
            reported.get_or_insert(config);
            Ok(seen)
        });
        frames.push(checked);
    }
    let names: Vec<String> = targets.iter().map(ToString::to_string).collect();
    let settings = match reported {
        Some(config) => {
            format!("on {}: {}", names.join(", "), serde_json::json!(cam_core::settings::DetectorSettings::of(&config)))
        }
        None => format!("on {}", names.join(", ")),
    };
    let scored_all = frames.iter().all(Result::is_ok);
    let scored =
        Scored { clips: &clips, frames, threshold: args.threshold, tolerance: args.tolerance, settings, baselines };
    let outputs = EvalOutputs { sweep: None, report: args.report.as_deref() };
    let reported = scored.report(outputs, None);
    if !costs.is_empty() {
        println!(
            "\nCost per frame on the cam, from its `cam-fw: cost` console lines (`Cam::process_frame`; exact instructions on `qemu:` targets with `--icount`):\n\n{}\n{}",
            target::COST_HEADER,
            costs.join("\n")
        );
    }
    if agree && scored_all {
        eprintln!("cam-hil: the target gave the core's outcome on every frame");
    }
    if reported && agree { ExitCode::SUCCESS } else { ExitCode::from(1) }
}
