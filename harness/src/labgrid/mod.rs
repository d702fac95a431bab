//! labgrid places as targets (`--target labgrid:PLACE`,
//! `--target labgrid:tag=board=esp32c3`): a board on another host, reserved
//! and locked through a labgrid coordinator, its console read over RFC 2217
//! from the exporter's ser2net (`docs/labs.md`).
//!
//! - [`Lab`]: where the coordinator is, the `labgrid-client` to run, and the
//!   identity (`host/user`) locks are taken under. The harness shells out to
//!   `labgrid-client`, labgrid's stable interface.
//! - [`Place`]: one `labgrid:` target. On first use it reserves (waiting in
//!   the coordinator's queue, whose state it prints), acquires, reads the
//!   place's resources (`labgrid-client env`, YAML), and opens the console
//!   ([`rfc2217`]), which stays open across resets: ser2net drops what the
//!   board prints while no client is connected.
//! - Never a stale lock: [`Place::release`] runs at the end of every run
//!   (passing, failing, Ctrl-C, SIGTERM). A run killed with SIGKILL leaves
//!   its lock; the next run under the same identity finds the place
//!   acquired by it, sees from the record it left (a file naming the pid)
//!   that the run is dead, and takes the place back.

pub mod rfc2217;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::board::{AtEnd, Console, Session};

/// How long one `labgrid-client` call may take (each takes 0.5–1 s).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a run waiting in the queue looks for places its own identity
/// left locked.
const STALE_CHECK: Duration = Duration::from_secs(5);
/// How often a run checks that its place is still acquired by it.
pub const RECHECK: Duration = Duration::from_secs(60);
/// How long a run waits in the coordinator's queue for a place.
pub const QUEUE_WAIT: Duration = Duration::from_secs(3600);

/// A labgrid lab as the harness reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lab {
    /// The `labgrid-client` executable.
    pub client: PathBuf,
    /// The coordinator, `HOST:PORT`.
    pub coordinator: String,
    /// Who takes locks: `host/user` (`LG_HOSTNAME`, `LG_USERNAME`).
    pub identity: String,
}

impl Lab {
    /// The lab from the flags, else labgrid's own environment: the
    /// coordinator from `--coordinator` or `LG_COORDINATOR`, the client from
    /// `--labgrid-client` or `PATH`, the identity from `--identity` or
    /// `LG_HOSTNAME`/`LG_USERNAME` (else this host and user).
    ///
    /// # Errors
    /// The coordinator or the client is missing, saying what to set or
    /// install.
    pub fn resolve(
        client: Option<PathBuf>,
        coordinator: Option<String>,
        identity: Option<String>,
    ) -> Result<Self, String> {
        let coordinator = coordinator.or_else(|| std::env::var("LG_COORDINATOR").ok()).ok_or(
            "no labgrid coordinator: set LG_COORDINATOR=HOST:PORT (labgrid's own variable) or pass --coordinator HOST:PORT",
        )?;
        let client = match client {
            Some(c) => c,
            None => find_in_path("labgrid-client").ok_or(
                "labgrid-client not found in PATH: install labgrid (`python3 -m venv lg && lg/bin/pip install labgrid`) \
                 and put its bin on PATH, or pass --labgrid-client PATH",
            )?,
        };
        let identity = identity.unwrap_or_else(|| {
            let host = std::env::var("LG_HOSTNAME").ok().unwrap_or_else(hostname);
            let user =
                std::env::var("LG_USERNAME").ok().or_else(|| std::env::var("USER").ok()).unwrap_or("cam-hil".into());
            format!("{host}/{user}")
        });
        if !identity.contains('/') {
            return Err(format!("labgrid identity {identity:?} is not HOST/USER"));
        }
        Ok(Self { client, coordinator, identity })
    }

    /// Runs `labgrid-client ARGS` under this lab's coordinator and identity
    /// (and reservation `token`), returning its standard output.
    ///
    /// # Errors
    /// It cannot start, takes longer than `wait`, or fails: its last error
    /// line.
    async fn call(&self, args: &[&str], token: Option<&str>, wait: Duration) -> Result<String, String> {
        let mut cmd = self.command(args, token);
        let what = format!("labgrid-client {}", args.join(" "));
        let out = tokio::time::timeout(wait, cmd.output())
            .await
            .map_err(|_| format!("{what}: no answer within {} s", wait.as_secs()))?
            .map_err(|e| format!("{what}: cannot run {}: {e}", self.client.display()))?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message").trim();
        Err(format!("{what}: {last}"))
    }

