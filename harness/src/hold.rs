//! Clients the `hold` step opens and keeps until the scenario ends, to fill
//! a cam's connection slots: SSE clients that read everything, SSE clients
//! that stop reading after the response headers (their share of the cam's
//! send buffer fills), WebSocket clients that stay silent, and TCP
//! connections that never send a byte. The SSE and TCP clients are raw TCP:
//! plain `http://` cams only.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::target::Endpoint;

/// Longest response head read from a held SSE client, in bytes.
const MAX_HEAD: usize = 4096;

/// The held clients; all are closed when this is dropped.
#[derive(Default)]
pub struct Held {
    /// Stalled SSE clients and idle connections.
    streams: Vec<TcpStream>,
    /// Reading SSE clients (aborted on drop).
    readers: JoinSet<()>,
    /// Silent WebSocket clients.
    controls: Vec<crate::client::Control>,
}

impl Held {
    /// Clients held so far.
    pub fn len(&self) -> usize {
        self.streams.len() + self.readers.len() + self.controls.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Opens `GET /events` (with the endpoint's token) and checks the cam
    /// answers `200`; then reads it to its end (`read`) or never again.
    ///
    /// # Errors
    /// The connection fails, or the cam answers another status (the status
    /// line is in the message, e.g. `HTTP/1.1 503 Service Unavailable`).
    pub async fn sse(&mut self, endpoint: &Endpoint, read: bool) -> Result<(), String> {
        let authority = authority(endpoint)?;
        let mut stream = TcpStream::connect(&authority).await.map_err(|e| format!("{authority}: {e}"))?;
        let auth = endpoint.token.as_ref().map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        let request = format!("GET /events HTTP/1.1\r\nHost: {authority}\r\nAccept: text/event-stream\r\n{auth}\r\n");
        stream.write_all(request.as_bytes()).await.map_err(|e| format!("GET /events: {e}"))?;
        let status = head(&mut stream).await?;
        if status.split_whitespace().nth(1) != Some("200") {
            return Err(format!("GET /events answered `{status}`, not 200"));
        }
        if read {
            self.readers.spawn(async move {
                let mut sink = [0u8; 1024];
                while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
            });
        } else {
            self.streams.push(stream);
        }
        Ok(())
    }

    /// Opens `GET /control` and keeps the WebSocket open without a word: a
    /// connection slot the cam has certainly given (its 101 came back).
    ///
    /// # Errors
    /// The upgrade fails.
    pub async fn ws(&mut self, endpoint: &Endpoint) -> Result<(), String> {
        let control = crate::client::Control::connect(endpoint, &crate::client::Credentials::default())
            .await
            .map_err(|e| e.message)?;
        self.controls.push(control);
        Ok(())
    }

    /// Opens a TCP connection that never sends a byte (behind a proxy or
    /// QEMU's user-mode network, the connect succeeds whether or not the cam
    /// took it).
    ///
    /// # Errors
    /// The connection fails.
    pub async fn idle(&mut self, endpoint: &Endpoint) -> Result<(), String> {
        let authority = authority(endpoint)?;
        let stream = TcpStream::connect(&authority).await.map_err(|e| format!("{authority}: {e}"))?;
        self.streams.push(stream);
        Ok(())
    }
}

/// `host:port` of a plain `http://` endpoint.
pub(crate) fn authority(endpoint: &Endpoint) -> Result<String, String> {
    let rest = endpoint
        .base
        .strip_prefix("http://")
        .ok_or_else(|| format!("`hold` needs a cam serving http://, not {}", endpoint.base))?;
    let host = rest.split('/').next().unwrap_or(rest);
    Ok(if host.contains(':') { host.to_string() } else { format!("{host}:80") })
}

/// Reads a response head; its status line.
async fn head(stream: &mut TcpStream) -> Result<String, String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if buf.len() >= MAX_HEAD {
            return Err(format!("GET /events: no end of headers in {MAX_HEAD} bytes"));
        }
        match stream.read(&mut byte).await {
            Ok(1) => buf.push(byte[0]),
            Ok(_) => return Err("GET /events: the cam closed the connection before answering".into()),
            Err(e) => return Err(format!("GET /events: {e}")),
        }
    }
    let text = String::from_utf8_lossy(&buf);
    Ok(text.lines().next().unwrap_or_default().to_string())
}
