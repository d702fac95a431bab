//! The dashboard files, `GET /status` and `GET /snapshot.jpg`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use cam_core::web;

use super::json_error;
use crate::shared::Shared;

pub(super) async fn index() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        web::INDEX_HTML,
    )
}

pub(super) async fn app_js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        web::APP_JS,
    )
}

pub(super) async fn status(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    Json(shared.with_cam(|cam| cam.status()))
}

pub(super) async fn snapshot(State(shared): State<Arc<Shared>>) -> Response {
    match shared.with_cam(|cam| cam.latest().map(|f| f.jpeg.clone())) {
        Some(jpeg) => (
            [
                (header::CONTENT_TYPE, "image/jpeg"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            jpeg,
        )
            .into_response(),
        None => json_error(StatusCode::SERVICE_UNAVAILABLE, "no frame yet"),
    }
}
