//! The harness's side of the cam protocol: HTTP (reqwest), the SSE stream
//! (eventsource-client) and the WebSocket control channel
//! (tokio-tungstenite), each sending the target's token.

use std::time::{Duration, Instant};

use eventsource_client::{self as es, Client as _};
use futures_util::{SinkExt, StreamExt};
use launchdarkly_sdk_transport::HyperTransport;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::target::Endpoint;

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
    /// The response headers arrived (the cam is subscribed): HTTP status.
    Connected(u16),
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
    /// A comment line (`: keepalive`).
    Comment(String),
    /// The stream failed; the client reconnects with `Last-Event-ID`.
    Error(String),
}

/// An open SSE subscription to `GET /events`, read by a background task.
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

/// Opens `GET /events` and reads it in a background task. The client
/// reconnects by itself (with `Last-Event-ID`) after an error.
///
/// # Errors
/// The URL or token cannot form a request.
pub fn open_sse(endpoint: &Endpoint) -> Result<SseStream, String> {
    let transport = HyperTransport::builder()
        .disable_proxy()
        .connect_timeout(Duration::from_secs(5))
        .build_http()
        .map_err(|e| format!("SSE transport: {e}"))?;
    let mut builder = es::ClientBuilder::for_url(&endpoint.url("/events"))
        .map_err(|e| format!("SSE URL: {e:?}"))?;
    if let Some(token) = &endpoint.token {
        builder = builder
            .header("Authorization", &format!("Bearer {token}"))
            .map_err(|e| format!("SSE header: {e:?}"))?;
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
                Ok(es::SSE::Connected(c)) => SseKind::Connected(c.response().status()),
                Ok(es::SSE::Event(e)) => SseKind::Event {
                    name: e.event_type,
                    id: e.id,
                    retry: e.retry,
                    data: e.data,
                },
                Ok(es::SSE::Comment(c)) => SseKind::Comment(c),
                Err(e) => SseKind::Error(describe_sse_error(&e)),
            };
            if tx
                .send(SseItem {
                    at: Instant::now(),
                    kind,
                })
                .is_err()
            {
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
}

/// What came back on the control channel.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A text frame.
    Text(String),
    /// A binary frame (the protocol never sends one).
    Binary(usize),
    /// The cam closed the connection: close code and reason.
    Closed(Option<u16>, String),
}

impl Control {
    /// Connects to `GET /control` with the endpoint's token.
    ///
    /// # Errors
    /// The connection or upgrade fails (e.g. 401).
    pub async fn connect(endpoint: &Endpoint) -> Result<Self, String> {
        let mut request = endpoint
            .ws_url("/control")
            .into_client_request()
            .map_err(|e| format!("WebSocket URL: {e}"))?;
        if let Some(token) = &endpoint.token {
            let value = format!("Bearer {token}")
                .parse()
                .map_err(|_| "token is not a valid header".to_string())?;
            request.headers_mut().insert("authorization", value);
        }
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| format!("WebSocket connect to /control: {e}"))?;
        Ok(Self { ws })
    }

    /// Sends one text frame.
    ///
    /// # Errors
    /// The connection is gone.
    pub async fn send_text(&mut self, text: &str) -> Result<(), String> {
        self.ws
            .send(Message::text(text))
            .await
            .map_err(|e| format!("WebSocket send: {e}"))
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
        let client = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Self {
            client,
            endpoint: endpoint.clone(),
        })
    }

    /// A request for `path`, with the token.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let req = self.client.request(method, self.endpoint.url(path));
        match &self.endpoint.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }
}
