//! The HIL routes: `POST /hil/frame` injects one JPEG frame, `POST
//! /hil/reset` forgets everything but event ids (`docs/protocol.md`).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use cam_core::protocol::{FRAME_TS_HEADER, FrameReply};

use super::json_error;
use crate::config::Fault;
use crate::shared::{Shared, unix_now_ms};

pub(super) async fn frame(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let ts_ms = match headers.get(FRAME_TS_HEADER) {
        None => unix_now_ms(),
        Some(v) => match v.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok()) {
            Some(ts) => ts,
            None => return json_error(StatusCode::BAD_REQUEST, "bad X-Frame-Ts"),
        },
    };
    let faults = shared.config.faults.clone();
    match shared.ingest(body.to_vec(), ts_ms).await {
        Ok(Ok(o)) => Json(FrameReply::from(&o)).into_response(),
        Ok(Err(e)) => {
            tracing::info!(error = %e, "refused a frame");
            let status = if faults.has(Fault::BadFrameOk) { StatusCode::OK } else { StatusCode::BAD_REQUEST };
            json_error(status, "bad frame")
        }
        Err(e) => {
            tracing::error!(error = %e, "frame task failed");
            json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

/// The virtual board's power switch, as labgrid's `simplerest` power driver
/// drives a relay (`GET …/hil/power/{value}`, `docs/labs.md`): `1` powers
/// it on again, a reboot (the console prints its boot log again); `0` is
/// accepted and changes nothing, the simulator cannot be off.
pub(super) async fn power(
    State(shared): State<Arc<Shared>>,
    axum::extract::Path(value): axum::extract::Path<String>,
) -> Response {
    match value.as_str() {
        "1" => {
            if let Some(url) = shared.url.get() {
                shared.reboot(url);
            }
            "1".into_response()
        }
        "0" => "0".into_response(),
        _ => json_error(StatusCode::BAD_REQUEST, "power value must be 0 or 1"),
    }
}

/// The power switch's state for `simplerest` (`GET …/hil/power/`): always on.
pub(super) async fn power_state() -> &'static str {
    "1"
}

pub(super) async fn reset(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    shared.with_cam(|cam| cam.hil_reset());
    shared.console.line("cam-fw: hil reset");
    Json(serde_json::json!({ "ok": true }))
}
