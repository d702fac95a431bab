//! A board on a serial port: its console read line by line in a thread,
//! the cam's address taken from its `cam-fw: listening on URL` line, and
//! the whole log kept for the report.
//!
//! The same code ([`Console`]) reads a real ESP32 over USB, the virtual
//! board of `cam-sim --console-pty`, and the emulated board's UART
//! (`crate::qemu`).

use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, watch};

/// Lines a scenario may fall behind on the console before it misses some.
pub const CONSOLE_QUEUE: usize = 4096;

/// The line the firmware prints once it serves: `cam-fw: listening on URL`.
pub const LISTENING: &str = "cam-fw: listening on ";

/// What one frame through the detector cost the cam, from its console line
/// `cam-fw: cost frame=<seq> cycles=<n> instret=<n or ->` (`docs/protocol.md`,
/// console lines): the CPU's own counters read around
/// `Cam::process_frame`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameCost {
    /// The frame's sequence number (from 1 after a HIL reset).
    pub frame: u64,
    /// CPU cycles.
    pub cycles: u64,
    /// Instructions retired; `None` where the board counts cycles only
    /// (the C3), exact on the emulated board under `-icount shift=0`.
    pub instret: Option<u64>,
}

impl FrameCost {
    /// The cost a console line reports; `None` for any other line, or one
    /// whose numbers do not parse.
    pub fn parse(line: &str) -> Option<Self> {
        let rest = line.strip_prefix("cam-fw: cost ")?;
        let mut fields = rest.split(' ').map(|f| f.split_once('='));
        let (Some(("frame", frame)), Some(("cycles", cycles)), Some(("instret", instret)), None) =
            (fields.next()?, fields.next()?, fields.next()?, fields.next())
        else {
            return None;
        };
        let instret = if instret == "-" { None } else { Some(instret.parse().ok()?) };
        Some(Self { frame: frame.parse().ok()?, cycles: cycles.parse().ok()?, instret })
    }
}

/// One thing seen on a board's console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleLine {
    /// A line (without its line ending): when it arrived, its number on
    /// this console (from 1), its text.
    Line(Instant, u64, String),
    /// The port went away (closed, unplugged): why.
    Gone(String),
}

/// What a console line says about the board's health: `Some(what)` for a
/// panic, a reset or a watchdog.
pub fn crash(line: &str) -> Option<&'static str> {
    if line.contains("PANIC") || line.contains("panicked at") {
        Some("a panic")
    } else if line.contains("Guru Meditation") || line.contains("abort() was called") {
        Some("a crash")
    } else if line.starts_with("cam-fw: trap:") {
        Some("a trap")
    } else if line.contains("WDT") || line.to_lowercase().contains("watchdog") {
        Some("a watchdog reset")
    } else if line.starts_with("rst:0x") || line.starts_with("ESP-ROM:") || line.starts_with("cam-fw: camhil ") {
        // The ROM's banner (C3), or the firmware's own first line (any
        // board, the emulated one has no ROM): it started again.
        Some("a reset")
    } else {
        None
    }
}

/// A board's serial console, read from the first scenario to the end of the
/// run.
#[derive(Debug)]
pub struct Board {
    /// Serial port path (`/dev/ttyUSB0`, `/dev/pts/3`).
    pub port: String,
    /// Baud rate.
    pub baud: u32,
    /// Firmware to flash before the console is first read.
    pub flash: Option<std::path::PathBuf>,
    state: tokio::sync::Mutex<Option<Console>>,
}

/// A console read line by line in a thread of its own: a board's serial
/// port, or the emulated board's UART (QEMU's standard output).
#[derive(Debug, Clone)]
pub struct Console {
    /// What it reads, for messages (`/dev/ttyUSB0`, `qemu …/cam-fw-qemu.elf`).
    name: String,
    lines: broadcast::Sender<ConsoleLine>,
    /// The latest `listening on` URL and the number of its line.
    address: watch::Receiver<Option<(String, u64)>>,
    log: Arc<Mutex<Vec<String>>>,
    gone: Arc<Mutex<Option<String>>>,
}

