//! The cam protocol (`docs/protocol.md`) as a picoserve router: the same
//! routes as the simulator, built from the same core (commands, SSE stream,
//! request parsing). `GET /events` is in [`crate::events`], `GET /control`
//! in [`crate::control`], the HIL routes in `crate::hil`.

use alloc::string::String;
use alloc::vec::Vec;
use core::future::Future;
use core::task::Poll;

use cam_core::protocol::{bearer_token, query_token, token_matches};
use cam_core::web;
use embassy_net::Stack;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::channel::Channel;
use picoserve::Router;
use picoserve::extract::FromRequestParts;
use picoserve::io::Write;
use picoserve::request::RequestParts;
use picoserve::response::fs::File;
use picoserve::response::{Content, StatusCode};
use picoserve::routing::{PathRouter, get, get_service};

use crate::limits::{HTTP_BUFFER, PORT, TCP_BUFFER, WEB_TASKS};
use crate::state;
use crate::tcp::Prompt;

/// The token every route but `/` and `/app.js` needs, set at build time
/// (`CAM_TOKEN=…`); none when unset.
const TOKEN: Option<&str> = option_env!("CAM_TOKEN");

/// A response body with its own `Content-Type` (picoserve's `String` and
/// `Vec<u8>` bodies bring `text/plain` and `application/octet-stream`, and
/// a second `Content-Type` header would not replace theirs).
pub(crate) struct Typed<B> {
    content_type: &'static str,
    body: B,
}

impl<B: AsRef<[u8]>> Content for Typed<B> {
    fn content_type(&self) -> &'static str {
        self.content_type
    }

    fn content_length(&self) -> usize {
        self.body.as_ref().len()
    }

    async fn write_content<W: Write>(self, mut writer: W) -> Result<(), W::Error> {
        writer.write_all(self.body.as_ref()).await
    }
}

/// A JSON reply: status and `application/json` body.
pub(crate) type JsonReply = (StatusCode, Typed<String>);

pub(crate) fn json(status: StatusCode, body: impl Into<String>) -> JsonReply {
    (status, Typed { content_type: "application/json", body: body.into() })
}

