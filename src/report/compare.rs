//! Baseline comparison for CI regression benchmarks: each metric's percentiles in a baseline run
//! and in a new run, with the change and a verdict.
//!
//! # The rule
//!
//! A percentile is a **regression** when the new run is worse than the baseline by more than the
//! tolerance (relative, default 10 %) **and** by more than the minimum change (absolute, default
//! 1 ms): a 40 µs p50 going to 50 µs is +25 % but noise on a shared machine. A percentile is only
//! judged when both runs have at least 10 samples beyond it (p50 needs 20 samples, p99 1,000,
//! p99.9 10,000): a p99.9 of 500 samples is one sample's luck. `max` is shown, never judged.
//! Unexpected outcomes regress when the new run has more of them than the baseline.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::Summary;
use crate::coordinator::progress::format_us;

/// How strict a comparison is.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// Relative worsening allowed (0.10 = 10 %).
    pub tolerance: f64,
    /// Absolute worsening allowed, microseconds.
    pub min_change_us: u64,
    /// Metrics to compare (empty: all that both runs have).
    pub metrics: Vec<String>,
}

impl Default for CompareOptions {
    fn default() -> Self {
        Self {
            tolerance: 0.10,
            min_change_us: 1000,
            metrics: Vec::new(),
        }
    }
}

/// Verdict of one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowVerdict {
    /// Within tolerance.
    Same,
    /// Worse beyond tolerance and minimum change.
    Regression,
    /// Better beyond tolerance and minimum change.
    Improvement,
    /// Too few samples to judge (or `max`).
    NotJudged,
}

/// One compared figure.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    /// Metric name (or `errors`).
    pub metric: String,
    /// `p50`, `p90`, `p99`, `p99.9`, `max`, or `unexpected`.
    pub stat: String,
    /// Baseline value (µs, or a count).
    pub baseline: u64,
    /// New value.
    pub run: u64,
    /// Relative change in percent (`None` when the baseline is 0).
    pub change_pct: Option<f64>,
    /// Verdict.
    pub verdict: RowVerdict,
}

/// A comparison's rows and how many regressed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Comparison {
    /// Every compared figure.
    pub rows: Vec<Row>,
    /// Rows that regressed.
    pub regressions: usize,
    /// The rule used, in words (printed with the table).
    pub rule: String,
    /// The baseline run's folder as given.
    pub baseline: String,
}

const STATS: [(&str, f64); 4] = [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)];
/// Samples a percentile needs beyond it before it is judged.
const SAMPLES_BEYOND: f64 = 10.0;

/// Compares `run` with `baseline` (`baseline_name` is how the report names it).
pub fn compare(
    baseline: &Summary,
    run: &Summary,
    opts: &CompareOptions,
    baseline_name: &str,
) -> Comparison {
    let mut rows = Vec::new();
    for (metric, b) in &baseline.latency {
        if !opts.metrics.is_empty() && !opts.metrics.contains(metric) {
            continue;
        }
        // The generator's own event-loop lag says nothing about the target: compared only when
        // asked for by name.
        if opts.metrics.is_empty() && metric == crate::metrics::Metric::LoopLag.name() {
            continue;
        }
        let Some(r) = run.latency.get(metric) else {
            continue;
        };
        if b.count == 0 && r.count == 0 {
            continue;
        }
        for (stat, q) in STATS {
            let (bv, rv) = match stat {
                "p50" => (b.p50, r.p50),
                "p90" => (b.p90, r.p90),
                "p99" => (b.p99, r.p99),
                _ => (b.p999, r.p999),
            };
            let enough = |count: u64| count as f64 * (1.0 - q) >= SAMPLES_BEYOND;
            let verdict = if !enough(b.count) || !enough(r.count) {
                RowVerdict::NotJudged
            } else {
                judge(bv, rv, opts)
            };
            rows.push(row(metric, stat, bv, rv, verdict));
        }
        rows.push(row(metric, "max", b.max, r.max, RowVerdict::NotJudged));
    }
    let verdict = if run.outcomes.unexpected > baseline.outcomes.unexpected {
        RowVerdict::Regression
    } else {
        RowVerdict::Same
    };
    rows.push(row(
        "errors",
        "unexpected",
        baseline.outcomes.unexpected,
        run.outcomes.unexpected,
        verdict,
    ));
    let regressions = rows
        .iter()
        .filter(|r| r.verdict == RowVerdict::Regression)
        .count();
    Comparison {
        baseline: baseline_name.to_string(),
        rows,
        regressions,
        rule: format!(
            "regression: worse by more than {:.0}% and by more than {}; judged only with at least {SAMPLES_BEYOND} samples beyond the percentile in both runs; max is not judged; more unexpected outcomes than the baseline is a regression",
            opts.tolerance * 100.0,
            format_us(opts.min_change_us)
        ),
    }
}