    /// `labgrid-client ARGS` under this lab's coordinator and identity (and
    /// reservation `token`), killed if dropped.
    fn command(&self, args: &[&str], token: Option<&str>) -> tokio::process::Command {
        let (host, user) = self.identity.split_once('/').unwrap_or((&self.identity, ""));
        let mut cmd = tokio::process::Command::new(&self.client);
        cmd.args(args)
            .env("LG_COORDINATOR", &self.coordinator)
            .env("LG_HOSTNAME", host)
            .env("LG_USERNAME", user)
            .env_remove("LG_PLACE")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        match token {
            Some(t) => cmd.env("LG_TOKEN", t),
            None => cmd.env_remove("LG_TOKEN"),
        };
        cmd
    }

    /// Who holds each acquired place: `(place, host/user)`, from
    /// `labgrid-client who`.
    async fn holders(&self) -> Result<Vec<(String, String)>, String> {
        let out = self.call(&["who"], None, CALL_TIMEOUT).await?;
        Ok(parse_who(&out))
    }

    /// Releases `place` if this lab's identity holds it (`release-from`,
    /// atomic), for `cam-hil labgrid release` and stale locks.
    ///
    /// # Errors
    /// The coordinator refuses (another identity holds it).
    pub async fn release_from(&self, place: &str) -> Result<(), String> {
        self.call(&["-p", place, "release-from", &self.identity], None, CALL_TIMEOUT).await.map(|_| ())?;
        let _ = std::fs::remove_file(record_path(&self.identity, place));
        Ok(())
    }
}

/// `(place, host/user)` rows of `labgrid-client who` (columns User, Host,
/// Place, Changed).
fn parse_who(out: &str) -> Vec<(String, String)> {
    out.lines()
        .skip(1)
        .filter_map(|l| {
            let mut cols = l.split_whitespace();
            let (user, host, place) = (cols.next()?, cols.next()?, cols.next()?);
            Some((place.to_string(), format!("{host}/{user}")))
        })
        .collect()
}

/// `name` found on `PATH`.
fn find_in_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|f| f.is_file()))
}

/// This host's name (`/etc/hostname`), or `localhost`.
fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|s| s.trim().to_string()).unwrap_or_else(|_| "localhost".into())
}

/// Where a run records that it holds `place` under `identity`: a file
/// holding its pid, so a later run can tell a dead holder from a live one.
fn record_path(identity: &str, place: &str) -> PathBuf {
    let safe =
        |s: &str| s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect::<String>();
    std::env::temp_dir().join("cam-hil-labgrid").join(format!("{}--{}", safe(identity), safe(place)))
}

/// Whether the run recorded at `path` is gone: no record, or its pid is no
/// longer a process on this host.
fn holder_is_dead(path: &Path) -> bool {
    let Some(pid) = std::fs::read_to_string(path).ok().and_then(|s| s.trim().parse::<i32>().ok()) else {
        return true;
    };
    if pid == std::process::id() as i32 {
        return false;
    }
    // SAFETY: kill with signal 0 only checks that the process exists.
    let alive =
        unsafe { libc::kill(pid, 0) } == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    !alive
}

/// Which place a `labgrid:` target wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Want {
    /// A place by name (`labgrid:PLACE`).
    Named(String),
    /// Any free place with these tags (`labgrid:tag=board=esp32c3,lab=2`).
    Tagged(Vec<(String, String)>),
}

impl Want {
    /// Reads the text after `labgrid:`. `None` when it is empty or a tag
    /// is not `KEY=VALUE`.
    pub fn parse(s: &str) -> Option<Self> {
        if let Some(tags) = s.strip_prefix("tag=") {
            let tags: Option<Vec<(String, String)>> = tags
                .split(',')
                .map(|kv| kv.split_once('=').filter(|(k, v)| !k.is_empty() && !v.is_empty()))
                .map(|kv| kv.map(|(k, v)| (k.to_string(), v.to_string())))
                .collect();
            return tags.filter(|t| !t.is_empty()).map(Want::Tagged);
        }
        (!s.is_empty() && !s.contains(['=', ' '])).then(|| Want::Named(s.to_string()))
    }

