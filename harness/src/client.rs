//! The harness's side of the cam protocol: HTTP (reqwest), the SSE stream
//! (eventsource-client) and the WebSocket control channel
//! (tokio-tungstenite), each sending the target's token unless a step
//! says otherwise.

use std::time::{Duration, Instant};

use eventsource_client::{self as es, Client as _};
use futures_util::{SinkExt, StreamExt};
use hyper_util::client::legacy::connect::HttpConnector;
use launchdarkly_sdk_transport::HyperTransport;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::target::Endpoint;
use crate::tls;

/// Which token a request carries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Auth {
    /// The target's token, if it has one (the default).
    #[default]
    Target,
    /// No token at all.
    None,
    /// This token instead.
    Token(String),
}

/// The credentials of one request or WebSocket upgrade.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Credentials {
    /// Which token.
    pub auth: Auth,
    /// Send it as `?token=` instead of `Authorization: Bearer`.
    pub in_query: bool,
}

/// What the SSE stream delivered, stamped with when it arrived.
#[derive(Debug, Clone)]
pub struct SseItem {
    /// When the harness received it.
    pub at: Instant,
    /// What it was.
    pub kind: SseKind,
}

/// One thing seen on the SSE stream.
#[derive(Debug, Clone)]
pub enum SseKind {
    /// The response headers arrived (the cam is subscribed).
    Connected {
        /// HTTP status.
        status: u16,
        /// `Content-Type` (empty when absent).
        content_type: String,
    },
    /// An event.
    Event {
        /// `event:` name (`message` when absent).
        name: String,
        /// `id:`, if the event had one.
        id: Option<String>,
        /// `retry:` in ms, if present.
        retry: Option<u64>,
        /// `data:` lines joined with LF.
        data: String,
    },
    /// A comment line, without the colon and one following space
    /// (`: keepalive` → `keepalive`).
    Comment(String),
    /// The stream failed; the client reconnects with `Last-Event-ID`.
    Error(String),
}

/// An open SSE subscription to `GET /events`, read by a background task.
/// Dropping it cuts the connection.
#[derive(Debug)]
pub struct SseStream {
    /// Items in arrival order.
    pub rx: mpsc::UnboundedReceiver<SseItem>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SseStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Opens `GET /events` (with `Last-Event-ID: last_event_id` if given) and
/// reads it in a background task. The client reconnects by itself (with
/// `Last-Event-ID`) after an error.
///
/// # Errors
/// The URL or token cannot form a request.
pub fn open_sse(endpoint: &Endpoint, last_event_id: Option<&str>) -> Result<SseStream, String> {
    let tls = tls::client_config(endpoint.ca_file.as_deref())?;
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config((*tls).clone())
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    let transport = HyperTransport::builder()
        .disable_proxy()
        .connect_timeout(Duration::from_secs(5))
        .build_with_connector(connector)
        .map_err(|e| format!("SSE transport: {e}"))?;
    let mut builder = es::ClientBuilder::for_url(&endpoint.url("/events")).map_err(|e| format!("SSE URL: {e:?}"))?;
    if let Some(token) = &endpoint.token {
        builder =
            builder.header("Authorization", &format!("Bearer {token}")).map_err(|e| format!("SSE header: {e:?}"))?;
    }
    if let Some(id) = last_event_id {
        builder = builder.last_event_id(id.to_string());
    }
    let client = builder
        .reconnect(
            es::ReconnectOptions::reconnect(true)
                .retry_initial(true)
                .delay(Duration::from_millis(50))
                .delay_max(Duration::from_millis(500))
                .build(),
        )
        .build_with_transport(transport);
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let mut stream = client.stream();
        while let Some(item) = stream.next().await {
            let kind = match item {
                Ok(es::SSE::Connected(c)) => SseKind::Connected {
                    status: c.response().status(),
                    content_type: c.response().get_header_value("content-type").ok().flatten().unwrap_or("").into(),
                },
                Ok(es::SSE::Event(e)) => SseKind::Event { name: e.event_type, id: e.id, retry: e.retry, data: e.data },
                // Like field values, drop the one space after the colon.
                Ok(es::SSE::Comment(c)) => SseKind::Comment(c.strip_prefix(' ').map(str::to_string).unwrap_or(c)),
                Err(e) => SseKind::Error(describe_sse_error(&e)),
            };
            if tx.send(SseItem { at: Instant::now(), kind }).is_err() {
                return;
            }
        }
    });
    Ok(SseStream { rx, task })
}

fn describe_sse_error(e: &es::Error) -> String {
    match e {
        es::Error::UnexpectedResponse(resp, _) => format!("HTTP status {}", resp.status()),
        other => format!("{other:?}"),
    }
}

