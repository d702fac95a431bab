//! `--report DIR`: a static HTML report, `DIR/index.html`, one self-contained
//! page: the totals, a table of scenarios, and per scenario its steps and
//! verdicts, its `change` plot against the threshold with motion events and
//! ground-truth spans, and its whole timeline. [`write()`] adds the frames the
//! cam saw around each motion event and each failure ([`super::filmstrip`]),
//! thumbnails in `DIR/frames/`.

use std::fmt::Write as _;
use std::path::Path;

use super::filmstrip::{self, Thumbnails};
use super::plot;
use crate::runner::{Outcome, ScenarioReport};
use crate::suite::Summary;
use crate::timeline::Channel;

/// `&`, `<`, `>`, `"` escaped for HTML text and attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { font-family: system-ui, sans-serif; color: #1d2430; background: #f4f6f9; }
body { max-width: 960px; margin: 1.5rem auto; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin: 0 0 .2rem; } h2 { font-size: 1.15rem; margin: 0; }
.meta { color: #667; font-size: .9rem; }
.totals { display: flex; gap: .8rem; margin: 1rem 0; }
.totals div { background: #fff; border-radius: .6rem; padding: .6rem 1rem; box-shadow: 0 1px 3px #0001; }
.totals b { display: block; font-size: 1.6rem; }
.badge { display: inline-block; padding: .05rem .55rem; border-radius: 1rem; font-size: .8rem; font-weight: 600; }
.pass { background: #c9f0d3; color: #195c2e; } .fail { background: #f6d2cf; color: #8a2219; }
.skip { background: #e5e7eb; color: #374151; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
td, th { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #eef; vertical-align: top; }
th { color: #667; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.baseline td { color: #667; font-size: .85rem; } tr.baseline td:first-child { padding-left: 1.5rem; }
td pre { margin: .2rem 0 0; white-space: pre-wrap; overflow-wrap: anywhere; font-size: .8rem; }
section { background: #fff; border-radius: .6rem; padding: 1rem; margin: 1rem 0; box-shadow: 0 1px 3px #0001; }
section.failed { border-left: 5px solid #d04030; }
.failure { background: #fbe6e4; border-radius: .4rem; padding: .6rem .8rem; margin: .7rem 0; }
.failure pre { margin: .3rem 0 0; white-space: pre-wrap; font-size: .85rem; }
.failure .kind { font-size: .75rem; color: #8a2219; border: 1px solid #e0a39c; border-radius: .3rem; padding: 0 .35rem; }
table.diff { margin-top: .5rem; table-layout: fixed; background: #fff; }
table.diff td { width: 42%; } table.diff td:first-child { width: 16%; }
table.diff td:nth-child(2) { background: #eaf7ee; } table.diff td:nth-child(3) { background: #fdeeec; }
.plot svg { width: 100%; height: auto; }
details { margin-top: .6rem; } summary { cursor: pointer; color: #2f6fde; }
.timeline td { font-family: ui-monospace, monospace; font-size: .8rem; padding: .1rem .4rem; }
.ch-frame { color: #2f6fde; } .ch-sse { color: #b0501a; } .ch-ws { color: #7a3fb0; } .ch-http { color: #2c7a4b; } .ch-step { color: #667; font-weight: 600; } .ch-fault { color: #c0392b; font-weight: 600; } .ch-uart { color: #a0307a; }
a { color: #2f6fde; text-decoration: none; }
"#;

fn badge(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => r#"<span class="badge pass">PASS</span>"#,
        Outcome::Failed => r#"<span class="badge fail">FAIL</span>"#,
        Outcome::Skipped => r#"<span class="badge skip">SKIP</span>"#,
    }
}

fn channel(c: Channel) -> (&'static str, &'static str) {
    match c {
        Channel::Frame => ("frame", "ch-frame"),
        Channel::Sse => ("sse", "ch-sse"),
        Channel::Ws => ("ws", "ch-ws"),
        Channel::Http => ("http", "ch-http"),
        Channel::Console => ("uart", "ch-uart"),
        Channel::Step => ("step", "ch-step"),
        Channel::Fault => ("fault", "ch-fault"),
    }
}

/// The report page for `reports` (in scenario order) and the run's totals,
/// without frame thumbnails (no folder to write them to; [`write()`] has them).
pub fn page(reports: &[ScenarioReport], summary: &Summary) -> String {
    render(reports, summary, None)
}

/// The report page for `reports` (in scenario order) and the run's totals,
/// with filmstrips ([`super::filmstrip`]): the page is meant for
/// `dir/index.html`, and its thumbnails are written now into `dir/frames/`
/// (a frame that cannot be read, decoded or written is a placeholder cell
/// saying why).
pub fn page_with_filmstrips(dir: &Path, reports: &[ScenarioReport], summary: &Summary) -> String {
    render(reports, summary, Some(&mut Thumbnails::new(dir)))
}

fn render(reports: &[ScenarioReport], summary: &Summary, mut thumbs: Option<&mut Thumbnails>) -> String {
    let mut h = String::new();
    let total_ms: f64 = reports.iter().map(|r| r.duration_ms).sum();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>cam-hil report</title><style>{STYLE}{}</style></head><body>\
         <h1>cam-hil report</h1><div class=\"meta\">{} scenario run(s) on {}</div>\
         <div class=\"totals\"><div><b>{}</b>passed</div><div><b>{}</b>failed</div><div><b>{}</b>skipped</div><div><b>{:.1} s</b>scenario time</div></div>",
        filmstrip::STYLE,
        reports.len(),
        escape(&reports.first().map_or(String::new(), |r| r.target.clone())),
        summary.passed,
        summary.failed,
        summary.skipped,
        total_ms / 1000.0
    );
    h.push_str("<section><table><tr><th></th><th>scenario</th><th>tags</th><th class=\"num\">steps</th><th class=\"num\">events</th><th class=\"num\">ms</th></tr>");
    // Failures first, then passes, then skips, each in scenario order.
    let mut order: Vec<usize> = (0..reports.len()).collect();
    order.sort_by_key(|&i| match reports[i].outcome() {
        Outcome::Failed => 0,
        Outcome::Passed => 1,
        Outcome::Skipped => 2,
    });
    for &i in &order {
        let r = &reports[i];
        let _ = write!(
            h,
            "<tr><td>{}</td><td><a href=\"#s{i}\">{}</a><div class=\"meta\">{}{}</div></td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.0}</td></tr>",
            badge(r.outcome()),
            escape(&r.name),
            escape(&r.path.display().to_string()),
            r.skipped.as_ref().map_or(String::new(), |why| format!("<br>skipped: {}", escape(why))),
            escape(&r.tags.join(", ")),
            r.steps.len(),
            r.pushed_events(),
            r.duration_ms
        );
    }
    h.push_str("</table></section>");
    for &i in &order {
        scenario(&mut h, i, &reports[i], thumbs.as_deref_mut());
    }
    h.push_str("</body></html>\n");
    h
}

fn scenario(h: &mut String, i: usize, r: &ScenarioReport, mut thumbs: Option<&mut Thumbnails>) {
    let outcome = r.outcome();
    let passed = outcome != Outcome::Failed;
    let _ = write!(
        h,
        "<section id=\"s{i}\" class=\"{}\"><h2>{} {}</h2><div class=\"meta\">{} · {} · {:.0} ms</div>",
        if passed { "" } else { "failed" },
        badge(outcome),
        escape(&r.name),
        escape(&r.path.display().to_string()),
        escape(&r.target),
        r.duration_ms
    );
    if let Some((step, failure)) = r.failed() {
        let _ = write!(
            h,
            "<div class=\"failure\"><b>{}</b> <span class=\"kind\">{}</span><pre>{}</pre>",
            escape(step),
            escape(failure.kind.name()),
            escape(&failure.message)
        );
        if let Some(m) = failure.mismatch_values() {
            let _ = write!(
                h,
                "<table class=\"diff\"><tr><th>at</th><th>expected</th><th>actual</th></tr>\
                 <tr><td><code>{}</code></td><td><pre>{}</pre></td><td><pre>{}</pre></td></tr></table>",
                escape(if m.path.is_empty() { "the reply" } else { &m.path }),
                escape(&m.expected),
                escape(&m.actual)
            );
        }
        h.push_str("</div>");
        if let Some(t) = thumbs.as_deref_mut() {
            h.push_str(&filmstrip::failure_strip(r, t));
        }
    }
    if let Some(why) = &r.skipped {
        let _ = write!(h, "<div class=\"meta\">skipped: {}</div>", escape(why));
    }
    if let Some(plan) = &r.fault_plan {
        let _ = write!(h, "<div class=\"meta\">fault plan: <code>{}</code></div>", escape(plan));
    }
    if let Some((n, p50, p99, max)) = r.latency() {
        let _ = write!(
            h,
            "<div class=\"meta\">event latency, injection to arrival ({n} events): p50 {p50:.1} ms · p99 {p99:.1} ms · max {max:.1} ms</div>"
        );
    }
    if let Some(svg) = plot::change_svg(r) {
        let _ = write!(h, "<div class=\"plot\">{svg}</div>");
    }
    if !r.steps.is_empty() {
        h.push_str("<table><tr><th>step</th><th></th><th class=\"num\">ms</th></tr>");
        for s in &r.steps {
            let verdict = match &s.failure {
                None => badge(Outcome::Passed).to_string(),
                Some(f) => format!("{}<pre>{}</pre>", badge(Outcome::Failed), escape(&f.message)),
            };
            let _ =
                write!(h, "<tr><td>{}</td><td>{verdict}</td><td class=\"num\">{:.1}</td></tr>", escape(&s.label), s.ms);
        }
        h.push_str("</table>");
    }
    if let Some(t) = thumbs {
        h.push_str(&filmstrip::event_strips(r, t));
    }
    let _ = write!(
        h,
        "<details{}><summary>timeline ({} entries)</summary><table class=\"timeline\">",
        if passed { "" } else { " open" },
        r.timeline.entries.len()
    );
    for e in &r.timeline.entries {
        let (name, class) = channel(e.channel);
        let _ = write!(
            h,
            "<tr><td class=\"num\">{:.1}</td><td class=\"{class}\">{name}</td><td>{}</td></tr>",
            e.at_ms,
            escape(&e.text)
        );
    }
    h.push_str("</table></details></section>");
}

/// Writes [`page_with_filmstrips`] to `dir/index.html` and its frame
/// thumbnails to `dir/frames/`, creating both.
///
/// # Errors
/// The folder or `index.html` cannot be written (a thumbnail that cannot be
/// made is a placeholder on the page, not an error).
pub fn write(dir: &Path, reports: &[ScenarioReport], summary: &Summary) -> Result<(), String> {
    write_with(dir, reports, summary, &mut Thumbnails::new(dir))
}

/// [`write()`] with thumbnails made earlier kept (`thumbs` for `dir`), for a
/// report rewritten after every scenario: each clip is loaded and each
/// thumbnail made once per run. The page is written to a temporary file
/// and renamed, so a run killed meanwhile leaves the previous page whole.
///
/// # Errors
/// As [`write()`].
pub fn write_with(
    dir: &Path,
    reports: &[ScenarioReport],
    summary: &Summary,
    thumbs: &mut Thumbnails,
) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let page = render(reports, summary, Some(thumbs));
    super::write_atomically(&dir.join("index.html"), page.as_bytes())
}

/// One clip of an evaluation report (`cam-hil eval --report DIR`).
#[derive(Debug, Clone)]
pub struct EvalEntry {
    /// Clip name (its folder).
    pub name: String,
    /// Scores at the run's threshold; `None` for a clip without labels.
    pub metrics: Option<crate::eval::Metrics>,
    /// Every frame's result.
    pub frames: Vec<crate::eval::EvalFrame>,
    /// The precision/recall curve over thresholds (SVG), for labelled clips.
    pub sweep_svg: Option<String>,
    /// Baselines scored on the same frames, shown under the clip's row:
    /// each one's name and settings, and its scores (`cam-hil eval
    /// --baselines`).
    pub beside: Vec<(String, crate::eval::Metrics)>,
}

/// The evaluation report page: a table of every clip's scores (as
/// `docs/benchmarks.md` shows them), then per clip its change plot, the
/// frames it got wrong ([`crate::eval::WrongFrames`]) and its
/// precision/recall curve. `settings` describes the detector settings.
pub fn eval_page(entries: &[EvalEntry], threshold: f64, settings: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>camhil detector evaluation</title><style>{STYLE}</style></head><body>
<h1>Detector evaluation</h1><p class="meta">threshold {} · {} · matching rules in docs/detector.md</p>
<section><table><tr><th>clip</th><th>events</th><th>segments found</th><th>precision</th><th>recall</th><th>F1</th><th>false alarms / h still</th><th>frame precision</th><th>frame recall</th><th>frame F1</th></tr>"#,
        crate::eval::threshold_text(threshold),
        escape(settings)
    );
    for e in entries {
        let name = escape(&e.name);
        match &e.metrics {
            Some(m) => {
                let _ = write!(out, r##"<tr><td><a href="#{name}">{name}</a></td>"##);
                for cell in m.cells() {
                    let _ = write!(out, r#"<td class="num">{cell}</td>"#);
                }
                out.push_str("</tr>");
                for (detector, m) in &e.beside {
                    let _ = write!(out, r#"<tr class="baseline"><td>{}</td>"#, escape(detector));
                    for cell in m.cells() {
                        let _ = write!(out, r#"<td class="num">{cell}</td>"#);
                    }
                    out.push_str("</tr>");
                }
            }
            None => {
                let events = e.frames.iter().filter(|f| f.motion).count();
                let _ = write!(
                    out,
                    r##"<tr><td><a href="#{name}">{name}</a></td><td class="num">{events} frames</td><td colspan="8">no labelled frame (labels.csv)</td></tr>"##
                );
            }
        }
    }
    out.push_str("</table></section>");
    for e in entries {
        let name = escape(&e.name);
        let _ = write!(
            out,
            r#"<section id="{name}"><h2>{name}</h2><div class="plot">{}</div>"#,
            crate::eval::change_svg(&e.name, &e.frames, threshold)
        );
        if e.metrics.is_some() {
            let wrong = crate::eval::WrongFrames::of(&e.frames);
            let _ = write!(out, r#"<p class="meta">Frames wrong: {}</p>"#, escape(&wrong.to_string()));
        }
        if let Some(svg) = &e.sweep_svg {
            let _ = write!(out, r#"<div class="plot" style="max-width:520px">{svg}</div>"#);
        }
        out.push_str("</section>");
    }
    out.push_str("</body></html>\n");
    out
}

/// Writes [`eval_page`] to `dir/index.html` (creating `dir`).
///
/// # Errors
/// The folder or the file cannot be written.
pub fn write_eval(dir: &Path, entries: &[EvalEntry], threshold: f64, settings: &str) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join("index.html");
    std::fs::write(&path, eval_page(entries, threshold, settings)).map_err(|e| format!("{}: {e}", path.display()))
}