/// What the end of a console's input means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtEnd {
    /// Nothing: a serial port read that timed out with no byte; keep reading.
    KeepReading,
    /// The source is gone (QEMU exited and closed its standard output).
    Gone,
}

impl Console {
    /// Reads `source` in a new thread, line by line (`\n`-terminated; a
    /// `\r` before it is dropped; bytes that are not UTF-8 are shown as
    /// U+FFFD). Every line is kept for the report and broadcast to
    /// sessions; a `cam-fw: listening on URL` line sets the cam's address.
    ///
    /// # Errors
    /// The thread cannot be started.
    pub fn spawn(
        name: impl Into<String>,
        mut source: impl Read + Send + 'static,
        at_end: AtEnd,
    ) -> Result<Self, String> {
        let name = name.into();
        let (lines, _) = broadcast::channel(CONSOLE_QUEUE);
        let (address_tx, address) = watch::channel(None);
        let (log, gone) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(None)));
        let console =
            Console { name: name.clone(), lines: lines.clone(), address, log: log.clone(), gone: gone.clone() };
        let end = move |why: String| {
            *gone.lock().unwrap_or_else(|p| p.into_inner()) = Some(why.clone());
            let _ = lines.send(ConsoleLine::Gone(why));
        };
        let lines = console.lines.clone();
        std::thread::Builder::new()
            .name(format!("console {name}"))
            .spawn(move || {
                let mut pending = Vec::new();
                let mut seq = 0u64;
                let mut buf = [0u8; 1024];
                loop {
                    match source.read(&mut buf) {
                        Ok(0) if at_end == AtEnd::KeepReading => continue,
                        Ok(0) => return end("its console closed".into()),
                        Ok(n) => {
                            pending.extend_from_slice(&buf[..n]);
                            while let Some(at) = pending.iter().position(|b| *b == b'\n') {
                                let raw: Vec<u8> = pending.drain(..=at).collect();
                                let line = String::from_utf8_lossy(&raw).trim_end_matches(['\r', '\n']).to_string();
                                seq += 1;
                                if let Some(url) = line.split(LISTENING).nth(1) {
                                    let _ = address_tx.send(Some((url.trim().to_string(), seq)));
                                }
                                log.lock().unwrap_or_else(|p| p.into_inner()).push(line.clone());
                                let _ = lines.send(ConsoleLine::Line(Instant::now(), seq, line));
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => return end(e.to_string()),
                    }
                }
            })
            .map_err(|e| format!("console thread: {e}"))?;
        Ok(console)
    }

    /// Waits up to `wait` for the cam's address; the returned session sees
    /// console lines from now on.
    ///
    /// # Errors
    /// The console has gone, or printed no `listening on` line in time.
    pub async fn session(&self, wait: Duration) -> Result<Session, String> {
        let lines = self.lines.subscribe();
        if let Some(why) = self.gone.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Err(format!("board on {} vanished: {why}", self.name));
        }
        let mut address = self.address.clone();
        let (url, boot_end) = tokio::time::timeout(wait, address.wait_for(Option::is_some))
            .await
            .map_err(|_| format!("board on {} printed no `{LISTENING}…` line within {} s", self.name, wait.as_secs()))?
            .map_err(|_| {
                let why = self.gone.lock().unwrap_or_else(|p| p.into_inner()).clone().unwrap_or_default();
                format!("board on {} vanished before it listened: {why}", self.name)
            })?
            .clone()
            .expect("waited for Some");
        Ok(Session { lines, url, boot_end })
    }

    /// The whole console log so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether its source has gone (the port vanished, the connection
    /// closed).
    pub fn is_gone(&self) -> bool {
        self.gone.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }
}

impl PartialEq for Board {
    fn eq(&self, other: &Self) -> bool {
        self.port == other.port
    }
}
impl Eq for Board {}

/// An open board console, for one scenario.
#[derive(Debug)]
pub struct Session {
    /// Console lines from now on.
    pub lines: broadcast::Receiver<ConsoleLine>,
    /// The cam's URL, from its `listening on` line.
    pub url: String,
    /// The number of that line: lines up to it are the boot log, not
    /// something that happened during the scenario.
    pub boot_end: u64,
}

