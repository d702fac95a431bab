//! The JUnit and HTML reports of a real run: one passing and one failing
//! scenario on the simulator.

use std::path::Path;

use cam_hil::report::{Reporter, html, junit};
use cam_hil::runner::ScenarioReport;
use cam_hil::suite::{self, Selection, Summary};
use cam_hil::target::TargetSpec;

struct Quiet;
impl Reporter for Quiet {
    fn event(&mut self, _: &cam_hil::run_event::RunEvent) {}
}

async fn run() -> (Summary, Vec<ScenarioReport>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = [root.join("../scenarios/highway.toml"), root.join("tests/data/never.toml")];
    let scenarios = suite::load_all(&files, &Selection::default()).unwrap();
    suite::run(&scenarios, &TargetSpec::Sim, &mut Quiet).await
}

#[tokio::test]
async fn junit_has_a_case_per_scenario_and_the_failure() {
    let (_, reports) = run().await;
    let xml = junit::to_xml(&reports).unwrap();
    let parsed = quick_junit::Report::deserialize_from_str(&xml).expect("valid JUnit XML");
    assert_eq!(parsed.tests, 2);
    assert_eq!(parsed.failures, 1);
    let cases = &parsed.test_suites[0].test_cases;
    let failing = cases.iter().find(|c| c.name.as_str() == "expects an event that never comes").unwrap();
    let quick_junit::TestCaseStatus::NonSuccess { message, description, .. } = &failing.status else {
        panic!("{:?}", failing.status)
    };
    assert!(message.as_ref().unwrap().as_str().starts_with("step 2 `wants motion` (expect_events, line 8)"));
    assert!(description.as_ref().unwrap().as_str().contains("timeline:"));
    let passing = cases.iter().find(|c| c.name.as_str().starts_with("highway")).unwrap();
    assert!(matches!(passing.status, quick_junit::TestCaseStatus::Success { .. }));
}

#[tokio::test]
async fn html_report_has_plots_timelines_and_the_failure() {
    let (summary, reports) = run().await;
    let dir = tempfile::tempdir().unwrap();
    html::write(dir.path(), &reports, &summary).unwrap();
    let page = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    // Failures first in the table, each scenario with its plot and timeline.
    let (fail_at, pass_at) =
        (page.find("expects an event that never comes").unwrap(), page.find("highway: no event").unwrap());
    assert!(fail_at < pass_at);
    assert_eq!(page.matches("<svg").count(), 2, "a change plot per scenario that injected frames");
    assert!(page.contains("labelled motion"), "ground truth shaded for the labelled clip");
    assert!(page.contains("<details open><summary>timeline"), "a failed scenario's timeline is open");
    assert!(page.contains("expected exactly 1 `motion` event(s), 0 arrived"));
    assert!(page.contains("frame 0 -&gt; seq 1"), "timeline text is escaped");
    assert!(!page.contains("<script"), "a static page");
}

#[test]
fn escaping() {
    assert_eq!(html::escape(r#"<a href="x">&</a>"#), "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;");
}
