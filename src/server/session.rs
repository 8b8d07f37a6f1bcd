//! One signaling WebSocket: `auth`, then pings, presence frames and the client's requests.
//!
//! A thin shell around [`super::frame`] (parsing) and [`super::rooms`] (state): it owns the
//! socket, the ping timer and the send queue, and reports how the socket ended so the room can
//! start the member's reconnect window or remove it.
//!
//! Injected faults ([`super::faults`]) reach it through its [`FaultWatch`]: a stall freezes it
//! (no reads, no writes, its `auth` unanswered), a drop or restart resets its connection.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::{MissedTickBehavior, interval_at, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, error::CapacityError};

use super::ServerState;
use super::access_token;
use super::faults::{FaultWatch, Interrupt};
use super::frame::{self, AuthRequest, ClientMessage};
use super::limits::ConnectionPermit;
use super::metrics::Rejection;
use super::outbox::{Ending, Outbound, OutboxReceiver, outbox};
use super::rooms::{App, JoinRequest, Room, SessionLink, SocketLoss};
use crate::{codes, token};

type Socket = WebSocketStream<TcpStream>;

/// How the main loop ended, which decides what the room does with the member.
enum End {
    /// The member is already out of the room (left, kicked, evicted, closed) or resumed elsewhere.
    Settled,
    /// The socket went away; the room decides (window or removal).
    Lost(SocketLoss),
}

/// Decrements the open-socket gauge however the session ends.
struct SocketCount(Arc<ServerState>);

impl Drop for SocketCount {
    fn drop(&mut self) {
        self.0.metrics.sockets_open.fetch_sub(1, Relaxed);
    }
}

/// Runs a socket from its first frame to its close.
pub async fn run(
    mut ws: Socket,
    state: Arc<ServerState>,
    permit: Arc<ConnectionPermit>,
    mut faults: FaultWatch,
) {
    state.metrics.sockets_open.fetch_add(1, Relaxed);
    let _count = SocketCount(state.clone());
    let _permit = permit;
    let req = tokio::select! {
        req = await_auth(&mut ws, &state) => req,
        _ = faults.restarted() => return abort(&ws),
    };
    let Some(req) = req else {
        return;
    };
    // A stalled server reads the `auth` but answers (and joins) only once the stall is over.
    if faults.stall_over().await.is_err() {
        return abort(&ws);
    }
    let session_id = state.next_session.fetch_add(1, Relaxed);
    let (tx, rx) = outbox(state.config.limits.max_queued_frames);
    let link = SessionLink {
        id: session_id,
        outbox: tx,
    };
    let delay = state.config.timings.auth_delay + state.faults.auth_latency();
    if !delay.is_zero() {
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = faults.restarted() => return abort(&ws),
        }
    }
    match authenticate(&state, &req, link) {
        Ok((member, ok)) => {
            state.metrics.auth(0);
            drop(req);
            if send(&mut ws, &state, &ok).await.is_err() {
                member
                    .app
                    .socket_lost(&member.room, &member.user, session_id, SocketLoss::Dropped);
                return;
            }
            drop(ok);
            tracing::debug!(app = %member.app.id, room = %member.room.name, user = %member.user, resumed = member.resumed, "joined");
            match serve_member(&mut ws, &state, &member, session_id, rx, &mut faults).await {
                End::Settled => {}
                End::Lost(loss) => {
                    member
                        .app
                        .socket_lost(&member.room, &member.user, session_id, loss)
                }
            }
        }
        Err((code, why)) => {
            state.metrics.auth(code);
            tracing::debug!(code, %why, "auth refused");
            let _ = send(
                &mut ws,
                &state,
                &frame::error_res("auth", &req.rpcid, code, &why),
            )
            .await;
            close(&mut ws, CloseCode::Normal, "auth refused").await;
        }
    }
}

/// A joined member as its session sees it (kept small: one per connected member).
struct Member {
    app: Arc<App>,
    room: Arc<Room>,
    user: Box<str>,
    admin: bool,
    resumed: bool,
}

/// Checks the tokens and joins; on success also returns the `auth-res` frame to send.
fn authenticate(
    state: &ServerState,
    req: &AuthRequest,
    link: SessionLink,
) -> Result<(Member, String), (u32, String)> {
    let claims = access_token::verify(&state.access_key, &req.token)
        .ok_or_else(|| (codes::TOKEN_INVALID, "invalid access token".to_owned()))?;
    let access = token::verify(
        &claims.room_token,
        |ak| state.keys.get(ak),
        token::unix_now(),
    )
    .map_err(|e| (e.code(), e.to_string()))?;
    if access.app_id != claims.app_id
        || access.room_name != claims.room_name
        || access.user_id != claims.user_id
    {
        return Err((
            codes::TOKEN_INVALID,
            "room token does not match the auth request".to_owned(),
        ));
    }
    let app = state.apps.get(&access.app_id).ok_or_else(|| {
        (
            codes::TOKEN_INVALID,
            format!("unknown app {:?}", access.app_id),
        )
    })?;
    let joined = app
        .join(
            &access.room_name,
            JoinRequest {
                user: access.user_id.clone(),
                playerdata: req.playerdata.clone(),
                reconntoken: req.reconntoken.clone(),
                link,
            },
        )
        .map_err(|code| (code, codes::message(code).to_owned()))?;
    let ok = frame::auth_ok(&req.rpcid, &joined.reconntoken, &joined.players);
    let member = Member {
        app,
        room: joined.room,
        user: access.user_id.into(),
        admin: access.permission == token::Permission::Admin,
        resumed: joined.resumed,
    };
    Ok((member, ok))
}

