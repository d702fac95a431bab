//! A minimal RFC 2217 (Telnet COM Port Control) client: what the harness
//! needs of a serial port that a labgrid exporter serves over the network
//! through ser2net.
//!
//! - the console's bytes, with Telnet's own sequences taken out
//!   ([`Unescaper`], sans-IO, and [`Reader`] over a TCP stream);
//! - the COM-PORT option negotiated, the baud rate set;
//! - the modem lines DTR and RTS set ([`Control::set_lines`]): the reset
//!   sequence of a board without a power port.
//!
//! Own code rather than the `rfc2217` crate (0.1, new at the time): the
//! harness needs four messages of the protocol, and its tests run against
//! ser2net itself (`ci/labgrid.sh`). Source: RFC 854 (Telnet), RFC 2217.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Interpret As Command: starts every Telnet sequence; doubled, a 0xFF data
/// byte.
const IAC: u8 = 255;
const DONT: u8 = 254;
const DO: u8 = 253;
const WONT: u8 = 252;
const WILL: u8 = 251;
/// Subnegotiation begin and end.
const SB: u8 = 250;
const SE: u8 = 240;
/// Telnet options: binary transmission, suppress go-ahead, COM-PORT.
const BINARY: u8 = 0;
const SGA: u8 = 3;
const COM_PORT: u8 = 44;
/// COM-PORT client commands (RFC 2217, section 3).
const SET_BAUDRATE: u8 = 1;
const SET_CONTROL: u8 = 5;
/// SET-CONTROL values for the modem lines.
const DTR_ON: u8 = 8;
const DTR_OFF: u8 = 9;
const RTS_ON: u8 = 11;
const RTS_OFF: u8 = 12;

/// Where an [`Unescaper`] is within a Telnet sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    /// Console bytes.
    #[default]
    Data,
    /// After an IAC.
    Iac,
    /// After IAC WILL/WONT/DO/DONT: the option byte comes next.
    Option,
    /// Inside IAC SB … IAC SE.
    Sub,
    /// An IAC inside a subnegotiation.
    SubIac,
}

/// Takes Telnet's sequences out of a byte stream, keeping the console's
/// bytes; sequences may be split across [`Unescaper::feed`] calls.
#[derive(Debug, Clone, Default)]
pub struct Unescaper {
    state: State,
}

impl Unescaper {
    /// Appends the console bytes of `input` to `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &b in input {
            self.state = match (self.state, b) {
                (State::Data, IAC) => State::Iac,
                (State::Data, _) => {
                    out.push(b);
                    State::Data
                }
                (State::Iac, IAC) => {
                    out.push(IAC);
                    State::Data
                }
                (State::Iac, WILL | WONT | DO | DONT) => State::Option,
                (State::Iac, SB) => State::Sub,
                // NOP, go-ahead, break and the like: one byte, nothing to keep.
                (State::Iac, _) | (State::Option, _) => State::Data,
                (State::Sub, IAC) => State::SubIac,
                (State::Sub, _) => State::Sub,
                (State::SubIac, SE) => State::Data,
                (State::SubIac, _) => State::Sub,
            };
        }
    }
}

/// The console side of a connection: its bytes, unescaped.
#[derive(Debug)]
pub struct Reader {
    stream: TcpStream,
    unescaper: Unescaper,
    pending: Vec<u8>,
    raw: Vec<u8>,
}

