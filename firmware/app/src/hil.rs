//! The HIL routes (feature `hil`, never in production builds):
//! `POST /hil/frame` feeds one JPEG to the detector and answers its
//! outcome; `POST /hil/reset` forgets frames and counters
//! (`docs/protocol.md`). Both take the frame source from the camera
//! ([`crate::frames`]).

use alloc::vec::Vec;

use cam_core::protocol::FrameReply;
use picoserve::Router;
use picoserve::extract::{FromRequest, FromRequestParts};
use picoserve::io::Read;
use picoserve::request::{RequestBody, RequestParts};
use picoserve::response::StatusCode;
use picoserve::routing::{PathRouter, post};

use crate::limits::MAX_FRAME_BYTES;
use crate::state;
use crate::web::{Authorized, JsonReply, error, json};

pub(crate) fn routes<P: PathRouter>(router: Router<P>) -> Router<impl PathRouter> {
    router.route("/hil/frame", post(hil_frame)).route("/hil/reset", post(hil_reset))
}

/// `X-Frame-Ts`: capture time in ms since the Unix epoch (default: ms since
/// boot).
struct FrameTs(u64);

impl<'r, S> FromRequestParts<'r, S> for FrameTs {
    type Rejection = JsonReply;

    async fn from_request_parts(_state: &'r S, parts: &RequestParts<'r>) -> Result<Self, Self::Rejection> {
        match parts.headers().get("X-Frame-Ts").map(|v| v.as_str().ok().and_then(|s| s.trim().parse().ok())) {
            None => Ok(FrameTs(state::now_ms())),
            Some(Some(ts)) => Ok(FrameTs(ts)),
            Some(None) => Err(error(StatusCode::BAD_REQUEST, "bad X-Frame-Ts")),
        }
    }
}

/// A frame body, at most [`MAX_FRAME_BYTES`] (413 above), on the heap; a
/// heap too full for it answers 503.
struct FrameBody(Vec<u8>);

impl<'r, S> FromRequest<'r, S> for FrameBody {
    type Rejection = JsonReply;

    async fn from_request<R: Read>(
        _state: &'r S,
        _parts: RequestParts<'r>,
        body: RequestBody<'r, R>,
    ) -> Result<Self, Self::Rejection> {
        let length = body.content_length();
        if length > MAX_FRAME_BYTES {
            return Err(error(StatusCode::PAYLOAD_TOO_LARGE, "frame too large"));
        }
        let mut buffer = Vec::new();
        buffer.try_reserve_exact(length).map_err(|_| error(StatusCode::SERVICE_UNAVAILABLE, "out of memory"))?;
        buffer.resize(length, 0);
        body.reader().read_exact(&mut buffer).await.map_err(|_| error(StatusCode::BAD_REQUEST, "short body"))?;
        Ok(FrameBody(buffer))
    }
}

async fn hil_frame(_auth: Authorized, FrameTs(ts_ms): FrameTs, FrameBody(jpeg): FrameBody) -> JsonReply {
    state::hil_request();
    match state::process_frame(jpeg, ts_ms).await {
        Ok(o) => json(StatusCode::OK, serde_json::to_string(&FrameReply::from(&o)).unwrap_or_default()),
        Err(_) => error(StatusCode::BAD_REQUEST, "bad frame"),
    }
}

async fn hil_reset(_auth: Authorized) -> JsonReply {
    state::hil_request();
    state::with_cam(|cam| cam.hil_reset()).await;
    crate::console::hil_reset();
    json(StatusCode::OK, r#"{"ok":true}"#)
}
