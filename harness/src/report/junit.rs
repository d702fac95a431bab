//! `--junit FILE`: JUnit XML (quick-junit) that CI systems read: one test
//! suite per run, one test case per scenario run, with the failing step,
//! its message and the timeline before it.

use std::path::Path;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::FAILURE_CONTEXT;
use crate::runner::ScenarioReport;

/// The JUnit XML of `reports`.
///
/// # Errors
/// The XML cannot be serialised (it always can for valid UTF-8 input).
pub fn to_xml(reports: &[ScenarioReport]) -> Result<String, String> {
    let mut suite = TestSuite::new("cam-hil");
    for r in reports {
        let status = match r.failed() {
            None if r.skipped.is_some() => {
                let mut status = TestCaseStatus::skipped();
                status.set_message(r.skipped.clone().unwrap_or_default());
                status
            }
            None => TestCaseStatus::success(),
            Some((step, failure)) => {
                let message = &failure.message;
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status.set_message(format!("{step}: {}", message.lines().next().unwrap_or("")));
                status.set_type(failure.kind.name());
                let side_by_side = failure.mismatch_values().map_or(String::new(), |m| {
                    format!("\nat       {}\nexpected {}\nactual   {}\n", m.path, m.expected, m.actual)
                });
                let timeline: Vec<String> = r.timeline.tail(FAILURE_CONTEXT).iter().map(|e| e.to_string()).collect();
                status
                    .set_description(format!("{step}\n{message}\n{side_by_side}\ntimeline:\n{}", timeline.join("\n")));
                status
            }
        };
        let mut case = TestCase::new(r.name.clone(), status);
        case.set_classname(r.path.display().to_string());
        case.set_time(Duration::from_secs_f64(r.duration_ms / 1000.0));
        let plan = r.fault_plan.as_ref().map_or(String::new(), |p| format!("fault plan: {p}\n"));
        case.set_system_out(format!("target: {}\ntags: {}\n{plan}", r.target, r.tags.join(", ")));
        suite.add_test_case(case);
    }
    let mut report = Report::new("cam-hil");
    report.set_time(Duration::from_secs_f64(reports.iter().map(|r| r.duration_ms).sum::<f64>() / 1000.0));
    report.add_test_suite(suite);
    report.to_string().map_err(|e| e.to_string())
}

/// Writes [`to_xml`] to `path`.
///
/// # Errors
/// The file cannot be written.
pub fn write(path: &Path, reports: &[ScenarioReport]) -> Result<(), String> {
    let xml = to_xml(reports)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    super::write_atomically(path, xml.as_bytes())
}