    /// The reservation filter: `name=PLACE`, or the tags.
    fn filters(&self) -> Vec<String> {
        match self {
            Want::Named(n) => vec![format!("name={n}")],
            Want::Tagged(t) => t.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        }
    }
}

impl std::fmt::Display for Want {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Want::Named(n) => write!(f, "{n}"),
            Want::Tagged(_) => write!(f, "tag={}", self.filters().join(",")),
        }
    }
}

/// What a place's `labgrid-client env` says: its serial port over the
/// network, whether it has a power port, and where the cam is reached when
/// that is not the address its console prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceEnv {
    /// The exporter's ser2net: `host:port`.
    pub serial: String,
    /// Its baud rate.
    pub speed: u32,
    /// Whether the place has a power port (`labgrid-client power`).
    pub power: bool,
    /// `http://ADDRESS:PORT` from a `NetworkService` resource: where the
    /// cam is reached when the address its console prints is not reachable
    /// from here (an emulated board's guest address behind user-mode
    /// networking, a board behind NAT). `None`: the console's address.
    pub cam_url: Option<String>,
}

impl PlaceEnv {
    /// Reads `labgrid-client env` output (YAML: `targets: NAME: resources:
    /// [ {NetworkSerialPort: {host, port, speed}}, … ]`).
    ///
    /// # Errors
    /// Not that YAML, or no `NetworkSerialPort` with a port (the place is
    /// not acquired, or has no serial port).
    pub fn parse(yaml: &str) -> Result<Self, String> {
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).map_err(|e| format!("labgrid env: {e}"))?;
        let resources = doc
            .get("targets")
            .and_then(|t| t.as_mapping())
            .and_then(|m| m.values().next())
            .and_then(|t| t.get("resources"))
            .and_then(|r| r.as_sequence())
            .ok_or("labgrid env: no `targets: …: resources:` list")?;
        let mut serial = None;
        let mut power = false;
        let mut cam_url = None;
        for r in resources {
            let Some((kind, params)) = r.as_mapping().and_then(|m| m.iter().next()) else { continue };
            let kind = kind.as_str().unwrap_or_default();
            if kind == "NetworkSerialPort" && serial.is_none() {
                let host =
                    params.get("host").and_then(|h| h.as_str()).ok_or("labgrid env: NetworkSerialPort without host")?;
                let port = params.get("port").and_then(|p| p.as_u64()).ok_or(
                    "labgrid env: NetworkSerialPort without a port (is the place acquired? the exporter starts ser2net on acquire)",
                )?;
                let speed = params.get("speed").and_then(|s| s.as_u64()).unwrap_or(115_200);
                serial = Some((format!("{host}:{port}"), u32::try_from(speed).unwrap_or(115_200)));
            }
            power |= kind.contains("PowerPort") || kind.contains("PDU");
            if kind == "NetworkService" {
                let address = params.get("address").and_then(|a| a.as_str());
                let port = params.get("port").and_then(|p| p.as_u64());
                if let (Some(address), Some(port)) = (address, port) {
                    cam_url = Some(format!("http://{address}:{port}"));
                }
            }
        }
        let (serial, speed) = serial.ok_or("labgrid env: the place has no NetworkSerialPort (its console)")?;
        Ok(Self { serial, speed, power, cam_url })
    }
}

/// A place this run holds.
struct Held {
    name: String,
    token: String,
    env: PlaceEnv,
    console: Console,
    control: Arc<Mutex<rfc2217::Control>>,
}

/// One `labgrid:` target: a place, reserved and acquired on first use,
/// released by [`Place::release`].
#[derive(Debug)]
pub struct Place {
    /// Which place.
    pub want: Want,
    lab: Option<Lab>,
    held: tokio::sync::Mutex<Option<Held>>,
    /// The place and reservation acquired, from the moment of acquiring:
    /// a run stopped while it was still opening the console releases it
    /// too.
    acquired: Mutex<Option<(String, String)>>,
    /// When the place was last seen acquired by this run's identity.
    checked: Mutex<Option<std::time::Instant>>,
    /// Set once released, so nothing acquires it again in this run.
    done: std::sync::atomic::AtomicBool,
    /// Set when the place was found no longer ours.
    lost: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Held({}, {})", self.name, self.env.serial)
    }
}

impl PartialEq for Place {
    fn eq(&self, other: &Self) -> bool {
        self.want == other.want
    }
}
impl Eq for Place {}

