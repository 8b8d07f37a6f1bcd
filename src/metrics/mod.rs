//! Measurements: named latency metrics in HdrHistograms (microseconds, 3 significant digits),
//! recorded per worker thread without locks and merged by the coordinator once a second.

pub mod aggregate;
pub mod cpu;
pub mod media;
pub mod recorder;
pub mod recovery;

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer as _, V2DeflateSerializer};

/// The latency metrics of a run (names as in the design's metric vocabulary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// Socket connect start → WebSocket open.
    Connect,
    /// Join request sent (token exchange start) → join answer, success or refusal.
    Join,
    /// Intended arrival time → CONNECTED (open model: includes generator queueing).
    TimeToConnected,
    /// A member's join answer → each other member's `user-joined` for it.
    PeerVisible,
    /// Leave sent → the server's close.
    Leave,
    /// Leave sent → each other member's `user-left`.
    PeerGone,
    /// Intended start → actual start of a participant (the generator's own lateness).
    Lateness,
    /// A scripted fault fired → a client notices the break (goes RECONNECTING).
    Detect,
    /// Break noticed (RECONNECTING) → RECONNECTED.
    Reconnect,
    /// Time spent in RECONNECTING, however it ended (RECONNECTED, 10007, a refusal, a leave).
    Reconnecting,
    /// A member's RECONNECTED → each other member's `user-reconnected` for it.
    PeerReconnected,
    /// How late a worker's 100 ms probe timer fired: its event loop's lag (generator health).
    LoopLag,
    /// Publish request sent (with the offer) → the server's confirmation (its answer).
    Publish,
    /// The server's description applied → ICE connected, per peer connection.
    IceConnected,
    /// The server's description applied → ICE and DTLS up (media can flow), per connection.
    DtlsConnected,
    /// A track announced to a subscriber → its first RTP packet.
    FirstMedia,
    /// A video track announced to a subscriber → its first keyframe.
    FirstKeyframe,
    /// One-way media latency: the sender's stamp in the frame → its arrival (one clock).
    MediaLatency,
    /// How late a synthetic frame left after its scheduled time (the generator's media health).
    MediaPacing,
    /// A received track's interarrival jitter (RFC 3550), sampled every few dozen packets.
    MediaJitter,
    /// A received track's silence longer than the freeze rule: last frame before → first after
    /// (how long media was gone, and when it came back, after a fault).
    MediaGap,
    /// Round-trip time from RTCP receiver reports on a publisher's connection (the stack's
    /// mean over the connection, one sample per sent stream when the connection closes).
    MediaRtt,
}

impl Metric {
    /// Every metric, by [`Metric::index`].
    pub const ALL: [Metric; 22] = [
        Metric::Connect,
        Metric::Join,
        Metric::TimeToConnected,
        Metric::PeerVisible,
        Metric::Leave,
        Metric::PeerGone,
        Metric::Lateness,
        Metric::Detect,
        Metric::Reconnect,
        Metric::Reconnecting,
        Metric::PeerReconnected,
        Metric::LoopLag,
        Metric::Publish,
        Metric::IceConnected,
        Metric::DtlsConnected,
        Metric::FirstMedia,
        Metric::FirstKeyframe,
        Metric::MediaLatency,
        Metric::MediaPacing,
        Metric::MediaJitter,
        Metric::MediaGap,
        Metric::MediaRtt,
    ];

    /// Dense index.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Stable name used in reports, thresholds and files.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Connect => "connect",
            Metric::Join => "join",
            Metric::TimeToConnected => "time_to_connected",
            Metric::PeerVisible => "peer_visible",
            Metric::Leave => "leave",
            Metric::PeerGone => "peer_gone",
            Metric::Lateness => "lateness",
            Metric::Detect => "detect",
            Metric::Reconnect => "reconnect",
            Metric::Reconnecting => "reconnecting",
            Metric::PeerReconnected => "peer_reconnected",
            Metric::LoopLag => "loop_lag",
            Metric::Publish => "publish",
            Metric::IceConnected => "ice_connected",
            Metric::DtlsConnected => "dtls_connected",
            Metric::FirstMedia => "first_media",
            Metric::FirstKeyframe => "first_keyframe",
            Metric::MediaLatency => "media_latency",
            Metric::MediaPacing => "media_pacing",
            Metric::MediaJitter => "media_jitter",
            Metric::MediaGap => "media_gap",
            Metric::MediaRtt => "media_rtt",
        }
    }
}

/// An empty latency histogram: microseconds, 3 significant digits, growing as needed.
pub fn new_histogram() -> Histogram<u64> {
    let mut h = Histogram::new(3).expect("3 significant digits is valid");
    h.auto(true);
    h
}

/// The standard HdrHistogram V2 compressed encoding, base64 (what `.hlog` lines carry).
pub fn encode(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    match V2DeflateSerializer::new().serialize(h, &mut buf) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(buf),
        Err(e) => {
            tracing::error!("histogram encoding failed: {e:?}");
            String::new()
        }
    }
}

/// Microseconds as a short human figure: `850µs`, `3.1ms`, `2.40s` (progress lines, reports and
/// threshold results all print latencies this way).
pub fn format_us(us: u64) -> String {
    if us < 1000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{:.1}ms", us as f64 / 1000.0)
    } else {
        format!("{:.2}s", us as f64 / 1e6)
    }
}
