//! Apps, rooms and members: the room lifecycle and every code it can answer.
//!
//! Each room has its own lock and every membership change happens under it, fan-out included,
//! so all members see presence events in one order. Rooms are found through a sharded map (no
//! lock shared by all joins). Timers (reconnect window, empty-room close, closed-room hold) are
//! tasks that re-check a generation number under the lock, so a stale timer never acts.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::config::{AppSettings, Timings};
use super::frame::{self, Player};
use super::metrics::{Departure, Metrics};
use super::outbox::{Ending, Outbox};
use crate::codes;

const SHARDS: usize = 64;

/// What rooms need from the server: timers and counters.
#[derive(Debug)]
pub struct RoomContext {
    /// Lifecycle timers.
    pub timings: Timings,
    /// Counters.
    pub metrics: Arc<Metrics>,
}

/// A socket's identity inside a room: which session, and how to reach it.
#[derive(Debug, Clone)]
pub struct SessionLink {
    /// Unique per socket, so late events from an old socket are recognised and ignored.
    pub id: u64,
    /// The socket's send queue.
    pub outbox: Outbox,
}

#[derive(Debug)]
struct Member {
    /// `None` while the member is inside its reconnect window.
    link: Option<SessionLink>,
    playerdata: Arc<str>,
    reconntoken: Box<str>,
    /// Bumped on every detach/resume so that a stale window timer does nothing.
    generation: u64,
}

#[derive(Debug, Default)]
struct RoomState {
    members: HashMap<Box<str>, Member>,
    /// Set once the room is taken out of its app's map; a racing join then retries.
    removed: bool,
    /// A closed room refuses joins (10012) until this instant.
    closed_until: Option<Instant>,
    /// Bumped whenever the room becomes empty or non-empty, so a stale close timer does nothing.
    generation: u64,
}

impl RoomState {
    /// Neither closed nor taken out of its app's map: joins and management calls apply to it.
    fn is_open(&self) -> bool {
        !self.removed && self.closed_until.is_none()
    }
}

/// One room of one app.
#[derive(Debug)]
pub struct Room {
    /// The room's name.
    pub name: Box<str>,
    state: Mutex<RoomState>,
}

/// A join or re-auth, as the session presents it to its room.
#[derive(Debug)]
pub struct JoinRequest {
    /// The user from the verified token.
    pub user: String,
    /// Data peers see in `on-player-in`.
    pub playerdata: String,
    /// The reconnect token for a re-auth; `None` for a first join.
    pub reconntoken: Option<String>,
    /// The joining socket.
    pub link: SessionLink,
}

/// A successful (re-)auth.
#[derive(Debug)]
pub struct Joined {
    /// The room, kept by the session for its later leave or loss.
    pub room: Arc<Room>,
    /// Reconnect token to hand to the client.
    pub reconntoken: String,
    /// The other members, for `auth-res.players`.
    pub players: Vec<Player>,
    /// `true` when this was a re-auth within the reconnect window.
    pub resumed: bool,
}

/// Why a management action on a room or user failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomLookupError {
    /// No such room (HTTP 615).
    RoomNotActive,
    /// No such user in the room (HTTP 612).
    UserNotFound,
}

/// A member whose socket is live, as fault injection sees it.
#[derive(Debug)]
pub struct LinkedMember {
    /// Its room.
    pub room: Box<str>,
    /// The user.
    pub user: Box<str>,
    /// Its socket's send queue (through which the socket can be told to reset).
    pub outbox: Outbox,
}

/// How a socket ended from the room's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketLoss {
    /// Dropped without `disconnect`: the member may come back within the reconnect window.
    Dropped,
    /// Open but silent past the silent-user timeout: the member is gone.
    Silent,
}

/// Application-level settings and its rooms.
#[derive(Debug)]
pub struct App {
    /// The app id.
    pub id: String,
    max_users: AtomicU32,
    no_auto_kick_user: AtomicBool,
    meta: Mutex<AppMeta>,
    deleted: AtomicBool,
    shards: Vec<Mutex<HashMap<Box<str>, Arc<Room>>>>,
    ctx: Arc<RoomContext>,
}

