//! The media floor: a bare tokio client on roomstorm's WebRTC stack doing what a roomstorm
//! media run against Janus does, with nothing else (no actix, no recorder, no histograms, no
//! report). `bench/media.sh` runs it beside `roomstorm run` in one `scripts/janus netns` and
//! compares the two; run alone it is a plain load client that prints its own counts.
//!
//! What it does, as roomstorm's Janus driver and participant actor do (`src/signaling/janus/`,
//! `src/participant/actor/media.rs`, `src/media/`):
//!
//! - Creates ROOMS VideoRoom rooms on a control session (`create`, `permanent: false`,
//!   `publishers` = PUBLISHERS, `notify_joining`), numbered from a random base, and destroys them
//!   at the end.
//! - PUBLISHERS members per room arrive evenly over `--ramp` after a `--lead` of idle time (so the
//!   RSS before the first connection can be read), in interleaved order (room 0, 1, …, then the
//!   next member), whole rooms per worker thread, one single-threaded tokio runtime per worker.
//! - Each member: a WebSocket (subprotocol `janus-protocol`, 4 KiB read buffer) to `$JANUS_URL`,
//!   `create`, `attach` janus.plugin.videoroom, `join` as publisher, then a PeerConnection built
//!   like `roomstorm::media::peer::build` (Opus 111 / VP8 96 with the same parameters, default
//!   interceptors plus the keyframe-request interceptor, mDNS off, DTLS server when answering,
//!   loopback candidates, UDP on `$ROOMSTORM_MEDIA_IP:0`), a sendonly transceiver per track, a
//!   non-trickle offer in `publish`, Janus's answer applied; once connected, one paced sender per
//!   track writing the same synthetic frames as `roomstorm::media::sender` (frame header, VP8
//!   prefix, filler; a keyframe every 2 s and on PLI/FIR).
//! - For every feed announced in its room (subscribe all): a handle of its own (`attach`),
//!   `join` as subscriber with `streams: [{feed}]`, a PeerConnection answering Janus's offer,
//!   `start`; every received RTP packet is counted, nothing else.
//! - Keepalive every 25 s; after `--hold` (from its publish answer): PeerConnections closed,
//!   `unpublish`, `leave`, session `destroy`.
//!
//! Output: one line per second on stdout, `tick T SENT RECEIVED CONNECTED FAILED` (seconds since
//! the process started; RTP packets sent and received so far, received ones in batches of 32 per
//! track; PeerConnection state changes to connected and to failed/disconnected so far, so a
//! connection that recovers counts twice), then a `floor:` summary line. Exit 1 if a member
//! failed.
//!
//! ```text
//! scripts/janus netns -- cargo bench --bench media_floor -- --rooms 4 --publishers 4 --hold 20
//!     [--mode av|audio] [--ramp 3] [--lead 2] [--workers N]
//! ```

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use roomstorm::media::frame::{self, FrameHeader};
use roomstorm::media::keyframe::is_keyframe_request;
use roomstorm::media::peer::{MediaNet, OPUS_PT, VP8_PT, add_send_tracks, connection};
use roomstorm::media::sender::{LocalTrack, local_track};
use roomstorm::scenario::{Codec, TrackSpec};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::rtp;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionEventHandler, RTCIceGatheringState, RTCPeerConnectionState,
};

// The same allocator as the roomstorm binary, so allocator behaviour is not what is compared.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "flags: --rooms N --publishers N --hold SECONDS [--mode av|audio] [--ramp SECONDS] [--lead SECONDS] [--workers N]";
const PLUGIN: &str = "janus.plugin.videoroom";
const KEEPALIVE: Duration = Duration::from_secs(25);
/// How long one signaling answer may take before the member gives up.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// Received packets are added to the shared counter in batches of this many (as roomstorm's
/// receive loop flushes to its recorder).
const FLUSH_EVERY: u64 = 32;

struct Args {
    rooms: usize,
    publishers: usize,
    hold: f64,
    audio_only: bool,
    ramp: f64,
    lead: f64,
    workers: usize,
}