impl Place {
    /// A place wanted as `want`, in no lab yet ([`Place::in_lab`]).
    pub fn new(want: Want) -> Self {
        Self {
            want,
            lab: None,
            held: tokio::sync::Mutex::new(None),
            acquired: Mutex::new(None),
            checked: Mutex::new(None),
            done: Default::default(),
            lost: Default::default(),
        }
    }

    /// The same place, in `lab`.
    pub fn in_lab(self, lab: Lab) -> Self {
        Self { lab: Some(lab), ..self }
    }

    /// The lab, or why there is none.
    fn lab(&self) -> Result<&Lab, String> {
        self.lab.as_ref().ok_or_else(|| "no labgrid lab: set LG_COORDINATOR or pass --coordinator".into())
    }

    /// Reserves, acquires and opens the place on first use, then waits up
    /// to `wait` for the cam's address; the session sees console lines from
    /// now on.
    ///
    /// # Errors
    /// The lab cannot be reached, the place cannot be had, its console
    /// cannot be opened or names no address in time.
    pub async fn session(&self, wait: Duration) -> Result<Session, String> {
        let console = {
            let mut held = self.held.lock().await;
            if held.is_none() {
                if self.done.load(std::sync::atomic::Ordering::SeqCst) {
                    return Err(format!("labgrid place {} was released", self.want));
                }
                *held = Some(self.take().await?);
                *self.checked.lock().unwrap_or_else(|p| p.into_inner()) = Some(std::time::Instant::now());
            }
            held.as_ref().expect("just set").console.clone()
        };
        self.still_ours().await?;
        console.session(wait).await
    }

    /// Checks, at most every [`RECHECK`], that the coordinator still has the
    /// place acquired by this run's identity: a coordinator restart drops
    /// acquisitions, and another identity may have taken the place.
    ///
    /// # Errors
    /// It is no longer ours; the place is then retired.
    async fn still_ours(&self) -> Result<(), String> {
        let due = self.checked.lock().unwrap_or_else(|p| p.into_inner()).is_none_or(|t| t.elapsed() >= RECHECK);
        let Some((name, _)) = self.acquired.lock().unwrap_or_else(|p| p.into_inner()).clone() else { return Ok(()) };
        if !due {
            return Ok(());
        }
        let lab = self.lab()?;
        let holders = lab.holders().await?;
        let holder = holders.iter().find(|(p, _)| *p == name).map(|(_, who)| who.as_str());
        if holder != Some(lab.identity.as_str()) {
            self.lost.store(true, std::sync::atomic::Ordering::SeqCst);
            return Err(format!(
                "labgrid place {name} is no longer acquired by {} (now: {}); a coordinator restart drops acquisitions",
                lab.identity,
                holder.unwrap_or("nobody")
            ));
        }
        *self.checked.lock().unwrap_or_else(|p| p.into_inner()) = Some(std::time::Instant::now());
        Ok(())
    }

