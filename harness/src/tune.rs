//! Choosing detector settings on labelled clips, and saying how they do on
//! a clip they were not chosen on (leave-one-clip-out), for camhil's
//! detector and the OpenCV baselines by one procedure (`docs/detector.md`,
//! "Choosing the defaults").
//!
//! - A [`Family`] is one detector: camhil's, OpenCV frame differencing,
//!   OpenCV MOG2. Its [`Variant`]s are its settings other than the
//!   threshold; each variant's per-frame score on every clip ([`Series`]:
//!   camhil's `change`, the baselines' fraction of changed pixels) is
//!   computed once.
//! - A [`Choice`] is a variant, a threshold and a hysteresis. Its motion
//!   frames follow from a series by the cam's own rules
//!   ([`cam_core::gate::MotionGate`]), so a choice scores the same here as
//!   on a cam.
//! - [`tune`] picks the choice with the highest mean frame-level F1 over
//!   the clips it may see, among the choices whose event-level precision
//!   on each of those clips is at least the clip's [floor](precision_floor)
//!   (the seed detector's there: the issue's "event-level precision no
//!   worse than today's", kept while tuning and not only checked after).
//!   A floor no choice reaches on a clip is lowered to the best any
//!   reaches there; if none keeps to them all even so, among all, and
//!   [`Choice::floor_kept`] says so. Ties go to the higher
//!   mean event-level F1, then to the first found, in the order variant,
//!   hysteresis, threshold of the lists given: the most sensitive choice
//!   of a flat optimum, with the lowest threshold and the most hysteresis
//!   ([`HYSTERESIS`] runs from 0.3 to 1).
//! - Every family is tuned over the same thresholds and hysteresis values:
//!   only its own settings differ.
//! - [`leave_one_out`] tunes once per clip on all the others and scores the
//!   choice on the clip left out.

use cam_core::gate::MotionGate;
use cam_core::{DetectorConfig, Measurement};

use crate::eval::{self, EvalFrame, Metrics};

/// A labelled clip as tuning sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledClip {
    /// Its folder's name.
    pub name: String,
    /// Capture time of each frame, ms.
    pub t_ms: Vec<u64>,
    /// Ground truth of each frame, where labelled.
    pub labels: Vec<Option<bool>>,
    /// How long each frame is shown, ms ([`eval::durations_ms`]).
    pub durations_ms: Vec<u64>,
}

impl LabelledClip {
    /// The clip's times and labels.
    pub fn of(clip: &footage::Clip) -> Self {
        let t_ms: Vec<u64> = clip.frames.iter().map(|f| f.t_ms).collect();
        Self::new(clip.name(), t_ms, clip.frames.iter().map(|f| f.label).collect())
    }

    /// A clip named `name` with these capture times (ms, not decreasing)
    /// and labels, one per frame.
    pub fn new(name: String, t_ms: Vec<u64>, labels: Vec<Option<bool>>) -> Self {
        let durations_ms = eval::durations_ms(&t_ms);
        Self { name, t_ms, labels, durations_ms }
    }
}

/// One variant's measurements of one clip, frame by frame.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// The score compared with the threshold: a fraction in `[0, 1]`.
    pub score: Vec<f64>,
    /// Frames the detector took for a lighting change (never motion).
    pub lighting: Vec<bool>,
}

/// A detector's settings other than the threshold, and its series on every
/// clip (in the order of the clips given to [`tune`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// The settings, as `key=value,…`.
    pub settings: String,
    /// One series per clip.
    pub series: Vec<Series>,
}

/// One detector and its variants.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// Its name in tables.
    pub name: String,
    /// Every variant tuning may choose.
    pub variants: Vec<Variant>,
    /// Hysteresis values tuning may choose (`[1.0]`: none).
    pub hysteresis: Vec<f64>,
}

