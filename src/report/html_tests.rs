//! Renders the fixture summary (a 500-participant full-room run) and checks the charts and the
//! page: files present and well formed, labels where a reader looks, every string escaped,
//! nothing fetched from the network.

use std::path::PathBuf;

use super::*;
use crate::report::charts::{self, SIZE};

const FIXTURE: &str = include_str!("../../tests/fixtures/summary/full-room.json");

fn fixture() -> Summary {
    serde_json::from_str(FIXTURE).expect("fixture parses")
}

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("roomstorm-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The `<text>` contents of an SVG document (checks it parses as XML too).
fn svg_texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).expect("SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(|t| t.trim().to_string()))
        .collect()
}

#[test]
fn every_chart_is_written_as_svg_and_png() {
    let s = fixture();
    let dir = out_dir("charts");
    let written = charts::write_charts(&s, &dir).unwrap();
    let stems: Vec<&str> = written.iter().map(|c| c.file_stem).collect();
    assert_eq!(
        stems,
        [
            "latency-percentiles",
            "latency-over-time",
            "participants-by-state",
            "arrivals-and-joins",
            "join-errors",
            "generator-lateness"
        ]
    );
    for c in &written {
        let svg = std::fs::read_to_string(dir.join("charts").join(format!("{}.svg", c.file_stem)))
            .unwrap();
        assert_eq!(svg, c.svg);
        assert!(svg.len() > 2000, "{} SVG is trivial", c.file_stem);
        let texts = svg_texts(&svg);
        assert!(
            texts.contains(&c.title),
            "{}: no title in {texts:?}",
            c.file_stem
        );
        assert!(
            texts
                .iter()
                .any(|t| t.contains("(ms)") || t.contains("second") || t == "participants"),
            "{}: no y axis label",
            c.file_stem
        );

        let png = std::fs::read(&c.png_path).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{}", c.file_stem);
        let decoder = png::Decoder::new(std::io::Cursor::new(png.as_slice()));
        let reader = decoder.read_info().unwrap();
        assert_eq!((reader.info().width, reader.info().height), SIZE);
        assert!(png.len() > 10_000, "{} PNG looks empty", c.file_stem);
    }
}

#[test]
fn chart_labels_a_reader_needs() {
    let s = fixture();
    let plots = charts::plots(&s).unwrap();
    let texts = |stem: &str| {
        let p = plots.iter().find(|p| p.file_stem == stem).unwrap();
        svg_texts(&charts::render_svg(p).unwrap())
    };
    let pct = texts("latency-percentiles");
    for want in ["0%", "90%", "99%", "99.9%", "latency (ms)"] {
        assert!(pct.iter().any(|t| t == want), "no {want:?} in {pct:?}");
    }
    // One legend entry per metric with samples (all seven in this run).
    assert_eq!(
        pct.iter().filter(|t| t.contains("(n=")).count(),
        7,
        "{pct:?}"
    );
    assert!(pct.iter().any(|t| t == "join (n=500)"), "{pct:?}");

    let over = texts("latency-over-time");
    for want in [
        "join p99",
        "join p50",
        "peer_visible p99",
        "time since start (s)",
    ] {
        assert!(over.iter().any(|t| t == want), "no {want:?} in {over:?}");
    }
    let arrivals = texts("arrivals-and-joins");
    assert!(
        arrivals.iter().any(|t| t == "intended arrivals"),
        "{arrivals:?}"
    );
    let errors = texts("join-errors");
    assert!(errors.iter().any(|t| t.starts_with("10011")), "{errors:?}");
    let states = texts("participants-by-state");
    assert!(states.iter().any(|t| t == "CONNECTED"), "{states:?}");
}

#[test]
fn empty_summary_still_renders_with_notes() {
    let mut s = fixture();
    s.series.clear();
    s.intended_arrivals.clear();
    s.histograms.clear();
    for p in charts::plots(&s).unwrap() {
        assert!(!p.has_data(), "{}", p.file_stem);
        let texts = svg_texts(&charts::render_svg(&p).unwrap());
        assert!(
            texts.contains(&p.empty_note.to_string()),
            "{}: {texts:?}",
            p.file_stem
        );
        charts::render_png(&p).unwrap();
    }
}

#[test]
fn a_corrupt_histogram_is_an_error_not_a_panic() {
    let mut s = fixture();
    s.histograms
        .insert("join".into(), "not base64 at all!".into());
    let err = charts::plots(&s).unwrap_err();
    assert!(err.to_string().contains("join"), "{err}");
    s.histograms.insert("join".into(), "SElTVA==".into());
    assert!(charts::plots(&s).is_err());
}