    /// Reserves (waiting in the queue), takes back a place its own identity
    /// left locked, acquires, reads the env and opens the console.
    async fn take(&self) -> Result<Held, String> {
        let lab = self.lab()?;
        let filters = self.want.filters();
        let mut args = vec!["reserve", "--shell"];
        args.extend(filters.iter().map(String::as_str));
        let out = lab.call(&args, None, CALL_TIMEOUT).await?;
        let token = out
            .lines()
            .find_map(|l| l.trim().strip_prefix("export LG_TOKEN="))
            .map(str::to_string)
            .ok_or_else(|| format!("labgrid-client reserve printed no token: {out:?}"))?;
        eprintln!("cam-hil: labgrid: reservation {token} for {} under {}", filters.join(" "), lab.identity);
        let name = match self.wait_allocated(lab, &token).await {
            Ok(n) => n,
            Err(e) => {
                let _ = lab.call(&["cancel-reservation", &token], None, CALL_TIMEOUT).await;
                return Err(e);
            }
        };
        let acquired = lab.call(&["-p", "+", "acquire"], Some(&token), CALL_TIMEOUT).await;
        if let Err(e) = acquired {
            let _ = lab.call(&["cancel-reservation", &token], None, CALL_TIMEOUT).await;
            return Err(e);
        }
        *self.acquired.lock().unwrap_or_else(|p| p.into_inner()) = Some((name.clone(), token.clone()));
        let record = record_path(&lab.identity, &name);
        if let Some(dir) = record.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(&record, std::process::id().to_string());
        eprintln!("cam-hil: labgrid: acquired place {name}");
        let opened = async {
            let env = PlaceEnv::parse(&lab.call(&["-p", &name, "env"], Some(&token), CALL_TIMEOUT).await?)?;
            let (serial, speed) = (env.serial.clone(), env.speed);
            let (reader, control) =
                tokio::task::spawn_blocking(move || rfc2217::connect(&serial, speed, Duration::from_secs(10)))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| format!("labgrid place {name}: console {}: {e}", env.serial))?;
            let console = Console::spawn(format!("labgrid {name} ({})", env.serial), reader, AtEnd::Gone)?;
            let held =
                Held { name: name.clone(), token: token.clone(), env, console, control: Arc::new(Mutex::new(control)) };
            // What the board printed before the console was open is gone
            // (ser2net reads the port only while a client is connected):
            // reset it to read its boot log and its address.
            reset_held(lab, &held).await?;
            Ok::<_, String>(held)
        };
        match opened.await {
            Ok(held) => Ok(held),
            Err(e) => {
                self.acquired.lock().unwrap_or_else(|p| p.into_inner()).take();
                release_held(lab, &name, &token).await;
                Err(e)
            }
        }
    }

    /// Waits for reservation `token` to be allocated (`labgrid-client wait`,
    /// which keeps it alive by polling), printing the queue's state when it
    /// changes and taking back places its own identity holds from a dead
    /// run; returns the place's name.
    async fn wait_allocated(&self, lab: &Lab, token: &str) -> Result<String, String> {
        use tokio::io::AsyncBufReadExt;
        // Its error lines are not read: the reservation's state, read after,
        // says what happened.
        let mut child = lab
            .command(&["wait", token], None)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {} wait: {e}", lab.client.display()))?;
        let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("piped")).lines();
        let deadline = tokio::time::sleep(QUEUE_WAIT);
        tokio::pin!(deadline);
        // Stale locks are looked for now and then while waiting.
        let mut stale_check = tokio::time::interval(STALE_CHECK);
        let mut last_state = String::new();
        loop {
            tokio::select! {
                line = lines.next_line() => match line {
                    Ok(Some(line)) => {
                        let Some(state) = line.trim().strip_prefix("state: ") else { continue };
                        if state != last_state {
                            let holders = lab.holders().await.unwrap_or_default();
                            let held: Vec<String> = holders.iter().map(|(p, who)| format!("{p} by {who}")).collect();
                            let held = if held.is_empty() { "none".to_string() } else { held.join(", ") };
                            eprintln!("cam-hil: labgrid: reservation {token} {state}; places acquired: {held}");
                            last_state = state.to_string();
                        }
                    }
                    // `wait` ended: allocated, or failed.
                    Ok(None) | Err(_) => break,
                },
                _ = stale_check.tick() => {
                    for (place, who) in lab.holders().await.unwrap_or_default() {
                        if who == lab.identity && self.could_be(&place) && holder_is_dead(&record_path(&lab.identity, &place)) {
                            eprintln!(
                                "cam-hil: labgrid: place {place} is still locked by {who} from a run that is gone: taking it back"
                            );
                            lab.release_from(&place).await?;
                        }
                    }
                }
                () = &mut deadline => {
                    return Err(format!("labgrid: no place for reservation {token} within {} s", QUEUE_WAIT.as_secs()));
                }
            }
        }
        let status = child.wait().await.map_err(|e| format!("labgrid-client wait: {e}"))?;
        let out = lab.call(&["reservations"], None, CALL_TIMEOUT).await?;
        match reservation_block(&out, token).as_deref().and_then(allocated_place) {
            Some(place) => Ok(place),
            None => Err(format!("labgrid: reservation {token} was not allocated (labgrid-client wait: {status})")),
        }
    }

    /// Whether `place` could be the one this target wants (a named place:
    /// only that one; tags: any, the coordinator matches them).
    fn could_be(&self, place: &str) -> bool {
        match &self.want {
            Want::Named(n) => n == place,
            Want::Tagged(_) => true,
        }
    }

    /// Resets the board: `labgrid-client power cycle` when the place has a
    /// power port, else DTR/RTS over RFC 2217 with the classic
    /// ESP32 sequence (EN low through RTS for 100 ms, IO0 high).
    ///
    /// # Errors
    /// The place is not held, or the reset fails.
    pub async fn reset(&self) -> Result<(), String> {
        let held = self.held.lock().await;
        let held = held.as_ref().ok_or("labgrid place not acquired")?;
        reset_held(self.lab()?, held).await
    }

    /// Whether the place's console has gone (the exporter or its port
    /// vanished, or the place was taken from us).
    pub fn vanished(&self) -> bool {
        self.lost.load(std::sync::atomic::Ordering::SeqCst)
            || match self.held.try_lock() {
                Ok(h) => h.as_ref().is_some_and(|h| h.console.is_gone()),
                Err(_) => false,
            }
    }

    /// Where the cam is reached, if the place says so (a `NetworkService`
    /// resource), rather than at the address its console prints.
    pub fn cam_url(&self) -> Option<String> {
        self.held.try_lock().ok().and_then(|h| h.as_ref().and_then(|h| h.env.cam_url.clone()))
    }

    /// The place's name and exporter host once held, for reports.
    pub fn describe(&self) -> String {
        match self.held.try_lock() {
            Ok(h) => match h.as_ref() {
                Some(h) => format!("labgrid place {} (serial {}, reservation {})", h.name, h.env.serial, h.token),
                None => format!("labgrid place {}", self.want),
            },
            Err(_) => format!("labgrid place {}", self.want),
        }
    }

    /// The whole console log so far.
    pub fn log(&self) -> Vec<String> {
        match self.held.try_lock() {
            Ok(h) => h.as_ref().map(|h| h.console.log()).unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    }

    /// Releases the place and cancels the reservation if this run holds
    /// them; nothing otherwise. Run at the end of every run.
    pub async fn release(&self) {
        self.done.store(true, std::sync::atomic::Ordering::SeqCst);
        // Its console closes with it.
        self.held.lock().await.take();
        let Some((name, token)) = self.acquired.lock().unwrap_or_else(|p| p.into_inner()).take() else { return };
        let Ok(lab) = self.lab() else { return };
        release_held(lab, &name, &token).await;
    }
}