impl Read for Reader {
    /// Reads console bytes; `Ok(0)` once the server closed the connection
    /// (the place was released, ser2net stopped, the port vanished).
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pending.is_empty() {
            let n = self.stream.read(&mut self.raw)?;
            if n == 0 {
                return Ok(0);
            }
            self.unescaper.feed(&self.raw[..n], &mut self.pending);
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

/// The control side of a connection: baud rate and modem lines.
#[derive(Debug)]
pub struct Control {
    stream: TcpStream,
}

impl Control {
    /// Sets DTR and RTS (true: asserted).
    ///
    /// # Errors
    /// The connection is gone.
    pub fn set_lines(&mut self, dtr: bool, rts: bool) -> std::io::Result<()> {
        self.command(SET_CONTROL, &[if dtr { DTR_ON } else { DTR_OFF }])?;
        self.command(SET_CONTROL, &[if rts { RTS_ON } else { RTS_OFF }])
    }

    /// Sets the baud rate.
    ///
    /// # Errors
    /// The connection is gone.
    pub fn set_baud(&mut self, baud: u32) -> std::io::Result<()> {
        self.command(SET_BAUDRATE, &baud.to_be_bytes())
    }

    /// Sends IAC SB COM-PORT `command` `value` IAC SE, doubling any 0xFF in
    /// the value.
    fn command(&mut self, command: u8, value: &[u8]) -> std::io::Result<()> {
        let mut msg = vec![IAC, SB, COM_PORT, command];
        for &b in value {
            msg.push(b);
            if b == IAC {
                msg.push(IAC);
            }
        }
        msg.extend_from_slice(&[IAC, SE]);
        self.stream.write_all(&msg)
    }
}

/// Connects to `addr` (`host:port` of a `NetworkSerialPort`), offers the
/// COM-PORT option and binary transmission, and sets `baud`.
///
/// # Errors
/// The server cannot be reached within `timeout`, or the connection fails.
pub fn connect(addr: &str, baud: u32, timeout: Duration) -> std::io::Result<(Reader, Control)> {
    use std::net::ToSocketAddrs;
    let target = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, format!("{addr}: no address")))?;
    let stream = TcpStream::connect_timeout(&target, timeout)?;
    stream.set_nodelay(true)?;
    let mut control = Control { stream: stream.try_clone()? };
    control
        .stream
        .write_all(&[IAC, WILL, COM_PORT, IAC, WILL, BINARY, IAC, DO, BINARY, IAC, DO, SGA, IAC, WILL, SGA])?;
    control.set_baud(baud)?;
    let reader = Reader { stream, unescaper: Unescaper::default(), pending: Vec::new(), raw: vec![0; 4096] };
    Ok((reader, control))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unescape(chunks: &[&[u8]]) -> Vec<u8> {
        let mut u = Unescaper::default();
        let mut out = Vec::new();
        for c in chunks {
            u.feed(c, &mut out);
        }
        out
    }

    #[test]
    fn telnet_sequences_are_taken_out_and_console_bytes_kept() {
        // What ser2net sends first (21 bytes of negotiation), then a line.
        let hello = [IAC, WILL, 3, IAC, DO, 3, IAC, WILL, 1, IAC, DONT, 1, IAC, DO, 0, IAC, WILL, 0, IAC, DO, 44];
        let mut all = hello.to_vec();
        all.extend_from_slice(b"cam-fw: listening on http://10.0.2.15:80\r\n");
        assert_eq!(unescape(&[&all]), b"cam-fw: listening on http://10.0.2.15:80\r\n");
        // The same, split at every byte.
        let bytes: Vec<&[u8]> = all.chunks(1).collect();
        assert_eq!(unescape(&bytes), b"cam-fw: listening on http://10.0.2.15:80\r\n");
    }

    #[test]
    fn a_doubled_iac_is_one_0xff_and_subnegotiations_go() {
        let input = [b'a', IAC, IAC, b'b', IAC, SB, COM_PORT, 101, 0, 1, IAC, IAC, 0, IAC, SE, b'c', IAC, 241, b'd'];
        assert_eq!(unescape(&[&input[..5], &input[5..12], &input[12..]]), [b'a', 0xFF, b'b', b'c', b'd']);
    }

    #[test]
    fn a_client_negotiates_sets_baud_and_lines_and_reads_the_console() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(&[IAC, DO, COM_PORT]).unwrap();
            s.write_all(b"line \xff\xff one\r\n").unwrap();
            // Read what the client sent: negotiation, baud, then two lines.
            let mut got = vec![0u8; 15 + 10 + 7 + 7];
            s.read_exact(&mut got).unwrap();
            got
        });
        let (mut reader, mut control) = connect(&addr, 115_200, Duration::from_secs(5)).unwrap();
        control.set_lines(false, true).unwrap();
        let mut text = Vec::new();
        while !text.ends_with(b"\n") {
            let mut buf = [0u8; 64];
            let n = reader.read(&mut buf).unwrap();
            assert_ne!(n, 0, "closed early");
            text.extend_from_slice(&buf[..n]);
        }
        assert_eq!(text, b"line \xff one\r\n");
        let sent = server.join().unwrap();
        assert_eq!(&sent[..3], &[IAC, WILL, COM_PORT]);
        assert_eq!(&sent[15..25], &[IAC, SB, COM_PORT, SET_BAUDRATE, 0, 1, 0xC2, 0, IAC, SE]);
        assert_eq!(
            &sent[25..],
            &[IAC, SB, COM_PORT, SET_CONTROL, DTR_OFF, IAC, SE, IAC, SB, COM_PORT, SET_CONTROL, RTS_ON, IAC, SE]
        );
        // The server closing is the end of the console.
        assert_eq!(reader.read(&mut [0u8; 8]).unwrap(), 0);
    }
}
