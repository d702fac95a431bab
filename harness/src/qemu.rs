//! The emulated board: the firmware's `qemu-virt` build (`firmware/qemu-virt`)
//! booted on `qemu-system-riscv32 -machine virt`, so scenarios run the
//! firmware's own code without a board.
//!
//! One [`Machine`] is one QEMU process:
//! - the core is an IMC RISC-V like the ESP32-C3's (`-cpu rv32,a=off,…`);
//! - its UART is QEMU's standard output, read like a board's console
//!   ([`Console`]): panics, traps and resets fail the scenario with the lines
//!   around them, and QEMU exiting is a vanished board;
//! - user-mode networking forwards an ephemeral loopback port to the
//!   firmware's port 80 (`hostfwd=tcp:127.0.0.1:0-:80`); the port QEMU
//!   picked is read back over QMP (`info usernet`), so no port is guessed;
//! - virtio-rng gives the boot number.
//!
//! The process is killed when the [`Machine`] is dropped, and by the kernel
//! if the harness dies first (`PR_SET_PDEATHSIG`); Ctrl-C reaches it with
//! the terminal's process group.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::board::{AtEnd, Console, Session};

/// The QEMU binary looked up on `PATH` when `--qemu` is not given.
pub const QEMU_BINARY: &str = "qemu-system-riscv32";
/// The firmware's HTTP port inside the machine (`cam_fw_app::limits::PORT`).
pub const GUEST_PORT: u16 = 80;
/// How long the firmware may take from QEMU's start to its `listening on`
/// line (about 60 ms here; DHCP included).
pub const BOOT_WAIT: Duration = Duration::from_secs(20);

/// What to boot, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuSpec {
    /// The firmware ELF (`target/firmware/cam-fw-qemu.elf`).
    pub elf: PathBuf,
    /// `qemu-system-riscv32`, as given with `--qemu`; `None`: from `PATH`.
    pub binary: Option<PathBuf>,
    /// Run with `-icount shift=0`: one instruction per virtual nanosecond,
    /// so `mcycle`/`minstret` (the `cam-fw: cost` lines) count exact,
    /// repeatable instructions.
    pub icount: bool,
    /// Capture the board's network traffic, both ways, to this pcap file
    /// (QEMU's `filter-dump` on the user network; Wireshark, tcpdump -r).
    /// Time stamps are QEMU's virtual clock.
    pub pcap: Option<PathBuf>,
}

impl QemuSpec {
    /// `elf` on the QEMU found on `PATH`.
    pub fn new(elf: impl Into<PathBuf>) -> Self {
        Self { elf: elf.into(), binary: None, icount: false, pcap: None }
    }

    /// The QEMU binary: `--qemu` if given, else `qemu-system-riscv32` on
    /// `PATH`.
    ///
    /// # Errors
    /// Neither exists; the message says how to install it.
    pub fn qemu(&self) -> Result<PathBuf, String> {
        self.qemu_on(&std::env::var_os("PATH").unwrap_or_default())
    }

    /// [`Self::qemu`] with `path` for `PATH`.
    fn qemu_on(&self, path: &std::ffi::OsStr) -> Result<PathBuf, String> {
        if let Some(given) = &self.binary {
            return if given.is_file() {
                Ok(given.clone())
            } else {
                Err(format!("--qemu {}: no such file", given.display()))
            };
        }
        std::env::split_paths(path).map(|dir| dir.join(QEMU_BINARY)).find(|p| p.is_file()).ok_or_else(|| {
            format!(
                "{QEMU_BINARY} not found on PATH: install it (Debian/Ubuntu: `apt-get install qemu-system-misc`) \
                 or pass --qemu PATH"
            )
        })
    }

    /// Checks that QEMU and the ELF are there, so a run stops before it
    /// starts.
    ///
    /// # Errors
    /// What is missing.
    pub fn check(&self) -> Result<(), String> {
        self.qemu()?;
        if !self.elf.is_file() {
            return Err(format!(
                "{}: no such firmware ELF (build it with `bash ci/firmware-qemu.sh`, which leaves it at \
                 target/firmware/cam-fw-qemu.elf)",
                self.elf.display()
            ));
        }
        Ok(())
    }
}

/// A running QEMU with the firmware, its console read from boot on.
#[derive(Debug)]
pub struct Machine {
    child: Child,
    console: Console,
    /// The loopback address forwarded to the firmware's port 80.
    pub addr: SocketAddr,
    /// From QEMU's start to the firmware's `listening on` line (an emulator
    /// figure, not a device one).
    pub boot_time: Duration,
    qmp: PathBuf,
    _dir: tempfile::TempDir,
}