impl Board {
    /// A board on `port` at `baud` (not opened yet).
    pub fn new(port: impl Into<String>, baud: u32) -> Self {
        Self { port: port.into(), baud, flash: None, state: tokio::sync::Mutex::new(None) }
    }

    /// The same board, flashing `elf` before its console is first read.
    pub fn with_flash(self, elf: Option<std::path::PathBuf>) -> Self {
        Self { flash: elf, ..self }
    }

    /// Opens the port on first use, then waits up to `wait` for the cam's
    /// address; the returned session sees console lines from now on.
    ///
    /// # Errors
    /// The port cannot be opened, has vanished, or printed no `listening
    /// on` line in time.
    pub async fn session(&self, wait: Duration) -> Result<Session, String> {
        let console = {
            let mut state = self.state.lock().await;
            if state.is_none() {
                if let Some(elf) = &self.flash {
                    let bytes = std::fs::read(elf).map_err(|e| format!("{}: {e}", elf.display()))?;
                    let (port, baud) = (self.port.clone(), self.baud);
                    tokio::task::spawn_blocking(move || flash(&port, &bytes, baud))
                        .await
                        .map_err(|e| format!("flashing {}: {e}", self.port))??;
                }
                *state = Some(self.start()?);
            }
            state.clone().expect("just set")
        };
        console.session(wait).await
    }

    /// Resets the board through its reset line ([`reset_line`]).
    ///
    /// # Errors
    /// As [`reset_line`].
    pub async fn reset(&self) -> Result<(), String> {
        let port = self.port.clone();
        tokio::task::spawn_blocking(move || reset_line(&port)).await.map_err(|e| format!("reset: {e}"))?
    }

    /// Whether the board's console has gone (its port vanished).
    pub fn vanished(&self) -> bool {
        match self.state.try_lock() {
            Ok(s) => s.as_ref().is_some_and(|c| c.gone.lock().unwrap_or_else(|p| p.into_inner()).is_some()),
            Err(_) => false,
        }
    }