fn parse_args() -> Args {
    let mut a = Args {
        rooms: 4,
        publishers: 4,
        hold: 20.0,
        audio_only: false,
        ramp: 3.0,
        lead: 2.0,
        workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let mut val = || {
            it.next()
                .unwrap_or_else(|| panic!("{flag} needs a value; {USAGE}"))
                .clone()
        };
        match flag.as_str() {
            "--rooms" => a.rooms = val().parse().expect(USAGE),
            "--publishers" => a.publishers = val().parse().expect(USAGE),
            "--hold" => a.hold = val().parse().expect(USAGE),
            "--ramp" => a.ramp = val().parse().expect(USAGE),
            "--lead" => a.lead = val().parse().expect(USAGE),
            "--workers" => a.workers = val().parse().expect(USAGE),
            "--mode" => {
                a.audio_only = match val().as_str() {
                    "av" => false,
                    "audio" => true,
                    other => panic!("--mode {other}: av or audio; {USAGE}"),
                }
            }
            "--bench" => {}
            other => panic!("unknown flag {other}; {USAGE}"),
        }
    }
    assert!(
        a.rooms > 0 && a.publishers > 0 && a.workers > 0 && a.hold > 0.0 && a.ramp >= 0.0,
        "{USAGE}"
    );
    a
}

/// What one worker has done so far; written by that worker only, read by the reporter.
#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    received: AtomicU64,
    connected: AtomicU64,
    failed: AtomicU64,
}

/// What every member of a worker shares.
struct Worker {
    url: String,
    media_ip: IpAddr,
    tracks: Vec<TrackSpec>,
    hold: Duration,
    clock: Instant,
    counters: Arc<Counters>,
}

