//! The harness's integration tests, one binary for all of them (one link
//! instead of twelve, and a twelfth of the disk): each module is one area,
//! its own doc comment says what it covers. Run one area with
//! `cargo test -p cam-hil --test integration faults::`.

mod board;
mod broken_cams;
mod cli;
mod detector;
mod emulated;
mod failures;
mod faults;
mod record;
mod reports;
mod runs;
mod scenarios;
mod sse_framing;
mod transcript;
mod url_target;
