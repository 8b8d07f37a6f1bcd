//! The participant's media: its publisher connection (the `publish`/`unpublish` steps) and one
//! connection per feed it subscribes to, driven by the signaling driver's media events.
//!
//! Every WebRTC step (build, offer, answer) is a future spawned into the actor's own context, so
//! its result comes back on the participant's thread with the actor's state at hand; connection
//! state changes arrive as [`PeerEvent`]s (a few per connection), packets never do. Senders and
//! receive loops are tasks of the worker thread itself (`actix::spawn`), not of the actor: actix
//! polls every future an actor holds whenever one of them wakes, so a packet would poll all of a
//! participant's idle tracks (measured: about 10 % of roomstorm's CPU at 10 publishers a room,
//! `bench/media.sh`). They record into the thread's recorder themselves
//! ([`crate::media::sender`], [`crate::media::receiver`]) and are aborted when their track ends.
//!
//! Timings: `publish` runs from the publish request (with its offer) to the server's answer;
//! `ice_connected` and `dtls_connected` from the moment the connection has both descriptions
//! to ICE, and to ICE + DTLS; `first_media`/`first_keyframe` from the feed's announcement to
//! this subscriber to its first packet/keyframe.

use std::sync::Arc;

use actix::prelude::*;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::peer_connection::PeerConnection;

use super::Participant;
use crate::media::peer::{self, MediaNet, Peer, PeerEvent, PeerNotice};
use crate::media::receiver::{self, Shared};
use crate::media::sender::{self, LocalTrack};
use crate::metrics::Metric;
use crate::metrics::recorder;
use crate::participant::outcome::FailureStage;
use crate::scenario::{MediaKind, Subscribe};
use crate::signaling::{RemoteFeed, RoomEvent};

/// The publisher connection.
struct Publishing {
    pc: u32,
    conn: Option<Arc<dyn PeerConnection>>,
    /// Tracks waiting for the connection to come up (then their senders start).
    tracks: Vec<LocalTrack>,
    senders: Vec<tokio::task::JoinHandle<()>>,
    /// When the publish request left, and when both descriptions were set (µs).
    sent_us: u64,
    applied_us: u64,
    ice_done: bool,
    up: bool,
}

/// One subscription: a feed and its connection.
struct Subscription {
    feed: u64,
    pc: u32,
    conn: Option<Arc<dyn PeerConnection>>,
    /// One entry per announced track; a track that never arrives stays at zero bytes.
    tracks: Vec<(MediaKind, Shared)>,
    loops: Vec<tokio::task::JoinHandle<()>>,
    applied_us: u64,
    ice_done: bool,
    up: bool,
}

/// What a participant's media holds between steps.
#[derive(Default)]
pub(super) struct MediaState {
    next_pc: u32,
    publishing: Option<Box<Publishing>>,
    /// The publish step waits for the server's answer.
    publish_pending: bool,
    subs: Vec<Subscription>,
    /// Feeds subscribed in this stay (for `subscribe: {count: N}`).
    chosen: u32,
    /// A refused publish ends the lifecycle with this code once out of the room.
    pub(super) refused: Option<(u32, bool)>,
    /// Scripted media faults, shared with the senders and receive loops (made on first use:
    /// participants without media and faults allocate nothing).
    faults: Option<crate::media::faults::MediaFaults>,
    /// The publisher connection of an `unpublish` in flight: closed once the server has taken
    /// it down (closing it first would hang up the connection under the server's feet, and
    /// Janus would answer the unpublish with 435, nothing published).
    unpublishing: Option<Arc<dyn PeerConnection>>,
}

impl Drop for MediaState {
    /// Senders and receive loops run as tasks of the worker, not of the actor (so one packet
    /// wakes one loop, not every future the actor holds): they end with the participant however
    /// it ends.
    fn drop(&mut self) {
        let publishing = self.publishing.iter().flat_map(|p| &p.senders);
        for h in publishing.chain(self.subs.iter().flat_map(|s| &s.loops)) {
            h.abort();
        }
    }
}