/// The descriptive part of an app, as the management API shows it.
#[derive(Debug, Clone)]
pub struct AppMeta {
    /// Current settings.
    pub settings: AppSettings,
    /// Creation time, Unix seconds.
    pub created_at: u64,
    /// Last update time, Unix seconds.
    pub updated_at: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a room lock is a bug, but one room must not take the server down.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The login a reconnect token belongs to (its part before the first `.`).
fn login_of(reconntoken: &str) -> &str {
    reconntoken.split('.').next().unwrap_or_default()
}

fn fanout(ctx: &RoomContext, members: &HashMap<Box<str>, Member>, except: &str, frame: String) {
    let frame: Arc<str> = frame.into();
    let mut sent = 0;
    for (user, member) in members {
        if let Some(link) = member.link.as_ref().filter(|_| &**user != except) {
            link.outbox.push(frame.clone());
            sent += 1;
        }
    }
    ctx.metrics.fanout_messages.fetch_add(sent, Relaxed);
}

impl App {
    /// An app with no rooms yet.
    pub fn new(settings: AppSettings, ctx: Arc<RoomContext>, now_unix: u64) -> Arc<Self> {
        Arc::new(Self {
            id: settings.app_id.clone(),
            max_users: AtomicU32::new(settings.max_users),
            no_auto_kick_user: AtomicBool::new(settings.no_auto_kick_user),
            meta: Mutex::new(AppMeta {
                settings,
                created_at: now_unix,
                updated_at: now_unix,
            }),
            deleted: AtomicBool::new(false),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            ctx,
        })
    }

    /// Settings and timestamps.
    pub fn meta(&self) -> AppMeta {
        lock(&self.meta).clone()
    }

    /// Applies new settings (capacity applies to the next join).
    pub fn update(&self, f: impl FnOnce(&mut AppSettings), now_unix: u64) -> AppMeta {
        let mut meta = lock(&self.meta);
        f(&mut meta.settings);
        meta.updated_at = now_unix;
        self.max_users.store(meta.settings.max_users, Relaxed);
        self.no_auto_kick_user
            .store(meta.settings.no_auto_kick_user, Relaxed);
        meta.clone()
    }

    fn shard(&self, name: &str) -> &Mutex<HashMap<Box<str>, Arc<Room>>> {
        let mut h = DefaultHasher::new();
        name.hash(&mut h);
        &self.shards[(h.finish() as usize) % SHARDS]
    }

    /// The room if it exists.
    pub fn room(&self, name: &str) -> Option<Arc<Room>> {
        lock(self.shard(name)).get(name).cloned()
    }

    fn room_or_create(&self, name: &str) -> Arc<Room> {
        let mut shard = lock(self.shard(name));
        if let Some(room) = shard.get(name) {
            return room.clone();
        }
        let room = Arc::new(Room {
            name: name.into(),
            state: Mutex::default(),
        });
        shard.insert(name.into(), room.clone());
        self.ctx.metrics.rooms.fetch_add(1, Relaxed);
        room
    }

    /// Joins (or re-auths into) a room; the error is the RTC code for `auth-res`.
    pub fn join(self: &Arc<Self>, room_name: &str, req: JoinRequest) -> Result<Joined, u32> {
        if self.deleted.load(Relaxed) {
            return Err(codes::TOKEN_INVALID);
        }
        loop {
            let room = match req.reconntoken {
                Some(_) => self.room(room_name).ok_or(codes::RECONNECT_TOKEN_EXPIRED)?,
                None => self.room_or_create(room_name),
            };
            let mut st = lock(&room.state);
            if st.removed {
                continue; // lost a race with the room's removal: look it up again
            }
            if !st.is_open() {
                return Err(codes::ROOM_CLOSED);
            }
            let was_empty = st.members.is_empty();
            let outcome = if req.reconntoken.is_some() {
                self.resume(&mut st, req)
            } else {
                self.admit(&mut st, req)
            };
            if outcome.is_ok() && was_empty {
                st.generation += 1; // cancels a pending empty-room close
            }
            if outcome.is_err() && st.members.is_empty() && was_empty {
                self.schedule_empty_close(&room, &mut st);
            }
            drop(st);
            return outcome.map(|(reconntoken, players, resumed)| Joined {
                room,
                reconntoken,
                players,
                resumed,
            });
        }
    }

    fn players(st: &RoomState, except: &str) -> Vec<Player> {
        st.members
            .iter()
            .filter(|(user, _)| &***user != except)
            .map(|(user, m)| Player {
                playerid: user.to_string(),
                playerdata: m.playerdata.to_string(),
            })
            .collect()
    }

