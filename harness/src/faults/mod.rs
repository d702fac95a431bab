//! The fault layer: faults applied by the harness from the outside, where a
//! cam meets the world, so that every fault plan runs against every target
//! (the simulator, a cam at a URL, a board, the emulated board):
//!
//! - the network between the harness and the cam: a loopback TCP proxy per
//!   scenario run that every client of the harness goes through, cutting
//!   SSE streams (after N events or at random, between events or in the
//!   middle of one, by FIN or RST), adding latency and jitter, throttling,
//!   stalling an SSE reader so the cam's send buffer fills, holding a
//!   connection half-open, refusing new connections, delaying and dropping
//!   WebSocket acks ([`proxy`]);
//! - the frames the harness feeds it: truncated, corrupted, oversized,
//!   duplicated, out of order, with a repeated `X-Frame-Ts` ([`frames`]);
//! - its reset line: a reboot after N frames, carried out by the target
//!   ([`crate::target::Target::reset`]).
//!
//! Every draw comes from generators seeded with the plan's `seed`, one per
//! kind of fault ([`Dice::stream`]): the same plan and seed give the same
//! frame faults and stalls, and with one SSE reader the same cuts. A plan comes
//! from `[config] fault_plan = { … }` or from `cam-hil run --fault-plan
//! 'seed=7,sse_cut_chance=0.1'` ([`FaultPlan::from_str`]); `docs/scenarios.md`
//! ("Fault plans") lists the keys and the targets each runs on.

pub mod frames;
pub mod proxy;

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

/// How a connection is cut.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cut {
    /// An orderly close (FIN) towards both ends.
    #[default]
    Fin,
    /// A reset (RST) towards both ends.
    Rst,
}

/// One scenario's faults. All off by default; e.g.
/// `fault_plan = { seed = 7, sse_cut_chance = 0.1, latency_ms = 20 }`.
/// Chances are probabilities in `[0, 1]`; times are in ms.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultPlan {
    /// Seed of the generator.
    pub seed: u64,

    /// Each SSE connection is cut after this many events (the client
    /// resumes with `Last-Event-ID`).
    pub sse_cut_after: Option<u32>,
    /// After each SSE event, the connection is cut with this probability.
    pub sse_cut_chance: f64,
    /// Each SSE connection is cut after this many bytes from the cam.
    pub cut_after_bytes: Option<u64>,
    /// How cuts close the connection: `"fin"` (default) or `"rst"`.
    pub cut: Cut,
    /// Share of SSE cuts, in `[0, 1]`, that land in the middle of an event
    /// rather than between two (default 0.5).
    pub mid_event_share: Option<f64>,
    /// Added to every chunk, both ways, in ms.
    pub latency_ms: u64,
    /// Up to this many ms more, drawn per chunk.
    pub jitter_ms: u64,
    /// The cam's bytes reach the harness at most this fast (bytes per s).
    pub bytes_per_s: Option<u64>,
    /// How long a stall lasts, in ms (0: none): the oldest SSE connection
    /// stops reading from the cam, so the cam's send buffer fills.
    pub stall_ms: u64,
    /// A stall begins right after this many frames.
    pub stall_after_frames: Option<u64>,
    /// After each frame, a stall begins with this probability.
    pub stall_chance: f64,
    /// How long a half-open spell lasts, in ms (0: none): an SSE connection
    /// forwards nothing either way, and closes nothing.
    pub half_open_ms: u64,
    /// A half-open spell begins on an SSE connection after this many events.
    pub half_open_after_events: Option<u32>,
    /// How long new connections are refused (reset at once), in ms.
    pub refuse_ms: u64,
    /// The refusal begins right after this many frames.
    pub refuse_after_frames: Option<u64>,
    /// Every WebSocket message from the cam (ack) is held back this many ms.
    pub ack_delay_ms: u64,
    /// Each WebSocket message from the cam is dropped with this probability.
    pub ack_drop_chance: f64,

    /// Each frame is cut to half its length with this probability.
    pub frame_truncate_chance: f64,
    /// Each frame has 8 bytes of its second half replaced by random ones
    /// with this probability (bit errors on the camera bus).
    pub frame_corrupt_chance: f64,
    /// Each frame is padded past any cam's frame limit (4 MiB) with this
    /// probability.
    pub frame_oversize_chance: f64,
    /// Each frame is sent twice with this probability.
    pub frame_duplicate_chance: f64,
    /// Each frame swaps places with the next with this probability (out of
    /// order: capture times go back).
    pub frame_swap_chance: f64,
    /// Each frame is sent with the previous frame's `X-Frame-Ts` with this
    /// probability.
    pub frame_repeat_ts_chance: f64,

    /// The cam is reset (its reset line, QEMU's `system_reset`, the
    /// simulator's own reboot) right after this many frames.
    pub reboot_after_frames: Option<u64>,
}

