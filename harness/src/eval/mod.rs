//! `cam-hil eval`: how well the detector does on a labelled clip. Each
//! frame goes through the core's [`Cam`] in process (the same logic as
//! every target; [`run`]), or through a target cam over its HIL routes
//! ([`target`]: the simulator, the firmware on the emulated board, a cam
//! at a URL, a board), and the motion events are scored against
//! `labels.csv`.
//!
//! ## How events are matched (event level)
//! A *detected event* is a run of consecutive frames that raised a `motion`
//! event; a *labelled segment* is a run of consecutive frames labelled
//! `motion = 1`. A detected event is correct when it overlaps a labelled
//! segment widened by `tolerance` frames on each side (frame differencing
//! fires on the frame where things change, which may be just outside the
//! label); a segment is found when a detected event overlaps it so widened.
//! Precision = correct / detected, recall = found / segments, F1 their
//! harmonic mean. False alarms are the detected events that are not
//! correct; they are counted per hour of still footage (frames labelled 0).
//! Frame-level precision and recall (each frame's event against its label)
//! are reported too: on clips with one long labelled segment they show the
//! trade-off that event-level scores hide.

use cam_core::storage::NoStorage;
use cam_core::{Cam, Command, DetectorConfig};
use footage::Clip;

pub mod target;

/// One frame as the detector saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalFrame {
    /// Index in the clip.
    pub index: usize,
    /// The detector's `change`.
    pub change: f64,
    /// It raised a `motion` event.
    pub motion: bool,
    /// Ground truth, where the clip has labels.
    pub label: Option<bool>,
    /// Ms until the next frame (the last frame: the clip's mean interval).
    pub duration_ms: u64,
}

/// Event-level scores of one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// Threshold used.
    pub threshold: f64,
    /// Detected events.
    pub detected: usize,
    /// Detected events overlapping a labelled segment.
    pub correct: usize,
    /// Labelled segments.
    pub segments: usize,
    /// Labelled segments found.
    pub found: usize,
    /// correct / detected (1 when nothing was detected).
    pub precision: f64,
    /// found / segments (1 when there is no segment).
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Hours of footage labelled still.
    pub still_hours: f64,
    /// False alarms (detected − correct) per hour of still footage.
    pub false_alarms_per_hour: f64,
    /// Frame level: frames raising events that are labelled 1, over frames
    /// raising events (1 when none did).
    pub frame_precision: f64,
    /// Frame level: frames labelled 1 that raised events, over frames
    /// labelled 1 (1 when none is).
    pub frame_recall: f64,
}

/// Runs every frame of `clip` through a fresh cam with `config` and
/// `threshold` (a fraction of the cells in `[0, 1]`).
///
/// # Errors
/// A threshold the cam refuses (outside `[0, 1]`), or a frame that does
/// not decode, naming it.
pub fn run(clip: &Clip, config: DetectorConfig, threshold: f64) -> Result<Vec<EvalFrame>, String> {
    let mut cam = Cam::new(config, 16, 0);
    let ack = cam.apply(Command::SetThreshold(Some(threshold)), 0, &mut NoStorage("eval has no storage"));
    if !matches!(ack, cam_core::Ack::Threshold { .. }) {
        return Err(format!("threshold {threshold}: the cam refuses it (a fraction of the cells, 0 to 1)"));
    }
    let durations = durations_ms(&clip.frames.iter().map(|f| f.t_ms).collect::<Vec<_>>());
    clip.frames
        .iter()
        .zip(durations)
        .enumerate()
        .map(|(i, (f, duration_ms))| {
            let o = cam.process_frame(f.jpeg.clone(), f.t_ms).map_err(|e| format!("{}: {e}", f.file))?;
            Ok(EvalFrame { index: i, change: o.change, motion: o.event.is_some(), label: f.label, duration_ms })
        })
        .collect()
}

/// How long each frame is shown, in ms, from capture times `t_ms` (ms,
/// not decreasing): until the next frame; the last one, the clip's mean
/// interval (0 for a single frame).
///
/// # Panics
/// When the capture times decrease (a manifest the `footage` crate
/// accepted never does).
pub fn durations_ms(t_ms: &[u64]) -> Vec<u64> {
    let n = t_ms.len();
    let mean = if n > 1 { (t_ms[n - 1] - t_ms[0]) / (n as u64 - 1) } else { 0 };
    (0..n).map(|i| t_ms.get(i + 1).map_or(mean, |next| next - t_ms[i])).collect()
}