    fn resume(
        &self,
        st: &mut RoomState,
        req: JoinRequest,
    ) -> Result<(String, Vec<Player>, bool), u32> {
        let ctx = &self.ctx;
        let token = req.reconntoken.as_deref().unwrap_or_default();
        let Some(member) = st.members.get_mut(req.user.as_str()) else {
            return Err(codes::RECONNECT_TOKEN_EXPIRED);
        };
        if &*member.reconntoken != token {
            // The user is in the room under another login (it logged in again while this
            // session was away): that is 10022, as for a live duplicate. A spent token of the
            // same login is 10004.
            return Err(if login_of(&member.reconntoken) == login_of(token) {
                codes::RECONNECT_TOKEN_EXPIRED
            } else {
                codes::DUPLICATE_LOGIN
            });
        }
        let reconntoken = format!(
            "{}.{}",
            login_of(&member.reconntoken),
            crate::ids::random_hex(16)
        );
        member.reconntoken = reconntoken.as_str().into();
        member.generation += 1;
        let previous = member.link.replace(req.link);
        match previous {
            Some(old) => {
                // The old socket is still open here (e.g. blackholed): peers get the pair of
                // events they would have seen had the server noticed the drop first.
                old.outbox.end(Ending::Superseded);
                fanout(
                    ctx,
                    &st.members,
                    &req.user,
                    frame::player_reconnect(&req.user),
                );
            }
            None => {
                ctx.metrics.members_detached.fetch_sub(1, Relaxed);
            }
        }
        fanout(
            ctx,
            &st.members,
            &req.user,
            frame::player_reconnect_in(&req.user),
        );
        ctx.metrics.resumes.fetch_add(1, Relaxed);
        Ok((reconntoken, Self::players(st, &req.user), true))
    }

    fn admit(
        &self,
        st: &mut RoomState,
        req: JoinRequest,
    ) -> Result<(String, Vec<Player>, bool), u32> {
        let ctx = &self.ctx;
        if st.members.contains_key(req.user.as_str()) {
            if self.no_auto_kick_user.load(Relaxed) {
                return Err(codes::DUPLICATE_LOGIN);
            }
            self.remove_member(
                st,
                &req.user,
                Departure::Evicted,
                Some(codes::DUPLICATE_LOGIN),
            );
        } else if st.members.len() >= self.max_users.load(Relaxed) as usize {
            return Err(codes::ROOM_FULL);
        }
        let players = Self::players(st, &req.user);
        // `<login>.<nonce>`: the login part stays the same across this login's re-auths, so a
        // refused re-auth can tell "another login took over" (10022) from "spent token" (10004).
        let reconntoken = format!(
            "{}.{}",
            crate::ids::random_hex(8),
            crate::ids::random_hex(16)
        );
        let member = Member {
            link: Some(req.link),
            playerdata: req.playerdata.as_str().into(),
            reconntoken: reconntoken.as_str().into(),
            generation: 0,
        };
        st.members.insert(req.user.as_str().into(), member);
        ctx.metrics.members.fetch_add(1, Relaxed);
        fanout(
            ctx,
            &st.members,
            &req.user,
            frame::player_in(&req.user, &req.playerdata),
        );
        Ok((reconntoken, players, false))
    }

    /// Removes a member, tells its socket why (if `code`), and tells the others it left.
    fn remove_member(
        &self,
        st: &mut RoomState,
        user: &str,
        why: Departure,
        code: Option<u32>,
    ) -> bool {
        let Some(member) = st.members.remove(user) else {
            return false;
        };
        let metrics = &self.ctx.metrics;
        metrics.members.fetch_sub(1, Relaxed);
        metrics.departure(why);
        match (&member.link, code) {
            (Some(link), Some(code)) => {
                let kicked = (code == codes::KICKED).then_some(user);
                link.outbox.end(Ending::Disconnect(
                    frame::disconnect(code, codes::message(code), kicked).into(),
                ));
                metrics.disconnect(code);
            }
            (None, _) => {
                metrics.members_detached.fetch_sub(1, Relaxed);
            }
            (Some(_), None) => {}
        }
        if why != Departure::RoomClosed {
            fanout(&self.ctx, &st.members, user, frame::player_out(user));
        }
        true
    }

