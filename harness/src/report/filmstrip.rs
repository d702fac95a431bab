//! "What the cam saw": strips of small frame thumbnails in the HTML report,
//! the filmstrip of a trace viewer for camera frames. Each `motion` event
//! gets a strip of the frames injected around the one that raised it, and a
//! failed step a strip of the frames injected up to its end, so a reader
//! sees what was in the picture when an event fired, or did not.
//!
//! Thumbnails are small JPEGs (at most [`THUMB_WIDTH`] px wide) written once
//! per clip frame into `DIR/frames/` and referenced by relative `<img>`
//! paths. A frame that cannot be read, decoded or written becomes a
//! placeholder cell that says why; it never aborts the report.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};

use cam_core::fixture::ManifestRow;
use footage::Clip;
use image::DynamicImage;
use image::codecs::jpeg::JpegEncoder;

use super::html::escape;
use crate::runner::{FrameRecord, ReceivedEvent, ScenarioReport};

/// Widest thumbnail, in px (narrower frames keep their width).
pub const THUMB_WIDTH: u32 = 96;
/// JPEG quality of the thumbnails (1–100).
const THUMB_QUALITY: u8 = 75;
/// Frames shown on each side of an event's frame.
pub const EVENT_CONTEXT: usize = 3;
/// `motion` events given a strip per scenario; the rest are counted.
pub const MAX_EVENT_STRIPS: usize = 20;
/// Frames shown from before a failing step began.
pub const FAILURE_BEFORE: usize = 6;
/// Most frames in a failure strip (the latest are kept).
pub const FAILURE_MAX: usize = 12;
/// The folder under the report directory that holds the thumbnails.
pub const FRAMES_DIR: &str = "frames";

