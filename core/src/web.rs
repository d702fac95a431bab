//! The dashboard's static files (seed chapters "Pushing events to the
//! dashboard" and "Two-way control with WebSockets"), compiled into every
//! target so the firmware and the simulator serve the same page.

/// `GET /`: the dashboard page (`text/html; charset=utf-8`).
pub const INDEX_HTML: &str = include_str!("../web/index.html");
/// `GET /app.js`: its script (`text/javascript; charset=utf-8`).
pub const APP_JS: &str = include_str!("../web/app.js");