fn judge(baseline: u64, run: u64, opts: &CompareOptions) -> RowVerdict {
    let limit = baseline as f64 * (1.0 + opts.tolerance);
    let floor = baseline as f64 * (1.0 - opts.tolerance);
    if run as f64 > limit && run.saturating_sub(baseline) > opts.min_change_us {
        RowVerdict::Regression
    } else if (run as f64) < floor && baseline.saturating_sub(run) > opts.min_change_us {
        RowVerdict::Improvement
    } else {
        RowVerdict::Same
    }
}

fn row(metric: &str, stat: &str, baseline: u64, run: u64, verdict: RowVerdict) -> Row {
    Row {
        metric: metric.to_string(),
        stat: stat.to_string(),
        baseline,
        run,
        change_pct: (baseline > 0)
            .then(|| (run as f64 - baseline as f64) / baseline as f64 * 100.0),
        verdict,
    }
}

fn verdict_word(v: RowVerdict) -> &'static str {
    match v {
        RowVerdict::Same => "ok",
        RowVerdict::Regression => "REGRESSION",
        RowVerdict::Improvement => "better",
        RowVerdict::NotJudged => "(not judged)",
    }
}

fn figure(r: &Row, v: u64) -> String {
    if r.metric == "errors" {
        v.to_string()
    } else {
        format_us(v)
    }
}

/// The comparison as an HTML report section (a table with the rule under it).
pub fn html_section(c: &Comparison) -> super::html::Section {
    use super::html::escape;
    let mut body = format!(
        "<p>Baseline: <code>{}</code>. {}</p>\n<table><thead><tr><th>metric</th><th>stat</th><th>baseline</th><th>run</th><th>change</th><th>verdict</th></tr></thead><tbody>\n",
        escape(&c.baseline),
        if c.regressions == 0 {
            "No regression.".to_string()
        } else {
            format!("<strong>{} regression(s).</strong>", c.regressions)
        }
    );
    for r in &c.rows {
        let change = r
            .change_pct
            .map_or("-".to_string(), |p| format!("{p:+.1}%"));
        let _ = writeln!(
            body,
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{change}</td><td>{}</td></tr>",
            if r.verdict == RowVerdict::Regression {
                " class=\"bad\""
            } else {
                ""
            },
            escape(&r.metric),
            escape(&r.stat),
            figure(r, r.baseline),
            figure(r, r.run),
            verdict_word(r.verdict)
        );
    }
    let _ = write!(body, "</tbody></table>\n<p>Rule: {}</p>", escape(&c.rule));
    super::html::Section {
        id: "baseline".into(),
        title: "Baseline comparison".into(),
        body_html: body,
    }
}

/// The comparison as a table.
pub fn render_text(c: &Comparison, baseline_name: &str, run_name: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "baseline: {baseline_name}\nrun:      {run_name}\n");
    let _ = writeln!(
        o,
        "{:<18} {:<10} {:>10} {:>10} {:>9}  verdict",
        "metric", "stat", "baseline", "run", "change"
    );
    for r in &c.rows {
        let change = r
            .change_pct
            .map_or("-".to_string(), |p| format!("{p:+.1}%"));
        let _ = writeln!(
            o,
            "{:<18} {:<10} {:>10} {:>10} {:>9}  {}",
            r.metric,
            r.stat,
            figure(r, r.baseline),
            figure(r, r.run),
            change,
            verdict_word(r.verdict)
        );
    }
    let _ = writeln!(o, "\nrule: {}", c.rule);
    let _ = writeln!(
        o,
        "{}",
        if c.regressions == 0 {
            "no regression".to_string()
        } else {
            format!("{} regression(s)", c.regressions)
        }
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_needs_both_relative_and_absolute_worsening() {
        let o = CompareOptions::default();
        assert_eq!(judge(40, 50, &o), RowVerdict::Same, "+25% but only 10 µs");
        assert_eq!(judge(10_000, 10_900, &o), RowVerdict::Same, "+9%");
        assert_eq!(
            judge(10_000, 11_500, &o),
            RowVerdict::Regression,
            "+15% and 1.5 ms"
        );
        assert_eq!(
            judge(5_000, 5_900, &o),
            RowVerdict::Same,
            "+18% but under 1 ms"
        );
        assert_eq!(judge(20_000, 10_000, &o), RowVerdict::Improvement);
        let strict = CompareOptions {
            tolerance: 0.0,
            min_change_us: 0,
            metrics: vec![],
        };
        assert_eq!(judge(100, 101, &strict), RowVerdict::Regression);
    }
}