impl MediaState {
    fn pc(&mut self) -> u32 {
        self.next_pc += 1;
        self.next_pc
    }
}

/// Closes a connection, after reading what its RTCP said (NACKs and PLIs sent and received,
/// round-trip times from receiver reports) into the recorder: once per connection, when it
/// ends, not per packet. Detached, so it completes even when the participant stops.
fn close(conn: Option<Arc<dyn PeerConnection>>) {
    if let Some(conn) = conn {
        actix::spawn(async move {
            let report = conn
                .get_stats(
                    std::time::Instant::now(),
                    rtc::statistics::StatsSelector::None,
                )
                .await;
            record_rtcp(&report);
            let _ = conn.close().await;
        });
    }
}

/// The RTCP figures of a connection's final statistics. The round-trip time needs receiver
/// reports that echo the sender's reports (LSR/DLSR); against Janus 1.1.2 the stack counted no
/// such measurement (`round_trip_time_measurements` 0), so `media_rtt` has samples only where
/// the server's reports allow it.
fn record_rtcp(report: &rtc::statistics::report::RTCStatsReport) {
    use rtc::statistics::report::RTCStatsReportEntry;
    recorder::record(|r| {
        for s in report.inbound_rtp_streams() {
            r.media.nacks_sent += u64::from(s.nack_count);
            r.media.plis_sent += u64::from(s.pli_count) + u64::from(s.fir_count);
        }
        for s in report.outbound_rtp_streams() {
            r.media.nacks_received += u64::from(s.nack_count);
        }
        for e in report.iter() {
            if let RTCStatsReportEntry::RemoteInboundRtp(s) = e
                && s.round_trip_time_measurements > 0
            {
                let mean = s.total_round_trip_time / s.round_trip_time_measurements as f64;
                r.latency(Metric::MediaRtt, (mean * 1e6) as u64);
            }
        }
    });
}

impl Participant {
    /// The participant's media faults (a scripted `media_loss` or `media_delay` sets them).
    pub(super) fn media_faults(&mut self) -> &crate::media::faults::MediaFaults {
        self.media.faults.get_or_insert_with(Default::default)
    }

    fn media_net(&self) -> MediaNet {
        MediaNet {
            bind_ip: self.run.media_ip,
        }
    }