fn main() {
    let args = parse_args();
    let clock = Instant::now();
    let url = std::env::var("JANUS_URL").unwrap_or_else(|_| "ws://127.0.0.1:8188".into());
    let media_ip: IpAddr = std::env::var("ROOMSTORM_MEDIA_IP")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let mut tracks = vec![TrackSpec::audio(32_000, Duration::from_millis(20))];
    if !args.audio_only {
        tracks.push(TrackSpec::video(500_000, 30, Duration::from_secs(2)));
    }
    let pcs = args.rooms * args.publishers * args.publishers;
    eprintln!(
        "media floor: {} rooms × {} publishers ({}), {pcs} PeerConnections, ramp {} s after {} s, hold {} s, {} workers, Janus {url}, media on {media_ip}",
        args.rooms,
        args.publishers,
        if args.audio_only {
            "audio 32 kbit/s"
        } else {
            "audio 32 kbit/s + video 500 kbit/s 30 fps"
        },
        args.ramp,
        args.lead,
        args.hold,
        args.workers
    );

    let control = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let secret = format!("floor-{:x}", rand_u64());
    let base = (rand_u64() % (1 << 31)) << 20;
    let rooms: Vec<u64> = (0..args.rooms as u64).map(|i| base + i).collect();
    if let Err(e) = control.block_on(create_rooms(&url, &rooms, args.publishers, &secret)) {
        eprintln!("media floor: could not create the rooms: {e}");
        std::process::exit(1);
    }

    let all: Vec<Arc<Counters>> = (0..args.workers).map(|_| Arc::default()).collect();
    let done = Arc::new(AtomicBool::new(false));
    let reporter = {
        let (all, done) = (all.clone(), done.clone());
        std::thread::spawn(move || {
            let mut next = clock + Duration::from_secs(1);
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
                next += Duration::from_secs(1);
                let sum = |f: fn(&Counters) -> &AtomicU64| {
                    all.iter()
                        .map(|c| f(c).load(Ordering::Relaxed))
                        .sum::<u64>()
                };
                println!(
                    "tick {:.2} {} {} {} {}",
                    clock.elapsed().as_secs_f64(),
                    sum(|c| &c.sent),
                    sum(|c| &c.received),
                    sum(|c| &c.connected),
                    sum(|c| &c.failed)
                );
            }
        })
    };

    let start = clock + Duration::from_secs_f64(args.lead);
    let n = args.rooms * args.publishers;
    let members_failed = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..args.workers)
        .map(|w| {
            let worker = Worker {
                url: url.clone(),
                media_ip,
                tracks: tracks.clone(),
                hold: Duration::from_secs_f64(args.hold),
                clock,
                counters: all[w].clone(),
            };
            let (rooms, members_failed) = (rooms.clone(), members_failed.clone());
            let (ramp, workers) = (args.ramp, args.workers);
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                let local = tokio::task::LocalSet::new();
                let worker = Rc::new(worker);
                local.block_on(&rt, async move {
                    let mut tasks = Vec::new();
                    let count = rooms.len();
                    for i in (0..n).filter(|i| (i % count) % workers == w) {
                        let (room, member) = (i % count, i / count);
                        let at = start + Duration::from_secs_f64(ramp * i as f64 / n as f64);
                        tokio::time::sleep_until(at.into()).await;
                        let (worker, members_failed) = (worker.clone(), members_failed.clone());
                        let room = rooms[room];
                        tasks.push(tokio::task::spawn_local(async move {
                            if let Err(e) = member_lifecycle(&worker, room, member).await {
                                eprintln!("media floor: member {member} of room {room}: {e}");
                                members_failed.fetch_add(1, Ordering::Relaxed);
                            }
                        }));
                    }
                    for t in tasks {
                        let _ = t.await;
                    }
                });
            })
        })
        .collect();
    for t in threads {
        t.join().expect("floor worker");
    }
    done.store(true, Ordering::Relaxed);
    let _ = reporter.join();
    if let Err(e) = control.block_on(destroy_rooms(&url, &rooms, &secret)) {
        eprintln!("media floor: could not destroy the rooms: {e}");
    }
    let sum = |f: fn(&Counters) -> &AtomicU64| {
        all.iter()
            .map(|c| f(c).load(Ordering::Relaxed))
            .sum::<u64>()
    };
    let failed = members_failed.load(Ordering::Relaxed);
    println!(
        "floor: {} rooms, {} publishers per room, {pcs} PeerConnections expected, {} connected, {} failed; {} members failed; {} packets sent, {} received; ran {:.1} s",
        args.rooms,
        args.publishers,
        sum(|c| &c.connected),
        sum(|c| &c.failed),
        failed,
        sum(|c| &c.sent),
        sum(|c| &c.received),
        clock.elapsed().as_secs_f64()
    );
    if failed > 0 {
        std::process::exit(1);
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

// ---- Janus signaling ----

type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

async fn ws_open(url: &str) -> Result<Ws, String> {
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("janus-protocol"),
    );
    let authority = url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap_or_default();
    let addr: SocketAddr = authority
        .parse()
        .map_err(|_| format!("JANUS_URL must be ws://IP:PORT, got {url}"))?;
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (ws, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(config))
        .await
        .map_err(|e| e.to_string())?;
    Ok(ws)
}

/// A control session: one request at a time, each answered before the next.
struct Control {
    ws: Ws,
    session: u64,
    handle: u64,
    next: u64,
}

impl Control {
    async fn open(url: &str) -> Result<Self, String> {
        let mut c = Control {
            ws: ws_open(url).await?,
            session: 0,
            handle: 0,
            next: 0,
        };
        c.session = id_of(&c.call(json!({"janus": "create"})).await?)?;
        c.handle = id_of(&c.call(json!({"janus": "attach", "plugin": PLUGIN})).await?)?;
        Ok(c)
    }

    async fn call(&mut self, mut frame: Value) -> Result<Value, String> {
        self.next += 1;
        let t = format!("c{}", self.next);
        frame["transaction"] = json!(t);
        if self.session != 0 {
            frame["session_id"] = json!(self.session);
        }
        if self.handle != 0 && frame["janus"] == "message" {
            frame["handle_id"] = json!(self.handle);
        }
        self.ws
            .send(Message::text(frame.to_string()))
            .await
            .map_err(|e| e.to_string())?;
        loop {
            let msg = tokio::time::timeout(ANSWER_TIMEOUT, self.ws.next())
                .await
                .map_err(|_| "no answer from Janus".to_string())?
                .ok_or("Janus closed the socket")?
                .map_err(|e| e.to_string())?;
            let Ok(text) = msg.to_text() else { continue };
            let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
            if v["transaction"] != t || v["janus"] == "ack" {
                continue;
            }
            if v["janus"] == "error" {
                return Err(format!("Janus error: {}", v["error"]));
            }
            let data = &v["plugindata"]["data"];
            if data["error_code"].is_u64() {
                return Err(format!("VideoRoom error: {data}"));
            }
            return Ok(v);
        }
    }
}