    /// The whole console log so far.
    pub fn log(&self) -> Vec<String> {
        match self.state.try_lock() {
            Ok(s) => s.as_ref().map(Console::log).unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    }

    fn start(&self) -> Result<Console, String> {
        // Shared access: the virtual board keeps its own end of the pty open.
        let port = serialport::new(&self.port, self.baud)
            .timeout(Duration::from_millis(100))
            .exclusive(false)
            .open()
            .map_err(|e| format!("cannot open board port {}: {e}", self.port))?;
        Console::spawn(self.port.clone(), port, AtEnd::KeepReading)
    }
}

/// Flashes `elf` (an ESP32-C3 firmware) to the board on `port` with espflash
/// (as a library), skipping flash regions that already hold the same bytes,
/// then resets it into the new firmware. The port is free again when this
/// returns, for the console reader.
///
/// Not exercised in CI (no board is attached there); the nightly runs on
/// real boards use it.
///
/// # Errors
/// The port is not a USB serial port, the chip does not answer, the ELF is
/// not an ESP32-C3 image, or writing fails.
pub fn flash(port: &str, elf: &[u8], baud: u32) -> Result<(), String> {
    use espflash::connection::{Connection, ResetAfterOperation, ResetBeforeOperation};
    use espflash::flasher::{FlashData, FlashSettings, Flasher};
    use espflash::image_format::ImageFormat;
    use espflash::image_format::idf::IdfBootloaderFormat;
    use espflash::target::{Chip, DefaultProgressCallback};

    let info = usb_port(port).map_err(|e| format!("{e}: cannot flash it"))?;
    let serial = serialport::new(port, 115_200).open_native().map_err(|e| format!("cannot open {port}: {e}"))?;
    let connection =
        Connection::new(serial, info, ResetAfterOperation::HardReset, ResetBeforeOperation::DefaultReset, 115_200);
    let chip = Chip::Esp32c3;
    let mut flasher = Flasher::connect(connection, true, true, true, Some(chip), Some(baud))
        .map_err(|e| format!("cannot talk to the bootloader on {port}: {e}"))?;
    let flash_data = FlashData::new(FlashSettings::default(), 0, None, chip, chip.default_xtal_frequency());
    let image =
        IdfBootloaderFormat::new(elf, &flash_data, None, None, None, None).map_err(|e| format!("app image: {e}"))?;
    flasher
        .load_image_to_flash(&mut DefaultProgressCallback, ImageFormat::EspIdf(image))
        .map_err(|e| format!("flashing {port}: {e}"))?;
    flasher.connection().reset().map_err(|e| format!("resetting {port}: {e}"))
}

/// The USB details of serial port `port` (espflash tells the C3's built-in
/// USB-Serial-JTAG from a USB-UART bridge by them).
///
/// # Errors
/// The ports cannot be listed, or `port` is not a USB serial port.
fn usb_port(port: &str) -> Result<serialport::UsbPortInfo, String> {
    serialport::available_ports()
        .map_err(|e| format!("listing serial ports: {e}"))?
        .into_iter()
        .find(|p| p.port_name == port)
        .and_then(|p| match p.port_type {
            serialport::SerialPortType::UsbPort(info) => Some(info),
            _ => None,
        })
        .ok_or_else(|| format!("{port} is not a USB serial port"))
}

/// Resets the board on `port` through its reset line, with the RTS/DTR
/// sequence espflash uses (its USB-Serial-JTAG variant for the C3's
/// built-in USB port, told apart by the USB product id). The console keeps
/// its own handle on the port and reads the boot log that follows.
///
/// # Errors
/// The port is not a USB serial port, or cannot be opened or driven.
pub fn reset_line(port: &str) -> Result<(), String> {
    use espflash::connection::{Connection, ResetAfterOperation, ResetBeforeOperation};
    let info = usb_port(port).map_err(|e| format!("{e}: its reset line cannot be driven"))?;
    // Shared, as the console opened it: an exclusive open would fail on the
    // console's lock.
    let serial = serialport::new(port, 115_200)
        .exclusive(false)
        .open_native()
        .map_err(|e| format!("cannot open {port}: {e}"))?;
    let mut connection =
        Connection::new(serial, info, ResetAfterOperation::HardReset, ResetBeforeOperation::DefaultReset, 115_200);
    connection.reset().map_err(|e| format!("resetting {port}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::{FrameCost, crash};

    #[test]
    fn cost_lines() {
        let c = FrameCost::parse("cam-fw: cost frame=56 cycles=5337390 instret=5336930");
        assert_eq!(c, Some(FrameCost { frame: 56, cycles: 5_337_390, instret: Some(5_336_930) }));
        let c = FrameCost::parse("cam-fw: cost frame=3 cycles=4100 instret=-");
        assert_eq!(c, Some(FrameCost { frame: 3, cycles: 4100, instret: None }));
        for other in [
            "cam-fw: motion id=1 frame=11 change=0.2667 count=1",
            "cam-fw: cost frame=3 cycles=4100",
            "cam-fw: cost frame=3 cycles=41x0 instret=-",
            "cam-fw: cost frame=3 cycles=4100 instret=5 extra=1",
        ] {
            assert_eq!(FrameCost::parse(other), None, "{other}");
        }
    }

    #[test]
    fn crash_lines() {
        assert_eq!(crash("====================== PANIC ======================"), Some("a panic"));
        assert_eq!(crash("panicked at src/main.rs:1:1:"), Some("a panic"));
        assert_eq!(crash("rst:0x8 (TG1WDT_SYS_RST),boot:0xc (SPI_FAST_FLASH_BOOT)"), Some("a watchdog reset"));
        assert_eq!(crash("rst:0x3 (RTC_SW_SYS_RST),boot:0xc"), Some("a reset"));
        assert_eq!(crash("cam-fw: trap: mcause=2 mepc=0x80001234 mtval=0x00000000 ra=0x80001000"), Some("a trap"));
        assert_eq!(crash("cam-fw: camhil 0.1.0 on qemu-virt"), Some("a reset"));
        assert_eq!(crash("cam-fw: motion id=1 frame=11 change=0.2667 count=1"), None);
    }
}