/// Maximal runs of consecutive indices where `pred` holds, as inclusive ranges.
fn runs(frames: &[EvalFrame], pred: impl Fn(&EvalFrame) -> bool) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for f in frames.iter().filter(|f| pred(f)) {
        match out.last_mut() {
            Some((_, end)) if *end + 1 == f.index => *end = f.index,
            _ => out.push((f.index, f.index)),
        }
    }
    out
}

/// Labelled segments: runs of frames labelled 1, as inclusive index
/// ranges. Unlabelled frames (nobody could judge them) neither end nor
/// start a segment: `1 _ 1` is one segment, `1 _ 0` ends at the first.
fn segments(frames: &[EvalFrame]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut open = false;
    for f in frames {
        match f.label {
            Some(true) if open => {
                if let Some((_, end)) = out.last_mut() {
                    *end = f.index;
                }
            }
            Some(true) => {
                out.push((f.index, f.index));
                open = true;
            }
            Some(false) => open = false,
            None => {}
        }
    }
    out
}

/// Scores `frames` (see the module docs); `None` when they have no labels.
/// Unlabelled frames are not scored: an event all of whose frames are
/// unlabelled is neither correct nor a false alarm, and a labelled segment
/// goes on across them.
pub fn score(frames: &[EvalFrame], threshold: f64, tolerance: usize) -> Option<Metrics> {
    if frames.iter().all(|f| f.label.is_none()) {
        return None;
    }
    // In index order: whether a run holds a labelled frame is one binary
    // search (tuning scores every choice on every clip).
    let labelled: Vec<usize> = frames.iter().filter(|f| f.label.is_some()).map(|f| f.index).collect();
    let judged = |&(a, b): &(usize, usize)| labelled.get(labelled.partition_point(|&i| i < a)).is_some_and(|&i| i <= b);
    let detected: Vec<(usize, usize)> = runs(frames, |f| f.motion).into_iter().filter(judged).collect();
    let segments = segments(frames);
    let overlaps = |(a0, a1): (usize, usize), (s0, s1): (usize, usize)| {
        a0 <= s1.saturating_add(tolerance) && s0.saturating_sub(tolerance) <= a1
    };
    let correct = detected.iter().filter(|d| segments.iter().any(|s| overlaps(**d, *s))).count();
    let found = segments.iter().filter(|s| detected.iter().any(|d| overlaps(*d, **s))).count();
    let precision = if detected.is_empty() { 1.0 } else { correct as f64 / detected.len() as f64 };
    let recall = if segments.is_empty() { 1.0 } else { found as f64 / segments.len() as f64 };
    let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
    let still_ms: u64 = frames.iter().filter(|f| f.label == Some(false)).map(|f| f.duration_ms).sum();
    let still_hours = still_ms as f64 / 3_600_000.0;
    let false_alarms = (detected.len() - correct) as f64;
    let false_alarms_per_hour = if still_hours > 0.0 { false_alarms / still_hours } else { 0.0 };
    let labelled = frames.iter().filter(|f| f.label.is_some());
    let (mut tp, mut fp, mut fneg) = (0usize, 0usize, 0usize);
    for f in labelled {
        match (f.motion, f.label == Some(true)) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fneg += 1,
            (false, false) => {}
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    Some(Metrics {
        threshold,
        detected: detected.len(),
        correct,
        segments: segments.len(),
        found,
        precision,
        recall,
        f1,
        still_hours,
        false_alarms_per_hour,
        frame_precision: ratio(tp, tp + fp),
        frame_recall: ratio(tp, tp + fneg),
    })
}

/// The frames a run got wrong, as maximal runs of frame indices
/// (inclusive): frames that raised an event but are labelled 0
/// (`false_alarms`) and frames labelled 1 that raised none (`missed`).
/// Unlabelled frames are in neither. What a frame-level precision or recall
/// below 1 is made of.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WrongFrames {
    /// Runs of frames raising an event while labelled still: `(first,
    /// last)` frame indices in the clip ([`EvalFrame::index`]), inclusive,
    /// ascending.
    pub false_alarms: Vec<(usize, usize)>,
    /// Runs of frames labelled motion that raised no event, likewise.
    pub missed: Vec<(usize, usize)>,
}

impl WrongFrames {
    /// The wrong frames of `frames`, given in index order (as [`run`] and
    /// [`crate::tune::decide`] give them): consecutive indices make one run.
    pub fn of(frames: &[EvalFrame]) -> Self {
        Self {
            false_alarms: runs(frames, |f| f.motion && f.label == Some(false)),
            missed: runs(frames, |f| !f.motion && f.label == Some(true)),
        }
    }