impl Machine {
    /// Boots the firmware with its port 80 forwarded from `listen` (port 0:
    /// any free port), waits for its `listening on` line, and reads back the
    /// forwarded port.
    ///
    /// # Errors
    /// QEMU is missing or cannot start, the firmware printed no `listening
    /// on` line within [`BOOT_WAIT`] (the message holds its console), or it
    /// listens on a port other than [`GUEST_PORT`].
    pub async fn boot(spec: &QemuSpec, listen: SocketAddr) -> Result<(Machine, Session), String> {
        spec.check()?;
        let qemu = spec.qemu()?;
        let dir = tempfile::Builder::new().prefix("cam-hil-qemu").tempdir().map_err(|e| format!("temp folder: {e}"))?;
        let qmp = dir.path().join("qmp.sock");
        let mut command = Command::new(&qemu);
        command.args(args(spec, &qmp, listen)).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        die_with_parent(&mut command);
        let started = std::time::Instant::now();
        let mut child = command.spawn().map_err(|e| format!("cannot start {}: {e}", qemu.display()))?;
        let stdout = child.stdout.take().expect("piped");
        let name = format!("qemu {}", spec.elf.display());
        let console = Console::spawn(name, stdout, AtEnd::Gone)?;
        let mut machine =
            Machine { child, console, addr: listen, boot_time: Duration::ZERO, qmp: qmp.clone(), _dir: dir };
        let session = match machine.console.session(BOOT_WAIT).await {
            Ok(s) => s,
            Err(e) => return Err(machine.failed(e)),
        };
        machine.boot_time = started.elapsed();
        let guest = session.url.rsplit(':').next().and_then(|p| p.trim_end_matches('/').parse::<u16>().ok());
        if guest != Some(GUEST_PORT) {
            return Err(machine.failed(format!(
                "the firmware listens on {}, but the qemu target forwards port {GUEST_PORT}",
                session.url
            )));
        }
        let port = tokio::task::spawn_blocking(move || forwarded_port(&qmp))
            .await
            .map_err(|e| format!("QMP: {e}"))?
            .map_err(|e| machine.failed(format!("QMP: {e}")))?;
        machine.addr = SocketAddr::new(listen.ip(), port);
        Ok((machine, session))
    }

    /// `http://127.0.0.1:<forwarded port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The console log so far.
    pub fn log(&self) -> Vec<String> {
        self.console.log()
    }

