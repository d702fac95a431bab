//! Targets: the cams a scenario can run against, behind one trait.
//!
//! - `sim` (the default): a fresh in-process simulator per scenario on an
//!   ephemeral loopback port, with its own snapshot folder ([`sim`], the
//!   harness's only use of the simulator crate, behind the `sim` feature);
//! - `url:http://HOST:PORT`: any cam speaking `docs/protocol.md` (with
//!   `--token` if it wants one). Scenarios run one at a time against it and
//!   start with `POST /hil/reset`;
//! - `board:SERIAL_PORT`: a board over USB, its address and health from its
//!   console ([`crate::board`]);
//! - `labgrid:PLACE` or `labgrid:tag=KEY=VALUE,…`: a board in a labgrid
//!   lab, reserved, locked, read over RFC 2217 and released
//!   ([`crate::labgrid`]);
//! - `qemu:ELF`: the firmware's `qemu-virt` build on a fresh emulated board
//!   per scenario ([`crate::qemu`]), like the simulator: fresh state each
//!   time, and `--jobs N` boots N at once;
//! - a [`CustomTarget`]: any cam a library user can open ([`OpenTarget`]).
//!
//! Each target states what it serves ([`Serves`]: TLS, a token, a console,
//! storage access, resets, fault injection); a scenario that needs more is
//! skipped with the reason.

#[cfg(feature = "sim")]
pub mod sim;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;

use crate::board::{Board, ConsoleLine};
use crate::labgrid::{Lab, Place, Want};
use crate::qemu::{Machine, QemuSpec};
use crate::scenario::Needs;
use std::sync::Arc;

/// Baud rate of a board's console unless `--baud` says otherwise.
pub const DEFAULT_BAUD: u32 = 115_200;
/// How long a board may take to print its `listening on` line.
pub const BOARD_BOOT_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Where a target's cam listens, and the token it wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `http://host:port`, no trailing slash.
    pub base: String,
    /// Bearer token for every route but the dashboard, if the cam wants one.
    pub token: Option<String>,
    /// PEM file of extra CA certificates to trust for `https://` (for a
    /// cam with a self-signed certificate).
    pub ca_file: Option<std::path::PathBuf>,
}

impl Endpoint {
    /// A plain endpoint: `base` URL, optional token, no extra CA.
    pub fn new(base: impl Into<String>, token: Option<String>) -> Self {
        Self { base: base.into(), token, ca_file: None }
    }
}

impl Endpoint {
    /// `base` + `path` (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The WebSocket URL of `path` (`ws://` for `http://`, `wss://` for
    /// `https://`).
    pub fn ws_url(&self, path: &str) -> String {
        let base = if let Some(rest) = self.base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else {
            format!("ws://{}", self.base.trim_start_matches("http://"))
        };
        format!("{base}{path}")
    }
}

/// A target's serial console as the runner reads it.
#[derive(Debug)]
pub struct ConsoleTap {
    /// Lines from the target's opening on.
    pub lines: tokio::sync::broadcast::Receiver<ConsoleLine>,
    /// Number of the last boot-log line (its `listening on` line): lines up
    /// to it are not judged for panics and resets.
    pub boot_end: u64,
}

/// A cam under test, opened for one scenario.
pub trait Target: Send + Sync {
    /// Where it listens.
    fn endpoint(&self) -> &Endpoint;

    /// Reads a file from the cam's storage by its cam path
    /// (`/sdcard/snaps/…`). `Ok(None)` when this target gives no access to
    /// its storage (a cam at a URL).
    ///
    /// # Errors
    /// The file cannot be read (missing, or the path is not on the card).
    fn read_file(&self, cam_path: &str) -> Result<Option<Vec<u8>>, String>;

    /// One line for reports, e.g. `sim 127.0.0.1:41234`.
    fn describe(&self) -> String;

    /// The board's console lines from the target's opening on, taken once
    /// by the runner; `None` for a target without a serial console.
    fn take_console(&self) -> Option<ConsoleTap> {
        None
    }

    /// Resets the cam, each target its own way: a board through its reset
    /// line, the emulated board through QEMU's `system_reset`, the
    /// simulator by its own reboot. A target that cannot be reset says so
    /// in [`Serves::reset`], so no scenario asks it.
    ///
    /// # Errors
    /// The reset failed, or this target cannot be reset.
    fn reset(&self) -> Resetting<'_> {
        Box::pin(async { Err(format!("{} cannot be reset", self.describe())) })
    }
}