/// Waits for the `auth` frame; anything else before it is refused.
async fn await_auth(ws: &mut Socket, state: &ServerState) -> Option<AuthRequest> {
    let deadline = state.config.timings.auth_timeout;
    let wait = async {
        loop {
            match read(ws, state).await? {
                ClientMessage::Auth(req) => return Some(req),
                ClientMessage::Pong | ClientMessage::Other { rpcid: None, .. } => {}
                ClientMessage::Disconnect => return None,
                ClientMessage::Other {
                    cmd,
                    rpcid: Some(rpcid),
                } => {
                    refuse_before_auth(ws, state, &cmd, &rpcid).await;
                }
                ClientMessage::Control { rpcid, .. } => {
                    refuse_before_auth(ws, state, "control", &rpcid).await;
                }
            }
        }
    };
    match timeout(deadline, wait).await {
        Ok(req) => req,
        Err(_) => {
            state.metrics.rejection(Rejection::AuthTimeout);
            close(ws, CloseCode::Policy, "no auth").await;
            None
        }
    }
}

/// Answers a request that arrived before `auth` (the SDK waits for every rpcid for ever).
async fn refuse_before_auth(ws: &mut Socket, state: &ServerState, cmd: &str, rpcid: &str) {
    state.metrics.rejection(Rejection::OutOfOrder);
    let _ = send(
        ws,
        state,
        &frame::error_res(cmd, rpcid, codes::BAD_REQUEST, "auth first"),
    )
    .await;
}

async fn serve_member(
    ws: &mut Socket,
    state: &ServerState,
    member: &Member,
    session_id: u64,
    mut rx: OutboxReceiver,
    faults: &mut FaultWatch,
) -> End {
    let timings = &state.config.timings;
    let mut ping = interval_at(
        tokio::time::Instant::now() + timings.ping_interval,
        timings.ping_interval,
    );
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();
    let mut shutdown = state.shutdown.clone();
    loop {
        tokio::select! {
            incoming = read(ws, state) => {
                let Some(msg) = incoming else { return End::Lost(SocketLoss::Dropped) };
                last_heard = Instant::now();
                if let Some(end) = handle_request(ws, state, member, session_id, msg).await {
                    return end;
                }
            }
            out = rx.recv() => match out {
                Outbound::Frames(frames) => {
                    if send_all(ws, state, &frames).await.is_err() {
                        return End::Lost(SocketLoss::Dropped);
                    }
                }
                Outbound::End(Ending::Disconnect(text)) => {
                    let _ = send(ws, state, &text).await;
                    close(ws, CloseCode::Normal, "disconnected by server").await;
                    return End::Settled;
                }
                Outbound::End(Ending::Superseded) => {
                    close(ws, CloseCode::Normal, "superseded by a reconnect").await;
                    return End::Settled;
                }
                Outbound::End(Ending::SlowReader) => {
                    state.metrics.rejection(Rejection::SlowReader);
                    close(ws, CloseCode::Again, "send queue overflow").await;
                    return End::Lost(SocketLoss::Dropped);
                }
                Outbound::End(Ending::Reset) => {
                    abort(ws);
                    return End::Lost(SocketLoss::Dropped);
                }
            },
            fault = faults.next() => match fault {
                Interrupt::Restart { .. } => {
                    abort(ws);
                    return End::Lost(SocketLoss::Dropped);
                }
                Interrupt::Stall => {
                    // Frozen: nothing is read or written; frames queued meanwhile wait in the
                    // outbox (its bound still applies) and go out once the stall is over.
                    tokio::select! {
                        over = faults.stall_over() => if over.is_err() {
                            abort(ws);
                            return End::Lost(SocketLoss::Dropped);
                        },
                        () = rx.reset_requested() => {
                            abort(ws);
                            return End::Lost(SocketLoss::Dropped);
                        }
                        _ = shutdown.changed() => {
                            close(ws, CloseCode::Away, "server shutting down").await;
                            return End::Lost(SocketLoss::Dropped);
                        }
                    }
                    // The client could not be heard while the server was deaf.
                    last_heard = Instant::now();
                    ping.reset();
                }
            },
            _ = ping.tick() => {
                if last_heard.elapsed() >= timings.silent_timeout {
                    close(ws, CloseCode::Policy, "silent").await;
                    return End::Lost(SocketLoss::Silent);
                }
                if send(ws, state, frame::PING).await.is_err() {
                    return End::Lost(SocketLoss::Dropped);
                }
            }
            _ = shutdown.changed() => {
                close(ws, CloseCode::Away, "server shutting down").await;
                return End::Lost(SocketLoss::Dropped);
            }
        }
    }
}