#[test]
fn report_is_self_contained_and_escaped() {
    let mut s = fixture();
    s.scenario.name = "rooms <full> & \"busy\"".into();
    s.scenario.description = "<script>alert(1)</script>".into();
    s.rooms[0].name = "<b>room</b>".into();
    let dir = out_dir("html");
    let path = write_report(&s, &dir).unwrap();
    assert_eq!(path, dir.join("report.html"));
    let html = std::fs::read_to_string(&path).unwrap();

    assert!(html.contains("rooms &lt;full&gt; &amp; &quot;busy&quot;"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("<script"));
    assert!(html.contains("&lt;b&gt;room&lt;/b&gt;"));
    assert!(html.contains("<span class=\"badge pass\">PASS</span>"));

    // Every chart inline, and on disk beside it.
    for stem in [
        "latency-percentiles",
        "latency-over-time",
        "participants-by-state",
        "arrivals-and-joins",
        "join-errors",
        "generator-lateness",
    ] {
        assert!(
            html.contains(&format!("<figure id=\"chart-{stem}\">\n<svg")),
            "{stem}"
        );
        assert!(dir.join("charts").join(format!("{stem}.png")).is_file());
    }
    assert_eq!(html.matches("<svg").count(), 6);

    // No URL but the target's.
    let without_target = html.replace(&s.target.url, "");
    for scheme in ["http://", "https://", "//cdn", "@import", "url("] {
        assert!(!without_target.contains(scheme), "found {scheme}");
    }

    // Tables a capacity tester reads.
    // Figures come from the fixture itself, so a re-recorded fixture keeps the test honest.
    let join = &s.latency["join"];
    let join_row = format!(
        "<td>join</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
        join.count,
        crate::coordinator::progress::format_us(join.p50)
    );
    let join_max = crate::coordinator::progress::format_us(join.max);
    // The fixture's second-worst room (the worst one's name was replaced to test escaping).
    let worst_room = &s.rooms[1].name;
    for want in [
        "10011 · room full",
        join_row.as_str(),
        join_max.as_str(),
        worst_room.as_str(),
        "CONNECTING → CONNECTED",
        "group member: completed == 400",
        "20 of 50 rooms",
    ] {
        assert!(html.contains(want), "no {want:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn extra_sections_follow_the_expectations() {
    let s = fixture();
    let extra = [Section {
        id: "thresholds\" onclick=\"x".into(),
        title: "Thresholds <1>".into(),
        body_html: "<p>join p99 &lt; 50ms: pass</p>".into(),
    }];
    let html = render(&s, &[], &extra);
    let at = |needle: &str| html.find(needle).unwrap_or_else(|| panic!("no {needle}"));
    assert!(at("id=\"expectations\"") < at("id=\"thresholdsonclickx\""));
    assert!(at("id=\"thresholdsonclickx\"") < at("id=\"latency\""));
    assert!(html.contains("<h2>Thresholds &lt;1&gt;</h2>"));
    assert!(html.contains("<p>join p99 &lt; 50ms: pass</p>"));
}

#[test]
fn thresholds_and_a_baseline_comparison_show_as_checks_and_a_section() {
    let mut s = fixture();
    s.thresholds.push(crate::threshold::ThresholdResult {
        expression: "join.p99 < 1ms".into(),
        passed: false,
        observed: "3.6ms".into(),
        abort_on_fail: true,
    });
    let baseline = fixture();
    let c = crate::report::compare::compare(
        &baseline,
        &s,
        &crate::report::compare::CompareOptions::default(),
        "reports/base",
    );
    let dir = out_dir("thresholds");
    let path = write_report_with(&s, &dir, &[crate::report::compare::html_section(&c)]).unwrap();
    let html = std::fs::read_to_string(path).unwrap();
    assert!(
        html.contains("threshold join.p99 &lt; 1ms (abort_on_fail)"),
        "threshold row"
    );
    assert!(html.contains("<td>3.6ms</td>"));
    assert!(html.contains("id=\"baseline\""), "comparison section");
    assert!(html.contains("<code>reports/base</code>. No regression."));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn faults_and_reconnects_get_their_own_section_only_when_there_were_any() {
    let mut s = fixture();
    let plain = render(&s, &[], &[]);
    assert!(!plain.contains("id=\"recovery\""));
    s.faults = vec![crate::report::summary::FaultReport {
        record: crate::coordinator::faults::FaultRecord {
            index: 0,
            kind: "reset".into(),
            at_s: 20.0,
            fired_s: Some(20.001),
            targets: 300,
            result: "sent to <300> participants".into(),
            ok: true,
        },
        hits: crate::metrics::recovery::FaultHits {
            applied: 299,
            missed: 1,
            failed: 0,
        },
    }];
    s.recovery.reconnected = 299;
    s.recovery.losses.insert("close_1006".into(), 299);
    s.recovery.attempts.insert(1, 299);
    s.recovery.stale_reconnecting = 4;
    s.recovery_converged_after_us = Some(5_220_000);
    let html = render(&s, &[], &[]);
    let at = |needle: &str| html.find(needle).unwrap_or_else(|| panic!("no {needle}"));
    assert!(at("<a href=\"#recovery\">Faults and reconnects</a>") < at("id=\"outcomes\""));
    assert!(at("id=\"expectations\"") < at("id=\"recovery\""));
    assert!(at("id=\"recovery\"") < at("id=\"latency\""));
    assert!(html.contains("sent to &lt;300&gt; participants"), "escaped");
    assert!(html.contains("close_1006×299"));
    assert!(html.contains("<td class=\"n\">299</td><td class=\"n\">1</td>"));
    // Stale views are marked as a problem.
    assert!(
        html.contains("<tr class=\"bad\"><th>reconnecting views never repaired</th><td>4</td>")
    );
    assert!(html.contains("5.22s"));
}

#[test]
fn a_generator_limited_run_says_so_in_the_header_and_the_checks() {
    let mut s = fixture();
    let healthy = render(&s, &[], &[]);
    assert!(!healthy.contains("GENERATOR-LIMITED"));
    assert!(healthy.contains(
        "<td>generator not limited</td><td>every interval within the generator limits</td>"
    ));
    s.generator.limited = true;
    s.generator
        .intervals
        .push(crate::report::generator::LimitedInterval {
            t: 2.0,
            lateness_p99_us: Some(120_000),
            loop_lag_p99_us: Some(90_000),
            media_pacing_p99_us: None,
            cpu_percent: Some(99.0),
            worker_cpu_percent: Some(98.0),
            handshakes_waiting: 40,
            exceeded: vec!["lateness".into(), "loop_lag".into(), "cpu".into()],
            cause: "generator CPU saturated <98%>".into(),
        });
    let html = render(&s, &[], &[]);
    let header = &html[..html.find("</header>").unwrap()];
    assert!(
        header.contains(
            "GENERATOR-LIMITED: interval ending at 2.0s: generator CPU saturated &lt;98%&gt;"
        ),
        "{header}"
    );
    // Without `generator.fail` it is a warning, with it a failed check.
    assert!(html.contains("⚠ limited</span></td><td>generator not limited</td>"));
    s.generator.limits.fail = true;
    let html = render(&s, &[], &[]);
    assert!(html.contains("✘ fail</span></td><td>generator not limited</td>"));
}

// ---- media ----------------------------------------------------------------------------------

/// A real Janus media run: 4 rooms of 3 publishers with audio and video, all subscribing.
const MEDIA_FIXTURE: &str = include_str!("../../tests/fixtures/summary/media-room.json");

fn media_fixture() -> Summary {
    let s: Summary = serde_json::from_str(MEDIA_FIXTURE).expect("media fixture parses");
    assert!(s.media.is_some(), "the media fixture has media");
    s
}

fn plot<'a>(plots: &'a [charts::Plot], stem: &str) -> &'a charts::Plot {
    plots
        .iter()
        .find(|p| p.file_stem == stem)
        .unwrap_or_else(|| panic!("no {stem} chart"))
}

fn line<'a>(p: &'a charts::Plot, label: &str) -> &'a charts::Line {
    p.lines
        .iter()
        .find(|l| l.label == label)
        .unwrap_or_else(|| panic!("{}: no line {label:?}", p.file_stem))
}