fn id_of(v: &Value) -> Result<u64, String> {
    v["data"]["id"]
        .as_u64()
        .ok_or_else(|| format!("no id in {v}"))
}

async fn create_rooms(
    url: &str,
    rooms: &[u64],
    publishers: usize,
    secret: &str,
) -> Result<(), String> {
    let mut c = Control::open(url).await?;
    for room in rooms {
        let body = json!({"request": "create", "room": room, "description": format!("floor-{room}"),
            "permanent": false, "notify_joining": true, "is_private": false,
            "publishers": publishers, "secret": secret});
        c.call(json!({"janus": "message", "body": body})).await?;
    }
    let _ = c.call(json!({"janus": "destroy"})).await;
    Ok(())
}

async fn destroy_rooms(url: &str, rooms: &[u64], secret: &str) -> Result<(), String> {
    let mut c = Control::open(url).await?;
    for room in rooms {
        let body =
            json!({"request": "destroy", "room": room, "permanent": false, "secret": secret});
        c.call(json!({"janus": "message", "body": body})).await?;
    }
    let _ = c.call(json!({"janus": "destroy"})).await;
    Ok(())
}

/// What a member's Janus request was for, by transaction.
enum Tx {
    Create,
    Attach,
    Join,
    Publish,
    SubAttach(u64),
    SubJoin(u64),
    Start,
    Leave,
    Destroy,
    Other,
}

/// What the member's PeerConnection tasks hand back to its signaling loop.
enum Done {
    Offer(Result<String, String>),
    Answer(u64, Result<(Arc<dyn PeerConnection>, String), String>),
}

/// The publisher connection being built: its task fills the slot.
type Building = (Rc<RefCell<Option<Peer>>>, Vec<(LocalTrack, u32)>);

/// The publisher connection offered: the connection, its "up" signal, its tracks.
type Offered = (
    Arc<dyn PeerConnection>,
    watch::Receiver<bool>,
    Vec<(LocalTrack, u32)>,
);

/// One member: its socket, session, publisher handle, subscriptions and connections.
struct Member<'a> {
    w: &'a Worker,
    ws: Ws,
    room: u64,
    index: usize,
    next: u64,
    pending: HashMap<String, Tx>,
    session: Option<u64>,
    handle: Option<u64>,
    feeds: Vec<u64>,
    subs: HashMap<u64, u64>,
    pcs: Vec<Arc<dyn PeerConnection>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The publisher connection being built (its task fills the slot), and its tracks.
    building: Option<Building>,
    /// The publisher connection offered, waiting for Janus's answer.
    publisher: Option<Offered>,
    done_tx: mpsc::UnboundedSender<Done>,
    hold_until: Option<tokio::time::Instant>,
}

async fn member_lifecycle(w: &Worker, room: u64, index: usize) -> Result<(), String> {
    let ws = ws_open(&w.url).await?;
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let mut m = Member {
        w,
        ws,
        room,
        index,
        next: 0,
        pending: HashMap::new(),
        session: None,
        handle: None,
        feeds: Vec::new(),
        subs: HashMap::new(),
        pcs: Vec::new(),
        tasks: Vec::new(),
        building: None,
        publisher: None,
        done_tx,
        hold_until: None,
    };
    m.request(json!({"janus": "create"}), Tx::Create).await?;
    let mut keepalive = tokio::time::interval(KEEPALIVE);
    keepalive.tick().await;
    let joined_by = tokio::time::Instant::now() + ANSWER_TIMEOUT;
    let result = loop {
        let hold = m.hold_until.unwrap_or(joined_by);
        tokio::select! {
            msg = m.ws.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => break Err(e.to_string()),
                    None => break Err("Janus closed the socket".into()),
                };
                if let Err(e) = m.on_frame(&text).await {
                    break Err(e);
                }
            }
            Some(done) = done_rx.recv() => {
                if let Err(e) = m.on_done(done).await {
                    break Err(e);
                }
            }
            _ = keepalive.tick() => {
                if let Some(s) = m.session {
                    let _ = m.request(json!({"janus": "keepalive", "session_id": s}), Tx::Other).await;
                }
            }
            () = tokio::time::sleep_until(hold) => {
                break if m.hold_until.is_some() { Ok(()) } else { Err("not published in time".into()) };
            }
        }
    };
    m.leave().await;
    result
}

