//! The `change` plot of one scenario (plotters, SVG): the detector's
//! `change` per injected frame on a logarithmic axis (a threshold of a few
//! cells and a change of half the frame both show; a change below a tenth
//! of the lowest threshold, 0 included, is drawn there), the threshold in
//! force as a step line,
//! motion events as markers, ground-truth motion spans shaded, and a line
//! where the cam's frame numbers start again (a reboot, or a reset).

use plotters::prelude::*;

use crate::runner::ScenarioReport;

/// Colours shared with the HTML page.
const CHANGE: RGBColor = RGBColor(47, 111, 222);
const THRESHOLD: RGBColor = RGBColor(214, 120, 20);
const EVENT: RGBColor = RGBColor(200, 40, 40);
const LABEL: RGBColor = RGBColor(60, 170, 90);
const RESTART: RGBColor = RGBColor(120, 60, 160);

/// Indices of the injected frames whose sequence number is not above the
/// previous frame's: the cam started counting again (a reboot, or a
/// `POST /hil/reset` sent by a step).
pub fn numbering_restarts(r: &ScenarioReport) -> Vec<usize> {
    r.frames.windows(2).enumerate().filter(|(_, w)| w[1].reply.frame <= w[0].reply.frame).map(|(k, _)| k + 1).collect()
}

/// An SVG document, or `None` when the scenario injected no frame.
pub fn change_svg(r: &ScenarioReport) -> Option<String> {
    if r.frames.is_empty() {
        return None;
    }
    let mut svg = String::new();
    draw(r, &mut svg).ok()?;
    Some(svg)
}

fn draw<'a>(r: &ScenarioReport, svg: &'a mut String) -> Result<(), Box<dyn std::error::Error + 'a>> {
    let n = r.frames.len();
    let max_change = r.frames.iter().map(|f| f.reply.change).fold(0.0, f64::max);
    let max_threshold = r.thresholds.iter().map(|t| t.1).fold(0.0, f64::max);
    let min_threshold = r.thresholds.iter().map(|t| t.1).filter(|&t| t > 0.0).fold(1.0, f64::min);
    let floor = (min_threshold / 10.0).max(1e-5);
    let at = |change: f64| change.max(floor);
    let y_max = (max_change.max(max_threshold) * 1.15).clamp(floor * 10.0, 1.0);
    let root = SVGBackend::with_string(svg, (860, 280)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .margin(12)
        .x_label_area_size(34)
        .y_label_area_size(48)
        .build_cartesian_2d(0f64..n as f64, (floor..y_max).log_scale())?;
    chart
        .configure_mesh()
        .light_line_style(RGBColor(238, 240, 245))
        .x_desc("frame (in injection order)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{}", (y * 1e5).round() / 1e5))
        .y_desc("change (log)")
        .label_style(("sans-serif", 12))
        .draw()?;
    // Ground truth: shade each frame labelled motion.
    let labelled = r.frames.iter().enumerate().filter(|(_, f)| f.label == Some(true));
    chart.draw_series(
        labelled.map(|(k, _)| Rectangle::new([(k as f64, floor), (k as f64 + 1.0, y_max)], LABEL.mix(0.12).filled())),
    )?;
    // Threshold in force, as a step line.
    let mut steps = Vec::new();
    for (i, (from, value)) in r.thresholds.iter().enumerate() {
        let to = r.thresholds.get(i + 1).map_or(n, |t| t.0);
        steps.push((*from as f64, at(*value)));
        steps.push((to as f64, at(*value)));
    }
    chart
        .draw_series(LineSeries::new(steps, THRESHOLD.stroke_width(2)))?
        .label("threshold")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], THRESHOLD.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(
            r.frames.iter().enumerate().map(|(k, f)| (k as f64 + 0.5, at(f.reply.change))),
            CHANGE.stroke_width(2),
        ))?
        .label("change")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], CHANGE.stroke_width(2)));
    chart
        .draw_series(
            r.frames
                .iter()
                .enumerate()
                .filter(|(_, f)| f.reply.motion)
                .map(|(k, f)| Circle::new((k as f64 + 0.5, at(f.reply.change)), 3, EVENT.filled())),
        )?
        .label("motion event")
        .legend(|(x, y)| Circle::new((x + 8, y), 3, EVENT.filled()));
    let restarts = numbering_restarts(r);
    if !restarts.is_empty() {
        chart
            .draw_series(
                restarts
                    .into_iter()
                    .map(|k| PathElement::new([(k as f64, floor), (k as f64, y_max)], RESTART.stroke_width(2))),
            )?
            .label("frame numbers start again (reboot or reset)")
            .legend(|(x, y)| PathElement::new([(x + 8, y - 6), (x + 8, y + 6)], RESTART.stroke_width(2)));
    }
    if r.frames.iter().any(|f| f.label.is_some()) {
        chart
            .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())?
            .label("labelled motion")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], LABEL.mix(0.3).filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(220, 220, 225))
        .label_font(("sans-serif", 12))
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::FrameRecord;
    use cam_core::protocol::FrameReply;

    fn frames(seqs: &[u64]) -> Vec<FrameRecord> {
        seqs.iter()
            .enumerate()
            .map(|(index, &frame)| FrameRecord {
                clip: "clip".into(),
                index,
                label: None,
                sent_ms: index as f64,
                ts_ms: 0,
                reply: FrameReply { frame, change: 0.1, motion: false, id: None },
            })
            .collect()
    }

    #[test]
    fn a_reboot_is_marked_where_frame_numbers_start_again() {
        let src = "name = \"plot\"\n[[step]]\nsse_disconnect = {}\n";
        let scenario = crate::scenario::parse(std::path::Path::new("plot.toml"), src).unwrap();
        let mut r = ScenarioReport::not_started(&scenario, "sim", crate::outcome::Failure::setup(""));
        r.frames = frames(&[1, 2, 3, 1, 2]);
        assert_eq!(numbering_restarts(&r), [3]);
        let svg = change_svg(&r).unwrap();
        assert!(svg.contains("frame numbers start again"), "legend present");
        r.frames = frames(&[1, 2, 3, 4]);
        assert!(numbering_restarts(&r).is_empty());
        assert!(!change_svg(&r).unwrap().contains("start again"));
    }
}