#[test]
fn a_media_run_gets_every_media_chart_as_svg_and_png() {
    let s = media_fixture();
    let dir = out_dir("media-charts");
    let written = charts::write_charts(&s, &dir).unwrap();
    let stems: Vec<&str> = written.iter().map(|c| c.file_stem).collect();
    assert_eq!(&stems[6..], charts::media::STEMS);
    for c in written
        .iter()
        .filter(|c| charts::media::is_media_chart(c.file_stem))
    {
        let texts = svg_texts(&c.svg);
        assert!(texts.contains(&c.title), "{}: {texts:?}", c.file_stem);
        assert!(
            texts
                .iter()
                .any(|t| t.contains("(ms)") || t.contains("(%)") || t == "kbit/s"),
            "{}: no y axis label in {texts:?}",
            c.file_stem
        );
        let png = std::fs::read(&c.png_path).unwrap();
        let reader = png::Decoder::new(std::io::Cursor::new(png.as_slice()))
            .read_info()
            .unwrap();
        assert_eq!((reader.info().width, reader.info().height), SIZE);
        assert!(
            dir.join("charts")
                .join(format!("{}.svg", c.file_stem))
                .is_file()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn media_charts_carry_the_summary_figures() {
    let s = media_fixture();
    let plots = charts::plots(&s).unwrap();
    let ms = |us: u64| us as f64 / 1000.0;

    // Bitrate: bytes × 8 over the interval's length, as a step per interval.
    let bitrate = plot(&plots, "media-bitrate");
    let (k, row) = (3, &s.series[3]);
    let dt = row.t - s.series[k - 1].t;
    let m = row.media.unwrap();
    let sent = line(bitrate, "sent (publishers)");
    let received = line(bitrate, "received (subscribers)");
    assert_eq!(
        sent.points[2 * k],
        (s.series[k - 1].t, m.bytes_sent as f64 * 8.0 / 1000.0 / dt)
    );
    assert_eq!(
        received.points[2 * k + 1],
        (row.t, m.bytes_received as f64 * 8.0 / 1000.0 / dt)
    );
    let texts = svg_texts(&charts::render_svg(bitrate).unwrap());
    assert!(
        texts.iter().any(|t| t == "time since start (s)"),
        "{texts:?}"
    );

    // Loss: lost / (received + lost) per interval, in percent; none where nothing arrived.
    let loss = line(plot(&plots, "media-loss"), "packets lost");
    for (r, p) in s.series.iter().zip(&loss.points) {
        match r.media {
            Some(m) if m.packets_received + m.packets_lost > 0 => {
                assert_eq!(*p, (r.t, m.loss_ratio() * 100.0))
            }
            _ => assert!(p.1.is_nan(), "{p:?}"),
        }
    }

    // Jitter and pacing: each interval's percentiles, µs → ms.
    let jitter = line(plot(&plots, "media-jitter"), "jitter p99");
    let pacing = line(plot(&plots, "media-pacing"), "p99");
    for (i, r) in s.series.iter().enumerate() {
        if let Some(l) = r.latency.get("media_jitter").filter(|l| l.count > 0) {
            assert_eq!(jitter.points[i], (r.t, ms(l.p99)));
        }
        if let Some(l) = r.latency.get("media_pacing").filter(|l| l.count > 0) {
            assert_eq!(pacing.points[i], (r.t, ms(l.p99)));
        }
    }
    assert!(jitter.points.iter().any(|p| p.1.is_finite()));

    // Setup bars: p50/p90/p99 of each setup metric from the run's percentiles.
    let setup = plot(&plots, "media-setup");
    assert_eq!(setup.x, charts::XAxis::Categories(charts::media::SETUP));
    for (i, metric) in charts::media::SETUP.iter().enumerate() {
        let p = &s.latency[*metric];
        assert!(p.count > 0, "{metric} has samples in the fixture");
        assert_eq!(line(setup, "p50").points[i], (i as f64, ms(p.p50)));
        assert_eq!(line(setup, "p90").points[i], (i as f64, ms(p.p90)));
        assert_eq!(line(setup, "p99").points[i], (i as f64, ms(p.p99)));
    }
    let texts = svg_texts(&charts::render_svg(setup).unwrap());
    for want in charts::media::SETUP
        .iter()
        .copied()
        .chain(["p50", "p90", "p99", "time (ms)"])
    {
        assert!(texts.iter().any(|t| t == want), "no {want:?} in {texts:?}");
    }

    // Media timings leave the signaling percentile chart for their own.
    let label = |l: &charts::Line| l.label.split(' ').next().unwrap().to_string();
    let signaling: Vec<String> = plot(&plots, "latency-percentiles")
        .lines
        .iter()
        .map(label)
        .collect();
    let media: Vec<String> = plot(&plots, "media-percentiles")
        .lines
        .iter()
        .map(label)
        .collect();
    assert!(signaling.contains(&"join".to_string()), "{signaling:?}");
    for metric in charts::media::METRICS {
        assert!(
            !signaling.iter().any(|m| m == metric),
            "{metric} in {signaling:?}"
        );
        assert!(
            media.iter().any(|m| m == metric),
            "{metric} not in {media:?}"
        );
    }
}

#[test]
fn media_charts_without_samples_say_so() {
    let mut s = media_fixture();
    s.series.clear();
    s.histograms.clear();
    s.latency.clear();
    for p in charts::media::plots(&s).unwrap() {
        assert!(!p.has_data(), "{}", p.file_stem);
        let texts = svg_texts(&charts::render_svg(&p).unwrap());
        assert!(
            texts.contains(&p.empty_note.to_string()),
            "{}: {texts:?}",
            p.file_stem
        );
        charts::render_png(&p).unwrap();
    }
}

#[test]
fn a_media_run_gets_a_media_section_with_its_figures_and_charts() {
    let s = media_fixture();
    let dir = out_dir("media-html");
    let html = std::fs::read_to_string(write_report(&s, &dir).unwrap()).unwrap();
    let at = |needle: &str| html.find(needle).unwrap_or_else(|| panic!("no {needle}"));
    assert!(at("<a href=\"#latency\">Latency</a><a href=\"#media\">Media</a>") < at("<section"));
    let (start, end) = (at("<section id=\"media\">"), at("<section id=\"charts\">"));
    assert!(at("<section id=\"latency\">") < start);
    let media = &html[start..end];

    let m = s.media.as_ref().unwrap();
    let c = &m.counters;
    let fmt_us = crate::coordinator::progress::format_us;
    let first_media = &s.latency["first_media"];
    for want in [
        format!(
            "<th>tracks published</th><td>{} in {} publishes</td>",
            c.tracks_published, c.publishes
        ),
        format!(
            "<th>tracks received (subscriptions ended)</th><td>{}</td>",
            c.tracks_received
        ),
        format!(
            "<th>missing (never a byte within the grace)</th><td>{}</td>",
            c.missing
        ),
        format!("<td>{}</td>", c.cut_short),
        format!("<th>packets sent</th><td>{}</td>", c.packets_sent),
        format!("<th>packets received</th><td>{}</td>", c.packets_received),
        format!("<td>{} ({:.3}%)</td>", c.packets_lost, m.loss_ratio * 100.0),
        format!("<th>freezes</th><td>{}</td>", c.freezes),
        format!("<td>{} ({})</td>", c.frames_sent, c.keyframes_sent),
        format!(
            "<th>keyframe requests (PLI/FIR from the server)</th><td>{}</td>",
            c.keyframe_requests
        ),
        format!(
            "<td>{:.1} / {:.1} kbit/s</td>",
            m.sent_kbps, m.received_kbps
        ),
        format!(
            "<td>first_media</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
            first_media.count,
            fmt_us(first_media.p50)
        ),
    ] {
        assert!(media.contains(&want), "no {want:?} in the media section");
    }
    // Media timings in the order media gets going, and only in the media section.
    let row = |m: &str| {
        media
            .find(&format!("<td>{m}</td>"))
            .unwrap_or_else(|| panic!("no {m} row"))
    };
    let rows: Vec<usize> = charts::media::METRICS.iter().map(|m| row(m)).collect();
    assert!(rows.windows(2).all(|w| w[0] < w[1]), "{rows:?}");
    let latency = &html[at("<section id=\"latency\">")..start];
    assert!(latency.contains("<td>join</td>") && !latency.contains("<td>first_media</td>"));
    // Each media chart inline in the media section, the others in the charts section.
    for stem in charts::media::STEMS {
        assert!(
            media.contains(&format!("<figure id=\"chart-{stem}\">\n<svg")),
            "{stem}"
        );
        assert!(dir.join("charts").join(format!("{stem}.png")).is_file());
    }
    assert_eq!(media.matches("<svg").count(), charts::media::STEMS.len());
    assert_eq!(html.matches("<svg").count(), 6 + charts::media::STEMS.len());
    assert!(html[end..].contains("<figure id=\"chart-latency-percentiles\">"));
    // Still self-contained.
    let without_target = html.replace(&s.target.url, "");
    for scheme in ["http://", "https://", "//cdn", "@import", "url("] {
        assert!(!without_target.contains(scheme), "found {scheme}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_run_without_media_has_no_media_section_or_charts() {
    let s = fixture();
    assert!(s.media.is_none());
    let dir = out_dir("no-media");
    let html = std::fs::read_to_string(write_report(&s, &dir).unwrap()).unwrap();
    assert!(!html.contains("id=\"media\"") && !html.contains("#media"));
    assert!(!html.contains("chart-media-"));
    let files: Vec<String> = std::fs::read_dir(dir.join("charts"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 12, "{files:?}");
    assert!(!files.iter().any(|f| f.starts_with("media-")), "{files:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
