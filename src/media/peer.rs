//! One WebRTC PeerConnection of a participant (the `webrtc` crate), set up for load testing.
//!
//! - Codecs are fixed (Opus on payload type 111, VP8 on 96), so a synthetic sender knows the
//!   payload type it writes without asking the negotiation.
//! - No mDNS (it opens a multicast socket, which a test namespace has no interface for), and the
//!   sockets bind the media address given ([`MediaNet`]), because the target decides where media
//!   can flow (Janus skips loopback interfaces; see `docs/media.md`).
//! - When answering, this side takes the DTLS server role: an SFU's offer then connects in one
//!   round trip less (measured against Janus: ~24 ms instead of ~204 ms).
//! - Keyframe requests reach the application ([`super::keyframe`]); signaling is non-trickle
//!   (candidates in the SDP), which every target here accepts.
//!
//! The connection's driver runs on the worker thread that builds it (the crate spawns it on the
//! ambient runtime), so its callbacks and the participant share one thread and one recorder. The
//! callbacks tell the participant what happened with one [`PeerEvent`] per state change, never per
//! packet.

use std::net::IpAddr;
use std::sync::Arc;

use actix::{Message, Recipient};
use rtc::interceptor::Registry;
use rtc::interceptor::Slot;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_OPUS, MIME_TYPE_VP8, MediaEngine,
};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::RTCDtlsRole;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RtpCodecKind,
};
use tokio::sync::watch;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceConnectionState,
    RTCIceGatheringState, RTCPeerConnectionState,
};

use super::keyframe::KeyframeRequests;
use crate::scenario::Codec;

/// Opus's payload type in every offer roomstorm makes.
pub const OPUS_PT: u8 = 111;
/// VP8's payload type in every offer roomstorm makes.
pub const VP8_PT: u8 = 96;

/// Where a participant's media sockets bind: the target decides (loopback for the reference
/// server, the namespace's 127.0.0.2 for Janus, which skips loopback interfaces).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaNet {
    /// Local address of every media socket.
    pub bind_ip: IpAddr,
}

/// A media failure the participant reports (it never panics a run).
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The WebRTC stack refused something (bad SDP, closed connection, socket error).
    #[error("webrtc: {0}")]
    Webrtc(#[from] webrtc::error::Error),
    /// The connection closed before its description was ready.
    #[error("the peer connection closed before ICE gathering completed")]
    Gathering,
}

/// What a PeerConnection reports to its participant.
#[derive(Clone)]
pub enum PeerNotice {
    /// ICE found a working candidate pair.
    IceConnected,
    /// ICE and DTLS are up: media can flow.
    Connected,
    /// ICE or DTLS failed, or the connection dropped.
    Failed,
    /// The remote side's track arrived (subscriber side).
    Track(Arc<dyn TrackRemote>),
}

impl std::fmt::Debug for PeerNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerNotice::IceConnected => f.write_str("IceConnected"),
            PeerNotice::Connected => f.write_str("Connected"),
            PeerNotice::Failed => f.write_str("Failed"),
            PeerNotice::Track(_) => f.write_str("Track"),
        }
    }
}

/// A [`PeerNotice`] about connection `pc` of the receiving participant.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct PeerEvent {
    /// The participant's number for the connection.
    pub pc: u32,
    /// What happened.
    pub notice: PeerNotice,
}

/// The callbacks: forward state changes, note when gathering is complete.
struct Events {
    pc: u32,
    to: Recipient<PeerEvent>,
    gathered: watch::Sender<bool>,
}