pub(crate) fn error(status: StatusCode, message: &str) -> JsonReply {
    json(status, alloc::format!(r#"{{"error":"{message}"}}"#))
}

/// The whole protocol as a picoserve router.
pub fn router() -> Router<impl PathRouter> {
    let router = Router::new()
        .route("/", get_service(File::html(web::INDEX_HTML)))
        .route("/app.js", get_service(File::javascript(web::APP_JS)))
        .route("/status", get(status))
        .route("/snapshot.jpg", get(snapshot))
        .route("/events", get(crate::events::events))
        .route("/control", get(crate::control::control));
    with_hil(router)
}

#[cfg(feature = "hil")]
fn with_hil<P: PathRouter>(router: Router<P>) -> Router<impl PathRouter> {
    crate::hil::routes(router)
}

/// A production build has no HIL routes.
#[cfg(not(feature = "hil"))]
fn with_hil<P: PathRouter>(router: Router<P>) -> Router<impl PathRouter> {
    router
}

/// One of the [`WEB_TASKS`] HTTP servers: one connection at a time, with
/// [`TCP_BUFFER`]-byte TCP buffers and an [`HTTP_BUFFER`]-byte request
/// buffer, all on this task's stack frame (static, in the task pool).
///
/// Connections are kept alive between requests, so a client posting frames
/// one after another holds one task rather than opening (and making the
/// cam close) a connection per frame; an idle kept-alive connection is
/// closed after 1 s (picoserve's `persistent_start_read_request`), so it
/// does not lock other clients out for long. smoltcp has no listen backlog:
/// a connection that finds every task busy is reset. The task reports to
/// [`all_listening`] once its socket is first in LISTEN.
///
/// Its sockets send what is written at once ([`crate::tcp`]).
///
/// A connection that sends no request within 1 s is closed (picoserve's
/// default is 5 s): browsers open connections speculatively, and each
/// holds one of the six slots while it waits.
#[embassy_executor::task(pool_size = WEB_TASKS)]
pub(crate) async fn web_task(id: usize, stack: Stack<'static>) -> ! {
    static CONFIG: picoserve::Config = picoserve::Config {
        timeouts: picoserve::Timeouts {
            start_read_request: embassy_time::Duration::from_secs(1),
            ..picoserve::Timeouts::const_default()
        },
        ..picoserve::Config::const_default()
    }
    .keep_connection_alive();
    let app = router();
    let (mut rx, mut tx, mut http) = ([0u8; TCP_BUFFER], [0u8; TCP_BUFFER], [0u8; HTTP_BUFFER]);
    let mut reported = false;
    loop {
        let mut socket = Prompt::new(stack, &mut rx, &mut tx);
        let accepted = {
            let mut accept = core::pin::pin!(socket.accept(PORT));
            // The first poll puts the socket in LISTEN.
            let first = core::future::poll_fn(|cx| Poll::Ready(accept.as_mut().poll(cx))).await;
            if !reported {
                LISTENING.send(id).await;
                reported = true;
            }
            match first {
                Poll::Ready(accepted) => accepted,
                Poll::Pending => accept.await,
            }
        };
        // Only a socket that is not closed, or port 0, makes `accept` fail,
        // and neither happens to a fresh socket on PORT; picoserve's own
        // loop goes round again too.
        if accepted.is_err() {
            continue;
        }
        // However the connection ends (closed, timed out, reset, a request
        // picoserve refused with its own error response), the socket is done
        // with: the next pass listens again, as picoserve's own loop does.
        let _ = picoserve::Server::new(&app, &CONFIG, &mut http).serve(socket).await;
    }
}

/// The id of each web task whose socket is in LISTEN, sent once.
static LISTENING: Channel<CriticalSectionRawMutex, usize, WEB_TASKS> = Channel::new();

/// Returns once every web task's socket is in LISTEN: a SYN that came
/// sooner would be answered by a RST (smoltcp, no socket on the port), and
/// a RST sent before the peer's MAC is known is lost to ARP, so the client
/// would wait for its own SYN retransmission (1 s on Linux; on QEMU's user
/// network in `-icount` mode, until the guest's next timer).
pub(crate) async fn all_listening() {
    for _ in 0..WEB_TASKS {
        LISTENING.receive().await;
    }
}

/// Passes when the build has no token, or the request carries it as
/// `Authorization: Bearer` or `?token=`.
pub(crate) struct Authorized;

impl<'r, S> FromRequestParts<'r, S> for Authorized {
    type Rejection = JsonReply;

    async fn from_request_parts(_state: &'r S, parts: &RequestParts<'r>) -> Result<Self, Self::Rejection> {
        let Some(expected) = TOKEN else { return Ok(Authorized) };
        let headers = parts.headers();
        let bearer = headers.get("Authorization").and_then(|v| v.as_str().ok()).and_then(bearer_token);
        let query = parts.query().and_then(|q| query_token(q.0));
        match bearer.or(query.as_deref()) {
            Some(given) if token_matches(expected, given) => Ok(Authorized),
            _ => Err(error(StatusCode::UNAUTHORIZED, "unauthorized")),
        }
    }
}

async fn status(_auth: Authorized) -> JsonReply {
    let s = state::with_cam(|cam| cam.status()).await;
    json(StatusCode::OK, serde_json::to_string(&s).unwrap_or_default())
}

/// The latest frame, copied out of the cam with a fallible allocation: a
/// heap too full for the copy answers 503 `out of memory`, never a panic.
async fn snapshot(
    _auth: Authorized,
) -> Result<(StatusCode, [(&'static str, &'static str); 1], Typed<Vec<u8>>), JsonReply> {
    let copy = state::with_cam(|cam| cam.latest().map(|f| try_copy(&f.jpeg))).await;
    match copy {
        Some(Some(jpeg)) => {
            Ok((StatusCode::OK, [("Cache-Control", "no-cache")], Typed { content_type: "image/jpeg", body: jpeg }))
        }
        Some(None) => Err(error(StatusCode::SERVICE_UNAVAILABLE, "out of memory")),
        None => Err(error(StatusCode::SERVICE_UNAVAILABLE, "no frame yet")),
    }
}

/// `bytes` copied into a new vector, or `None` when the heap cannot hold it.
pub(crate) fn try_copy(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut v = Vec::new();
    v.try_reserve_exact(bytes.len()).ok()?;
    v.extend_from_slice(bytes);
    Some(v)
}
