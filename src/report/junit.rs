//! JUnit XML (`junit.xml`): one test case per expectation and threshold, so CI systems show a
//! run's failures natively, beside unit test results.

use std::fmt::Write as _;

use super::Summary;

/// Escapes text for XML and HTML attributes and content (also used by the HTML report).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // `&#39;` rather than `&apos;`: understood by XML and by every HTML parser.
            '\'' => out.push_str("&#39;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Renders the JUnit XML of a run. The generator's health is one more case, "generator not
/// limited": failed when the run was generator-limited and the scenario sets `generator.fail`,
/// skipped (with the cause) when it was limited without `fail`, passed otherwise.
pub fn render(s: &Summary) -> String {
    let generator_detail = super::generator::headline(&s.generator).unwrap_or_default();
    let generator_failed = s.generator.limited && s.generator.limits.fail;
    let generator_skipped = s.generator.limited && !s.generator.limits.fail;
    let cases: Vec<(&str, &str, bool, &str)> = s
        .expectations
        .iter()
        .map(|e| ("expectations", e.name.as_str(), e.passed, e.detail.as_str()))
        .chain(s.thresholds.iter().map(|t| {
            (
                "thresholds",
                t.expression.as_str(),
                t.passed,
                t.observed.as_str(),
            )
        }))
        .chain(std::iter::once((
            "generator",
            "generator not limited",
            !generator_failed,
            generator_detail.as_str(),
        )))
        .collect();
    let failures = cases.iter().filter(|c| !c.2).count();
    let skipped = usize::from(generator_skipped);
    let suite = format!("roomstorm.{}", s.scenario.name);
    let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        o,
        "<testsuites name=\"roomstorm\" tests=\"{}\" failures=\"{failures}\" time=\"{:.3}\">",
        cases.len(),
        s.duration_s
    );
    let _ = writeln!(
        o,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{:.3}\" timestamp=\"{}\">",
        escape(&suite),
        cases.len(),
        s.duration_s,
        escape(s.started_at.trim_end_matches('Z'))
    );
    for (class, name, passed, detail) in &cases {
        let _ = write!(
            o,
            "    <testcase classname=\"{}.{class}\" name=\"{}\" time=\"0\"",
            escape(&suite),
            escape(name)
        );
        if *class == "generator" && generator_skipped {
            let _ = writeln!(
                o,
                ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                escape(detail)
            );
        } else if *passed {
            let _ = writeln!(o, "/>");
        } else {
            let _ = writeln!(
                o,
                ">\n      <failure message=\"{}\" type=\"{class}\">{}</failure>\n    </testcase>",
                escape(detail),
                escape(detail)
            );
        }
    }
    let _ = writeln!(
        o,
        "    <system-out>{}</system-out>",
        escape(&format!(
            "verdict {:?}, end {:?}, {} scheduled, {} accounted",
            s.verdict, s.end_reason, s.conservation.scheduled, s.conservation.accounted
        ))
    );
    o.push_str("  </testsuite>\n</testsuites>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_case_passes_is_skipped_or_fails_by_the_scenario_setting() {
        use crate::report::generator::{GeneratorHealth, LimitedInterval};
        let mut s: Summary =
            serde_json::from_str(include_str!("../../tests/fixtures/summary/full-room.json"))
                .unwrap();
        // Older summaries without a `generator` section read as healthy.
        assert_eq!(s.generator, GeneratorHealth::default());
        let healthy = render(&s);
        assert!(
            healthy.contains("name=\"generator not limited\" time=\"0\"/>"),
            "{healthy}"
        );
        assert!(healthy.contains("skipped=\"0\""));
        s.generator.limited = true;
        s.generator.intervals.push(LimitedInterval {
            t: 3.0,
            lateness_p99_us: Some(90_000),
            loop_lag_p99_us: Some(1_000),
            media_pacing_p99_us: None,
            cpu_percent: Some(50.0),
            worker_cpu_percent: Some(40.0),
            handshakes_waiting: 12,
            exceeded: vec!["lateness".into()],
            cause: "arrivals faster than the generator can start them".into(),
        });
        let failures_before = healthy.matches("<failure ").count();
        let skipped = render(&s);
        assert_eq!(skipped.matches("<failure ").count(), failures_before);
        assert!(skipped.contains("skipped=\"1\""), "{skipped}");
        assert!(skipped.contains(
            "<skipped message=\"GENERATOR-LIMITED: interval ending at 3.0s: arrivals faster \
             than the generator can start them\"/>"
        ));
        s.generator.limits.fail = true;
        let failed = render(&s);
        assert_eq!(failed.matches("<failure ").count(), failures_before + 1);
        assert!(
            failed.contains("type=\"generator\">GENERATOR-LIMITED"),
            "{failed}"
        );
        assert!(failed.contains("skipped=\"0\""));
    }

    #[test]
    fn the_media_presence_expectation_is_a_case_like_any_other() {
        let mut s: Summary =
            serde_json::from_str(include_str!("../../tests/fixtures/summary/media-room.json"))
                .unwrap();
        let presence = s
            .expectations
            .iter()
            .position(|e| e.name == "media presence")
            .expect("a media run checks media presence");
        let passed = render(&s);
        assert!(
            passed.contains(
                "<testcase classname=\"roomstorm.janus-media-room.expectations\" \
                 name=\"media presence\" time=\"0\"/>"
            ),
            "{passed}"
        );
        s.expectations[presence].passed = false;
        s.expectations[presence].detail = "48 subscribed tracks ended, 2 without a byte".into();
        let failed = render(&s);
        assert!(
            failed.contains(
                "name=\"media presence\" time=\"0\">\n      <failure message=\"48 subscribed \
                 tracks ended, 2 without a byte\" type=\"expectations\">"
            ),
            "{failed}"
        );
    }

    #[test]
    fn escapes_everything_xml_cannot_hold() {
        assert_eq!(
            escape(r#"a<b>&"c"'d"#),
            "a&lt;b&gt;&amp;&quot;c&quot;&#39;d"
        );
        assert_eq!(escape("bell\u{7}"), "bell\u{fffd}");
        assert_eq!(escape("tab\tok"), "tab\tok");
    }
}
