//! The cam's serial console: the lines the firmware prints on its UART
//! (`docs/protocol.md`, "Console"), here written to a pseudo-terminal so a
//! harness can read them as it reads a real board's USB serial port
//! (`cam-sim --console-pty`).
//!
//! Lines go through a bounded queue to a writer thread: a console nobody
//! reads never blocks the cam (like a UART with no listener, lines are lost
//! when the queue is full).

use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};

use serialport::{SerialPort, TTYPort};

/// Lines waiting for the writer thread before new ones are dropped.
pub const QUEUE: usize = 1024;

/// Where console lines go: nowhere, or a pseudo-terminal.
#[derive(Debug, Default)]
pub struct Console {
    tx: Option<SyncSender<String>>,
    /// Kept open so the pty stays up while no harness has it open.
    _slave: Option<TTYPort>,
}

impl Console {
    /// A console that prints nothing.
    pub fn none() -> Self {
        Self::default()
    }

    /// A console on a new pseudo-terminal; returns it and the path a
    /// harness opens (`/dev/pts/N`).
    ///
    /// # Errors
    /// No pseudo-terminal can be opened.
    pub fn pty() -> std::io::Result<(Self, PathBuf)> {
        let (mut master, mut slave) = TTYPort::pair().map_err(std::io::Error::other)?;
        // Let the harness open the slave side too.
        slave.set_exclusive(false).map_err(std::io::Error::other)?;
        let path = PathBuf::from(slave.name().ok_or_else(|| std::io::Error::other("pty without a name"))?);
        let (tx, rx) = sync_channel::<String>(QUEUE);
        std::thread::Builder::new().name("cam-console".into()).spawn(move || {
            for line in rx {
                if master.write_all(line.as_bytes()).and_then(|()| master.write_all(b"\r\n")).is_err() {
                    return;
                }
            }
        })?;
        Ok((Self { tx: Some(tx), _slave: Some(slave) }, path))
    }

    /// Prints one line (without its line ending).
    pub fn line(&self, text: impl Into<String>) {
        if let Some(tx) = &self.tx {
            match tx.try_send(text.into()) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => {}
                Err(TrySendError::Full(_)) => tracing::debug!("console queue full: line dropped"),
            }
        }
    }

    /// Whether lines go anywhere.
    pub fn is_open(&self) -> bool {
        self.tx.is_some()
    }
}

/// The boot log the firmware prints up to its `listening on` line, with the
/// ESP32-C3 ROM bootloader's banner first. `url` is `http://IP:PORT`,
/// `boot` the boot number of the SSE ids.
pub fn boot_log(url: &str, platform: &str, boot: u32) -> Vec<String> {
    vec![
        "ESP-ROM:esp32c3-api1-20210207".into(),
        "Build:Feb  7 2021".into(),
        "rst:0x1 (POWERON),boot:0xc (SPI_FAST_FLASH_BOOT)".into(),
        format!("cam-fw: camhil {} on {platform}", env!("CARGO_PKG_VERSION")),
        format!("cam-fw: boot {boot:08x}"),
        "cam-fw: wifi: connected".into(),
        format!("cam-fw: listening on {url}"),
    ]
}

/// The panic report esp-backtrace prints.
pub fn panic_report(message: &str) -> Vec<String> {
    vec![
        String::new(),
        "====================== PANIC ======================".into(),
        "panicked at src/main.rs:1:1:".into(),
        message.into(),
        String::new(),
        "Backtrace:".into(),
        "0x42000a2e".into(),
        "0x42004c1a".into(),
    ]
}