/// A reset in progress ([`Target::reset`]).
pub type Resetting<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// What a [`ConsoleTarget`] holds that can reset the board.
pub(crate) trait ResetLine: Send + Sync {
    fn reset(&self) -> Resetting<'_>;
}

impl ResetLine for Arc<Board> {
    fn reset(&self) -> Resetting<'_> {
        Box::pin(Board::reset(self))
    }
}

impl ResetLine for Arc<Place> {
    fn reset(&self) -> Resetting<'_> {
        Box::pin(Place::reset(self))
    }
}

impl ResetLine for Machine {
    fn reset(&self) -> Resetting<'_> {
        Box::pin(Machine::reset(self))
    }
}

/// Which target to open for each scenario (`--target`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TargetSpec {
    /// A fresh in-process simulator per scenario.
    #[default]
    Sim,
    /// A cam at a URL.
    Url(Endpoint),
    /// A board on a serial port: its address from its console, which is
    /// watched for panics and resets (`board:/dev/ttyUSB0`).
    Board(Arc<Board>, Endpoint),
    /// A board in a labgrid lab (`labgrid:PLACE`,
    /// `labgrid:tag=board=esp32c3`): reserved and acquired on first use,
    /// its console over RFC 2217, released at the end of the run.
    Labgrid(Arc<Place>, Endpoint),
    /// The firmware on a fresh emulated board per scenario
    /// (`qemu:target/firmware/cam-fw-qemu.elf`); the endpoint holds the
    /// token the firmware was built with, if any.
    Qemu(QemuSpec, Endpoint),
    /// A cam the caller knows how to open (a library use of the harness).
    Custom(CustomTarget),
}

/// What a target can give a scenario. A scenario whose [`Needs`] ask for
/// more is skipped, with the reason ([`Serves::unmet`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Serves {
    /// `https://`.
    pub tls: bool,
    /// Plain `http://` (raw requests on TCP can reach it).
    pub plain_http: bool,
    /// A cam that requires a token, and the token.
    pub token: bool,
    /// A serial console the harness reads.
    pub console: bool,
    /// Reading files from the cam's storage.
    pub storage: bool,
    /// Resetting the cam mid-scenario (a `reboot` step, a fault plan's
    /// `reboot_after_frames`).
    pub reset: bool,
    /// The harness's fault layer in front of it (every target but a custom
    /// one may say otherwise).
    pub faults: bool,
    /// Connection limits of its own to check (a simulator has none).
    pub connection_limits: bool,
}

impl Serves {
    /// Why `needs` cannot be met here, or `None` when it can.
    pub fn unmet(&self, needs: &Needs, target: &str) -> Option<String> {
        let why = if needs.tls && !self.tls {
            "the scenario needs a cam serving https://"
        } else if needs.token && !self.token {
            "the scenario needs a cam that requires a token: pass --token (the firmware: build it with CAM_TOKEN)"
        } else if needs.fault_plan.is_some() && !self.faults {
            "the scenario injects faults ([config] fault_plan); this target cannot inject them"
        } else if needs.reset() && !self.reset {
            "the scenario resets the cam; this target cannot be reset (a cam at a URL has no reset line)"
        } else if needs.console && !self.console {
            "the scenario reads the serial console; this target has none"
        } else if needs.storage && !self.storage {
            "the scenario reads the cam's storage; this target gives no access to it"
        } else if needs.plain_http && !self.plain_http {
            "the scenario sends raw HTTP on TCP (bad_input); this cam serves https://"
        } else if needs.connection_limits && !self.connection_limits {
            "the scenario checks a cam's own connection limits; this target has none (run it on the emulated \
             board, a board or a cam at a URL)"
        } else {
            return None;
        };
        Some(format!("{why} ({target})"))
    }
}

/// A target a library user opens: give it to [`TargetSpec::Custom`].
pub trait OpenTarget: Send + Sync {
    /// How reports name it.
    fn name(&self) -> String;
    /// What it serves.
    fn serves(&self) -> Serves;
    /// Opens it for one scenario.
    ///
    /// # Errors
    /// It cannot be opened.
    fn open<'a>(&'a self, needs: &'a Needs) -> Opening<'a>;
}

/// A target being opened ([`OpenTarget::open`]).
pub type Opening<'a> = Pin<Box<dyn Future<Output = Result<Box<dyn Target>, TargetError>> + Send + 'a>>;

/// An [`OpenTarget`] in a [`TargetSpec`] (equal when it is the same one).
#[derive(Clone)]
pub struct CustomTarget(pub Arc<dyn OpenTarget>);

impl fmt::Debug for CustomTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CustomTarget({})", self.0.name())
    }
}