/// A variant of a family, with a threshold and a hysteresis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Choice {
    /// Index into the family's variants.
    pub variant: usize,
    /// Threshold on the score, a fraction in `[0, 1]` (one of
    /// [`THRESHOLDS`]).
    pub threshold: f64,
    /// [`DetectorConfig::hysteresis`].
    pub hysteresis: f64,
    /// Whether its event precision is at least the floor on every clip it
    /// was tuned on ([`tune`]); `false` only where no choice could keep
    /// to a clip's floor.
    pub floor_kept: bool,
}

impl Choice {
    /// How tables name it: the variant's settings of `family`, then the
    /// threshold and hysteresis, and `, floor not kept` when it is below
    /// the floor on event precision on a clip it was tuned on.
    pub fn describe(&self, family: &Family) -> String {
        let settings = family.variants.get(self.variant).map_or("?", |v| v.settings.as_str());
        let note = if self.floor_kept { "" } else { ", floor not kept" };
        format!("{settings}, threshold={}, hysteresis={}{note}", self.threshold, self.hysteresis)
    }
}

/// The thresholds tuning tries, as fractions in `[0, 1]` of the score
/// (camhil: of the cells; the baselines: of the pixels): 0.00005 to 0.30,
/// closer together where small objects are told from noise.
pub const THRESHOLDS: &[f64] = &[
    0.00005, 0.0001, 0.0002, 0.0003, 0.0005, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.0125, 0.015,
    0.02, 0.025, 0.03, 0.04, 0.05, 0.06, 0.08, 0.10, 0.125, 0.15, 0.20, 0.25, 0.30,
];

/// The frames of `series` under `threshold` and `hysteresis`, decided by
/// the cam's rules (one event per motion frame, as at the defaults), as
/// [`eval::score`] takes them.
///
/// # Panics
/// When `series.score` is shorter than the clip.
pub fn decide(clip: &LabelledClip, series: &Series, threshold: f64, hysteresis: f64) -> Vec<EvalFrame> {
    let config = DetectorConfig { hysteresis, ..DetectorConfig::default() };
    let mut gate = MotionGate::default();
    (0..clip.t_ms.len())
        .map(|i| {
            let m = Measurement { change: series.score[i], lighting: series.lighting.get(i).copied().unwrap_or(false) };
            let d = gate.decide(m, threshold, &config, clip.t_ms[i]);
            let duration_ms = clip.durations_ms[i];
            EvalFrame { index: i, change: m.change, motion: d.event, label: clip.labels[i], duration_ms }
        })
        .collect()
}

