//! Fault plans of the scenario language (`[config] fault_plan`): network
//! and board faults drawn from one seeded generator, so the same plan and
//! seed with the same traffic give the same faults.
//!
//! The plan belongs to the scenario, not to any cam: a target that can
//! inject faults says so ([`crate::target::Serves::faults`]) and applies
//! the plan its own way; today that is the simulator, which starts with
//! the plan ([`crate::target`]'s `sim` module converts it). Other targets skip such a scenario,
//! saying why.

use serde::Deserialize;

/// One scenario's faults. All off by default; e.g.
/// `fault_plan = { seed = 7, sse_cut_chance = 0.1, ack_delay_ms = 500 }`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultPlan {
    /// Seed of the generator.
    pub seed: u64,
    /// Each SSE connection is cut after this many events; the client
    /// resumes with `Last-Event-ID`.
    pub sse_cut_after: Option<u32>,
    /// After each SSE event, the connection is cut with this probability.
    pub sse_cut_chance: f64,
    /// Every WebSocket ack is held back this many ms.
    pub ack_delay_ms: u64,
    /// Each WebSocket ack is dropped with this probability.
    pub ack_drop_chance: f64,
    /// Each injected frame is cut to half its length with this probability.
    pub frame_truncate_chance: f64,
    /// Each injected frame has 8 bytes of its second half replaced by random
    /// ones with this probability.
    pub frame_corrupt_chance: f64,
    /// The cam reboots once, right after this many frames.
    pub reboot_after_frames: Option<u64>,
    /// How long each stall lasts, in ms (0: no stalls): the cam answers
    /// nothing meanwhile.
    pub stall_ms: u64,
    /// One stall begins right after this many frames.
    pub stall_after_frames: Option<u64>,
    /// After each frame, a stall begins with this probability.
    pub stall_chance: f64,
}