/// An open `GET /control` WebSocket.
pub struct Control {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    resets: usize,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Control")
    }
}

/// What came back on the control channel.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A text frame.
    Text(String),
    /// A binary frame (the protocol never sends one).
    Binary(usize),
    /// The cam closed the connection: close code (`None`: no close frame)
    /// and reason.
    Closed(Option<u16>, String),
}

/// How long the harness keeps an idle HTTP connection to a cam: less than
/// the firmware's own 1 s.
pub const POOL_IDLE: Duration = Duration::from_millis(500);

/// Pauses before each new try of a WebSocket upgrade the cam reset before
/// answering: 2.1 s in all, longer than a small cam keeps an idle
/// kept-alive HTTP connection (the firmware: 1 s), so a slot that such a
/// connection held is found.
pub const CONNECT_RETRIES: [std::time::Duration; 4] = [
    std::time::Duration::from_millis(10),
    std::time::Duration::from_millis(100),
    std::time::Duration::from_millis(500),
    std::time::Duration::from_millis(1500),
];

/// Runs `attempt` until it succeeds, fails otherwise than `refused` says,
/// or `retries` tries more were refused; the last outcome and how many
/// times the cam refused. Between tries it pauses [`CONNECT_RETRIES`]: a
/// client's backoff against a cam whose connection slots are all taken (a
/// small cam has no listen backlog, and nothing tells the client when a
/// slot frees), as a browser's reconnect does. Only for requests that had
/// no effect when refused: a WebSocket upgrade, the idempotent
/// `POST /hil/reset`.
pub async fn retry_refused<T, E, F, Fut>(retries: usize, refused: fn(&E) -> bool, attempt: F) -> (Result<T, E>, usize)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut resets = 0;
    loop {
        match attempt().await {
            Err(e) if refused(&e) && resets < retries.min(CONNECT_RETRIES.len()) => {
                tokio::time::sleep(CONNECT_RETRIES[resets]).await;
                resets += 1;
            }
            outcome => return (outcome, resets),
        }
    }
}

/// ` (after N reset(s) by the cam)`, or nothing for none.
pub fn after(resets: usize) -> String {
    if resets > 0 { format!(" (after {resets} reset(s) by the cam)") } else { String::new() }
}

/// Whether an HTTP request failed because the cam reset, refused or closed
/// the connection before its reply, or while the request was being written
/// (anywhere in its chain of causes).
pub fn is_connection_reset(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && is_reset(io)
        {
            return true;
        }
        // Behind QEMU's user-mode network a reset reaches the harness as a
        // connection closed before the reply.
        if err.downcast_ref::<hyper::Error>().is_some_and(hyper::Error::is_incomplete_message) {
            return true;
        }
        source = err.source();
    }
    false
}

/// A connection the peer reset or refused, closed before any byte, or
/// closed while the request was still being written (a cam answering an
/// oversized body early and hanging up: broken pipe).
fn is_reset(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionRefused, ConnectionReset, UnexpectedEof};
    matches!(e.kind(), BrokenPipe | ConnectionRefused | ConnectionReset | UnexpectedEof)
}

/// The cam reset or closed the connection before answering the upgrade
/// (behind QEMU's user-mode network a reset reaches the harness as a close).
fn refused_before_answer(e: &tungstenite::Error) -> bool {
    match e {
        tungstenite::Error::Io(io) => is_reset(io),
        tungstenite::Error::Protocol(tungstenite::error::ProtocolError::HandshakeIncomplete) => true,
        _ => false,
    }
}

/// A WebSocket upgrade that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectError {
    /// The HTTP status the cam refused the upgrade with, if it answered.
    pub status: Option<u16>,
    /// The cam reset the connection before answering, every time it was
    /// tried (no free connection slot).
    pub reset: bool,
    /// What happened.
    pub message: String,
}

impl Control {
    /// Connects to `GET /control` with `credentials`.
    ///
    /// # Errors
    /// The connection or upgrade fails (e.g. 401, with its status).
    pub async fn connect(endpoint: &Endpoint, credentials: &Credentials) -> Result<Self, ConnectError> {
        Self::connect_with(endpoint, credentials, CONNECT_RETRIES.len()).await
    }

    /// [`Self::connect`] without trying again after a reset: one attempt.
    ///
    /// # Errors
    /// As [`Self::connect`]; `reset` when the cam reset this one attempt.
    pub async fn connect_once(endpoint: &Endpoint, credentials: &Credentials) -> Result<Self, ConnectError> {
        Self::connect_with(endpoint, credentials, 0).await
    }