/// The scores of every choice of `family` on every clip:
/// `[variant][hysteresis][threshold][clip]`.
fn grid(family: &Family, clips: &[LabelledClip], tolerance: usize) -> Vec<Vec<Vec<Vec<Metrics>>>> {
    family
        .variants
        .iter()
        .map(|v| {
            family
                .hysteresis
                .iter()
                .map(|&h| {
                    THRESHOLDS
                        .iter()
                        .map(|&t| {
                            clips
                                .iter()
                                .zip(&v.series)
                                .map(|(clip, s)| {
                                    eval::score(&decide(clip, s, t, h), t, tolerance)
                                        .unwrap_or_else(|| Metrics { threshold: t, ..unlabelled() })
                                })
                                .collect()
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// Scores of a clip without labels: nothing to find, nothing found.
fn unlabelled() -> Metrics {
    Metrics {
        threshold: 0.0,
        detected: 0,
        correct: 0,
        segments: 0,
        found: 0,
        precision: 1.0,
        recall: 1.0,
        f1: 1.0,
        still_hours: 0.0,
        false_alarms_per_hour: 0.0,
        frame_precision: 1.0,
        frame_recall: 1.0,
    }
}

/// The best choice on the clips `train` (indices into the grid's clips)
/// that keeps to `floor` on each of them (the module docs). A clip's floor
/// is lowered to the highest precision any choice reaches there, and when
/// no choice keeps to every floor even so, every choice is considered.
fn best(family: &Family, scores: &[Vec<Vec<Vec<Metrics>>>], train: &[usize], floor: &[f64]) -> Choice {
    let all = || scores.iter().flatten().flatten();
    let reachable: Vec<f64> = (0..floor.len())
        .map(|c| all().filter_map(|by_clip| by_clip.get(c)).map(|m| m.precision).fold(0.0, f64::max).min(floor[c]))
        .collect();
    let keeps = |by_clip: &[Metrics], floor: &[f64]| {
        train.iter().all(|&c| by_clip[c].precision + 1e-12 >= floor.get(c).copied().unwrap_or(0.0))
    };
    let constrained = all().any(|by_clip| keeps(by_clip, &reachable));
    let mut best: Option<(f64, f64, Choice)> = None;
    for (v, by_h) in scores.iter().enumerate() {
        for (h, by_t) in by_h.iter().enumerate() {
            for (t, by_clip) in by_t.iter().enumerate() {
                if constrained && !keeps(by_clip, &reachable) {
                    continue;
                }
                let n = train.len().max(1) as f64;
                let frame = train.iter().map(|&c| by_clip[c].frame_f1()).sum::<f64>() / n;
                let event = train.iter().map(|&c| by_clip[c].f1).sum::<f64>() / n;
                let better = best.as_ref().is_none_or(|(bf, be, _)| {
                    frame > *bf + 1e-12 || ((frame - *bf).abs() <= 1e-12 && event > *be + 1e-12)
                });
                if better {
                    let choice = Choice {
                        variant: v,
                        threshold: THRESHOLDS[t],
                        hysteresis: family.hysteresis[h],
                        floor_kept: keeps(by_clip, floor),
                    };
                    best = Some((frame, event, choice));
                }
            }
        }
    }
    best.map(|(_, _, c)| c).unwrap_or(Choice {
        variant: 0,
        threshold: THRESHOLDS[0],
        hysteresis: 1.0,
        floor_kept: floor.is_empty(),
    })
}

/// The choice with the highest mean frame-level F1 over every clip that
/// keeps to `floor` (the minimum event-level precision on each clip, in
/// the order of `clips`, from [`precision_floor`]; `&[]`: none), as the
/// module docs say, and its scores: one [`Metrics`] per clip, in the
/// order of `clips`.
pub fn tune(family: &Family, clips: &[LabelledClip], tolerance: usize, floor: &[f64]) -> (Choice, Vec<Metrics>) {
    let scores = grid(family, clips, tolerance);
    let all: Vec<usize> = (0..clips.len()).collect();
    let choice = best(family, &scores, &all, floor);
    let row = scores_of(family, &scores, choice);
    (choice, row)
}

/// For each clip, in the order of `clips`, the choice tuned on all the
/// other clips (keeping to their `floor`s, as [`tune`]) and its scores on
/// the clip left out, whose own floor plays no part. With fewer than two
/// clips there is nothing to tune on: `None`.
pub fn leave_one_out(
    family: &Family,
    clips: &[LabelledClip],
    tolerance: usize,
    floor: &[f64],
) -> Option<Vec<(Choice, Metrics)>> {
    if clips.len() < 2 {
        return None;
    }
    let scores = grid(family, clips, tolerance);
    let rows = (0..clips.len())
        .map(|out| {
            let train: Vec<usize> = (0..clips.len()).filter(|&c| c != out).collect();
            let choice = best(family, &scores, &train, floor);
            (choice, scores_of(family, &scores, choice)[out])
        })
        .collect();
    Some(rows)
}

/// A family tuned on a set of clips and scored on each of them: what
/// `cam-hil eval --baselines` prints beside camhil's rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Tuned {
    /// The family's name, e.g. `OpenCV MOG2`.
    pub name: String,
    /// The variant's settings, then the threshold and hysteresis chosen.
    pub settings: String,
    /// Its scores on each clip, in the order tuned on.
    pub scores: Vec<Metrics>,
}

/// Each of `families` tuned on all of `clips` by [`tune`], keeping to
/// `floor` (as the cam's defaults are chosen), and scored on each.
pub fn tuned_on_all(families: &[Family], clips: &[LabelledClip], tolerance: usize, floor: &[f64]) -> Vec<Tuned> {
    families
        .iter()
        .map(|family| {
            let (choice, scores) = tune(family, clips, tolerance, floor);
            Tuned { name: family.name.clone(), settings: choice.describe(family), scores }
        })
        .collect()
}

/// The floor on event-level precision that tuning keeps to on each clip
/// (in the order of `clips`): the precision of `reference`'s series at
/// `threshold` and `hysteresis` there. With the seed's detector
/// ([`DetectorConfig::seed`] at [`cam_core::protocol::SEED_THRESHOLD`]) as
/// the reference, no choice is made that raises more false events, for
/// the events it raises, than the seed did on a clip tuning sees; where
/// the seed raised no false event (every labelled clip but camera shake)
/// that is none. A clip without labels has no floor (0), and so has a
/// clip past the end of `reference`'s series (the result is then shorter
/// than `clips`).
pub fn precision_floor(
    clips: &[LabelledClip],
    reference: &Variant,
    threshold: f64,
    hysteresis: f64,
    tolerance: usize,
) -> Vec<f64> {
    clips
        .iter()
        .zip(&reference.series)
        .map(|(clip, s)| {
            eval::score(&decide(clip, s, threshold, hysteresis), threshold, tolerance).map_or(0.0, |m| m.precision)
        })
        .collect()
}

/// The scores of `choice` on every clip.
fn scores_of(family: &Family, scores: &[Vec<Vec<Vec<Metrics>>>], choice: Choice) -> Vec<Metrics> {
    let h = family.hysteresis.iter().position(|&x| x == choice.hysteresis).unwrap_or(0);
    let t = THRESHOLDS.iter().position(|&x| x == choice.threshold).unwrap_or(0);
    scores[choice.variant][h][t].clone()
}

/// camhil's detector settings tuning tries: frame differencing (the
/// seed's detector) at five `cell_delta`s, and the background model over
/// `cell_delta`, `noise_factor`, `absorb_frames` (0 included: only what
/// moved is foreground) and `learn_frames`; each with and without
/// `tolerate_shake` and `grade_cells`, with the lighting rules at their
/// defaults.
pub fn camhil_variants() -> Vec<(String, DetectorConfig)> {
    let mut out = Vec::new();
    // Ties go to the variant listed first: with shake removal first, since
    // on a clip without shake it sees what the variant without sees.
    for grade_cells in [true, false] {
        for tolerate_shake in [true, false] {
            for cell_delta in [8u8, 12, 16, 20, 24] {
                let config = DetectorConfig { cell_delta, tolerate_shake, grade_cells, ..DetectorConfig::default() };
                out.push((
                    format!(
                        "background=false,cell_delta={cell_delta},tolerate_shake={tolerate_shake},grade_cells={grade_cells}"
                    ),
                    config,
                ));
            }
        }
    }
    for grade_cells in [true, false] {
        for tolerate_shake in [true, false] {
            for cell_delta in [16u8, 20, 24] {
                for noise_factor in [3.0, 4.0, 6.0] {
                    for absorb_frames in [0u32, 1, 2, 5, 10] {
                        for learn_frames in [2u32, 4, 8] {
                            let config = DetectorConfig {
                                background: true,
                                cell_delta,
                                noise_factor,
                                absorb_frames,
                                learn_frames,
                                tolerate_shake,
                                grade_cells,
                                ..DetectorConfig::default()
                            };
                            out.push((
                                format!(
                                    "background=true,cell_delta={cell_delta},noise_factor={noise_factor},absorb_frames={absorb_frames},learn_frames={learn_frames},tolerate_shake={tolerate_shake},grade_cells={grade_cells}"
                                ),
                                config,
                            ));
                        }
                    }
                }
            }
        }
    }
    out
}

/// The hysteresis values tuning tries, for every family (1.0: none), the
/// most hysteresis first: ties go to it (the module docs).
pub const HYSTERESIS: &[f64] = &[0.3, 0.5, 0.75, 1.0];

/// camhil's family: every variant of `variants` run over every clip. Each
/// clip is decoded once (8-pixel cells) and every variant's detector runs
/// over its grids.
///
/// # Errors
/// A frame that does not decode, naming it.
pub fn camhil_family<C: std::borrow::Borrow<footage::Clip>>(
    clips: &[C],
    variants: Vec<(String, DetectorConfig)>,
) -> Result<Family, String> {
    let grids: Vec<Vec<cam_core::detector::LumaGrid>> = clips
        .iter()
        .map(|clip| {
            clip.borrow()
                .frames
                .iter()
                .map(|f| {
                    cam_core::detector::LumaGrid::from_jpeg(&f.jpeg, &DetectorConfig::default())
                        .map_err(|e| format!("{}: {e}", f.file))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<_, _>>()?;
    let variants = variants
        .into_iter()
        .map(|(settings, config)| {
            let series = grids
                .iter()
                .map(|frames| {
                    let mut detector = cam_core::Detector::new(config);
                    let measured: Vec<Measurement> = frames.iter().map(|g| detector.process_grid(g.clone())).collect();
                    Series {
                        score: measured.iter().map(|m| m.change).collect(),
                        lighting: measured.iter().map(|m| m.lighting).collect(),
                    }
                })
                .collect();
            Variant { settings, series }
        })
        .collect();
    Ok(Family { name: "camhil".into(), variants, hysteresis: HYSTERESIS.to_vec() })
}

/// The baselines' families from the scores `ci/baselines_opencv.py
/// --scores` writes: `{"<family>": {"<settings>": {"<clip>": [score, …]}}}`,
/// one score per frame (the fraction of pixels changed). They are tuned
/// over the same thresholds and [`HYSTERESIS`] as camhil.
///
/// # Errors
/// Not that JSON, a family without settings, a clip of `clips` missing
/// from a variant or with another number of frames, or a score that is not
/// a fraction in `[0, 1]`.
pub fn baseline_families(json: &str, clips: &[LabelledClip]) -> Result<Vec<Family>, String> {
    type Scores = std::collections::BTreeMap<
        String,
        std::collections::BTreeMap<String, std::collections::BTreeMap<String, Vec<f64>>>,
    >;
    let parsed: Scores = serde_json::from_str(json).map_err(|e| format!("baseline scores: {e}"))?;
    parsed
        .into_iter()
        .map(|(name, variants)| {
            if variants.is_empty() {
                return Err(format!("baseline scores: {name} has no settings to tune"));
            }
            let variants = variants
                .into_iter()
                .map(|(settings, by_clip)| {
                    let series = clips
                        .iter()
                        .map(|clip| {
                            let score = by_clip.get(&clip.name).ok_or_else(|| {
                                format!("baseline scores: {name} {settings} has no clip {}", clip.name)
                            })?;
                            if score.len() != clip.t_ms.len() {
                                return Err(format!(
                                    "baseline scores: {name} {settings} has {} frames of {}, not {}",
                                    score.len(),
                                    clip.name,
                                    clip.t_ms.len()
                                ));
                            }
                            if let Some(i) = score.iter().position(|x| !(0.0..=1.0).contains(x)) {
                                return Err(format!(
                                    "baseline scores: {name} {settings}: frame {i} of {} scores {}, not a fraction in [0, 1]",
                                    clip.name, score[i]
                                ));
                            }
                            Ok(Series { score: score.clone(), lighting: vec![false; score.len()] })
                        })
                        .collect::<Result<Vec<_>, String>>()?;
                    Ok(Variant { settings, series })
                })
                .collect::<Result<Vec<_>, String>>()?;
            Ok(Family { name, variants, hysteresis: HYSTERESIS.to_vec() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip(name: &str, labels: &[u8]) -> LabelledClip {
        let t_ms = (0..labels.len() as u64).map(|i| i * 200).collect();
        LabelledClip::new(name.into(), t_ms, labels.iter().map(|&l| Some(l == 1)).collect())
    }

    fn series(score: &[f64]) -> Series {
        Series { score: score.to_vec(), lighting: vec![false; score.len()] }
    }

    #[test]
    fn hysteresis_follows_the_cams_rules() {
        let c = clip("a", &[0, 1, 1, 1, 0]);
        let s = series(&[0.0, 0.2, 0.07, 0.06, 0.01]);
        let flags = |h| decide(&c, &s, 0.10, h).iter().map(|f| f.motion).collect::<Vec<_>>();
        assert_eq!(flags(1.0), [false, true, false, false, false]);
        assert_eq!(flags(0.5), [false, true, true, true, false]);
    }

    /// Three clips where the best threshold differs: the clip left out is
    /// scored with what the other two chose, never with its own best.
    #[test]
    fn the_clip_left_out_is_scored_with_what_the_others_chose() {
        let clips = [clip("a", &[0, 1, 1, 0]), clip("b", &[0, 1, 1, 0]), clip("c", &[0, 1, 1, 0])];
        // a and b: noise at 0.02, motion at 0.06; c: motion at 0.013 only.
        let noisy = series(&[0.02, 0.06, 0.06, 0.02]);
        let variant =
            Variant { settings: "x".into(), series: vec![noisy.clone(), noisy, series(&[0.0, 0.013, 0.013, 0.0])] };
        let family = Family { name: "f".into(), variants: vec![variant], hysteresis: vec![1.0] };
        let f1 = |m: &Metrics| (m.frame_f1() * 1000.0).round() / 1000.0;
        // On all three, finding c's motion is worth a and b's noise.
        let (all, row) = tune(&family, &clips, 0, &[]);
        assert_eq!(all.threshold, THRESHOLDS[0]);
        assert_eq!(row.iter().map(f1).collect::<Vec<_>>(), [0.667, 0.667, 1.0]);
        let loco = leave_one_out(&family, &clips, 0, &[]).unwrap();
        // Without c, the noise rules: c is scored at 0.02 and missed.
        assert_eq!((loco[2].0.threshold, f1(&loco[2].1)), (0.02, 0.0));
        // Without a, c still pulls the threshold down.
        assert_eq!((loco[0].0.threshold, f1(&loco[0].1)), (THRESHOLDS[0], 0.667));
    }

    /// The choice with the best frame F1 raises a false event; with the
    /// seed's precision (1.0) as the floor, tuning keeps to it and gives up
    /// frame recall instead. A floor no choice can reach is lowered to what
    /// can be reached, and the others are still kept to.
    #[test]
    fn tuning_keeps_to_the_floor_on_event_precision() {
        let a = clip("a", &[0, 0, 1, 1, 1, 1, 0, 0, 0, 0]);
        // Motion at 0.25 on its first and last frame, 0.06 between, and a
        // flicker of 0.06 on frame 8, away from it.
        let s = series(&[0.0, 0.0, 0.25, 0.06, 0.06, 0.25, 0.0, 0.0, 0.06, 0.0]);
        let family_of = |series: Vec<Series>| Family {
            name: "f".into(),
            variants: vec![Variant { settings: "x".into(), series }],
            hysteresis: vec![1.0],
        };
        let family = family_of(vec![s.clone()]);
        let clips = [a.clone()];
        let (free, row) = tune(&family, &clips, 0, &[]);
        assert_eq!((free.threshold, free.floor_kept, row[0].precision), (THRESHOLDS[0], true, 0.5));
        assert!((row[0].frame_f1() - 8.0 / 9.0).abs() < 1e-9, "{row:?}");
        let (kept, row) = tune(&family, &clips, 0, &[1.0]);
        assert_eq!((kept.threshold, kept.floor_kept), (0.06, true));
        assert_eq!((row[0].precision, row[0].frame_f1()), (1.0, 2.0 / 3.0));
        assert_eq!(kept.describe(&family), "x, threshold=0.06, hysteresis=1");

        // b: every threshold raises a false event. Its floor is out of
        // reach, a's is still kept to, and the choice says it is below one.
        let b = clip("b", &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let always = series(&[0.0, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        let family = family_of(vec![s.clone(), always]);
        let (relaxed, _) = tune(&family, &[a.clone(), b.clone()], 0, &[1.0, 1.0]);
        assert_eq!((relaxed.threshold, relaxed.floor_kept), (0.06, false));
        assert_eq!(relaxed.describe(&family), "x, threshold=0.06, hysteresis=1, floor not kept");
        assert_eq!(tune(&family, &[a.clone(), b], 0, &[]).0.threshold, THRESHOLDS[0]);

        // Left out, each clip is scored with the choice that keeps to the
        // other clips' floors, not to its own.
        let family = family_of(vec![s.clone(), s]);
        let loco = leave_one_out(&family, &[a.clone(), a.clone()], 0, &[1.0, 0.0]).unwrap();
        assert_eq!((loco[0].0.threshold, loco[1].0.threshold), (THRESHOLDS[0], 0.06));

        // precision_floor: the reference's precision on each clip; none on
        // a clip without labels.
        let unlabelled = LabelledClip::new("u".into(), a.t_ms.clone(), vec![None; 10]);
        let floor = precision_floor(&[a.clone(), unlabelled], &family.variants[0], 0.00005, 1.0, 0);
        assert_eq!(floor, [0.5, 0.0]);
    }

    #[test]
    fn a_variant_that_alarms_on_a_still_clip_loses() {
        let clips = [clip("moving", &[0, 1, 1, 0]), clip("still", &[0, 0, 0, 0])];
        let noisy = Variant {
            settings: "noisy".into(),
            series: vec![series(&[0.0, 0.5, 0.5, 0.0]), series(&[0.0, 0.4, 0.4, 0.0])],
        };
        let quiet =
            Variant { settings: "quiet".into(), series: vec![series(&[0.0, 0.5, 0.5, 0.0]), series(&[0.0; 4])] };
        let family = Family { name: "f".into(), variants: vec![noisy, quiet], hysteresis: vec![1.0] };
        let (choice, row) = tune(&family, &clips, 0, &[]);
        assert_eq!(choice.variant, 1, "{choice:?}");
        assert!(row.iter().all(|m| m.frame_f1() == 1.0), "{row:?}");
        // Below 0.4 the noisy one alarms on the still clip, which scores 0.
        let scores = grid(&family, &clips, 0);
        let still_alarm = &scores[0][0][0][1];
        assert_eq!(still_alarm.frame_f1(), 0.0, "an alarm on a still clip scores 0");
    }

    #[test]
    fn malformed_baseline_scores_are_refused_with_what_is_wrong() {
        let clips = [clip("a", &[0, 1])];
        let refused = |json: &str| baseline_families(json, &clips).unwrap_err();
        assert_eq!(refused(r#"{"mog2": {}}"#), "baseline scores: mog2 has no settings to tune");
        assert_eq!(refused(r#"{"mog2": {"h=50": {"b": [0, 0]}}}"#), "baseline scores: mog2 h=50 has no clip a");
        assert_eq!(refused(r#"{"mog2": {"h=50": {"a": [0]}}}"#), "baseline scores: mog2 h=50 has 1 frames of a, not 2");
        assert_eq!(
            refused(r#"{"mog2": {"h=50": {"a": [0, 1.5]}}}"#),
            "baseline scores: mog2 h=50: frame 1 of a scores 1.5, not a fraction in [0, 1]"
        );
        assert!(refused("[1, 2]").starts_with("baseline scores: invalid type"));
        let families = baseline_families(r#"{"mog2": {"h=50": {"a": [0, 0.5]}}}"#, &clips).unwrap();
        assert_eq!((families[0].variants[0].series[0].score.as_slice(), families.len()), (&[0.0, 0.5][..], 1));
    }
}