    /// The member on socket `session` leaves (`disconnect={}`).
    pub fn leave(self: &Arc<Self>, room: &Arc<Room>, user: &str, session: u64) {
        let mut st = lock(&room.state);
        if Self::is_linked(&st, user, session) {
            self.remove_member(&mut st, user, Departure::Leave, None);
            self.after_departure(room, &mut st);
        }
    }

    /// The socket `session` of a member ended without `disconnect`.
    pub fn socket_lost(
        self: &Arc<Self>,
        room: &Arc<Room>,
        user: &str,
        session: u64,
        loss: SocketLoss,
    ) {
        let mut st = lock(&room.state);
        if !Self::is_linked(&st, user, session) {
            return; // already removed, evicted or resumed elsewhere
        }
        match loss {
            SocketLoss::Silent => {
                self.remove_member(&mut st, user, Departure::Silent, None);
                self.after_departure(room, &mut st);
            }
            SocketLoss::Dropped => {
                let member = st.members.get_mut(user).expect("linked member exists");
                member.link = None;
                member.generation += 1;
                let generation = member.generation;
                self.ctx.metrics.members_detached.fetch_add(1, Relaxed);
                fanout(&self.ctx, &st.members, user, frame::player_reconnect(user));
                self.schedule_window_expiry(room, user, generation);
            }
        }
    }

    fn is_linked(st: &RoomState, user: &str, session: u64) -> bool {
        st.members
            .get(user)
            .and_then(|m| m.link.as_ref())
            .is_some_and(|l| l.id == session)
    }

    /// Kicks a user (10006 to it, `on-player-out` to the others).
    pub fn kick(self: &Arc<Self>, room_name: &str, user: &str) -> Result<(), RoomLookupError> {
        let room = self.room(room_name).ok_or(RoomLookupError::RoomNotActive)?;
        let mut st = lock(&room.state);
        if !st.is_open() {
            return Err(RoomLookupError::RoomNotActive);
        }
        if !self.remove_member(&mut st, user, Departure::Kicked, Some(codes::KICKED)) {
            return Err(RoomLookupError::UserNotFound);
        }
        self.after_departure(&room, &mut st);
        Ok(())
    }