    async fn connect_with(
        endpoint: &Endpoint,
        credentials: &Credentials,
        retries: usize,
    ) -> Result<Self, ConnectError> {
        let fail = |message: String| ConnectError { status: None, reset: false, message };
        let (url, bearer) = with_credentials(endpoint, &endpoint.ws_url("/control"), credentials);
        let mut request = url.into_client_request().map_err(|e| fail(format!("WebSocket URL: {e}")))?;
        if let Some(token) = bearer {
            let value = format!("Bearer {token}").parse().map_err(|_| fail("token is not a valid header".into()))?;
            request.headers_mut().insert("authorization", value);
        }
        let tls = tls::client_config(endpoint.ca_file.as_deref()).map_err(fail)?;
        let attempt = || async {
            let connector = tokio_tungstenite::Connector::Rustls(tls.clone());
            tokio_tungstenite::connect_async_tls_with_config(request.clone(), None, false, Some(connector)).await
        };
        // The upgrade is a GET that had no effect when the cam reset it.
        match retry_refused(retries, refused_before_answer, attempt).await {
            (Ok((ws, _)), resets) => Ok(Self { ws, resets }),
            (Err(tungstenite::Error::Http(resp)), _) => Err(ConnectError {
                status: Some(resp.status().as_u16()),
                reset: false,
                message: format!("refused: {}", resp.status().as_u16()),
            }),
            // tungstenite reads no further than an HTTP/1.0 status line, but
            // cams on small frameworks (the seed chapters' microdot) answer
            // a refused upgrade that way: ask again, as plain HTTP, for the
            // status. A refused upgrade had no effect, so this is safe.
            (Err(tungstenite::Error::Protocol(tungstenite::error::ProtocolError::WrongHttpVersion)), _) => {
                Err(refused_status(endpoint, credentials).await)
            }
            (Err(e), resets) => {
                let reset = refused_before_answer(&e);
                Err(ConnectError { reset, ..fail(format!("WebSocket connect to /control: {e}{}", after(resets))) })
            }
        }
    }

    /// How many times the cam reset this connection before it answered the
    /// upgrade (each retried after a pause).
    pub fn resets(&self) -> usize {
        self.resets
    }

    /// Sends one text frame.
    ///
    /// # Errors
    /// The connection is gone.
    pub async fn send_text(&mut self, text: &str) -> Result<(), String> {
        self.ws.send(Message::text(text)).await.map_err(|e| format!("WebSocket send: {e}"))
    }

    /// Sends one binary frame.
    ///
    /// # Errors
    /// The connection is gone.
    pub async fn send_binary(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.ws.send(Message::binary(bytes.to_vec())).await.map_err(|e| format!("WebSocket send: {e}"))
    }

    /// Sends one text frame holding `bytes` as they are, UTF-8 or not.
    ///
    /// # Errors
    /// The connection is gone.
    pub async fn send_raw_text(&mut self, bytes: &[u8]) -> Result<(), String> {
        let frame = Frame::message(bytes.to_vec(), OpCode::Data(Data::Text), true);
        self.ws.send(Message::Frame(frame)).await.map_err(|e| format!("WebSocket send: {e}"))
    }

    /// Sends one frame as it is: any opcode, `fin` or not (fragments and
    /// interleavings a well-behaved client would not send).
    ///
    /// # Errors
    /// The connection is gone.
    pub async fn send_frame(&mut self, opcode: OpCode, payload: &[u8], fin: bool) -> Result<(), String> {
        let frame = Frame::message(payload.to_vec(), opcode, fin);
        self.ws.send(Message::Frame(frame)).await.map_err(|e| format!("WebSocket send: {e}"))
    }

    /// Sends a ping without waiting for its pong.
    ///
    /// # Errors
    /// The connection is gone.
    pub async fn send_ping(&mut self, payload: &[u8]) -> Result<(), String> {
        self.ws.send(Message::Ping(payload.to_vec().into())).await.map_err(|e| format!("WebSocket ping: {e}"))
    }

    /// The next message of any kind, pongs included (`None`: the stream ended).
    pub async fn next_message(&mut self) -> Option<Result<Message, tungstenite::Error>> {
        self.ws.next().await
    }