/// Answers one request of a joined member; `Some` ends the session.
async fn handle_request(
    ws: &mut Socket,
    state: &ServerState,
    member: &Member,
    session_id: u64,
    msg: ClientMessage,
) -> Option<End> {
    let answer = match msg {
        ClientMessage::Pong | ClientMessage::Other { rpcid: None, .. } => return None,
        ClientMessage::Disconnect => {
            member.app.leave(&member.room, &member.user, session_id);
            close(ws, CloseCode::Normal, "left").await;
            return Some(End::Settled);
        }
        ClientMessage::Control {
            rpcid,
            command,
            playerid,
        } => {
            if !member.admin {
                frame::error_res(
                    "control",
                    &rpcid,
                    codes::NO_PERMISSION,
                    "admin permission required",
                )
            } else if command != "kickplayer" {
                frame::error_res(
                    "control",
                    &rpcid,
                    codes::BAD_REQUEST,
                    "unknown control command",
                )
            } else {
                match member.app.kick(&member.room.name, &playerid) {
                    Ok(()) => frame::control_ok(&rpcid, &command, &playerid),
                    Err(_) => frame::error_res(
                        "control",
                        &rpcid,
                        codes::BAD_REQUEST,
                        "no such player in the room",
                    ),
                }
            }
        }
        ClientMessage::Auth(req) => {
            state.metrics.rejection(Rejection::OutOfOrder);
            frame::error_res(
                "auth",
                &req.rpcid,
                codes::BAD_REQUEST,
                "already authenticated",
            )
        }
        ClientMessage::Other {
            cmd,
            rpcid: Some(rpcid),
        } => frame::error_res(&cmd, &rpcid, codes::BAD_REQUEST, "unsupported command"),
    };
    match send(ws, state, &answer).await {
        Ok(()) => None,
        Err(()) => Some(End::Lost(SocketLoss::Dropped)),
    }
}

/// The next decoded frame; `None` when the socket is done (closed, broken, or refused a bad frame).
async fn read(ws: &mut Socket, state: &ServerState) -> Option<ClientMessage> {
    loop {
        let msg = match ws.next().await? {
            Ok(msg) => msg,
            Err(WsError::Capacity(CapacityError::MessageTooLong { .. })) => {
                state.metrics.rejection(Rejection::Oversized);
                close(ws, CloseCode::Size, "frame too large").await;
                return None;
            }
            Err(_) => return None,
        };
        match msg {
            Message::Text(text) => match frame::parse(&text) {
                Ok(msg) => return Some(msg),
                Err(err) => {
                    state.metrics.rejection(Rejection::Malformed);
                    close(ws, CloseCode::Invalid, &err.to_string()).await;
                    return None;
                }
            },
            Message::Binary(_) => {
                state.metrics.rejection(Rejection::Binary);
                close(ws, CloseCode::Unsupported, "text frames only").await;
                return None;
            }
            Message::Close(_) => return None,
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
    }
}

async fn send(ws: &mut Socket, state: &ServerState, text: &str) -> Result<(), ()> {
    match timeout(
        state.config.limits.write_timeout,
        ws.send(Message::text(text)),
    )
    .await
    {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(()),
        Err(_) => {
            state.metrics.rejection(Rejection::SlowReader);
            Err(())
        }
    }
}

/// Writes several frames with one flush (one syscall for a burst of presence events).
async fn send_all(ws: &mut Socket, state: &ServerState, frames: &[Arc<str>]) -> Result<(), ()> {
    let write = async {
        for text in frames {
            ws.feed(Message::text(&**text)).await?;
        }
        ws.flush().await
    };
    match timeout(state.config.limits.write_timeout, write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(()),
        Err(_) => {
            state.metrics.rejection(Rejection::SlowReader);
            Err(())
        }
    }
}

/// Makes the connection end with a TCP reset (no close frame: the client sees 1006) when the
/// socket is dropped, as a broken network or a crashed server would end it.
fn abort(ws: &Socket) {
    if let Err(err) = crate::sockopt::zero_linger(ws.get_ref()) {
        tracing::debug!(%err, "SO_LINGER not set; the connection ends with a FIN");
    }
}

async fn close(ws: &mut Socket, code: CloseCode, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.to_owned().into(),
    };
    let _ = timeout(std::time::Duration::from_secs(1), ws.close(Some(frame))).await;
}