    /// Nothing wrong.
    pub fn is_empty(&self) -> bool {
        self.false_alarms.is_empty() && self.missed.is_empty()
    }
}

/// `false alarms on frames 2, 4, 8–10; missed frame 75`: "frame" for a
/// single frame, "frames" for a run or several; a part left out when
/// empty; `none` when both are.
impl std::fmt::Display for WrongFrames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // "false alarm on frame 89", "missed frames 75\u{2013}76, 79".
        let part = |runs: &[(usize, usize)], one: &str, many: &str| {
            let single = matches!(runs, [(a, b)] if a == b);
            let list: Vec<String> =
                runs.iter().map(|&(a, b)| if a == b { a.to_string() } else { format!("{a}\u{2013}{b}") }).collect();
            (!runs.is_empty()).then(|| format!("{} {}", if single { one } else { many }, list.join(", ")))
        };
        let parts: Vec<String> = [
            part(&self.false_alarms, "false alarm on frame", "false alarms on frames"),
            part(&self.missed, "missed frame", "missed frames"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if parts.is_empty() { write!(f, "none") } else { write!(f, "{}", parts.join("; ")) }
    }
}

/// Scores the clip at each threshold.
///
/// # Errors
/// As [`run`]; and a clip without labels.
pub fn sweep(
    clip: &Clip,
    config: DetectorConfig,
    thresholds: &[f64],
    tolerance: usize,
) -> Result<Vec<Metrics>, String> {
    thresholds
        .iter()
        .map(|&t| {
            score(&run(clip, config, t)?, t, tolerance).ok_or_else(|| format!("{}: no labels.csv", clip.dir.display()))
        })
        .collect()
}

/// The thresholds `--sweep` tries: those tuning tries,
/// [`crate::tune::THRESHOLDS`] (0.00005 to 0.30, the default 0.003 among
/// them).
pub fn default_thresholds() -> Vec<f64> {
    crate::tune::THRESHOLDS.to_vec()
}

/// A precision/recall curve over thresholds, as an SVG document.
pub fn sweep_svg(name: &str, points: &[Metrics]) -> String {
    use plotters::prelude::*;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (520, 420)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let chart = ChartBuilder::on(&root)
            .caption(format!("{name}: precision / recall over thresholds 0.00005-0.30"), ("sans-serif", 15))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(44)
            .build_cartesian_2d(0f64..1.02, 0f64..1.02);
        if let Ok(mut chart) = chart {
            let _ = chart.configure_mesh().x_desc("recall").y_desc("precision").draw();
            let frame = points.iter().map(|m| (m.frame_recall, m.frame_precision));
            if let Ok(s) = chart.draw_series(LineSeries::new(frame, BLUE.stroke_width(2))) {
                s.label("frames").legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLUE.stroke_width(2)));
            }
            let _ = chart
                .draw_series(points.iter().map(|m| Circle::new((m.frame_recall, m.frame_precision), 3, BLUE.filled())));
            for m in points.iter().filter(|m| [0.001, 0.003, 0.01, 0.05, 0.1, 0.3].contains(&m.threshold)) {
                let _ = chart.draw_series(std::iter::once(Text::new(
                    threshold_text(m.threshold),
                    (m.frame_recall, m.frame_precision),
                    ("sans-serif", 11),
                )));
            }
            let events = points.iter().map(|m| TriangleMarker::new((m.recall, m.precision), 5, RED.filled()));
            if let Ok(s) = chart.draw_series(events) {
                s.label("events").legend(|(x, y)| TriangleMarker::new((x + 8, y), 5, RED.filled()));
            }
            let _ = chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.2))
                .draw();
        }
        let _ = root.present();
    }
    svg
}

