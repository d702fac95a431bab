//! # cam-sim: the cam on a desktop
//!
//! The camhil core ([`cam_core`]) behind an axum server that speaks the cam
//! protocol of `docs/protocol.md`: SSE on `GET /events`, WebSocket commands
//! on `GET /control`, the HIL frame routes, and the dashboard.
//!
//! ```no_run
//! # async fn demo() -> Result<(), cam_sim::StartError> {
//! let sim = cam_sim::Simulator::start(cam_sim::SimConfig::default()).await?;
//! println!("cam at http://{}", sim.addr());
//! # Ok(()) }
//! ```
//!
//! Modules: [`shared`] holds the cam state and the one path every frame
//! takes; [`routes`] the HTTP side; [`clip`] the camera replaying recorded
//! footage (loaded by the `footage` crate) and the capture loop; [`storage`]
//! the snapshot directory.

pub mod clip;
pub mod config;
pub mod console;
pub mod routes;
pub mod server;
pub mod shared;
pub mod storage;

pub use config::{Fault, Faults, SimConfig, TlsFiles};
pub use server::{Simulator, StartError};
pub use shared::Shared;
