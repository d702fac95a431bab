//! The firmware's memory bounds, the same on every board (`README.md`,
//! "Memory"). The scenario `limits.toml` checks what a client beyond them
//! gets.

/// HTTP port.
pub const PORT: u16 = 80;
/// HTTP connections served at once: one web task each, holding TCP buffers
/// and, while it is a WebSocket, a [`cam_core::protocol::MAX_WS_MESSAGE`]
/// message buffer on the heap. Six, so that an open dashboard (its SSE
/// stream, its WebSocket, a page or snapshot load) and a HIL run (its SSE
/// stream, its WebSocket, its frames) fit at once: with four, the emulated
/// board showed the harness's frames reset while a browser had the page open.
pub const WEB_TASKS: usize = 6;
/// TCP receive and send buffer of each connection, in bytes.
pub const TCP_BUFFER: usize = 2048;
/// picoserve's request buffer of each connection, in bytes.
pub const HTTP_BUFFER: usize = 2048;
/// Sockets the network stack needs: one per web task, one for DHCP.
pub const SOCKETS: usize = WEB_TASKS + 1;
/// The heap, in bytes: 160 KiB, as the ESP32-C3 board has (96 KiB + 64 KiB
/// reclaimed from the bootloader).
pub const HEAP_BYTES: usize = 160 * 1024;
/// Motion events kept for `Last-Event-ID` resume.
pub const EVENT_BUFFER: usize = 64;
/// Events an SSE client may fall behind before it is disconnected (it then
/// resumes with `Last-Event-ID`).
pub const CLIENT_QUEUE: usize = 8;
/// SSE clients served at once (each holds one web task); one more gets 503
/// `too many event streams`.
pub const MAX_SSE_CLIENTS: usize = 2;
/// Largest `POST /hil/frame` body, in bytes; larger: 413.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// How long HIL frames keep the frame source after the last HIL request,
/// in ms ([`crate::frames`]).
pub const HIL_HOLD_MS: u64 = 60_000;