    /// Closes a room: 10012 to every member; joins and re-auths get 10012 for `hold`.
    pub fn close_room(
        self: &Arc<Self>,
        room_name: &str,
        hold: Duration,
    ) -> Result<usize, RoomLookupError> {
        let room = self.room(room_name).ok_or(RoomLookupError::RoomNotActive)?;
        let mut st = lock(&room.state);
        if !st.is_open() {
            return Err(RoomLookupError::RoomNotActive);
        }
        let users: Vec<Box<str>> = st.members.keys().cloned().collect();
        for user in &users {
            self.remove_member(
                &mut st,
                user,
                Departure::RoomClosed,
                Some(codes::ROOM_CLOSED),
            );
        }
        st.closed_until = Some(Instant::now() + hold);
        st.generation += 1;
        let generation = st.generation;
        drop(st);
        let app = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(hold).await;
            app.remove_room_if(&room, |st| st.generation == generation);
        });
        Ok(users.len())
    }

    /// Users in a room (connected or reconnecting), sorted.
    pub fn users(&self, room_name: &str) -> Result<Vec<String>, RoomLookupError> {
        let room = self.room(room_name).ok_or(RoomLookupError::RoomNotActive)?;
        let st = lock(&room.state);
        if !st.is_open() {
            return Err(RoomLookupError::RoomNotActive);
        }
        let mut users: Vec<String> = st.members.keys().map(|u| u.to_string()).collect();
        users.sort();
        Ok(users)
    }

    /// Names of rooms that exist and are not closed, sorted, filtered by prefix.
    pub fn active_rooms(&self, prefix: &str) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for shard in &self.shards {
            let shard = lock(shard);
            for (name, room) in shard.iter() {
                if name.starts_with(prefix) && lock(&room.state).is_open() {
                    names.push(name.to_string());
                }
            }
        }
        names.sort();
        names
    }

    /// Every member of an open room whose socket is live (members inside their reconnect window
    /// have none), in no particular order: the sockets a dropped-connections fault chooses from.
    pub fn linked_members(&self) -> Vec<LinkedMember> {
        let rooms: Vec<Arc<Room>> = self
            .shards
            .iter()
            .flat_map(|shard| lock(shard).values().cloned().collect::<Vec<_>>())
            .collect();
        let mut out = Vec::new();
        for room in rooms {
            let st = lock(&room.state);
            if !st.is_open() {
                continue;
            }
            for (user, member) in &st.members {
                if let Some(link) = &member.link {
                    out.push(LinkedMember {
                        room: room.name.clone(),
                        user: user.clone(),
                        outbox: link.outbox.clone(),
                    });
                }
            }
        }
        out
    }

    /// Marks the app deleted and closes every room in it.
    pub fn delete(self: &Arc<Self>) {
        self.deleted.store(true, Relaxed);
        for name in self.active_rooms("") {
            let _ = self.close_room(&name, self.ctx.timings.reconnect_window);
        }
    }

    fn after_departure(self: &Arc<Self>, room: &Arc<Room>, st: &mut RoomState) {
        if st.members.is_empty() && st.closed_until.is_none() {
            self.schedule_empty_close(room, st);
        }
    }

    fn schedule_empty_close(self: &Arc<Self>, room: &Arc<Room>, st: &mut RoomState) {
        st.generation += 1;
        let generation = st.generation;
        let (app, room) = (Arc::clone(self), Arc::clone(room));
        let delay = self.ctx.timings.empty_room_close;
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            app.remove_room_if(&room, |st| {
                st.generation == generation && st.members.is_empty()
            });
        });
    }

    fn schedule_window_expiry(self: &Arc<Self>, room: &Arc<Room>, user: &str, generation: u64) {
        let (app, room, user) = (Arc::clone(self), Arc::clone(room), user.to_owned());
        let window = self.ctx.timings.reconnect_window;
        tokio::spawn(async move {
            tokio::time::sleep(window).await;
            let mut st = lock(&room.state);
            let expired = st
                .members
                .get(user.as_str())
                .is_some_and(|m| m.link.is_none() && m.generation == generation);
            if expired {
                app.remove_member(&mut st, &user, Departure::WindowExpired, None);
                app.after_departure(&room, &mut st);
            }
        });
    }

    fn remove_room_if(&self, room: &Arc<Room>, still: impl FnOnce(&RoomState) -> bool) {
        let mut shard = lock(self.shard(&room.name));
        let mut st = lock(&room.state);
        if st.removed || !still(&st) {
            return;
        }
        st.removed = true;
        if shard.get(&room.name).is_some_and(|r| Arc::ptr_eq(r, room)) {
            shard.remove(&room.name);
            self.ctx.metrics.rooms.fetch_sub(1, Relaxed);
        }
    }
}

/// All apps, swapped atomically on the rare management change so joins read without a lock.
#[derive(Debug)]
pub struct Apps {
    map: arc_swap::ArcSwap<HashMap<String, Arc<App>>>,
    write: Mutex<()>,
    ctx: Arc<RoomContext>,
}

impl Apps {
    /// The apps configured at start.
    pub fn new(settings: &[AppSettings], ctx: Arc<RoomContext>, now_unix: u64) -> Self {
        let map = settings
            .iter()
            .map(|s| (s.app_id.clone(), App::new(s.clone(), ctx.clone(), now_unix)))
            .collect();
        Self {
            map: arc_swap::ArcSwap::from_pointee(map),
            write: Mutex::new(()),
            ctx,
        }
    }

    /// An app by id.
    pub fn get(&self, id: &str) -> Option<Arc<App>> {
        self.map.load().get(id).cloned()
    }

    /// Every app, sorted by id.
    pub fn all(&self) -> Vec<Arc<App>> {
        let mut apps: Vec<Arc<App>> = self.map.load().values().cloned().collect();
        apps.sort_by(|a, b| a.id.cmp(&b.id));
        apps
    }

    /// Adds an app; `false` if the id exists.
    pub fn insert(&self, settings: AppSettings, now_unix: u64) -> Option<Arc<App>> {
        let _w = lock(&self.write);
        let current = self.map.load_full();
        if current.contains_key(&settings.app_id) {
            return None;
        }
        let mut next = (*current).clone();
        let app = App::new(settings, self.ctx.clone(), now_unix);
        next.insert(app.id.clone(), app.clone());
        self.map.store(Arc::new(next));
        Some(app)
    }

    /// Removes an app and closes its rooms.
    pub fn remove(&self, id: &str) -> Option<Arc<App>> {
        let _w = lock(&self.write);
        let mut next = (*self.map.load_full()).clone();
        let app = next.remove(id)?;
        self.map.store(Arc::new(next));
        app.delete();
        Some(app)
    }
}