/// Resets a held place's board: `labgrid-client power cycle` when it has a
/// power port, else DTR/RTS over RFC 2217 (see [`Place::reset`]).
async fn reset_held(lab: &Lab, held: &Held) -> Result<(), String> {
    if held.env.power {
        return lab.call(&["-p", &held.name, "power", "cycle"], Some(&held.token), CALL_TIMEOUT).await.map(|_| ());
    }
    let control = held.control.clone();
    tokio::task::spawn_blocking(move || {
        let mut c = control.lock().unwrap_or_else(|p| p.into_inner());
        c.set_lines(false, true)?;
        // The chip's reset pulse: a hardware timing, as espflash's.
        std::thread::sleep(Duration::from_millis(100));
        c.set_lines(false, false)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("reset over RFC 2217: {e}"))
}

/// Releases `place` (reservation `token`) and removes this run's record.
async fn release_held(lab: &Lab, place: &str, token: &str) {
    match lab.call(&["-p", place, "release"], Some(token), CALL_TIMEOUT).await {
        Ok(_) => eprintln!("cam-hil: labgrid: released place {place}"),
        Err(e) => eprintln!("cam-hil: labgrid: {e}"),
    }
    let _ = lab.call(&["cancel-reservation", token], None, CALL_TIMEOUT).await;
    let _ = std::fs::remove_file(record_path(&lab.identity, place));
}

/// The block of `labgrid-client reservations` output for `token`.
fn reservation_block(out: &str, token: &str) -> Option<String> {
    let start = out.find(&format!("Reservation '{token}'"))?;
    let rest = &out[start..];
    let end = rest[1..].find("Reservation '").map_or(rest.len(), |e| e + 1);
    Some(rest[..end].to_string())
}

/// A `key: value` line of a reservation block.
fn field(block: &str, key: &str) -> Option<String> {
    block.lines().find_map(|l| l.trim().strip_prefix(&format!("{key}: ")).map(|v| v.trim().to_string()))
}

/// The place allocated in a reservation block (`allocations: main: PLACE`).
fn allocated_place(block: &str) -> Option<String> {
    if field(block, "state").as_deref() != Some("allocated") {
        return None;
    }
    let after = block.split("allocations:").nth(1)?;
    after.lines().find_map(|l| l.trim().strip_prefix("main: ").map(|p| p.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wants_parse() {
        assert_eq!(Want::parse("cam1"), Some(Want::Named("cam1".into())));
        assert_eq!(
            Want::parse("tag=board=esp32c3,lab=2"),
            Some(Want::Tagged(vec![("board".into(), "esp32c3".into()), ("lab".into(), "2".into())]))
        );
        assert_eq!(Want::parse(""), None);
        assert_eq!(Want::parse("tag="), None);
        assert_eq!(Want::parse("tag=board"), None);
        assert_eq!(Want::Tagged(vec![("board".into(), "esp32c3".into())]).to_string(), "tag=board=esp32c3");
    }

    #[test]
    fn env_yaml_gives_the_console_and_the_power_port() {
        let yaml = "targets:\n  cam1:\n    resources:\n    - NetworkSerialPort:\n        name: RawSerialPort\n        speed: 115200\n        port: 51721\n        host: 127.0.0.1\n";
        let env = PlaceEnv::parse(yaml).unwrap();
        assert_eq!(env, PlaceEnv { serial: "127.0.0.1:51721".into(), speed: 115_200, power: false, cam_url: None });
        let forwarded = format!(
            "{yaml}    - NetworkService:\n        address: 127.0.0.1\n        port: 40123\n        username: cam\n"
        );
        assert_eq!(PlaceEnv::parse(&forwarded).unwrap().cam_url.as_deref(), Some("http://127.0.0.1:40123"));
        let with_power =
            format!("{yaml}    - NetworkPowerPort:\n        model: gude\n        host: pdu\n        index: 1\n");
        assert!(PlaceEnv::parse(&with_power).unwrap().power);
        let not_acquired = yaml.replace("port: 51721", "port: null");
        assert!(PlaceEnv::parse(&not_acquired).unwrap_err().contains("acquired"));
        assert!(PlaceEnv::parse("targets: [").unwrap_err().starts_with("labgrid env:"));
        assert!(
            PlaceEnv::parse("targets:\n  cam1:\n    resources: []\n").unwrap_err().contains("no NetworkSerialPort")
        );
    }

    #[test]
    fn reservations_and_holders_are_read() {
        let out = "Reservation 'AAA':\n  owner: ci/x\n  token: AAA\n  state: waiting\n  filters:\n    main: name=cam1\nReservation 'BBB':\n  owner: ci/y\n  token: BBB\n  state: allocated\n  filters:\n    main: board=esp32c3\n  allocations:\n    main: cam2\n";
        let a = reservation_block(out, "AAA").unwrap();
        assert_eq!(field(&a, "state").as_deref(), Some("waiting"));
        assert_eq!(allocated_place(&a), None);
        assert_eq!(allocated_place(&reservation_block(out, "BBB").unwrap()).as_deref(), Some("cam2"));
        assert_eq!(reservation_block(out, "CCC"), None);
        let who = "User    Host  Place  Changed                   \ncamhil  ci    cam1   2026-11-30 05:03:29.951777\n";
        assert_eq!(parse_who(who), [("cam1".to_string(), "ci/camhil".to_string())]);
    }

    #[test]
    fn a_holder_is_dead_without_a_record_or_a_process() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec");
        assert!(holder_is_dead(&path));
        std::fs::write(&path, std::process::id().to_string()).unwrap();
        assert!(!holder_is_dead(&path));
        // A child that has exited and been reaped: its pid is no process.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        std::fs::write(&path, pid.to_string()).unwrap();
        assert!(holder_is_dead(&path));
    }

    #[test]
    fn a_lab_without_a_coordinator_says_what_to_set() {
        // SAFETY-free: only reads; the variable is absent in tests unless a
        // lab is configured, in which case `--coordinator` wins anyway.
        if std::env::var("LG_COORDINATOR").is_err() {
            let e = Lab::resolve(Some("/bin/true".into()), None, None).unwrap_err();
            assert!(e.contains("LG_COORDINATOR") && e.contains("--coordinator"), "{e}");
        }
        let lab = Lab::resolve(Some("/bin/true".into()), Some("127.0.0.1:1".into()), Some("h/u".into())).unwrap();
        assert_eq!(lab.identity, "h/u");
        assert!(Lab::resolve(Some("/bin/true".into()), Some("x:1".into()), Some("nouser".into())).is_err());
    }
}