impl PartialEq for CustomTarget {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for CustomTarget {}

/// `--target` text that is not a target.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "bad target {0:?}: expected `sim`, `url:http://HOST:PORT`, `board:SERIAL_PORT`, `labgrid:PLACE`, \
     `labgrid:tag=KEY=VALUE` or `qemu:ELF`"
)]
pub struct BadTarget(String);

impl FromStr for TargetSpec {
    type Err = BadTarget;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sim" => Ok(TargetSpec::Sim),
            _ if s.starts_with("qemu:") && s.len() > "qemu:".len() => {
                Ok(TargetSpec::Qemu(QemuSpec::new(&s["qemu:".len()..]), Endpoint::new("", None)))
            }
            _ if s.starts_with("labgrid:") => match Want::parse(&s["labgrid:".len()..]) {
                Some(want) => Ok(TargetSpec::Labgrid(Arc::new(Place::new(want)), Endpoint::new("", None))),
                None => Err(BadTarget(s.to_string())),
            },
            _ if s.starts_with("board:") && s.len() > "board:".len() => {
                Ok(TargetSpec::Board(Arc::new(Board::new(&s["board:".len()..], DEFAULT_BAUD)), Endpoint::new("", None)))
            }
            _ => match s.strip_prefix("url:") {
                Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                    Ok(TargetSpec::Url(Endpoint::new(url.trim_end_matches('/'), None)))
                }
                _ => Err(BadTarget(s.to_string())),
            },
        }
    }
}

impl fmt::Display for TargetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetSpec::Sim => write!(f, "sim"),
            TargetSpec::Url(e) => write!(f, "url:{}", e.base),
            TargetSpec::Board(b, _) => write!(f, "board:{}", b.port),
            TargetSpec::Labgrid(p, _) => write!(f, "labgrid:{}", p.want),
            TargetSpec::Qemu(q, _) => write!(f, "qemu:{}", q.elf.display()),
            TargetSpec::Custom(c) => write!(f, "{}", c.0.name()),
        }
    }
}

/// A target could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open target {target}: {message}")]
pub struct TargetError {
    /// The `--target` value.
    pub target: String,
    /// Why.
    pub message: String,
    /// The target cannot give what the scenario needs (TLS, a token, fault
    /// plans, connection limits): the scenario is skipped, not failed.
    pub unmet: bool,
    /// The target has gone (a board's port vanished): it is retired.
    pub gone: bool,
}

impl TargetSpec {
    /// Gives a `url:` target its token and CA file (`--token`, `--ca`).
    pub fn with_credentials(self, token: Option<String>, ca_file: Option<std::path::PathBuf>) -> Self {
        match self {
            TargetSpec::Url(e) => TargetSpec::Url(Endpoint { token, ca_file, ..e }),
            TargetSpec::Board(b, e) => TargetSpec::Board(b, Endpoint { token, ca_file, ..e }),
            TargetSpec::Labgrid(p, e) => TargetSpec::Labgrid(p, Endpoint { token, ca_file, ..e }),
            TargetSpec::Qemu(q, e) => TargetSpec::Qemu(q, Endpoint { token, ca_file, ..e }),
            other => other,
        }
    }

    /// Sets a `qemu:` target's QEMU binary (`--qemu`; `None`: from `PATH`)
    /// and whether it counts instructions exactly (`--icount`).
    pub fn with_qemu(self, binary: Option<std::path::PathBuf>, icount: bool) -> Self {
        match self {
            TargetSpec::Qemu(q, e) => TargetSpec::Qemu(QemuSpec { binary, icount, ..q }, e),
            other => other,
        }
    }

    /// Whether each scenario gets a fresh cam of its own (the simulator,
    /// the emulated board), so that `--jobs N` runs N at once.
    pub fn fresh_per_scenario(&self) -> bool {
        matches!(self, TargetSpec::Sim | TargetSpec::Qemu(..))
    }

    /// Sets a board target's baud rate (`--baud`) and the firmware to flash
    /// first (`--flash`).
    pub fn with_board(self, baud: u32, flash: Option<std::path::PathBuf>) -> Self {
        match self {
            TargetSpec::Board(b, e) => {
                TargetSpec::Board(Arc::new(Board::new(b.port.clone(), baud).with_flash(flash)), e)
            }
            other => other,
        }
    }