impl FaultPlan {
    /// Whether the plan has network faults, so the harness's clients go
    /// through the fault proxy.
    pub fn network(&self) -> bool {
        self.sse_cut_after.is_some()
            || self.sse_cut_chance > 0.0
            || self.cut_after_bytes.is_some()
            || self.latency_ms > 0
            || self.jitter_ms > 0
            || self.bytes_per_s.is_some()
            || self.stall_ms > 0
            || self.half_open_ms > 0
            || self.refuse_ms > 0
            || self.ack_delay_ms > 0
            || self.ack_drop_chance > 0.0
    }

    /// Whether the plan resets the cam.
    pub fn resets(&self) -> bool {
        self.reboot_after_frames.is_some()
    }

    /// Checks ranges: chances and shares in `[0, 1]`.
    ///
    /// # Errors
    /// The first key out of range, named.
    pub fn check(&self) -> Result<(), String> {
        let chances = [
            ("sse_cut_chance", self.sse_cut_chance),
            ("stall_chance", self.stall_chance),
            ("ack_drop_chance", self.ack_drop_chance),
            ("frame_truncate_chance", self.frame_truncate_chance),
            ("frame_corrupt_chance", self.frame_corrupt_chance),
            ("frame_oversize_chance", self.frame_oversize_chance),
            ("frame_duplicate_chance", self.frame_duplicate_chance),
            ("frame_swap_chance", self.frame_swap_chance),
            ("frame_repeat_ts_chance", self.frame_repeat_ts_chance),
            ("mid_event_share", self.mid_event_share.unwrap_or(0.5)),
        ];
        for (key, x) in chances {
            if !(0.0..=1.0).contains(&x) {
                return Err(format!("{key}: {x} is not in [0, 1]"));
            }
        }
        const HOUR_MS: u64 = 3_600_000;
        for (key, ms) in [
            ("latency_ms", self.latency_ms),
            ("jitter_ms", self.jitter_ms),
            ("stall_ms", self.stall_ms),
            ("half_open_ms", self.half_open_ms),
            ("refuse_ms", self.refuse_ms),
            ("ack_delay_ms", self.ack_delay_ms),
        ] {
            if ms > HOUR_MS {
                return Err(format!("{key}: {ms} ms is more than an hour"));
            }
        }
        if self.bytes_per_s == Some(0) {
            return Err("bytes_per_s: 0 would forward nothing".into());
        }
        Ok(())
    }
}

impl FromStr for FaultPlan {
    type Err = String;

    /// `key=value` pairs separated by commas, keys and values as in
    /// `[config] fault_plan` (`seed=7,sse_cut_chance=0.1,cut=rst`).
    fn from_str(s: &str) -> Result<Self, String> {
        let mut table = toml::Table::new();
        // Any u64, which a TOML integer (i64) cannot hold.
        let mut seed = None;
        for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').ok_or_else(|| format!("{pair:?}: expected key=value"))?;
            let (key, value) = (key.trim(), value.trim());
            if key == "seed" {
                seed = Some(value.parse::<u64>().map_err(|e| format!("seed: {e}"))?);
                continue;
            }
            let parsed = value
                .parse::<i64>()
                .map(toml::Value::Integer)
                .or_else(|_| value.parse::<f64>().map(toml::Value::Float))
                .unwrap_or_else(|_| toml::Value::String(value.to_string()));
            table.insert(key.to_string(), parsed);
        }
        let mut plan = FaultPlan::deserialize(toml::Value::Table(table)).map_err(|e| e.message().to_string())?;
        plan.seed = seed.unwrap_or(plan.seed);
        plan.check()?;
        Ok(plan)
    }
}

impl fmt::Display for FaultPlan {
    /// The keys that differ from the default, as `--fault-plan` takes them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = FaultPlan::default();
        let mut parts = vec![format!("seed={}", self.seed)];
        let mut opt = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                parts.push(format!("{k}={v}"));
            }
        };
        opt("sse_cut_after", self.sse_cut_after.map(|x| x.to_string()));
        opt("sse_cut_chance", (self.sse_cut_chance != d.sse_cut_chance).then(|| self.sse_cut_chance.to_string()));
        opt("cut_after_bytes", self.cut_after_bytes.map(|x| x.to_string()));
        opt("cut", (self.cut != d.cut).then(|| "rst".to_string()));
        opt("mid_event_share", self.mid_event_share.map(|x| x.to_string()));
        opt("latency_ms", (self.latency_ms > 0).then(|| self.latency_ms.to_string()));
        opt("jitter_ms", (self.jitter_ms > 0).then(|| self.jitter_ms.to_string()));
        opt("bytes_per_s", self.bytes_per_s.map(|x| x.to_string()));
        opt("stall_ms", (self.stall_ms > 0).then(|| self.stall_ms.to_string()));
        opt("stall_after_frames", self.stall_after_frames.map(|x| x.to_string()));
        opt("stall_chance", (self.stall_chance > 0.0).then(|| self.stall_chance.to_string()));
        opt("half_open_ms", (self.half_open_ms > 0).then(|| self.half_open_ms.to_string()));
        opt("half_open_after_events", self.half_open_after_events.map(|x| x.to_string()));
        opt("refuse_ms", (self.refuse_ms > 0).then(|| self.refuse_ms.to_string()));
        opt("refuse_after_frames", self.refuse_after_frames.map(|x| x.to_string()));
        opt("ack_delay_ms", (self.ack_delay_ms > 0).then(|| self.ack_delay_ms.to_string()));
        opt("ack_drop_chance", (self.ack_drop_chance > 0.0).then(|| self.ack_drop_chance.to_string()));
        for (k, x) in [
            ("frame_truncate_chance", self.frame_truncate_chance),
            ("frame_corrupt_chance", self.frame_corrupt_chance),
            ("frame_oversize_chance", self.frame_oversize_chance),
            ("frame_duplicate_chance", self.frame_duplicate_chance),
            ("frame_swap_chance", self.frame_swap_chance),
            ("frame_repeat_ts_chance", self.frame_repeat_ts_chance),
        ] {
            opt(k, (x > 0.0).then(|| x.to_string()));
        }
        opt("reboot_after_frames", self.reboot_after_frames.map(|x| x.to_string()));
        f.write_str(&parts.join(","))
    }
}

