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

pub(super) async fn reset(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    shared.with_cam(|cam| cam.hil_reset());
    shared.console.line("cam-fw: hil reset");
    Json(serde_json::json!({ "ok": true }))
}