/// CSS for the strips, in the style of the report page.
pub const STYLE: &str = r#"
.film { margin: .5rem 0 .8rem; }
.film .meta b { color: #1d2430; }
.strip { display: flex; gap: .35rem; overflow-x: auto; padding: .35rem .1rem .2rem; }
.thumb { flex: none; margin: 0; width: 96px; font-size: .7rem; line-height: 1.25; color: #445; }
.thumb img, .thumb .missing { display: block; width: 96px; border-radius: .25rem; background: #e5e7eb; }
.thumb .missing { height: 72px; box-sizing: border-box; padding: .25rem; color: #8a2219; font-size: .62rem; overflow: hidden; overflow-wrap: anywhere; border: 1px dashed #c9a5a1; }
.thumb figcaption { padding-top: .15rem; font-variant-numeric: tabular-nums; }
.thumb.event img, .thumb.event .missing { outline: 3px solid #e07b00; outline-offset: 1px; }
.thumb.during img, .thumb.during .missing { outline: 3px solid #d04030; outline-offset: 1px; }
.tag { display: inline-block; padding: 0 .3rem; border-radius: .6rem; font-size: .62rem; font-weight: 600; margin: .1rem .1rem 0 0; }
.tag.ev { background: #e07b00; color: #fff; } .tag.ev.during { background: #d04030; }
.tag.mo { background: #fde7c8; color: #8a4b00; }
.tag.gt-m { background: #c9f0d3; color: #195c2e; } .tag.gt-s { background: #e5e7eb; color: #374151; }
"#;

/// The frame (position in `frames`, injection order) that raised `event`:
/// the frame whose ack carried the event's `id`, else the latest frame sent
/// no later than the event arrived (`sent_ms <= at_ms`) whose ack had no
/// id and whose sequence number equals the event data's `frame`. `None`
/// when no injected frame matches.
pub fn event_frame(frames: &[FrameRecord], event: &ReceivedEvent) -> Option<usize> {
    if let Some(id) = &event.id
        && let Some(i) = frames.iter().position(|f| f.reply.id.as_ref() == Some(id))
    {
        return Some(i);
    }
    let seq = event.data["frame"].as_u64()?;
    frames.iter().rposition(|f| f.reply.id.is_none() && f.reply.frame == seq && f.sent_ms <= event.at_ms)
}

/// Positions in `frames` of the strip around frame `at`: up to `context`
/// frames on each side, clamped to what was injected.
pub fn around(frames: &[FrameRecord], at: usize, context: usize) -> Range<usize> {
    at.saturating_sub(context)..(at + context + 1).min(frames.len())
}

/// What a failure strip shows: the failing step and the frames injected up
/// to its end.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureWindow {
    /// The failing step's label (`setup` when the scenario could not start).
    pub step: String,
    /// When the step began, ms since the scenario started (0 for `setup`).
    pub started_ms: f64,
    /// When it ended (`started_ms` plus its duration), ms since the
    /// scenario started; the end of the run for `setup`.
    pub ended_ms: f64,
    /// Positions in the report's `frames` to show: every frame sent during
    /// the step plus up to [`FAILURE_BEFORE`] sent before it, at most
    /// [`FAILURE_MAX`] (the latest kept). Empty when none was sent by then.
    pub frames: Range<usize>,
    /// Frames sent during the step that the strip leaves out (the earliest).
    pub omitted: usize,
}

/// The failure strip's window for `r`, or `None` when no step failed.
pub fn failure_window(r: &ScenarioReport) -> Option<FailureWindow> {
    let (step, started_ms, ended_ms) = match r.steps.iter().find(|s| s.failure.is_some()) {
        Some(s) => (s.label.clone(), s.started_ms, s.started_ms + s.ms),
        None => {
            let (step, _) = r.failure()?;
            (step, 0.0, f64::INFINITY)
        }
    };
    // Frames sent before the step ended, and the first sent during it.
    let end = r.frames.iter().position(|f| f.sent_ms > ended_ms).unwrap_or(r.frames.len());
    let first_during = r.frames[..end].iter().position(|f| f.sent_ms >= started_ms).unwrap_or(end);
    let wanted = first_during.saturating_sub(FAILURE_BEFORE);
    let start = wanted.max(end.saturating_sub(FAILURE_MAX));
    let omitted = start.saturating_sub(first_during);
    Some(FailureWindow { step, started_ms, ended_ms, frames: start..end, omitted })
}

/// A thumbnail written under the report directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    /// Its path relative to the report directory, `/`-separated
    /// (`frames/<clip>-<index>.jpg`).
    pub src: String,
    /// Width in px.
    pub width: u32,
    /// Height in px.
    pub height: u32,
}

/// A clip as the thumbnailer sees it.
enum Source {
    /// Loaded whole with [`Clip::load`].
    Loaded(Clip),
    /// The clip did not load whole (a frame file missing or unreadable):
    /// its manifest rows, each frame read on its own.
    Rows(Vec<ManifestRow>),
    /// Not even the manifest: why.
    Broken(String),
}

/// Writes thumbnails into `DIR/frames/`, each clip loaded once and each
/// frame (clip folder and fixture index) thumbnailed once per report.
pub struct Thumbnails {
    dir: PathBuf,
    clips: HashMap<PathBuf, Source>,
    /// File-name stem per clip folder, unique within the report.
    stems: HashMap<PathBuf, String>,
    done: HashMap<(PathBuf, usize), Result<Thumbnail, String>>,
}

impl Thumbnails {
    /// Thumbnails for a report written into `dir` (they go to
    /// `dir/frames/`, created on the first one).
    pub fn new(dir: &Path) -> Self {
        Self { dir: dir.to_path_buf(), clips: HashMap::new(), stems: HashMap::new(), done: HashMap::new() }
    }

    /// The thumbnail of frame `index` (manifest row) of the clip in folder
    /// `clip`, written on first use.
    ///
    /// # Errors
    /// Why there is none, for a placeholder: the clip or the frame file
    /// cannot be read, the index is past the clip's end, the bytes are not a
    /// decodable JPEG, or the thumbnail cannot be written.
    pub fn get(&mut self, clip: &Path, index: usize) -> Result<Thumbnail, String> {
        let key = (clip.to_path_buf(), index);
        if let Some(done) = self.done.get(&key) {
            return done.clone();
        }
        let made = self.make(clip, index);
        self.done.insert(key, made.clone());
        made
    }

    fn make(&mut self, clip: &Path, index: usize) -> Result<Thumbnail, String> {
        let jpeg = self.jpeg(clip, index)?;
        let img = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg)
            .map_err(|e| format!("not a decodable JPEG: {e}"))?;
        let (w, h) = (img.width().max(1), img.height().max(1));
        let width = w.min(THUMB_WIDTH);
        let height = ((u64::from(h) * u64::from(width) + u64::from(w) / 2) / u64::from(w)).max(1) as u32;
        let small = img.resize_exact(width, height, image::imageops::FilterType::Triangle);
        let small = match small {
            DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_) => small,
            other => DynamicImage::ImageRgb8(other.to_rgb8()),
        };
        let mut bytes = Vec::new();
        small
            .write_with_encoder(JpegEncoder::new_with_quality(&mut bytes, THUMB_QUALITY))
            .map_err(|e| format!("cannot encode the thumbnail: {e}"))?;
        let name = format!("{}-{index}.jpg", self.stem(clip));
        let folder = self.dir.join(FRAMES_DIR);
        std::fs::create_dir_all(&folder).map_err(|e| format!("{}: {e}", folder.display()))?;
        let path = folder.join(&name);
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Thumbnail { src: format!("{FRAMES_DIR}/{name}"), width, height })
    }

    /// The frame's JPEG bytes.
    fn jpeg(&mut self, clip: &Path, index: usize) -> Result<Vec<u8>, String> {
        let source = self.clips.entry(clip.to_path_buf()).or_insert_with(|| load(clip));
        match source {
            Source::Loaded(c) => c
                .frames
                .get(index)
                .map(|f| f.jpeg.clone())
                .ok_or_else(|| format!("frame {index} is not in the clip ({} frames)", c.frames.len())),
            Source::Rows(rows) => {
                let row = rows
                    .get(index)
                    .ok_or_else(|| format!("frame {index} is not in the clip ({} frames)", rows.len()))?;
                std::fs::read(clip.join(&row.file)).map_err(|e| format!("{}: {e}", row.file))
            }
            Source::Broken(why) => Err(why.clone()),
        }
    }

    /// `clip`'s file-name stem: its folder name in `[A-Za-z0-9_.-]`,
    /// suffixed `-2`, `-3`, … when another folder has the same name.
    fn stem(&mut self, clip: &Path) -> String {
        if let Some(s) = self.stems.get(clip) {
            return s.clone();
        }
        let name: String = clip
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || "_.-".contains(c) { c } else { '_' })
            .collect();
        let name = if name.is_empty() || name.starts_with('.') { format!("clip{name}") } else { name };
        let mut stem = name.clone();
        let mut n = 1;
        while self.stems.values().any(|s| *s == stem) {
            n += 1;
            stem = format!("{name}-{n}");
        }
        self.stems.insert(clip.to_path_buf(), stem.clone());
        stem
    }
}

fn load(clip: &Path) -> Source {
    match Clip::load(clip) {
        Ok(c) => Source::Loaded(c),
        Err(whole) => match footage::manifest(clip) {
            Ok(rows) => Source::Rows(rows),
            Err(_) => Source::Broken(format!("clip not readable: {whole}")),
        },
    }
}

/// An event's name for a caption: `event id 1-7`, or `event seq 7` without
/// an id.
fn event_label(e: &ReceivedEvent) -> String {
    match (&e.id, e.data["frame"].as_u64()) {
        (Some(id), _) => format!("event id {id}"),
        (None, Some(seq)) => format!("event (frame seq {seq})"),
        (None, None) => "event".into(),
    }
}

fn clip_name(clip: &Path) -> String {
    clip.file_name().map_or_else(|| clip.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// One thumbnail cell: the image (or a placeholder with the reason), the
/// fixture index, `change` from the ack, ms relative to `zero_ms`, and tags
/// for the events the frame raised (`(label, arrived during the failing
/// step)`; such a frame is outlined), a motion ack and the ground truth.
fn cell(h: &mut String, f: &FrameRecord, events: &[(String, bool)], zero_ms: f64, thumbs: &mut Thumbnails) {
    let class = match (events.is_empty(), events.iter().any(|(_, d)| *d)) {
        (true, _) => "thumb",
        (false, false) => "thumb event",
        (false, true) => "thumb during",
    };
    let title = format!(
        "{}/#{} · seq {} · sent {:.1} ms · change {:.4}{}{}",
        clip_name(&f.clip),
        f.index,
        f.reply.frame,
        f.sent_ms,
        f.reply.change,
        if f.reply.motion { " · acked motion" } else { "" },
        match f.label {
            Some(true) => " · labelled motion",
            Some(false) => " · labelled still",
            None => "",
        }
    );
    let _ = write!(h, r#"<figure class="{class}" title="{}">"#, escape(&title));
    match thumbs.get(&f.clip, f.index) {
        Ok(t) => {
            let _ = write!(
                h,
                r#"<img src="{}" width="{}" height="{}" alt="frame {}" loading="lazy">"#,
                escape(&t.src),
                t.width,
                t.height,
                f.index
            );
        }
        Err(why) => {
            let why = escape(&why);
            let _ = write!(h, r#"<div class="missing" title="{why}">no thumbnail: {why}</div>"#);
        }
    }
    let dt = f.sent_ms - zero_ms;
    let _ = write!(
        h,
        "<figcaption><b>#{}</b> · {:.3}<br>{}{:.0} ms<br>",
        f.index,
        f.reply.change,
        if dt > 0.0 { "+" } else { "" },
        dt
    );
    for (label, during) in events {
        let _ = write!(h, r#"<span class="tag ev{}">{}</span>"#, if *during { " during" } else { "" }, escape(label));
    }
    if f.reply.motion && events.is_empty() {
        h.push_str(r#"<span class="tag mo">motion ack</span>"#);
    }
    match f.label {
        Some(true) => h.push_str(r#"<span class="tag gt-m">gt motion</span>"#),
        Some(false) => h.push_str(r#"<span class="tag gt-s">gt still</span>"#),
        None => {}
    }
    h.push_str("</figcaption></figure>");
}

/// The event strips of `r` as HTML: a closed `<details>` with, for each of
/// the first [`MAX_EVENT_STRIPS`] `motion` events, the frames from
/// [`EVENT_CONTEXT`] before to [`EVENT_CONTEXT`] after its frame (see
/// [`event_frame`]), that frame outlined and tagged with the event's id, and
/// a note for the events left out or matched to no frame. Empty when `r`
/// has no `motion` event.
pub fn event_strips(r: &ScenarioReport, thumbs: &mut Thumbnails) -> String {
    let motion: Vec<&ReceivedEvent> = r.events.iter().filter(|e| e.name == "motion").collect();
    if motion.is_empty() {
        return String::new();
    }
    let mut h = String::new();
    let _ = write!(
        h,
        "<details class=\"film\"><summary>what the cam saw: {} motion event(s), the frames around each</summary>",
        motion.len()
    );
    for e in motion.iter().take(MAX_EVENT_STRIPS) {
        let change = e.data["change"].as_f64().map_or(String::new(), |c| format!(" · change {c:.4}"));
        let Some(at) = event_frame(&r.frames, e) else {
            let _ = write!(
                h,
                "<div class=\"film meta\"><b>{}</b>{change} · arrived {:.1} ms: no injected frame matches it (data frame {})</div>",
                escape(&event_label(e)),
                e.at_ms,
                e.data["frame"]
            );
            continue;
        };
        let f = &r.frames[at];
        let _ = write!(
            h,
            "<div class=\"film\"><div class=\"meta\"><b>{}</b>{change} · raised by {} #{} (seq {}), injected at {:.1} ms, arrived at {:.1} ms ({:.1} ms later)</div><div class=\"strip\">",
            escape(&event_label(e)),
            escape(&clip_name(&f.clip)),
            f.index,
            f.reply.frame,
            f.sent_ms,
            e.at_ms,
            e.at_ms - f.sent_ms
        );
        for i in around(&r.frames, at, EVENT_CONTEXT) {
            let events = if i == at { vec![(event_label(e), false)] } else { Vec::new() };
            cell(&mut h, &r.frames[i], &events, f.sent_ms, thumbs);
        }
        h.push_str("</div></div>");
    }
    if motion.len() > MAX_EVENT_STRIPS {
        let _ = write!(
            h,
            "<div class=\"meta\">… {} more motion event(s) not shown (the first {MAX_EVENT_STRIPS} have strips)</div>",
            motion.len() - MAX_EVENT_STRIPS
        );
    }
    h.push_str("</details>");
    h
}

/// The failure strip of `r` as HTML: an open `<details>` with the frames
/// of [`failure_window`], times relative to the failing step's end, each
/// frame that raised an event tagged with it (red for events that arrived
/// during the step), and a line naming every event that arrived from the
/// strip's first frame to the step's end, each said to be during the step
/// or before it began (an event a step judges may have arrived before it).
/// Says so when no frame had been injected. Empty when nothing failed.
pub fn failure_strip(r: &ScenarioReport, thumbs: &mut Thumbnails) -> String {
    let Some(w) = failure_window(r) else {
        return String::new();
    };
    let mut h = String::new();
    let _ = write!(
        h,
        "<details class=\"film\" open><summary>what the cam saw up to the failure of {}</summary>",
        escape(&w.step)
    );
    if w.frames.is_empty() {
        let none = if r.frames.is_empty() {
            "no frame was injected in this scenario"
        } else {
            "no frame was injected before this step ended"
        };
        let _ = write!(h, "<div class=\"meta\">{none}.</div></details>");
        return h;
    }
    let during = |e: &ReceivedEvent| e.at_ms >= w.started_ms && e.at_ms <= w.ended_ms;
    // Events per frame position, for the frames of the strip.
    let mut by_frame: HashMap<usize, Vec<(String, bool)>> = HashMap::new();
    let mut arrived = Vec::new();
    let since_ms = r.frames[w.frames.start].sent_ms.min(w.started_ms);
    for e in &r.events {
        let at = event_frame(&r.frames, e);
        if let Some(i) = at.filter(|i| w.frames.contains(i)) {
            by_frame.entry(i).or_default().push((event_label(e), during(e)));
        }
        if e.at_ms >= since_ms && e.at_ms <= w.ended_ms {
            let frame = match at {
                Some(i) => format!("{} #{}", clip_name(&r.frames[i].clip), r.frames[i].index),
                None => "no injected frame".into(),
            };
            let when = if during(e) { "during the step" } else { "before the step began" };
            arrived.push(format!("{} `{}` at {:.1} ms ({when}) from {frame}", event_label(e), e.name, e.at_ms));
        }
    }
    let zero = if w.ended_ms.is_finite() { w.ended_ms } else { r.frames[w.frames.end - 1].sent_ms };
    let sent_during = w.frames.clone().filter(|&i| r.frames[i].sent_ms >= w.started_ms).count() + w.omitted;
    let _ = write!(
        h,
        "<div class=\"meta\">{} sent during the step (began {:.1} ms, ended {:.1} ms){}; times relative to its end</div>",
        match sent_during {
            0 => "no frame".to_string(),
            1 => "1 frame".to_string(),
            n => format!("{n} frames"),
        },
        w.started_ms,
        zero,
        if w.omitted > 0 { format!(", the first {} not shown", w.omitted) } else { String::new() }
    );
    let _ = write!(
        h,
        "<div class=\"meta\">events that arrived from {since_ms:.1} ms to the step's end: {}</div>",
        if arrived.is_empty() { "none".to_string() } else { escape(&arrived.join("; ")) }
    );
    h.push_str("<div class=\"strip\">");
    for i in w.frames.clone() {
        let events = by_frame.remove(&i).unwrap_or_default();
        cell(&mut h, &r.frames[i], &events, zero, thumbs);
    }
    h.push_str("</div></details>");
    h
}