/// `change` per frame of one clip as an SVG document: the change line, the
/// threshold, the frames that raised events (red triangles) and the
/// labelled motion frames (green band), so misses and false alarms show.
/// The change axis is logarithmic, from a tenth of the threshold (a change
/// below that, 0 included, is drawn there), so a threshold of a few cells
/// and a change of half the frame both show.
pub fn change_svg(name: &str, frames: &[EvalFrame], threshold: f64) -> String {
    use plotters::prelude::*;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 260)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let floor = (threshold / 10.0).max(1e-5);
        let top = frames.iter().map(|f| f.change).fold(threshold * 2.0, f64::max).min(1.0) * 1.05;
        let at = |change: f64| change.max(floor);
        let n = frames.len().max(1) as f64;
        let chart = ChartBuilder::on(&root)
            .caption(format!("{name}: change per frame"), ("sans-serif", 14))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(52)
            .build_cartesian_2d(0f64..n, (floor..top).log_scale());
        if let Ok(mut chart) = chart {
            let _ = chart.configure_mesh().x_desc("frame").y_desc("change (log)").draw();
            let truth = frames.iter().filter(|f| f.label == Some(true)).map(|f| {
                let x = f.index as f64;
                Rectangle::new([(x, floor), (x + 1.0, top)], GREEN.mix(0.18).filled())
            });
            if let Ok(s) = chart.draw_series(truth) {
                s.label("labelled motion")
                    .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], GREEN.mix(0.3).filled()));
            }
            let line = frames.iter().map(|f| (f.index as f64 + 0.5, at(f.change)));
            if let Ok(s) = chart.draw_series(LineSeries::new(line, BLUE.stroke_width(2))) {
                s.label("change").legend(|(x, y)| PathElement::new([(x, y), (x + 14, y)], BLUE.stroke_width(2)));
            }
            let limit = [(0.0, threshold), (n, threshold)];
            if let Ok(s) = chart.draw_series(LineSeries::new(limit, BLACK.mix(0.6).stroke_width(1))) {
                s.label(format!("threshold {}", threshold_text(threshold)))
                    .legend(|(x, y)| PathElement::new([(x, y), (x + 14, y)], BLACK.mix(0.6)));
            }
            let events = frames
                .iter()
                .filter(|f| f.motion)
                .map(|f| TriangleMarker::new((f.index as f64 + 0.5, at(f.change)), 5, RED.filled()));
            if let Ok(s) = chart.draw_series(events) {
                s.label("event").legend(|(x, y)| TriangleMarker::new((x + 7, y), 5, RED.filled()));
            }
            let _ = chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.2))
                .draw();
        }
        let _ = root.present();
    }
    svg
}

impl Metrics {
    /// Frame-level F1 from the frame precision and recall: 1 for a clip
    /// with nothing to find and nothing found, 0 when either is 0.
    pub fn frame_f1(&self) -> f64 {
        let (p, r) = (self.frame_precision, self.frame_recall);
        if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 }
    }

    /// The scores as table cells, formatted once for every report: events,
    /// segments found (`found/segments`), precision, recall, F1, false alarms
    /// per hour, frame precision, frame recall, frame F1.
    pub fn cells(&self) -> [String; 9] {
        [
            self.detected.to_string(),
            format!("{}/{}", self.found, self.segments),
            format!("{:.2}", self.precision),
            format!("{:.2}", self.recall),
            format!("{:.2}", self.f1),
            format!("{:.1}", self.false_alarms_per_hour),
            format!("{:.2}", self.frame_precision),
            format!("{:.2}", self.frame_recall),
            format!("{:.2}", self.frame_f1()),
        ]
    }
}

/// A threshold as tables show it: two decimals, or as many as a smaller
/// threshold needs (`0.05`, `0.10`, `0.004`).
pub fn threshold_text(t: f64) -> String {
    if (t * 100.0 - (t * 100.0).round()).abs() < 1e-9 { format!("{t:.2}") } else { format!("{t}") }
}

/// A Markdown table row of `m` for the clip `name`.
pub fn table_row(name: &str, m: &Metrics) -> String {
    format!("| {name} | {} | {} |", threshold_text(m.threshold), m.cells().join(" | "))
}

/// A row of [`DETECTOR_TABLE_HEADER`]'s table: [`table_row`] with the
/// detector's name (and settings) after the clip's.
pub fn detector_row(name: &str, detector: &str, m: &Metrics) -> String {
    format!("| {name} | {detector} | {} | {} |", threshold_text(m.threshold), m.cells().join(" | "))
}

/// The header of [`detector_row`]'s table: [`TABLE_HEADER`]'s with a
/// detector column, for camhil beside the baselines.
pub const DETECTOR_TABLE_HEADER: &str = "| clip | detector | threshold | events | segments found | precision | recall | F1 | false alarms / h still | frame precision | frame recall | frame F1 |\n|---|---|---|---|---|---|---|---|---|---|---|---|";

/// The header of [`table_row`]'s table.
pub const TABLE_HEADER: &str = "| clip | threshold | events | segments found | precision | recall | F1 | false alarms / h still | frame precision | frame recall | frame F1 |\n|---|---|---|---|---|---|---|---|---|---|---|";