impl Events {
    fn tell(&self, notice: PeerNotice) {
        self.to.do_send(PeerEvent {
            pc: self.pc,
            notice,
        });
    }
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Events {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.gathered.send(true);
        }
    }

    async fn on_ice_connection_state_change(&self, state: RTCIceConnectionState) {
        if matches!(
            state,
            RTCIceConnectionState::Connected | RTCIceConnectionState::Completed
        ) {
            self.tell(PeerNotice::IceConnected);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        match state {
            RTCPeerConnectionState::Connected => self.tell(PeerNotice::Connected),
            RTCPeerConnectionState::Failed | RTCPeerConnectionState::Disconnected => {
                self.tell(PeerNotice::Failed)
            }
            _ => {}
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        self.tell(PeerNotice::Track(track));
    }
}

/// A built connection and the signal that its candidates are gathered.
pub struct Peer {
    /// The connection.
    pub pc: Arc<dyn PeerConnection>,
    gathered: watch::Receiver<bool>,
}

/// The codec parameters roomstorm offers for `codec`.
pub fn codec_parameters(codec: Codec) -> (RTCRtpCodecParameters, RtpCodecKind) {
    let fb = |typ: &str, parameter: &str| RTCPFeedback {
        typ: typ.to_owned(),
        parameter: parameter.to_owned(),
    };
    match codec {
        Codec::Opus => (
            RTCRtpCodecParameters {
                rtp_codec: RTCRtpCodec {
                    mime_type: MIME_TYPE_OPUS.to_owned(),
                    clock_rate: 48_000,
                    channels: 2,
                    sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
                    rtcp_feedback: vec![],
                },
                payload_type: OPUS_PT,
            },
            RtpCodecKind::Audio,
        ),
        Codec::Vp8 => (
            RTCRtpCodecParameters {
                rtp_codec: RTCRtpCodec {
                    mime_type: MIME_TYPE_VP8.to_owned(),
                    clock_rate: 90_000,
                    channels: 0,
                    sdp_fmtp_line: String::new(),
                    rtcp_feedback: vec![fb("nack", ""), fb("nack", "pli"), fb("ccm", "fir")],
                },
                payload_type: VP8_PT,
            },
            RtpCodecKind::Video,
        ),
    }
}

/// Builds connection `pc` of a participant whose events go to `to`.
pub async fn build(net: MediaNet, pc: u32, to: Recipient<PeerEvent>) -> Result<Peer, MediaError> {
    let (tx, gathered) = watch::channel(false);
    let events = Arc::new(Events {
        pc,
        to,
        gathered: tx,
    });
    Ok(Peer {
        pc: connection(net, events).await?,
        gathered,
    })
}

/// A connection with roomstorm's settings (the module docs) whose callbacks go to `handler`:
/// what [`build`] uses, and what a client without actors (the media bench's floor) can share.
pub async fn connection(
    net: MediaNet,
    handler: Arc<dyn PeerConnectionEventHandler>,
) -> Result<Arc<dyn PeerConnection>, MediaError> {
    let mut media = MediaEngine::default();
    for codec in [Codec::Opus, Codec::Vp8] {
        let (params, kind) = codec_parameters(codec);
        media.register_codec(params, kind)?;
    }
    let registry = register_default_interceptors(Registry::new(), &mut media)?;
    // Last, so every interceptor that acts on inbound RTCP has seen it first.
    let registry = registry.with(Slot::from(14_000), KeyframeRequests::default());
    let settings = SettingEngineBuilder::new()
        .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
        .with_answering_dtls_role(RTCDtlsRole::Server)
        .with_include_loopback_candidate(true)
        .build();
    let built = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(media)
        .with_setting_engine(settings)
        .with_interceptor_registry(registry)
        .with_handler(handler)
        .with_udp_addrs(vec![std::net::SocketAddr::new(net.bind_ip, 0)])
        .build()
        .await?;
    Ok(Arc::new(built))
}

/// Adds one send-only transceiver per track: a publisher's connection before its offer.
pub async fn add_send_tracks(
    pc: &dyn PeerConnection,
    tracks: Vec<Arc<dyn webrtc::media_stream::track_local::TrackLocal>>,
) -> Result<(), MediaError> {
    for track in tracks {
        let init = rtc::rtp_transceiver::RTCRtpTransceiverInit {
            direction: rtc::rtp_transceiver::RTCRtpTransceiverDirection::Sendonly,
            streams: vec![],
            send_encodings: vec![],
        };
        pc.add_transceiver_from_track(track, Some(init)).await?;
    }
    Ok(())
}

impl Peer {
    /// Sets `desc` as the local description and waits for every candidate to be in it
    /// (non-trickle signaling): the SDP to send.
    pub async fn local_sdp(&mut self, desc: RTCSessionDescription) -> Result<String, MediaError> {
        self.pc.set_local_description(desc).await?;
        while !*self.gathered.borrow_and_update() {
            if self.gathered.changed().await.is_err() {
                return Err(MediaError::Gathering);
            }
        }
        let local = self
            .pc
            .local_description()
            .await
            .ok_or(MediaError::Gathering)?;
        Ok(local.sdp)
    }

    /// An offer with every candidate (the publisher's side).
    pub async fn offer(&mut self) -> Result<String, MediaError> {
        let offer = self.pc.create_offer(None).await?;
        self.local_sdp(offer).await
    }

    /// Answers the remote `offer` (the subscriber's side of an SFU that offers).
    pub async fn answer(&mut self, offer: String) -> Result<String, MediaError> {
        self.pc
            .set_remote_description(RTCSessionDescription::offer(offer)?)
            .await?;
        let answer = self.pc.create_answer(None).await?;
        self.local_sdp(answer).await
    }

    /// Applies the remote answer to our offer.
    pub async fn accept(&self, answer: String) -> Result<(), MediaError> {
        Self::accept_on(&*self.pc, answer).await
    }

    /// Applies the remote `answer` to `pc`'s offer (once the [`Peer`] has been taken apart).
    pub async fn accept_on(pc: &dyn PeerConnection, answer: String) -> Result<(), MediaError> {
        pc.set_remote_description(RTCSessionDescription::answer(answer)?)
            .await?;
        Ok(())
    }
}