    /// Puts a `labgrid:` target in `lab` (`--coordinator`,
    /// `--labgrid-client`, `--identity`, or labgrid's environment).
    pub fn with_lab(self, lab: &Lab) -> Self {
        match self {
            TargetSpec::Labgrid(p, e) => {
                TargetSpec::Labgrid(Arc::new(Place::new(p.want.clone()).in_lab(lab.clone())), e)
            }
            other => other,
        }
    }

    /// Whether this is a `labgrid:` target.
    pub fn is_labgrid(&self) -> bool {
        matches!(self, TargetSpec::Labgrid(..))
    }

    /// Ends what the run holds: releases a labgrid place and cancels its
    /// reservation. Every run ends with it, passing, failing or stopped.
    pub async fn release(&self) {
        if let TargetSpec::Labgrid(p, _) = self {
            p.release().await;
        }
    }

    /// What this target serves.
    pub fn serves(&self) -> Serves {
        match self {
            TargetSpec::Sim => Serves {
                tls: true,
                plain_http: true,
                token: true,
                console: true,
                storage: true,
                reset: true,
                faults: true,
                connection_limits: false,
            },
            TargetSpec::Url(e) => Serves {
                tls: e.base.starts_with("https://"),
                plain_http: e.base.starts_with("http://"),
                token: e.token.is_some(),
                faults: true,
                connection_limits: true,
                ..Serves::default()
            },
            TargetSpec::Board(_, e) | TargetSpec::Labgrid(_, e) | TargetSpec::Qemu(_, e) => Serves {
                token: e.token.is_some(),
                plain_http: true,
                console: true,
                reset: true,
                faults: true,
                connection_limits: true,
                ..Serves::default()
            },
            TargetSpec::Custom(c) => c.0.serves(),
        }
    }

    /// Opens the target for one scenario, meeting its [`Needs`]: a
    /// simulator starts with what the scenario asks (keep-alive, token,
    /// TLS, console, fault plan); other targets are as they are.
    ///
    /// # Errors
    /// A [`TargetError`] with `unmet` set when the target does not serve
    /// what the scenario needs ([`Serves::unmet`]); otherwise the target
    /// cannot be opened (no loopback port, QEMU missing, the board silent).
    pub async fn open(&self, needs: &Needs) -> Result<Box<dyn Target>, TargetError> {
        let fail = |message: String| TargetError { target: self.to_string(), message, unmet: false, gone: false };
        if let Some(why) = self.serves().unmet(needs, &self.to_string()) {
            return Err(TargetError { unmet: true, ..fail(why) });
        }
        match self {
            #[cfg(feature = "sim")]
            TargetSpec::Sim => sim::open(needs).await.map_err(fail),
            #[cfg(not(feature = "sim"))]
            TargetSpec::Sim => {
                Err(fail("this cam-hil was built without the simulator target (cargo feature `sim`)".into()))
            }
            TargetSpec::Url(endpoint) => Ok(Box::new(UrlTarget { endpoint: endpoint.clone() })),
            TargetSpec::Qemu(spec, creds) => {
                let listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
                let (machine, session) = Machine::boot(spec, listen).await.map_err(fail)?;
                let endpoint = Endpoint { base: machine.url(), ..creds.clone() };
                let label = format!("qemu {} at {}", machine.addr, endpoint.base);
                Ok(Box::new(ConsoleTarget::new(machine, label, endpoint, session)))
            }
            TargetSpec::Board(board, creds) => {
                let session = board
                    .session(BOARD_BOOT_WAIT)
                    .await
                    .map_err(|m| TargetError { gone: board.vanished(), ..fail(m) })?;
                let endpoint = Endpoint { base: session.url.trim_end_matches('/').to_string(), ..creds.clone() };
                let label = format!("board {} at {}", board.port, endpoint.base);
                Ok(Box::new(ConsoleTarget::new(board.clone(), label, endpoint, session)))
            }
            TargetSpec::Labgrid(place, creds) => {
                let session = place
                    .session(BOARD_BOOT_WAIT)
                    .await
                    .map_err(|m| TargetError { gone: place.vanished(), ..fail(m) })?;
                let base = place.cam_url().unwrap_or(session.url.clone());
                let endpoint = Endpoint { base: base.trim_end_matches('/').to_string(), ..creds.clone() };
                let label = format!("{} at {}", place.describe(), endpoint.base);
                Ok(Box::new(ConsoleTarget::new(place.clone(), label, endpoint, session)))
            }
            TargetSpec::Custom(c) => c.0.open(needs).await,
        }
    }
}

