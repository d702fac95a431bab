//! Starting and stopping a simulator: the accept loop, plain or TLS.
//!
//! Each connection is served by hyper's HTTP/1.1 server with upgrades (for
//! the WebSocket), a write buffer of [`WRITE_BUFFER`] bytes and a kernel
//! send buffer of [`SEND_BUFFER`] bytes (the kernel may double it), as a
//! cam's small TCP stack would have. A client that stops reading therefore
//! holds at most those buffers before its SSE stream stops being polled; it
//! then falls behind on the event channel by `client_queue` events and is
//! disconnected (`docs/protocol.md`, "Resume").

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use crate::config::{SimConfig, TlsFiles};
use crate::console::Console;
use crate::routes;
use crate::shared::Shared;

/// hyper's per-connection write buffer, in bytes (its minimum).
pub const WRITE_BUFFER: usize = 8 * 1024;
/// `SO_SNDBUF` of each accepted connection, in bytes.
pub const SEND_BUFFER: usize = 16 * 1024;

/// A running simulator. Dropping it stops the server and ends every open
/// connection.
#[derive(Debug)]
pub struct Simulator {
    addr: SocketAddr,
    tls: bool,
    console_path: Option<std::path::PathBuf>,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

/// Why a simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The address cannot be bound, or the snapshot folder made.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The TLS certificate or key cannot be read or used.
    #[error("TLS: {0}")]
    Tls(String),
}

fn tls_acceptor(files: &TlsFiles) -> Result<TlsAcceptor, StartError> {
    let read_err = |p: &Path, e: rustls::pki_types::pem::Error| StartError::Tls(format!("{}: {e}", p.display()));
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| read_err(&files.cert, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| read_err(&files.cert, e))?;
    if certs.is_empty() {
        return Err(StartError::Tls(format!("{}: no certificate in it", files.cert.display())));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| read_err(&files.key, e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StartError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| StartError::Tls(e.to_string()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

impl Simulator {
    /// Binds `config.listen` and serves the protocol until dropped; with
    /// `config.tls` it speaks HTTPS (and WSS) only. The port is bound when
    /// this returns: clients may connect at once.
    ///
    /// # Errors
    /// The address cannot be bound, the snapshot folder cannot be created,
    /// or the TLS files cannot be used.
    pub async fn start(config: SimConfig) -> Result<Self, StartError> {
        std::fs::create_dir_all(&config.snapshot_dir)?;
        let acceptor = config.tls.as_ref().map(tls_acceptor).transpose()?;
        let listener = TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let tls = acceptor.is_some();
        let (console, console_path) = if config.console_pty {
            let (c, p) = Console::pty()?;
            (c, Some(p))
        } else {
            (Console::none(), None)
        };
        let hil = !config.no_hil;
        let shared = Shared::with_console(config, console);
        let app = routes::router(shared.clone(), hil);
        let server = tokio::spawn(accept_loop(listener, app, acceptor));
        let sim = Self { addr, tls, console_path, shared, server };
        let _ = sim.shared.url.set(sim.url());
        for line in crate::console::boot_log(&sim.url(), "cam-sim", sim.shared.boot()) {
            sim.shared.console.line(line);
        }
        Ok(sim)
    }

    /// The bound address (the real port when `listen` had port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, or `https://ADDR` with TLS.
    pub fn url(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.addr)
    }

    /// The console's pseudo-terminal (`/dev/pts/N`), with `console_pty`.
    pub fn console_path(&self) -> Option<&std::path::Path> {
        self.console_path.as_deref()
    }

    /// Reboots the simulated cam ([`Shared::reboot`]): what a reset line does
    /// to a board.
    pub fn reboot(&self) {
        self.shared.reboot(&self.url());
    }

    /// The cam state, for the fixture capture loop and for tests.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn accept_loop(listener: TcpListener, app: axum::Router, acceptor: Option<TlsAcceptor>) {
    // Owned here, so aborting this task ends every connection too.
    let mut connections = JoinSet::new();
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        if let Err(e) = socket2::SockRef::from(&tcp).set_send_buffer_size(SEND_BUFFER) {
            tracing::warn!(%peer, error = %e, "cannot set the send buffer");
        }
        let service = TowerToHyperService::new(app.clone());
        let acceptor = acceptor.clone();
        connections.spawn(async move {
            let served = match acceptor {
                Some(acceptor) => match acceptor.accept(tcp).await {
                    Ok(tls) => serve(TokioIo::new(CloseNotify(Some(tls))), service).await,
                    Err(e) => {
                        tracing::info!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                },
                None => serve(TokioIo::new(tcp), service).await,
            };
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
}

async fn serve<I>(io: I, service: TowerToHyperService<axum::Router>) -> Result<(), hyper::Error>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    http1::Builder::new().max_buf_size(WRITE_BUFFER).serve_connection(io, service).with_upgrades().await
}

/// A TLS stream that sends `close_notify` when it is dropped without having
/// been shut down: an upgraded (WebSocket) connection is simply dropped when
/// its session ends, and strict TLS clients report the missing alert as a
/// truncation.
struct CloseNotify(Option<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>);

impl CloseNotify {
    fn inner(&mut self) -> std::io::Result<&mut tokio_rustls::server::TlsStream<tokio::net::TcpStream>> {
        self.0.as_mut().ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotConnected))
    }
}

impl tokio::io::AsyncRead for CloseNotify {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.inner() {
            Ok(s) => std::pin::Pin::new(s).poll_read(cx, buf),
            Err(e) => std::task::Poll::Ready(Err(e)),
        }
    }
}

impl tokio::io::AsyncWrite for CloseNotify {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.inner() {
            Ok(s) => std::pin::Pin::new(s).poll_write(cx, buf),
            Err(e) => std::task::Poll::Ready(Err(e)),
        }
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.inner() {
            Ok(s) => std::pin::Pin::new(s).poll_flush(cx),
            Err(e) => std::task::Poll::Ready(Err(e)),
        }
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let done = match self.inner() {
            Ok(s) => std::pin::Pin::new(s).poll_shutdown(cx),
            Err(_) => return std::task::Poll::Ready(Ok(())),
        };
        if done.is_ready() {
            self.0 = None; // shut down: nothing left to do on drop
        }
        done
    }
}

impl Drop for CloseNotify {
    fn drop(&mut self) {
        use tokio::io::AsyncWriteExt;
        if let (Some(mut stream), Ok(runtime)) = (self.0.take(), tokio::runtime::Handle::try_current()) {
            runtime.spawn(async move {
                let _ = tokio::time::timeout(std::time::Duration::from_secs(1), stream.shutdown()).await;
            });
        }
    }
}