/// A seeded generator of faults. Each kind of fault draws from its own
/// stream ([`Dice::stream`]: the frames, the SSE cuts, the jitter, the
/// acks), so that draws of one kind do not depend on how much traffic of
/// another came first: the same plan and seed give the same frame faults,
/// and with one SSE reader the same cuts.
#[derive(Debug, Clone)]
pub struct Dice(std::sync::Arc<std::sync::Mutex<rand::rngs::StdRng>>);

impl Dice {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        use rand::SeedableRng;
        Self(std::sync::Arc::new(std::sync::Mutex::new(rand::rngs::StdRng::seed_from_u64(seed))))
    }

    /// The generator of one kind of fault under `seed` (`stream` names the
    /// kind: [`FRAMES`], [`CUTS`], [`JITTER`], [`ACKS`]).
    pub fn stream(seed: u64, stream: u64) -> Self {
        Self::new(seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    /// `true` with probability `chance` (never for 0, always for 1).
    pub fn roll(&self, chance: f64) -> bool {
        use rand::RngExt;
        if chance <= 0.0 {
            return false;
        }
        self.0.lock().unwrap_or_else(|p| p.into_inner()).random_bool(chance.min(1.0))
    }

    /// A number in `0..n` (0 for `n` = 0).
    pub fn below(&self, n: u64) -> u64 {
        use rand::RngExt;
        if n == 0 {
            return 0;
        }
        self.0.lock().unwrap_or_else(|p| p.into_inner()).random_range(0..n)
    }

    /// `len` random bytes.
    pub fn bytes(&self, len: usize) -> Vec<u8> {
        use rand::RngExt;
        let mut rng = self.0.lock().unwrap_or_else(|p| p.into_inner());
        (0..len).map(|_| rng.random()).collect()
    }
}

/// [`Dice::stream`] of the frame faults.
pub const FRAMES: u64 = 1;
/// [`Dice::stream`] of the SSE cuts.
pub const CUTS: u64 = 2;
/// [`Dice::stream`] of the latency jitter.
pub const JITTER: u64 = 3;
/// [`Dice::stream`] of the dropped acks.
pub const ACKS: u64 = 4;
/// [`Dice::stream`] of the stalls after frames.
pub const STALLS: u64 = 5;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_parse_from_the_command_line_and_print_back() {
        let plan: FaultPlan = "seed=7, sse_cut_chance=0.1,ack_delay_ms=500,cut=rst".parse().unwrap();
        assert_eq!((plan.seed, plan.sse_cut_chance, plan.ack_delay_ms, plan.cut), (7, 0.1, 500, Cut::Rst));
        assert_eq!(plan.to_string().parse::<FaultPlan>().unwrap(), plan);
        assert_eq!("seed=3".parse::<FaultPlan>().unwrap(), FaultPlan { seed: 3, ..FaultPlan::default() });
        let big = FaultPlan { seed: u64::MAX, ..FaultPlan::default() };
        assert_eq!(big.to_string().parse::<FaultPlan>().unwrap(), big, "every seed replays");
        assert!("latency_ms=99999999999".parse::<FaultPlan>().unwrap_err().contains("more than an hour"));
        assert!("stall_chance=-0.1".parse::<FaultPlan>().unwrap_err().contains("not in [0, 1]"));
        assert!("sse_cut_chance=2".parse::<FaultPlan>().unwrap_err().contains("not in [0, 1]"));
        assert!("bogus=1".parse::<FaultPlan>().unwrap_err().contains("unknown field `bogus`"));
        assert!("seed".parse::<FaultPlan>().unwrap_err().contains("expected key=value"));
        assert!("cut=sideways".parse::<FaultPlan>().is_err());
    }

    #[test]
    fn the_same_seed_draws_the_same() {
        let (a, b) = (Dice::new(9), Dice::new(9));
        let draws = |d: &Dice| (0..32).map(|_| (d.roll(0.3), d.below(100))).collect::<Vec<_>>();
        assert_eq!(draws(&a), draws(&b));
        assert!(!Dice::new(1).roll(0.0) && Dice::new(1).roll(1.0));
    }
}