    /// The `publish` step: build the connection, offer, and send the offer to the server.
    pub(super) fn begin_publish(&mut self, ctx: &mut Context<Self>) {
        let Some(spec) = self.group().media.clone() else {
            return self.fail(FailureStage::Media, "publish step without media", ctx);
        };
        if !self.driver.has_media() {
            return self.fail(
                FailureStage::Media,
                "this target's driver has no media",
                ctx,
            );
        }
        let pc = self.media.pc();
        let tracks: Vec<LocalTrack> = spec
            .publish
            .iter()
            .enumerate()
            .map(|(i, t)| sender::local_track(t, self.id, i as u16))
            .collect();
        let local: Vec<Arc<dyn TrackLocal>> = tracks
            .iter()
            .map(|t| t.track.clone() as Arc<dyn TrackLocal>)
            .collect();
        self.media.publishing = Some(Box::new(Publishing {
            pc,
            conn: None,
            tracks,
            senders: Vec::new(),
            sent_us: 0,
            applied_us: 0,
            ice_done: false,
            up: false,
        }));
        self.media.publish_pending = true;
        let net = self.media_net();
        let to = ctx.address().recipient();
        let fut = async move {
            let mut peer = peer::build(net, pc, to).await?;
            peer::add_send_tracks(&*peer.pc, local).await?;
            let offer = peer.offer().await?;
            Ok::<(Peer, String), peer::MediaError>((peer, offer))
        };
        let timeout = self.run.join_timeout;
        self.timer = Some(ctx.run_later(timeout, |act, ctx| {
            act.timer = None;
            act.fail(FailureStage::Media, "publish timed out", ctx);
        }));
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| {
            let Some(p) = act.media.publishing.as_mut().filter(|p| p.pc == pc) else {
                return;
            };
            match res {
                Ok((peer, offer)) => {
                    p.conn = Some(peer.pc);
                    p.sent_us = act.run.now_us();
                    let mut out = Vec::new();
                    act.driver.publish(&offer, &mut out);
                    act.send(out);
                }
                Err(e) => act.fail(FailureStage::Media, &e.to_string(), ctx),
            }
        }));
    }

    /// The `unpublish` step: stop the senders, tell the server, and close the connection when
    /// the server has answered.
    pub(super) fn begin_unpublish(&mut self, ctx: &mut Context<Self>) {
        if let Some(p) = self.media.publishing.take() {
            for h in p.senders {
                h.abort();
            }
            close(self.media.unpublishing.take());
            self.media.unpublishing = p.conn;
        }
        self.media.publish_pending = false;
        let mut out = Vec::new();
        self.driver.unpublish(&mut out);
        self.send(out);
        // The server's confirmation is not waited for: the SDK's unpublish resolves locally.
        self.step += 1;
        self.run_step(ctx);
    }

    fn stop_publishing(&mut self) {
        if let Some(p) = self.media.publishing.take() {
            for h in p.senders {
                h.abort();
            }
            close(p.conn);
        }
        self.media.publish_pending = false;
    }

    /// A media event from the driver; `true` when it was one.
    pub(super) fn on_media_event(&mut self, event: &RoomEvent, ctx: &mut Context<Self>) -> bool {
        let now = self.run.now_us();
        match event {
            RoomEvent::Published { answer } if self.media.publish_pending => {
                self.cancel_timer(ctx);
                self.media.publish_pending = false;
                let Some(p) = self.media.publishing.as_mut() else {
                    return true;
                };
                let latency = now.saturating_sub(p.sent_us);
                let tracks = p.tracks.len() as u64;
                p.applied_us = now;
                recorder::record(|r| {
                    r.latency(Metric::Publish, latency);
                    r.media.publishes += 1;
                    r.media.tracks_published += tracks;
                });
                if let Some(conn) = p.conn.clone() {
                    let answer = answer.clone();
                    let fut = async move { Peer::accept_on(&*conn, answer).await };
                    ctx.spawn(fut.into_actor(self).map(|res, act, ctx| {
                        if let Err(e) = res {
                            act.fail(FailureStage::Media, &e.to_string(), ctx);
                        }
                    }));
                }
                self.step += 1;
                self.run_step(ctx);
            }
            RoomEvent::PublishRefused { code } if self.media.publish_pending => {
                self.cancel_timer(ctx);
                // A refusal is an answer too: timed like an acceptance.
                if let Some(p) = &self.media.publishing {
                    let latency = now.saturating_sub(p.sent_us);
                    recorder::record(|r| r.latency(Metric::Publish, latency));
                }
                self.stop_publishing();
                let expected = self.step_expects(*code);
                self.unexpected |= !expected;
                self.media.refused = Some((*code, expected));
                // Out of the room, then the lifecycle ends with the code.
                self.begin_leave(ctx);
            }
            RoomEvent::Published { .. } | RoomEvent::PublishRefused { .. } => {}
            RoomEvent::Unpublished => close(self.media.unpublishing.take()),
            RoomEvent::TracksAdded(feed) => self.feed_added(feed, now),
            RoomEvent::TracksRemoved { feed } => self.feed_removed(*feed),
            RoomEvent::SubscribeOffer { feed, offer } => self.subscription_offer(*feed, offer, ctx),
            RoomEvent::Subscribed { .. } => {}
            RoomEvent::SubscribeFailed { feed, why } => {
                tracing::debug!(participant = self.id, feed, "subscription failed: {why}");
                recorder::record(|r| r.media.subscribe_failures += 1);
                self.feed_removed(*feed);
            }
            _ => return false,
        }
        true
    }

    /// Whether the current step lists `code` as an expected answer (a refused publish).
    fn step_expects(&self, code: u32) -> bool {
        match self.script_step() {
            Some(crate::scenario::Step::Publish { expect }) => expect.contains(&code),
            _ => code == 0,
        }
    }

    fn feed_added(&mut self, feed: &RemoteFeed, now: u64) {
        let Some(spec) = self.group().media.clone() else {
            return;
        };
        let wanted = match &spec.subscribe {
            Subscribe::All => true,
            Subscribe::None => false,
            Subscribe::Count(n) => self.media.chosen < *n,
            Subscribe::Groups(groups) => self
                .run
                .group_of(&feed.user)
                .is_some_and(|g| groups.contains(&(g as usize))),
        };
        if !wanted || self.media.subs.iter().any(|s| s.feed == feed.feed) {
            return;
        }
        self.media.chosen += 1;
        let pc = self.media.pc();
        let tracks = feed
            .tracks
            .iter()
            .map(|t| {
                let interval = spec_interval_us(t.kind);
                (t.kind, receiver::shared(t.kind, now, interval))
            })
            .collect();
        self.media.subs.push(Subscription {
            feed: feed.feed,
            pc,
            conn: None,
            tracks,
            loops: Vec::new(),
            applied_us: 0,
            ice_done: false,
            up: false,
        });
        let mut out = Vec::new();
        self.driver.subscribe(feed.feed, &mut out);
        self.send(out);
    }

    fn feed_removed(&mut self, feed: u64) {
        let Some(i) = self.media.subs.iter().position(|s| s.feed == feed) else {
            return;
        };
        let sub = self.media.subs.swap_remove(i);
        self.end_subscription(sub, false);
        let mut out = Vec::new();
        self.driver.unsubscribe(feed, &mut out);
        self.send(out);
    }

    /// Ends a subscription's accounting and connection; `feed_live`: its publisher still
    /// publishes (we leave), so a track that went silent had stalled.
    fn end_subscription(&self, sub: Subscription, feed_live: bool) {
        for h in sub.loops {
            h.abort();
        }
        let now = self.run.now_us();
        for (_, t) in &sub.tracks {
            receiver::finish(t, now, feed_live);
        }
        close(sub.conn);
    }

    fn subscription_offer(&mut self, feed: u64, offer: &str, ctx: &mut Context<Self>) {
        let Some(sub) = self.media.subs.iter().find(|s| s.feed == feed) else {
            return;
        };
        let pc = sub.pc;
        let net = self.media_net();
        let to = ctx.address().recipient();
        let offer = offer.to_owned();
        let fut = async move {
            let mut peer = peer::build(net, pc, to).await?;
            let answer = peer.answer(offer).await?;
            Ok::<(Peer, String), peer::MediaError>((peer, answer))
        };
        ctx.spawn(fut.into_actor(self).map(move |res, act, _| {
            let Some(i) = act.media.subs.iter().position(|s| s.pc == pc) else {
                return;
            };
            match res {
                Ok((peer, answer)) => {
                    let sub = &mut act.media.subs[i];
                    sub.conn = Some(peer.pc);
                    sub.applied_us = act.run.now_us();
                    let mut out = Vec::new();
                    act.driver.answer_subscription(feed, &answer, &mut out);
                    act.send(out);
                }
                Err(e) => {
                    tracing::debug!(participant = act.id, feed, "subscription: {e}");
                    recorder::record(|r| r.media.subscribe_failures += 1);
                    let sub = act.media.subs.swap_remove(i);
                    act.end_subscription(sub, false);
                }
            }
        }));
    }

    /// Ends all media of the stay: senders stop, received tracks are counted, connections close.
    pub(super) fn end_media(&mut self) {
        self.stop_publishing();
        close(self.media.unpublishing.take());
        for sub in std::mem::take(&mut self.media.subs) {
            self.end_subscription(sub, true);
        }
        self.media.chosen = 0;
    }

    fn peer_event(&mut self, event: PeerEvent, ctx: &mut Context<Self>) {
        let now = self.run.now_us();
        if let Some(p) = self.media.publishing.as_mut().filter(|p| p.pc == event.pc) {
            match event.notice {
                PeerNotice::IceConnected if !p.ice_done => {
                    p.ice_done = true;
                    let us = now.saturating_sub(p.applied_us);
                    recorder::record(|r| r.latency(Metric::IceConnected, us));
                }
                PeerNotice::Connected if !p.up => {
                    p.up = true;
                    let us = now.saturating_sub(p.applied_us);
                    recorder::record(|r| r.latency(Metric::DtlsConnected, us));
                    let tracks = std::mem::take(&mut p.tracks);
                    for t in tracks {
                        let fut =
                            sender::send(t, self.id, self.run.clone(), self.media_faults().clone());
                        let h = actix::spawn(fut);
                        if let Some(p) = self.media.publishing.as_mut() {
                            p.senders.push(h);
                        }
                    }
                }
                PeerNotice::Failed => {
                    recorder::record(|r| r.media.connection_failures += 1);
                }
                _ => {}
            }
            return;
        }
        let Some(sub) = self.media.subs.iter_mut().find(|s| s.pc == event.pc) else {
            return;
        };
        match event.notice {
            PeerNotice::IceConnected if !sub.ice_done => {
                sub.ice_done = true;
                let us = now.saturating_sub(sub.applied_us);
                recorder::record(|r| r.latency(Metric::IceConnected, us));
            }
            PeerNotice::Connected if !sub.up => {
                sub.up = true;
                let us = now.saturating_sub(sub.applied_us);
                recorder::record(|r| r.latency(Metric::DtlsConnected, us));
            }
            PeerNotice::Failed => {
                recorder::record(|r| r.media.connection_failures += 1);
            }
            PeerNotice::Track(track) => {
                let pc = sub.pc;
                let fut = async move {
                    let kind = track.kind().await;
                    (track, kind)
                };
                ctx.spawn(fut.into_actor(self).map(move |(track, kind), act, _| {
                    let Some(sub) = act.media.subs.iter_mut().find(|s| s.pc == pc) else {
                        return;
                    };
                    let kind = match kind {
                        rtc::rtp_transceiver::rtp_sender::RtpCodecKind::Video => MediaKind::Video,
                        _ => MediaKind::Audio,
                    };
                    tracing::debug!(participant = act.id, ?kind, "track arrived");
                    let Some((_, state)) = sub
                        .tracks
                        .iter()
                        .find(|(k, s)| *k == kind && !s.borrow().started)
                    else {
                        return;
                    };
                    let seed = act.run.plan.seed ^ (u64::from(act.id) << 20) ^ u64::from(pc);
                    let fut = receiver::receive(
                        track,
                        state.clone(),
                        act.run.clone(),
                        act.media_faults().clone(),
                        seed,
                    );
                    let h = actix::spawn(fut);
                    if let Some(sub) = act.media.subs.iter_mut().find(|s| s.pc == pc) {
                        sub.loops.push(h);
                    }
                }));
            }
            _ => {}
        }
    }
}

/// The expected frame interval of a received track of `kind`, for the freeze rule: audio at
/// 20 ms, video at 30 fps (a subscriber does not know the publisher's settings; the rule's
/// 150 ms floor dominates either way).
fn spec_interval_us(kind: MediaKind) -> u64 {
    match kind {
        MediaKind::Audio => 20_000,
        MediaKind::Video => 33_333,
    }
}

impl Handler<PeerEvent> for Participant {
    type Result = ();

    fn handle(&mut self, event: PeerEvent, ctx: &mut Self::Context) {
        self.peer_event(event, ctx);
    }
}