    /// Resets the emulated board, as its reset line would: QMP
    /// `system_reset`. The firmware boots again (its console prints its boot
    /// log up to a new `listening on` line) behind the same forwarded port.
    ///
    /// # Errors
    /// QMP cannot be reached or refuses.
    pub async fn reset(&self) -> Result<(), String> {
        let qmp = self.qmp.clone();
        tokio::task::spawn_blocking(move || qmp_execute(&qmp, r#"{"execute":"system_reset"}"#))
            .await
            .map_err(|e| format!("QMP: {e}"))?
            .map(|_| ())
    }

    /// QEMU's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for QEMU to end (Ctrl-C, or the firmware ending it after a
    /// panic or trap); its exit status.
    ///
    /// # Errors
    /// Waiting failed.
    pub fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        self.child.wait()
    }

    /// `why`, with QEMU's standard error and the console's last lines, and
    /// QEMU stopped.
    fn failed(&mut self, why: String) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut stderr = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
        }
        let log = self.console.log();
        let tail: Vec<String> = log.iter().rev().take(20).rev().map(|l| format!("  | {l}")).collect();
        let mut message = why;
        if !stderr.trim().is_empty() {
            message.push_str(&format!("\nQEMU said: {}", stderr.trim()));
        }
        if !tail.is_empty() {
            message.push_str(&format!("\nconsole:\n{}", tail.join("\n")));
        }
        message
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// QEMU's command line: the `virt` machine with an IMC core and the C3's
/// clock-independent limits left to the firmware, no display, the UART on
/// standard output, QMP on `qmp`, virtio-rng, and virtio-net on user-mode
/// networking with `listen` forwarded to the firmware's port.
pub fn args(spec: &QemuSpec, qmp: &Path, listen: SocketAddr) -> Vec<String> {
    let mut a: Vec<String> = [
        "-machine",
        "virt",
        "-cpu",
        "rv32,a=off,f=off,d=off,h=off",
        "-smp",
        "1",
        "-m",
        "128M",
        "-bios",
        "none",
        "-display",
        "none",
        "-serial",
        "stdio",
        "-monitor",
        "none",
        "-global",
        "virtio-mmio.force-legacy=false",
        "-device",
        "virtio-rng-device",
        "-device",
        "virtio-net-device,netdev=n0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.push("-netdev".into());
    a.push(format!("user,id=n0,hostfwd=tcp:{}:{}-:{GUEST_PORT}", listen.ip(), listen.port()));
    a.push("-qmp".into());
    a.push(format!("unix:{},server=on,wait=off", qmp.display()));
    if spec.icount {
        a.extend(["-icount".into(), "shift=0".into()]);
    }
    if let Some(pcap) = &spec.pcap {
        a.push("-object".into());
        // QEMU reads a comma in an option value as two.
        a.push(format!("filter-dump,id=pcap0,netdev=n0,file={}", pcap.display().to_string().replace(',', ",,")));
    }
    a.push("-kernel".into());
    a.push(spec.elf.display().to_string());
    a
}

/// Kills the child when the harness dies, however it dies.
fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork
    // and exec.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// The host port of the machine's one `hostfwd` rule, from QMP's
/// `human-monitor-command` `info usernet`.
///
/// # Errors
/// QMP cannot be reached or answers something else.
pub fn forwarded_port(qmp: &Path) -> Result<u16, String> {
    let answer =
        qmp_execute(qmp, r#"{"execute":"human-monitor-command","arguments":{"command-line":"info usernet"}}"#)?;
    let text = answer.get("return").and_then(|r| r.as_str()).ok_or_else(|| format!("unexpected answer {answer}"))?;
    parse_usernet(text).ok_or_else(|| format!("no host forwarding rule in:\n{text}"))
}

/// Runs one QMP command (a JSON object) on the socket at `qmp` and returns
/// QEMU's answer.
///
/// # Errors
/// QMP cannot be reached, closes, answers with an error, or is not JSON.
pub fn qmp_execute(qmp: &Path, command: &str) -> Result<serde_json::Value, String> {
    let stream = UnixStream::connect(qmp).map_err(|e| format!("{}: {e}", qmp.display()))?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    let mut writer = stream;
    let mut line = String::new();
    let mut next = |reader: &mut BufReader<UnixStream>| -> Result<serde_json::Value, String> {
        loop {
            line.clear();
            if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
                return Err("QMP closed".into());
            }
            let v: serde_json::Value = serde_json::from_str(&line).map_err(|e| format!("{e}: {line}"))?;
            // Asynchronous events are not answers.
            if v.get("event").is_none() {
                return Ok(v);
            }
        }
    };
    next(&mut reader)?; // greeting
    writeln!(writer, r#"{{"execute":"qmp_capabilities"}}"#).map_err(|e| e.to_string())?;
    next(&mut reader)?;
    writeln!(writer, "{command}").map_err(|e| e.to_string())?;
    let answer = next(&mut reader)?;
    if let Some(e) = answer.get("error") {
        return Err(format!("QMP refused {command}: {e}"));
    }
    Ok(answer)
}

/// The source port of the `TCP[HOST_FORWARD]` line of `info usernet`:
/// `  TCP[HOST_FORWARD]   8       127.0.0.1 42179       10.0.2.15    80     0     0`.
pub fn parse_usernet(text: &str) -> Option<u16> {
    text.lines().find(|l| l.trim_start().starts_with("TCP[HOST_FORWARD]")).and_then(|l| {
        let fields: Vec<&str> = l.split_whitespace().collect();
        fields.get(3).and_then(|p| p.parse().ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_forwarded_port() {
        let text = "Hub -1 (n0):\r\n  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ\r\n  \
                    TCP[HOST_FORWARD]   8       127.0.0.1 42179       10.0.2.15    80     0     0\r\n";
        assert_eq!(parse_usernet(text), Some(42179));
        assert_eq!(parse_usernet("Hub -1 (n0):\r\n"), None);
    }

    #[test]
    fn a_capture_is_a_filter_dump_on_the_user_network() {
        let (qmp, listen) = (Path::new("/tmp/q.sock"), "127.0.0.1:0".parse().unwrap());
        assert!(!args(&QemuSpec::new("x.elf"), qmp, listen).iter().any(|a| a.starts_with("filter-dump")));
        let spec = QemuSpec { pcap: Some("/tmp/a,b.pcap".into()), ..QemuSpec::new("x.elf") };
        let a = args(&spec, qmp, listen);
        let at = a.iter().position(|a| a.starts_with("filter-dump")).expect("a filter-dump object");
        assert_eq!(a[at - 1], "-object");
        assert_eq!(a[at], "filter-dump,id=pcap0,netdev=n0,file=/tmp/a,,b.pcap");
    }

    #[test]
    fn a_missing_qemu_says_how_to_install_it() {
        let spec = QemuSpec { binary: Some("/nonexistent/qemu".into()), ..QemuSpec::new("x.elf") };
        assert!(spec.qemu().unwrap_err().contains("no such file"));
        let err = QemuSpec::new("x.elf").qemu_on("/nonexistent".as_ref()).unwrap_err();
        assert!(err.contains("apt-get install qemu-system-misc"), "{err}");
    }
}