    /// The next text, binary or close frame (pings and pongs are skipped).
    pub async fn next_reply(&mut self) -> Reply {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(t))) => return Reply::Text(t.to_string()),
                Some(Ok(Message::Binary(b))) => return Reply::Binary(b.len()),
                Some(Ok(Message::Close(frame))) => {
                    return match frame {
                        Some(f) => Reply::Closed(Some(f.code.into()), f.reason.to_string()),
                        None => Reply::Closed(None, String::new()),
                    };
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Reply::Closed(None, e.to_string()),
                None => return Reply::Closed(None, "connection ended".into()),
            }
        }
    }

    /// Sends a ping and waits for its pong; the pong's payload.
    ///
    /// # Errors
    /// The connection is gone, or something other than a pong came first.
    pub async fn ping(&mut self, payload: &[u8]) -> Result<Vec<u8>, String> {
        self.ws.send(Message::Ping(payload.to_vec().into())).await.map_err(|e| format!("WebSocket ping: {e}"))?;
        match self.ws.next().await {
            Some(Ok(Message::Pong(p))) => Ok(p.to_vec()),
            other => Err(format!("expected a pong, got {other:?}")),
        }
    }

    /// Starts the close handshake and waits for the cam's close frame and
    /// the end of the stream.
    ///
    /// # Errors
    /// The cam did not answer with a close frame.
    pub async fn close(mut self) -> Result<(), String> {
        self.ws.close(None).await.map_err(|e| format!("WebSocket close: {e}"))?;
        let mut answered = false;
        while let Some(msg) = self.ws.next().await {
            match msg {
                Ok(Message::Close(_)) => answered = true,
                Ok(other) => return Err(format!("expected a close frame, got {other:?}")),
                Err(e) => return Err(format!("connection failed during the close handshake: {e}")),
            }
        }
        if answered { Ok(()) } else { Err("the cam ended the connection without a close frame".into()) }
    }
}

/// The status of a WebSocket upgrade that the cam answered with a status
/// line tungstenite does not read (HTTP/1.0), asked again as plain HTTP.
async fn refused_status(endpoint: &Endpoint, credentials: &Credentials) -> ConnectError {
    let asked = async {
        let http = Http::new(endpoint)?;
        let resp = http
            .request_as(reqwest::Method::GET, "/control", credentials)
            .header(reqwest::header::CONNECTION, "Upgrade")
            .header(reqwest::header::UPGRADE, "websocket")
            .header("Sec-WebSocket-Version", "13")
            .header("Sec-WebSocket-Key", tungstenite::handshake::client::generate_key())
            .send()
            .await
            .map_err(|e| format!("GET /control: {e}"))?;
        let (status, version) = (resp.status().as_u16(), resp.version());
        // Read the body so the connection is left cleanly.
        let _ = resp.bytes().await;
        Ok::<_, String>((status, version))
    };
    match asked.await {
        Ok((101, version)) => ConnectError {
            status: None,
            reset: false,
            message: format!("the cam accepted the upgrade with a {version:?} status line; WebSocket needs HTTP/1.1"),
        },
        Ok((status, version)) => ConnectError {
            status: Some(status),
            reset: false,
            message: format!("refused: {status} (answered as {version:?})"),
        },
        Err(e) => ConnectError { status: None, reset: false, message: format!("WebSocket upgrade: {e}") },
    }
}

/// A plain HTTP client for the cam (no proxy, token on every request).
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    endpoint: Endpoint,
}

impl Http {
    /// A client for `endpoint`.
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(endpoint: &Endpoint) -> Result<Self, String> {
        let tls = tls::client_config(endpoint.ca_file.as_deref())?;
        let client = reqwest::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            // Let an idle connection go before the cam does (the firmware
            // closes one after 1 s): a request sent as the cam closes the
            // connection would be lost to the race.
            .pool_idle_timeout(POOL_IDLE)
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Self { client, endpoint: endpoint.clone() })
    }

    /// A request for `path`, with the target's token.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.request_as(method, path, &Credentials::default())
    }

    /// A request for `path` with `credentials`.
    pub fn request_as(
        &self,
        method: reqwest::Method,
        path: &str,
        credentials: &Credentials,
    ) -> reqwest::RequestBuilder {
        let (url, bearer) = with_credentials(&self.endpoint, &self.endpoint.url(path), credentials);
        let req = self.client.request(method, url);
        match bearer {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }
}

/// `url` with `?token=` added when the credentials go in the query, and the
/// bearer token to send otherwise.
fn with_credentials(endpoint: &Endpoint, url: &str, credentials: &Credentials) -> (String, Option<String>) {
    let token = match &credentials.auth {
        Auth::Target => endpoint.token.clone(),
        Auth::None => None,
        Auth::Token(t) => Some(t.clone()),
    };
    match token {
        Some(t) if credentials.in_query => {
            let sep = if url.contains('?') { '&' } else { '?' };
            let encoded: String = t
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            (format!("{url}{sep}token={encoded}"), None)
        }
        token => (url.to_string(), token),
    }
}
