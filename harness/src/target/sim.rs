//! The `sim` target: a fresh in-process simulator ([`cam_sim::Simulator`])
//! per scenario on an ephemeral loopback port, with its own snapshot
//! folder. This module is the harness's only use of the simulator crate
//! (cargo feature `sim`, on by default).

use cam_sim::{SimConfig, Simulator, TlsFiles};

use super::{ConsoleTap, DEFAULT_BAUD, Endpoint, Target};
use crate::board::Board;
use crate::scenario::Needs;

/// The token a simulator target requires when a scenario sets
/// `[config] auth = true`.
pub const SIM_TOKEN: &str = "camhil-sim-token";

/// Starts a simulator meeting `needs`: the scenario's keep-alive, SSE
/// `retry`, token ([`SIM_TOKEN`]), TLS (a fresh self-signed certificate the
/// harness trusts) and console (a pseudo-terminal). Faults are the
/// harness's own ([`crate::faults`]), as on any target.
///
/// # Errors
/// No temp folder, no loopback port, the console cannot be opened.
pub async fn open(needs: &Needs) -> Result<Box<dyn Target>, String> {
    open_with(SimConfig::default(), needs).await
}

/// [`open`] from `base` (a simulator with deliberate protocol breaks in
/// `base.faults`); the snapshot folder, token, keep-alive, `retry`, TLS and
/// console come from `needs`.
///
/// # Errors
/// As [`open`].
pub async fn open_with(base: SimConfig, needs: &Needs) -> Result<Box<dyn Target>, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("temp folder: {e}"))?;
    let token = needs.token.then(|| SIM_TOKEN.to_string());
    let mut config = SimConfig { snapshot_dir: dir.path().join("sdcard"), token: token.clone(), ..base };
    if let Some(k) = needs.keepalive {
        config.keepalive = k;
    }
    let mut ca_file = None;
    config.console_pty = needs.console;
    if let Some(ms) = needs.retry_ms {
        config.retry_ms = ms;
    }
    if needs.tls {
        let (cert, key) = crate::tls::self_signed(dir.path())?;
        ca_file = Some(cert.clone());
        config.tls = Some(TlsFiles { cert, key });
    }
    let sim = Simulator::start(config).await.map_err(|e| e.to_string())?;
    let endpoint = Endpoint { base: sim.url(), token, ca_file };
    let console = match sim.console_path() {
        Some(path) => {
            let board = Board::new(path.display().to_string(), DEFAULT_BAUD);
            let session = board.session(std::time::Duration::from_secs(5)).await?;
            Some(ConsoleTap { lines: session.lines, boot_end: session.boot_end })
        }
        None => None,
    };
    Ok(Box::new(SimTarget { sim, endpoint, _dir: dir, console: std::sync::Mutex::new(console) }))
}

/// An in-process simulator with its own snapshot folder (removed on drop).
struct SimTarget {
    sim: Simulator,
    endpoint: Endpoint,
    _dir: tempfile::TempDir,
    console: std::sync::Mutex<Option<ConsoleTap>>,
}

impl Target for SimTarget {
    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn read_file(&self, cam_path: &str) -> Result<Option<Vec<u8>>, String> {
        let path = self.sim.shared().storage().host_path(cam_path).map_err(|e| e.to_string())?;
        std::fs::read(&path).map(Some).map_err(|e| format!("{cam_path} ({}): {e}", path.display()))
    }

    fn describe(&self) -> String {
        format!("sim {}", self.sim.addr())
    }

    fn take_console(&self) -> Option<ConsoleTap> {
        self.console.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn reset(&self) -> super::Resetting<'_> {
        self.sim.reboot();
        Box::pin(async { Ok(()) })
    }
}
