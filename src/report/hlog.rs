//! HdrHistogram interval logs (`.hlog`, the standard V2 log format): one file per metric, one
//! line per collection interval, readable by HdrHistogram's own tools (HistogramLogProcessor,
//! HdrHistogramVisualizer) and by the `hdrhistogram` crate's log reader.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};

use super::Summary;

/// Decodes a base64 HdrHistogram V2 (deflate) encoding as stored in `summary.json`.
pub fn decode(encoded: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| format!("histogram is not base64: {e}"))?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("histogram does not decode: {e:?}"))
}

/// Writes `<dir>/hlog/<metric>.hlog` for every metric with samples; returns the files written.
pub fn write_all(summary: &Summary, dir: &Path) -> Result<Vec<PathBuf>, String> {
    let out = dir.join("hlog");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let start = UNIX_EPOCH + Duration::from_millis(summary.started_at_unix_ms);
    let mut written = Vec::new();
    for (metric, intervals) in &summary.interval_histograms {
        let path = out.join(format!("{metric}.hlog"));
        let mut text = Vec::new();
        write_one(&mut text, metric, start, intervals)?;
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

fn write_one(
    out: &mut Vec<u8>,
    metric: &str,
    start: SystemTime,
    intervals: &[crate::metrics::aggregate::IntervalHistogram],
) -> Result<(), String> {
    let mut serializer = V2DeflateSerializer::new();
    let mut builder = IntervalLogWriterBuilder::new();
    builder
        .add_comment(&format!(
            "roomstorm {metric} latency, values in microseconds"
        ))
        .with_start_time(start)
        .with_base_time(start);
    let mut writer = builder
        .begin_log_with(out, &mut serializer)
        .map_err(|e| e.to_string())?;
    for i in intervals {
        let h = decode(&i.histogram)?;
        let begin = Duration::from_secs_f64(i.start_s.max(0.0));
        let length = Duration::from_secs_f64((i.end_s - i.start_s).max(0.0));
        writer
            .write_histogram(&h, begin, length, None)
            .map_err(|e| format!("{metric}: {e:?}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

    use super::*;
    use crate::metrics::aggregate::IntervalHistogram;
    use crate::metrics::new_histogram;
    use crate::report::summary::encode;

    #[test]
    fn logs_round_trip_through_the_crates_reader() {
        let mut a = new_histogram();
        a.record(1500).unwrap();
        a.record(2500).unwrap();
        let mut b = new_histogram();
        b.record(40_000).unwrap();
        let intervals = vec![
            IntervalHistogram {
                start_s: 0.0,
                end_s: 1.0,
                histogram: encode(&a),
            },
            IntervalHistogram {
                start_s: 1.0,
                end_s: 2.0,
                histogram: encode(&b),
            },
        ];
        let start = UNIX_EPOCH + Duration::from_millis(1_795_737_600_123);
        let mut text = Vec::new();
        write_one(&mut text, "join", start, &intervals).unwrap();
        let as_text = String::from_utf8(text.clone()).unwrap();
        assert!(as_text.contains("#[StartTime: 1795737600.123"), "{as_text}");
        let mut seen = Vec::new();
        for entry in IntervalLogIterator::new(&text) {
            match entry.unwrap() {
                LogEntry::Interval(h) => {
                    let decoded = decode(h.encoded_histogram()).unwrap();
                    seen.push((
                        h.start_timestamp(),
                        h.duration(),
                        decoded.len(),
                        decoded.max(),
                    ));
                }
                LogEntry::StartTime(_) | LogEntry::BaseTime(_) => {}
            }
        }
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].0, Duration::ZERO);
        assert_eq!(seen[1].0, Duration::from_secs(1));
        assert_eq!(seen[1].1, Duration::from_secs(1));
        assert_eq!((seen[0].2, seen[1].2), (2, 1));
        assert_eq!(seen[1].3, b.max());
    }
}
