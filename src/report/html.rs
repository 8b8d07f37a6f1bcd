//! The HTML report: one self-contained `report.html` per run (inline CSS and SVG charts, no
//! scripts, nothing fetched), for a capacity tester to read offline or attach to a ticket.
//!
//! Every string that comes from the summary is escaped with [`escape`]. Later renderings
//! (thresholds, baseline comparison) add themselves as extra [`Section`]s through
//! [`write_report_with`]; they appear after the expectations, where a reader looks for checks.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::charts::{self, ChartError, WrittenChart};
use super::summary::{Percentiles, Split, Summary, Verdict};
use crate::codes;
use crate::coordinator::progress::format_us;

/// How many rooms the ranked room table shows (the worst ones; the summary has them all).
pub const ROOMS_SHOWN: usize = 20;

/// File name of the report inside the run folder.
pub const REPORT_FILE: &str = "report.html";

/// Why the report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A chart failed.
    #[error(transparent)]
    Chart(#[from] ChartError),
    /// Writing the file failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// An extra part of the report, rendered by another module (thresholds, a baseline comparison).
#[derive(Debug, Clone)]
pub struct Section {
    /// Anchor id (letters, digits, `-`), also used in the page's contents line.
    pub id: String,
    /// Heading text (escaped here).
    pub title: String,
    /// Body markup, trusted: the producer escapes what it takes from its input with [`escape`].
    pub body_html: String,
}

impl Section {
    /// The id as an anchor: only letters, digits and `-` survive (ids come from callers).
    fn anchor(&self) -> String {
        self.id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect()
    }
}

/// Writes `<dir>/report.html` and the charts under `<dir>/charts/`; returns the report's path.
pub fn write_report(summary: &Summary, dir: &Path) -> Result<PathBuf, ReportError> {
    write_report_with(summary, dir, &[])
}

/// [`write_report`] with extra sections placed after the expectations.
pub fn write_report_with(
    summary: &Summary,
    dir: &Path,
    extra: &[Section],
) -> Result<PathBuf, ReportError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReportError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let charts = charts::write_charts(summary, dir)?;
    let html = render(summary, &charts, extra);
    let path = dir.join(REPORT_FILE);
    let tmp = dir.join(".report.html.tmp");
    std::fs::write(&tmp, html).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    Ok(path)
}

/// Escapes text for HTML content and attribute values (the same escaping as JUnit's XML).
pub use super::junit::escape;

/// The whole page. `charts` are inlined in order (the media ones in the media section);
/// `extra` follows the expectations.
pub fn render(s: &Summary, charts: &[WrittenChart], extra: &[Section]) -> String {
    let mut o =
        String::with_capacity(64 * 1024 + charts.iter().map(|c| c.svg.len()).sum::<usize>());
    let title = format!("roomstorm · {}", s.scenario.name);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; img-src data:\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&title)
    );
    header(&mut o, s);
    // Faults and reconnects read best right after the checks they explain.
    let sections: Vec<Section> = recovery_section(s)
        .into_iter()
        .chain(extra.iter().cloned())
        .collect();
    let extra = sections.as_slice();
    let (media_charts, charts): (Vec<WrittenChart>, Vec<WrittenChart>) = charts
        .iter()
        .cloned()
        .partition(|c| charts::media::is_media_chart(c.file_stem));
    let charts = charts.as_slice();
    contents(&mut o, charts, extra, s.media.is_some());
    outcomes(&mut o, s);
    expectations(&mut o, s);
    for sec in extra {
        let id = sec.anchor();
        let _ = write!(
            o,
            "<section id=\"{id}\">\n<h2>{}</h2>\n{}\n</section>\n",
            escape(&sec.title),
            sec.body_html
        );
    }
    latency(&mut o, s);
    media::section(&mut o, s, &media_charts);
    chart_section(&mut o, charts);
    rooms(&mut o, s);
    presence(&mut o, s);
    server(&mut o, s);
    transitions(&mut o, s);
    let _ = write!(
        o,
        "<footer>roomstorm {} · summary schema {} · charts also in <code>charts/</code> as SVG and PNG</footer>\n</body>\n</html>\n",
        escape(&s.roomstorm_version),
        s.schema_version
    );
    o
}