impl Member<'_> {
    /// Sends `frame` on the session: its transaction.
    async fn request(&mut self, mut frame: Value, tx: Tx) -> Result<String, String> {
        self.next += 1;
        let t = format!("m{}", self.next);
        frame["transaction"] = json!(t);
        if let Some(s) = self.session {
            frame["session_id"] = json!(s);
        }
        self.pending.insert(t.clone(), tx);
        self.ws
            .send(Message::text(frame.to_string()))
            .await
            .map_err(|e| e.to_string())?;
        Ok(t)
    }

    async fn message(
        &mut self,
        handle: u64,
        body: Value,
        jsep: Option<(&str, String)>,
        tx: Tx,
    ) -> Result<String, String> {
        let mut frame = json!({"janus": "message", "handle_id": handle, "body": body});
        if let Some((kind, sdp)) = jsep {
            frame["jsep"] = json!({"type": kind, "sdp": sdp});
        }
        self.request(frame, tx).await
    }

    async fn on_frame(&mut self, text: &str) -> Result<(), String> {
        let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let kind = v["janus"].as_str().unwrap_or_default();
        if kind == "ack" {
            return Ok(());
        }
        let data = &v["plugindata"]["data"];
        let tx = v["transaction"]
            .as_str()
            .and_then(|t| self.pending.remove(t));
        if kind == "error" || data["error_code"].is_u64() {
            return match tx {
                Some(Tx::Other | Tx::Leave | Tx::Destroy) | None => Ok(()),
                Some(_) => Err(format!("Janus refused: {text}")),
            };
        }
        match tx {
            Some(Tx::Create) => {
                self.session = Some(id_of(&v)?);
                self.request(json!({"janus": "attach", "plugin": PLUGIN}), Tx::Attach)
                    .await?;
            }
            Some(Tx::Attach) => {
                let handle = id_of(&v)?;
                self.handle = Some(handle);
                let body = json!({"request": "join", "ptype": "publisher", "room": self.room,
                    "display": format!("f-{}-{}", self.room, self.index)});
                self.message(handle, body, None, Tx::Join).await?;
            }
            Some(Tx::Join) => {
                if data["videoroom"] != "joined" {
                    return Err(format!("join answered {text}"));
                }
                self.start_publishing();
                self.feeds_listed(data).await?;
            }
            Some(Tx::Publish) => {
                let answer = v["jsep"]["sdp"]
                    .as_str()
                    .ok_or("publish answered without SDP")?;
                let (pc, mut up, tracks) = self
                    .publisher
                    .take()
                    .ok_or("publish without a connection")?;
                let answer =
                    RTCSessionDescription::answer(answer.to_owned()).map_err(|e| e.to_string())?;
                let (counters, clock) = (self.w.counters.clone(), self.w.clock);
                self.tasks.push(tokio::task::spawn_local(async move {
                    if pc.set_remote_description(answer).await.is_err() {
                        counters.failed.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    // The senders start once ICE and DTLS are up, as roomstorm's do.
                    while !*up.borrow_and_update() {
                        if up.changed().await.is_err() {
                            return;
                        }
                    }
                    let senders = tracks
                        .into_iter()
                        .map(|(t, publisher)| send(t, publisher, counters.clone(), clock));
                    futures_util::future::join_all(senders).await;
                }));
                self.hold_until = Some(tokio::time::Instant::now() + self.w.hold);
            }
            Some(Tx::SubAttach(feed)) => {
                let handle = id_of(&v)?;
                self.subs.insert(feed, handle);
                let body = json!({"request": "join", "ptype": "subscriber", "room": self.room,
                    "streams": [{"feed": feed}]});
                self.message(handle, body, None, Tx::SubJoin(feed)).await?;
            }
            Some(Tx::SubJoin(feed)) => {
                let offer = v["jsep"]["sdp"]
                    .as_str()
                    .filter(|_| data["videoroom"] == "attached")
                    .ok_or_else(|| format!("subscriber join answered {text}"))?
                    .to_owned();
                let (ip, counters, tx) = (
                    self.w.media_ip,
                    self.w.counters.clone(),
                    self.done_tx.clone(),
                );
                self.tasks.push(tokio::task::spawn_local(async move {
                    let answer = async {
                        let mut peer = build(ip, counters).await?;
                        let offer =
                            RTCSessionDescription::offer(offer).map_err(|e| e.to_string())?;
                        peer.pc
                            .set_remote_description(offer)
                            .await
                            .map_err(|e| e.to_string())?;
                        let answer = peer
                            .pc
                            .create_answer(None)
                            .await
                            .map_err(|e| e.to_string())?;
                        let sdp = peer.local_sdp(answer).await?;
                        Ok((peer.pc, sdp))
                    };
                    let _ = tx.send(Done::Answer(feed, answer.await));
                }));
            }
            Some(Tx::Start | Tx::Leave | Tx::Destroy | Tx::Other) => {}
            None => {
                // Room news on the publisher handle: new feeds (others' are ignored: nobody leaves
                // before the hold ends, and the floor keeps its subscriptions to the end).
                if v["sender"].as_u64() == self.handle {
                    self.feeds_listed(data).await?;
                }
            }
        }
        Ok(())
    }

    async fn feeds_listed(&mut self, data: &Value) -> Result<(), String> {
        let Some(list) = data["publishers"].as_array() else {
            return Ok(());
        };
        let new: Vec<u64> = list
            .iter()
            .filter(|f| f["streams"].as_array().is_some_and(|s| !s.is_empty()))
            .filter_map(|f| f["id"].as_u64())
            .filter(|id| !self.feeds.contains(id))
            .collect();
        for feed in new {
            self.feeds.push(feed);
            self.request(
                json!({"janus": "attach", "plugin": PLUGIN}),
                Tx::SubAttach(feed),
            )
            .await?;
        }
        Ok(())
    }

    /// Builds the publisher connection and its offer in a task of its own.
    fn start_publishing(&mut self) {
        let publisher = (self.room as u32).wrapping_mul(64) + self.index as u32;
        let tracks: Vec<(LocalTrack, u32)> = self
            .w
            .tracks
            .iter()
            .enumerate()
            .map(|(i, spec)| (local_track(spec, publisher, i as u16), publisher))
            .collect();
        let (ip, counters, tx) = (
            self.w.media_ip,
            self.w.counters.clone(),
            self.done_tx.clone(),
        );
        let locals: Vec<Arc<dyn TrackLocal>> = tracks
            .iter()
            .map(|(t, _)| t.track.clone() as Arc<dyn TrackLocal>)
            .collect();
        let slot: Rc<RefCell<Option<Peer>>> = Rc::default();
        let back = slot.clone();
        let fut = async move {
            let offer = async {
                let mut peer = build(ip, counters).await?;
                add_send_tracks(&*peer.pc, locals)
                    .await
                    .map_err(|e| e.to_string())?;
                let offer = peer
                    .pc
                    .create_offer(None)
                    .await
                    .map_err(|e| e.to_string())?;
                let sdp = peer.local_sdp(offer).await?;
                *back.borrow_mut() = Some(peer);
                Ok(sdp)
            };
            let _ = tx.send(Done::Offer(offer.await));
        };
        self.tasks.push(tokio::task::spawn_local(fut));
        self.building = Some((slot, tracks));
    }

    async fn on_done(&mut self, done: Done) -> Result<(), String> {
        match done {
            Done::Offer(offer) => {
                let offer = offer?;
                let (slot, tracks) = self.building.take().ok_or("offer without tracks")?;
                let peer = slot
                    .borrow_mut()
                    .take()
                    .ok_or("offer without a connection")?;
                self.pcs.push(peer.pc.clone());
                self.publisher = Some((peer.pc, peer.up, tracks));
                let handle = self.handle.ok_or("publish without a handle")?;
                self.message(
                    handle,
                    json!({"request": "publish"}),
                    Some(("offer", offer)),
                    Tx::Publish,
                )
                .await?;
            }
            Done::Answer(feed, answer) => {
                let (pc, answer) = answer?;
                self.pcs.push(pc);
                let handle = *self.subs.get(&feed).ok_or("answer for an unknown feed")?;
                self.message(
                    handle,
                    json!({"request": "start"}),
                    Some(("answer", answer)),
                    Tx::Start,
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Senders stop, connections close, then `unpublish`, `leave` and the session's `destroy`,
    /// each answered (or 2 s) before the next.
    async fn leave(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        for pc in std::mem::take(&mut self.pcs) {
            let _ = pc.close().await;
        }
        let Some(handle) = self.handle else { return };
        for (body, tx) in [
            (json!({"request": "unpublish"}), Tx::Other),
            (json!({"request": "leave"}), Tx::Leave),
        ] {
            let Ok(t) = self.message(handle, body, None, tx).await else {
                return;
            };
            self.wait_for(&t).await;
        }
        if let Ok(t) = self.request(json!({"janus": "destroy"}), Tx::Destroy).await {
            self.wait_for(&t).await;
        }
        let _ = self.ws.close(None).await;
    }

    /// Reads the socket until transaction `t` is answered (an `ack` is not an answer), 2 s at
    /// most.
    async fn wait_for(&mut self, t: &str) {
        let until = tokio::time::Instant::now() + Duration::from_secs(2);
        loop {
            let Ok(Some(Ok(msg))) = tokio::time::timeout_at(until, self.ws.next()).await else {
                return;
            };
            let Ok(text) = msg.to_text() else { continue };
            let Ok(v) = serde_json::from_str::<Value>(text) else {
                continue;
            };
            if v["janus"] != "ack" && v["transaction"] == t {
                return;
            }
        }
    }
}

// ---- the WebRTC side: as roomstorm::media::peer, sender and receiver, minus the recording ----

/// A connection and its two signals: candidates gathered, ICE + DTLS up.
struct Peer {
    pc: Arc<dyn PeerConnection>,
    gathered: watch::Receiver<bool>,
    up: watch::Receiver<bool>,
}

struct Events {
    gathered: watch::Sender<bool>,
    up: watch::Sender<bool>,
    counters: Arc<Counters>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Events {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.gathered.send(true);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        match state {
            RTCPeerConnectionState::Connected => {
                self.counters.connected.fetch_add(1, Ordering::Relaxed);
                let _ = self.up.send(true);
            }
            RTCPeerConnectionState::Failed | RTCPeerConnectionState::Disconnected => {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        tokio::spawn(receive(track, self.counters.clone()));
    }
}

/// The connection as `roomstorm::media::peer::build` makes it.
async fn build(ip: IpAddr, counters: Arc<Counters>) -> Result<Peer, String> {
    let (gathered_tx, gathered) = watch::channel(false);
    let (up_tx, up) = watch::channel(false);
    let events = Arc::new(Events {
        gathered: gathered_tx,
        up: up_tx,
        counters,
    });
    // The same connection settings as roomstorm's (`peer::connection`), other callbacks.
    let pc = connection(MediaNet { bind_ip: ip }, events)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Peer { pc, gathered, up })
}

impl Peer {
    /// Sets `desc` and waits for every candidate (non-trickle): the SDP to send.
    async fn local_sdp(&mut self, desc: RTCSessionDescription) -> Result<String, String> {
        self.pc
            .set_local_description(desc)
            .await
            .map_err(|e| e.to_string())?;
        while !*self.gathered.borrow_and_update() {
            if self.gathered.changed().await.is_err() {
                return Err("closed before gathering completed".into());
            }
        }
        let local = self
            .pc
            .local_description()
            .await
            .ok_or("no local description")?;
        Ok(local.sdp)
    }
}

/// A published track, as `roomstorm::media::sender::local_track` makes it.
/// The paced synthetic frames of `roomstorm::media::sender::send`, counted instead of recorded.
async fn send(local: LocalTrack, publisher: u32, counters: Arc<Counters>, clock: Instant) {
    let spec = &local.spec;
    let interval = spec.frame_interval();
    let (pt, clock_rate, vp8) = match spec.codec {
        Codec::Opus => (OPUS_PT, 48_000_u64, false),
        Codec::Vp8 => (VP8_PT, 90_000_u64, true),
    };
    let ticks_per_frame = (clock_rate * interval.as_micros() as u64 / 1_000_000) as u32;
    let keyframe_every = spec
        .keyframe_interval
        .map(|k| (k.as_micros() / interval.as_micros().max(1)).max(1) as u64);
    let packets = spec.packets_per_frame().max(1) as usize;
    let frame_bytes = (spec.frame_bytes() as usize).max(frame::HEADER_LEN + 4);
    let per_packet = frame_bytes.div_ceil(packets);
    let mut seq: u16 = (local.ssrc >> 3) as u16;
    let mut timestamp: u32 = local.ssrc.rotate_left(7);
    let start = tokio::time::Instant::now();
    let mut keyframe_due = vp8;
    let mut payload = Vec::with_capacity(per_packet + 8);
    let mut chunk = Vec::with_capacity(per_packet);
    for k in 0_u64.. {
        let due = start + interval * (k as u32);
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(due) => break,
                event = local.track.poll() => match event {
                    Some(TrackLocalEvent::OnRtcpPacket(rtcp)) => {
                        if rtcp.iter().any(|p| is_keyframe_request(p.as_ref())) {
                            keyframe_due |= vp8;
                        }
                    }
                    Some(_) => {}
                    None => return,
                },
            }
        }
        let keyframe = vp8 && (keyframe_due || keyframe_every.is_some_and(|n| k % n == 0));
        keyframe_due = false;
        let header = FrameHeader {
            publisher,
            track: local.index,
            sequence: k as u32,
            send_us: clock.elapsed().as_micros() as u64,
            keyframe,
        };
        let mut sent = 0_u64;
        for p in 0..packets {
            let first = p == 0;
            payload.clear();
            if vp8 {
                payload.extend_from_slice(
                    &frame::vp8_prefix(keyframe, first)[..frame::header_offset(true, first)],
                );
            }
            let body = per_packet
                .saturating_sub(payload.len())
                .max(frame::HEADER_LEN);
            if first {
                frame::fill_payload(&header, body, &mut chunk);
            } else {
                frame::fill_filler(body, &mut chunk);
            }
            payload.extend_from_slice(&chunk);
            let packet = rtp::Packet {
                header: rtp::header::Header {
                    version: 2,
                    marker: p + 1 == packets,
                    payload_type: pt,
                    sequence_number: seq,
                    timestamp,
                    ssrc: local.ssrc,
                    ..Default::default()
                },
                payload: Bytes::copy_from_slice(&payload),
            };
            seq = seq.wrapping_add(1);
            if local.track.write_rtp(packet).await.is_err() {
                return;
            }
            sent += 1;
        }
        timestamp = timestamp.wrapping_add(ticks_per_frame);
        counters.sent.fetch_add(sent, Ordering::Relaxed);
    }
}

/// Counts `track`'s RTP packets until it ends.
async fn receive(track: Arc<dyn TrackRemote>, counters: Arc<Counters>) {
    let mut unflushed = 0_u64;
    while let Some(event) = track.poll().await {
        match event {
            TrackRemoteEvent::OnRtpPacket(packet) => {
                std::hint::black_box(&packet);
                unflushed += 1;
                if unflushed >= FLUSH_EVERY {
                    counters.received.fetch_add(unflushed, Ordering::Relaxed);
                    unflushed = 0;
                }
            }
            TrackRemoteEvent::OnEnded | TrackRemoteEvent::OnError => break,
            _ => {}
        }
    }
    counters.received.fetch_add(unflushed, Ordering::Relaxed);
}
