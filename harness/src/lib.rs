//! # cam-hil: the camhil scenario harness
//!
//! Replays recorded footage into a cam (the desktop simulator, or any cam at
//! a URL) as described by TOML scenario files, and asserts the SSE events
//! and WebSocket acks that come back, on one timeline.
//!
//! Follow one frame from fixture to asserted event:
//! - [`scenario`]: the scenario language, loaded and checked before
//!   running; [`steps`]: one module per step kind (its parse, load-time
//!   checks, run and example), e.g. [`steps::replay`] sends the frames and
//!   [`steps::expect_events`] judges the events; [`matcher`]: JSON
//!   matchers for acks, bodies and event data; [`faults`]: the fault layer
//!   (a proxy in front of any target, frame faults, resets);
//! - [`target`]: the cams a scenario runs against, behind one trait, each
//!   stating what it serves; [`board`] reads a board's console, [`qemu`]
//!   boots the emulated board, [`target::sim`] starts the simulator;
//! - [`client`]: HTTP, SSE and WebSocket clients for the cam protocol;
//!   [`hold`]: extra clients that fill a cam's connection slots;
//! - [`runner`]: runs one scenario on one target, with the session's state
//!   split by concern (SSE and [`ledger`], control, console, frames);
//! - [`outcome`]: typed step and scenario outcomes; [`timeline`]: what
//!   crossed the wire, in order;
//! - [`suite`]: finds, filters and runs many, sending [`run_event`]s to a
//!   [`report`]er (text, JSON lines, JUnit, HTML);
//! - [`record`]: recording a live cam into a new fixture;
//! - [`synth`]: generated clips with exact ground truth;
//! - [`tls`]: reaching `https://` cams;
//! - [`image`]: the firmware ELF as a checked ESP32-C3 app image;
//! - [`eval`]: the detector scored against labelled footage.
//!
//! ```no_run
//! # async fn demo() {
//! use cam_hil::{runner, scenario, target::TargetSpec};
//! let s = scenario::load("scenarios/highway.toml".as_ref()).expect("valid scenario");
//! let target = TargetSpec::Sim.open(&s.needs).await.expect("simulator starts");
//! let report = runner::run(&s, target.as_ref(), &Default::default()).await;
//! assert!(report.passed(), "{:?}", report.failed());
//! # }
//! ```

pub mod board;
pub mod client;
pub mod eval;
pub mod faults;
pub mod hold;
pub mod image;
pub mod labgrid;
pub mod ledger;
pub mod matcher;
pub mod outcome;
pub mod qemu;
pub mod record;
pub mod report;
pub mod run_event;
pub mod runner;
pub mod scenario;
pub mod steps;
pub mod suite;
pub mod synth;
pub mod target;
pub mod timeline;
pub mod tls;
pub mod tune;