impl TargetSpec {
    /// Checks that a cam at a URL accepts TCP connections (within 5 s), and
    /// that a board's port opens and its console names the cam's address,
    /// so a run against an unreachable cam stops before it starts. The
    /// simulator target always passes.
    ///
    /// # Errors
    /// What went wrong, naming the address.
    pub async fn probe(&self) -> Result<(), String> {
        if let TargetSpec::Board(board, _) = self {
            return board.session(BOARD_BOOT_WAIT).await.map(|_| ());
        }
        if let TargetSpec::Labgrid(place, _) = self {
            return place.session(BOARD_BOOT_WAIT).await.map(|_| ());
        }
        if let TargetSpec::Qemu(spec, _) = self {
            return spec.check();
        }
        let TargetSpec::Url(endpoint) = self else { return Ok(()) };
        let rest = endpoint.base.split_once("://").map_or(endpoint.base.as_str(), |(_, r)| r);
        let authority = rest.split('/').next().unwrap_or(rest);
        let default_port = if endpoint.base.starts_with("https://") { 443 } else { 80 };
        let addr = if authority.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
            authority.to_string()
        } else {
            format!("{authority}:{default_port}")
        };
        match tokio::time::timeout(std::time::Duration::from_secs(5), tokio::net::TcpStream::connect(&addr)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("target {} unreachable: {addr}: {e}", endpoint.base)),
            Err(_) => Err(format!("target {} unreachable: {addr}: no answer within 5 s", endpoint.base)),
        }
    }
}

/// A cam with a serial console: a board (`held` is its [`Board`]) or the
/// emulated board (`held` is its [`Machine`], whose QEMU stops when the
/// target is dropped); a cam at the URL its console printed.
pub(crate) struct ConsoleTarget<H> {
    _held: H,
    label: String,
    endpoint: Endpoint,
    console: std::sync::Mutex<Option<ConsoleTap>>,
}

impl<H> ConsoleTarget<H> {
    pub(crate) fn new(held: H, label: String, endpoint: Endpoint, session: crate::board::Session) -> Self {
        let tap = ConsoleTap { lines: session.lines, boot_end: session.boot_end };
        Self { _held: held, label, endpoint, console: std::sync::Mutex::new(Some(tap)) }
    }
}

impl<H: ResetLine> Target for ConsoleTarget<H> {
    fn reset(&self) -> Resetting<'_> {
        self._held.reset()
    }

    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn read_file(&self, _cam_path: &str) -> Result<Option<Vec<u8>>, String> {
        Ok(None)
    }

    fn describe(&self) -> String {
        self.label.clone()
    }

    fn take_console(&self) -> Option<ConsoleTap> {
        self.console.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// A cam at a URL: the harness only talks to it over the network.
struct UrlTarget {
    endpoint: Endpoint,
}

impl Target for UrlTarget {
    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn read_file(&self, _cam_path: &str) -> Result<Option<Vec<u8>>, String> {
        Ok(None)
    }

    fn describe(&self) -> String {
        format!("url {}", self.endpoint.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_skips_what_it_does_not_serve_naming_it() {
        let https: TargetSpec = "url:https://192.0.2.7".parse().unwrap();
        let raw = Needs { plain_http: true, ..Needs::default() };
        let why = https.serves().unmet(&raw, "url:https://192.0.2.7").expect("raw HTTP cannot reach https://");
        assert!(why.contains("bad_input"), "{why}");
        let http: TargetSpec = "url:http://192.0.2.7".parse().unwrap();
        assert_eq!(http.serves().unmet(&raw, "url"), None);
        let reset = Needs { reset: true, ..Needs::default() };
        assert!(http.serves().unmet(&reset, "url").is_some_and(|w| w.contains("cannot be reset")));
        assert_eq!(TargetSpec::Sim.serves().unmet(&reset, "sim"), None);
    }

    #[test]
    fn parses_targets() {
        assert_eq!("sim".parse::<TargetSpec>().unwrap(), TargetSpec::Sim);
        let TargetSpec::Url(e) = "url:http://127.0.0.1:8080/".parse().unwrap() else { panic!() };
        assert_eq!(e.url("/events"), "http://127.0.0.1:8080/events");
        assert_eq!(e.ws_url("/control"), "ws://127.0.0.1:8080/control");
        assert!("board".parse::<TargetSpec>().is_err());
        let TargetSpec::Qemu(q, _) = "qemu:target/firmware/cam-fw-qemu.elf".parse().unwrap() else { panic!() };
        assert_eq!(q.elf, std::path::Path::new("target/firmware/cam-fw-qemu.elf"));
        assert!("qemu:".parse::<TargetSpec>().is_err());
        assert!("url:ftp://x".parse::<TargetSpec>().is_err());
    }
}
