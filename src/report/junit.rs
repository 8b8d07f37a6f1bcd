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

/// Renders the JUnit XML of a run.
pub fn render(s: &Summary) -> String {
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
        .collect();
    let failures = cases.iter().filter(|c| !c.2).count();
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
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{:.3}\" timestamp=\"{}\">",
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
        if *passed {
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
    fn escapes_everything_xml_cannot_hold() {
        assert_eq!(
            escape(r#"a<b>&"c"'d"#),
            "a&lt;b&gt;&amp;&quot;c&quot;&#39;d"
        );
        assert_eq!(escape("bell\u{7}"), "bell\u{fffd}");
        assert_eq!(escape("tab\tok"), "tab\tok");
    }
}