const STYLE: &str = "
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;color:#1d2329;background:#f6f7f9;margin:0 auto;max-width:1120px;padding:20px 28px 40px}
h1{font-size:26px;margin:8px 0 4px}h2{font-size:20px;margin:0 0 10px;border-bottom:1px solid #dde1e6;padding-bottom:4px}
h3{font-size:16px;margin:14px 0 6px}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:14px 18px;margin:16px 0}
.desc{color:#4a5560;margin:0 0 10px}
.badge{display:inline-block;padding:3px 12px;border-radius:12px;font-weight:700;font-size:14px;color:#fff;vertical-align:middle;margin-left:10px;letter-spacing:.04em}
.pass{background:#1f883d}.fail{background:#cf222e}.interrupted{background:#9a6700}
table{border-collapse:collapse;margin:4px 0 8px;font-variant-numeric:tabular-nums}
th,td{padding:4px 12px;border-bottom:1px solid #eceef1;text-align:left;vertical-align:top}
th{background:#f0f2f4;font-weight:600}
td.n,th.n{text-align:right}
tr.bad td{background:#fff0f0}
.facts th{background:none;color:#4a5560;font-weight:500;padding-left:0}
.ok{color:#1f883d;font-weight:700}.no{color:#cf222e;font-weight:700}
.muted{color:#6a737d}
nav{font-size:14px;margin:6px 0 0}nav a{margin-right:12px;color:#0b5cad}
figure{margin:12px 0 22px}figure svg{width:100%;height:auto;display:block;border:1px solid #eceef1}
figcaption{font-size:13px;color:#4a5560;margin-top:4px}
code{font-size:13px}footer{color:#6a737d;font-size:13px;margin-top:20px}
";

fn verdict_badge(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "<span class=\"badge pass\">PASS</span>",
        Verdict::Fail => "<span class=\"badge fail\">FAIL</span>",
        Verdict::Interrupted => "<span class=\"badge interrupted\">INTERRUPTED</span>",
    }
}

/// A serde enum's wire name (`completed`, `deadline`, …).
fn wire_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// `10011 room full`, or the name itself for non-code outcomes.
fn outcome_label(name: &str) -> String {
    match name.parse::<u32>() {
        Ok(code) => format!("{name} · {}", codes::message(code)),
        Err(_) => name.to_string(),
    }
}

fn header(o: &mut String, s: &Summary) {
    let _ = write!(
        o,
        "<header>\n<h1>{}{}</h1>\n<p class=\"desc\">{}</p>\n<table class=\"facts\">\n",
        escape(&s.scenario.name),
        verdict_badge(s.verdict),
        escape(&s.scenario.description)
    );
    let rows = [
        (
            "target",
            format!(
                "{} · {} · driver {}",
                escape(&s.target.url),
                escape(&s.target.kind),
                escape(&s.target.driver)
            ),
        ),
        ("started", escape(&s.started_at)),
        ("duration", format!("{:.1} s", s.duration_s)),
        ("ended", escape(&wire_name(&s.end_reason))),
        (
            "plan",
            format!(
                "{} rooms · {} participants · {} lifecycles · {} workers",
                s.plan.rooms, s.plan.participants, s.plan.lifecycles, s.workers
            ),
        ),
        (
            "scenario file",
            format!(
                "<code>{}</code> · seed {}",
                escape(&s.scenario.file),
                s.scenario.seed
            ),
        ),
    ];
    for (k, v) in rows {
        let _ = writeln!(o, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    o.push_str("</table>\n");
    if let Some(line) = super::generator::headline(&s.generator) {
        let _ = writeln!(
            o,
            "<p class=\"bad generator-limited\"><strong>{}</strong></p>",
            escape(&line)
        );
    }
    o.push_str("</header>\n");
}

fn contents(o: &mut String, charts: &[WrittenChart], extra: &[Section], media: bool) {
    o.push_str("<nav><a href=\"#outcomes\">Outcomes</a><a href=\"#expectations\">Expectations</a>");
    for sec in extra {
        let id = sec.anchor();
        let _ = write!(o, "<a href=\"#{id}\">{}</a>", escape(&sec.title));
    }
    o.push_str("<a href=\"#latency\">Latency</a>");
    if media {
        o.push_str("<a href=\"#media\">Media</a>");
    }
    if !charts.is_empty() {
        o.push_str("<a href=\"#charts\">Charts</a>");
    }
    o.push_str(
        "<a href=\"#rooms\">Rooms</a><a href=\"#presence\">Presence</a>\
         <a href=\"#server\">Server</a><a href=\"#transitions\">Transitions</a></nav>\n",
    );
}

fn split_row(o: &mut String, label: &str, split: &Split) {
    let class = if split.unexpected > 0 {
        " class=\"bad\""
    } else {
        ""
    };
    let _ = writeln!(
        o,
        "<tr{class}><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
        escape(label),
        split.expected,
        split.unexpected,
        split.total()
    );
}

fn outcomes(o: &mut String, s: &Summary) {
    o.push_str("<section id=\"outcomes\">\n<h2>Outcomes and codes</h2>\n");
    let c = &s.conservation;
    let _ = writeln!(
        o,
        "<p>{} expected, <b>{}</b> unexpected · conservation {}: {} scheduled, {} with an outcome</p>",
        s.outcomes.expected,
        s.outcomes.unexpected,
        if c.holds {
            "<span class=\"ok\">holds</span>"
        } else {
            "<span class=\"no\">broken</span>"
        },
        c.scheduled,
        c.accounted
    );
    o.push_str(
        "<table><tr><th>outcome</th><th class=\"n\">expected</th><th class=\"n\">unexpected</th><th class=\"n\">total</th></tr>\n",
    );
    for (name, split) in &s.outcomes.by_outcome {
        split_row(o, &outcome_label(name), split);
    }
    o.push_str("</table>\n");
    if s.outcomes.by_group.len() > 1 {
        o.push_str("<h3>By group</h3>\n<table><tr><th>group · outcome</th><th class=\"n\">expected</th><th class=\"n\">unexpected</th><th class=\"n\">total</th></tr>\n");
        for (group, by) in &s.outcomes.by_group {
            for (name, split) in by {
                split_row(o, &format!("{group} · {}", outcome_label(name)), split);
            }
        }
        o.push_str("</table>\n");
    }
    for (title, map) in [
        ("Join answers by code", &s.codes.join),
        ("Server disconnects by code", &s.codes.disconnect),
    ] {
        let _ = writeln!(o, "<h3>{title}</h3>");
        code_table(o, map);
    }
    if !s.failures.is_empty() {
        o.push_str("<h3>Transport failures</h3>\n<table><tr><th>stage</th><th class=\"n\">count</th><th>first message</th></tr>\n");
        for (stage, n) in &s.failures {
            let example = s.failure_examples.get(stage).map_or("", String::as_str);
            let _ = writeln!(
                o,
                "<tr class=\"bad\"><td>{}</td><td class=\"n\">{n}</td><td><code>{}</code></td></tr>",
                escape(stage),
                escape(example)
            );
        }
        o.push_str("</table>\n");
    }
    o.push_str("</section>\n");
}

fn code_table(o: &mut String, map: &std::collections::BTreeMap<u32, u64>) {
    if map.is_empty() {
        o.push_str("<p class=\"muted\">none</p>\n");
        return;
    }
    o.push_str(
        "<table><tr><th class=\"n\">code</th><th>meaning</th><th class=\"n\">count</th></tr>\n",
    );
    for (code, n) in map {
        let _ = writeln!(
            o,
            "<tr><td class=\"n\">{code}</td><td>{}</td><td class=\"n\">{n}</td></tr>",
            escape(codes::message(*code))
        );
    }
    o.push_str("</table>\n");
}

/// The generator-health row of the checks table (and JUnit's test case of the same name).
const GENERATOR_CHECK: &str = "generator not limited";

fn expectations(o: &mut String, s: &Summary) {
    o.push_str("<section id=\"expectations\">\n<h2>Expectations and thresholds</h2>\n");
    let checks: Vec<(bool, String, &str)> = s
        .expectations
        .iter()
        .map(|e| (e.passed, e.name.clone(), e.detail.as_str()))
        .chain(s.thresholds.iter().map(|t| {
            let name = if t.abort_on_fail {
                format!("threshold {} (abort_on_fail)", t.expression)
            } else {
                format!("threshold {}", t.expression)
            };
            (t.passed, name, t.observed.as_str())
        }))
        .chain(std::iter::once((
            !s.generator.limited,
            GENERATOR_CHECK.to_string(),
            s.generator
                .intervals
                .first()
                .map_or("every interval within the generator limits", |i| {
                    i.cause.as_str()
                }),
        )))
        .collect();
    if checks.is_empty() {
        o.push_str("<p class=\"muted\">none</p>\n");
    } else {
        o.push_str("<table><tr><th>result</th><th>check</th><th>observed</th></tr>\n");
        for (passed, name, detail) in &checks {
            let warn_only = name == GENERATOR_CHECK && !s.generator.limits.fail;
            let (class, mark) = if *passed {
                ("", "<span class=\"ok\">✔ pass</span>")
            } else if warn_only {
                // Reported loudly, but the scenario did not make it decide anything.
                (" class=\"bad\"", "<span class=\"no\">⚠ limited</span>")
            } else {
                (" class=\"bad\"", "<span class=\"no\">✘ fail</span>")
            };
            let _ = writeln!(
                o,
                "<tr{class}><td>{mark}</td><td>{}</td><td>{}</td></tr>",
                escape(name),
                escape(detail)
            );
        }
        o.push_str("</table>\n");
    }
    o.push_str("</section>\n");
}

fn latency(o: &mut String, s: &Summary) {
    o.push_str("<section id=\"latency\">\n<h2>Latency</h2>\n");
    // A media run's timings are in its media section.
    let media = s.media.is_some();
    latency_table(
        o,
        s.latency
            .iter()
            .filter(|(m, _)| !(media && charts::media::METRICS.contains(&m.as_str())))
            .map(|(m, p)| (m.as_str(), p)),
    );
    o.push_str("<p class=\"muted\">lateness is how far the generator started participants behind the plan, not a server figure.</p>\n</section>\n");
}

/// A latency table: one row per metric with its percentiles (µs figures, formatted).
fn latency_table<'a>(o: &mut String, rows: impl Iterator<Item = (&'a str, &'a Percentiles)>) {
    o.push_str("<table><tr><th>metric</th><th class=\"n\">samples</th><th class=\"n\">p50</th><th class=\"n\">p90</th><th class=\"n\">p99</th><th class=\"n\">p99.9</th><th class=\"n\">max</th><th class=\"n\">mean</th></tr>\n");
    for (metric, p) in rows {
        if p.count == 0 {
            let _ = writeln!(
                o,
                "<tr class=\"muted\"><td>{}</td><td class=\"n\">0</td><td colspan=\"6\">no samples</td></tr>",
                escape(metric)
            );
            continue;
        }
        let _ = write!(
            o,
            "<tr><td>{}</td><td class=\"n\">{}</td>",
            escape(metric),
            p.count
        );
        for v in [p.p50, p.p90, p.p99, p.p999, p.max, p.mean.round() as u64] {
            let _ = write!(o, "<td class=\"n\">{}</td>", escape(&format_us(v)));
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</table>\n");
}

/// The SVG as an inline element: the XML prolog and namespace declarations dropped (HTML
/// parsers put `<svg>` in the SVG namespace themselves), so the page names no URL of its own.
fn inline_svg(svg: &str) -> String {
    let start = svg.find("<svg").unwrap_or(0);
    svg[start..]
        .replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
        .replacen(" xmlns:xlink=\"http://www.w3.org/1999/xlink\"", "", 1)
}

fn chart_section(o: &mut String, charts: &[WrittenChart]) {
    if charts.is_empty() {
        return;
    }
    o.push_str("<section id=\"charts\">\n<h2>Charts</h2>\n");
    for c in charts {
        figure(o, c);
    }
    o.push_str("</section>\n");
}

/// One chart as a figure: the inline SVG, its title and links to its files.
fn figure(o: &mut String, c: &WrittenChart) {
    let stem = escape(c.file_stem);
    let _ = write!(
        o,
        "<figure id=\"chart-{stem}\">\n{}\n<figcaption>{} · <a href=\"charts/{stem}.png\">PNG</a> · <a href=\"charts/{stem}.svg\">SVG</a></figcaption>\n</figure>\n",
        inline_svg(&c.svg),
        escape(&c.title)
    );
}

fn rooms(o: &mut String, s: &Summary) {
    o.push_str("<section id=\"rooms\">\n<h2>Rooms, worst first</h2>\n");
    if s.rooms.is_empty() {
        o.push_str("<p class=\"muted\">no rooms</p>\n</section>\n");
        return;
    }
    let shown = s.rooms.len().min(ROOMS_SHOWN);
    let _ = writeln!(
        o,
        "<p class=\"muted\">{shown} of {} rooms, ranked by unexpected outcomes, then slowest join.</p>",
        s.rooms.len()
    );
    o.push_str("<table><tr><th class=\"n\">#</th><th>room</th><th class=\"n\">joins</th><th class=\"n\">unexpected</th><th class=\"n\">first unexpected at</th><th class=\"n\">slowest join</th><th class=\"n\">slowest peer_visible</th></tr>\n");
    for (i, r) in s.rooms.iter().take(ROOMS_SHOWN).enumerate() {
        let st = &r.stat;
        let class = if st.unexpected > 0 {
            " class=\"bad\""
        } else {
            ""
        };
        let first = if st.first_unexpected_us == 0 {
            "—".to_string()
        } else {
            format!("{:.2} s", st.first_unexpected_us as f64 / 1e6)
        };
        let _ = writeln!(
            o,
            "<tr{class}><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{first}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            i + 1,
            escape(&r.name),
            st.joins,
            st.unexpected,
            escape(&format_us(st.max_join_us)),
            escape(&format_us(st.max_peer_visible_us)),
        );
    }
    o.push_str("</table>\n</section>\n");
}

fn presence(o: &mut String, s: &Summary) {
    let p = &s.presence;
    let _ = write!(
        o,
        "<section id=\"presence\">\n<h2>Presence</h2>\n<table class=\"facts\">\n\
         <tr><th>stays checked</th><td>{}</td></tr>\n\
         <tr{}><th>missed co-members</th><td>{}</td></tr>\n\
         <tr><th>overlap grace</th><td>{}</td></tr>\n\
         <tr><th>notices before the peer's own answer</th><td>{}</td></tr>\n\
         <tr><th>notices never resolved</th><td>{}</td></tr>\n\
         <tr><th>notices about unknown users</th><td>{}</td></tr>\n</table>\n</section>\n",
        p.stays,
        if p.errors > 0 { " class=\"bad\"" } else { "" },
        p.errors,
        escape(&format_us(p.overlap_grace_us)),
        p.notices_before_reference,
        p.notices_unresolved,
        p.notices_unknown_user
    );
}

fn server(o: &mut String, s: &Summary) {
    o.push_str("<section id=\"server\">\n<h2>Server counters</h2>\n");
    let Some(c) = &s.server else {
        o.push_str("<p class=\"muted\">not available (external target)</p>\n</section>\n");
        return;
    };
    let _ = writeln!(
        o,
        "<p>at the end: {} members in {} open rooms</p>",
        c.members, c.rooms
    );
    o.push_str("<h3>Auth answers by code</h3>\n");
    code_table(o, &c.auths);
    o.push_str("<h3>Disconnects sent by code</h3>\n");
    code_table(o, &c.disconnects);
    o.push_str("<h3>Departures by reason</h3>\n");
    count_table(
        o,
        "reason",
        c.departures.iter().map(|(k, v)| (k.as_str(), *v)),
    );
    o.push_str("</section>\n");
}

fn transitions(o: &mut String, s: &Summary) {
    o.push_str("<section id=\"transitions\">\n<h2>Connection state transitions</h2>\n");
    count_table(
        o,
        "from → to",
        s.transitions.iter().map(|(k, v)| (k.as_str(), *v)),
    );
    o.push_str("</section>\n");
}

fn count_table<'a>(o: &mut String, head: &str, rows: impl Iterator<Item = (&'a str, u64)>) {
    let mut body = String::new();
    for (k, n) in rows {
        let _ = writeln!(
            body,
            "<tr><td>{}</td><td class=\"n\">{n}</td></tr>",
            escape(&k.replace("->", " → "))
        );
    }
    if body.is_empty() {
        o.push_str("<p class=\"muted\">none</p>\n");
    } else {
        let _ = write!(
            o,
            "<table><tr><th>{head}</th><th class=\"n\">count</th></tr>\n{body}</table>\n"
        );
    }
}

mod media;

#[cfg(test)]
#[path = "html_tests.rs"]
mod tests;

/// Faults and reconnects, when the run had any.
fn recovery_section(s: &Summary) -> Option<Section> {
    let r = &s.recovery;
    if s.faults.is_empty() && r.is_empty() {
        return None;
    }
    let mut b = String::new();
    if !s.faults.is_empty() {
        b.push_str(
            "<h3>Faults</h3>\n<table><thead><tr><th>#</th><th>kind</th><th class=\"n\">at</th>\
             <th class=\"n\">fired</th><th>what it did</th><th class=\"n\">hit</th>\
             <th class=\"n\">not in a room</th><th class=\"n\">failed</th></tr></thead><tbody>\n",
        );
        for f in &s.faults {
            let rec = &f.record;
            let _ = writeln!(
                b,
                "<tr{}><td>{}</td><td>{}</td><td class=\"n\">{:.1}s</td><td class=\"n\">{}</td><td>{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                if rec.ok && f.hits.failed == 0 {
                    ""
                } else {
                    " class=\"bad\""
                },
                rec.index,
                escape(&rec.kind),
                rec.at_s,
                rec.fired_s
                    .map_or_else(|| "never".into(), |t| format!("{t:.1}s")),
                escape(&rec.result),
                f.hits.applied,
                f.hits.missed,
                f.hits.failed
            );
        }
        b.push_str("</tbody></table>\n");
    }
    let join = |m: &std::collections::BTreeMap<String, u64>| {
        m.iter()
            .map(|(k, n)| format!("{}×{n}", escape(k)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let codes = |m: &std::collections::BTreeMap<u32, u64>| {
        m.iter()
            .map(|(k, n)| format!("{k}×{n}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let attempts: std::collections::BTreeMap<u32, u64> = r.attempts.clone();
    let fact = |b: &mut String, bad: bool, label: &str, value: String| {
        let _ = writeln!(
            b,
            "<tr{}><th>{label}</th><td>{value}</td></tr>",
            if bad { " class=\"bad\"" } else { "" }
        );
    };
    b.push_str("<h3>Reconnects</h3>\n<table class=\"facts\">\n");
    fact(&mut b, false, "breaks noticed, by cause", join(&r.losses));
    fact(
        &mut b,
        false,
        "came back RECONNECTED",
        r.reconnected.to_string(),
    );
    fact(&mut b, false, "gave up (10007)", r.gave_up.to_string());
    fact(&mut b, false, "re-auth refused, by code", codes(&r.refused));
    fact(
        &mut b,
        false,
        "abandoned (left or stopped while reconnecting)",
        r.abandoned.to_string(),
    );
    fact(
        &mut b,
        false,
        "attempts per reconnect (attempts×reconnects)",
        codes(&attempts),
    );
    fact(
        &mut b,
        false,
        "attempts failed",
        match &r.attempt_failure_example {
            Some(e) => format!("{} (first: {})", r.attempts_failed, escape(e)),
            None => r.attempts_failed.to_string(),
        },
    );
    if !r.ignored_closes.is_empty() {
        fact(
            &mut b,
            false,
            "closes the SDK ignores (waits for its ping timer)",
            join(&r.ignored_closes),
        );
    }
    fact(
        &mut b,
        false,
        "peers saw user-reconnecting / user-reconnected",
        format!("{} / {}", r.peer_reconnecting, r.peer_reconnected),
    );
    fact(
        &mut b,
        false,
        "re-auth member-list diff: joined / left",
        format!("{} / {}", r.roster_joined, r.roster_left),
    );
    fact(
        &mut b,
        r.stale_reconnecting > 0,
        "reconnecting views never repaired",
        r.stale_reconnecting.to_string(),
    );
    if let Some(us) = s.recovery_converged_after_us {
        fact(
            &mut b,
            false,
            "last recovery event after the last fault",
            escape(&format_us(us)),
        );
    }
    fact(
        &mut b,
        false,
        "SDK promise view: rejected joins / unhandled rejections (21003)",
        format!("{} / {}", r.join_rejected_21003, r.unhandled_21003),
    );
    b.push_str(
        "</table>\n<p class=\"muted\">Latencies of <code>detect</code>, <code>reconnect</code>, \
        <code>reconnecting</code> and <code>peer_reconnected</code> are in the latency table.</p>",
    );
    Some(Section {
        id: "recovery".into(),
        title: "Faults and reconnects".into(),
        body_html: b,
    })
}
