//! The HTTP side of the simulator: one module per route group of
//! `docs/protocol.md`.

mod access_log;
mod auth;
mod control;
mod events;
mod hil;
mod pages;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::shared::Shared;

/// Largest accepted `POST /hil/frame` body, in bytes (2 MiB); larger: 413.
pub const MAX_FRAME_BYTES: usize = 2 * 1024 * 1024;

/// The whole protocol as an axum router; the HIL routes only when `hil`.
pub fn router(shared: Arc<Shared>, hil: bool) -> Router {
    let router = Router::new()
        .route("/", get(pages::index))
        .route("/app.js", get(pages::app_js))
        .route("/status", get(pages::status))
        .route("/snapshot.jpg", get(pages::snapshot))
        .route("/events", get(events::events))
        .route("/control", get(control::control));
    let router = if hil {
        router
            .route("/hil/frame", post(hil::frame).layer(DefaultBodyLimit::max(MAX_FRAME_BYTES)))
            .route("/hil/reset", post(hil::reset))
            .route("/hil/power/{value}", get(hil::power))
            .route("/hil/power/", get(hil::power_state))
    } else {
        router
    };
    router
        .layer(axum::middleware::from_fn_with_state(shared.clone(), auth::require_token))
        .layer(axum::middleware::from_fn(access_log::access_log))
        .with_state(shared)
}

/// A JSON error reply: `{"error": message}` with `status`.
pub(crate) fn json_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}
