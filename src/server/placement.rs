//! Which signaling endpoint serves a room: the seam for a multi-process server.
//!
//! Members of one room must meet in one process (presence and fan-out live in memory), and the
//! client learns where to go only from `signalingurl2` in its access token. Rendezvous hashing of
//! (app, room) over the endpoint list gives every process the same answer without coordination,
//! and moves only the rooms of an endpoint that is added or removed.

use std::hash::{DefaultHasher, Hash, Hasher};

/// The signaling endpoints rooms are spread over (today: this process only).
#[derive(Debug, Clone)]
pub struct Placement {
    endpoints: Vec<String>,
}

impl Placement {
    /// Endpoints as `ws://host:port/signaling` URLs (without a query: the SDK appends `?rpcid=`).
    pub fn new(endpoints: Vec<String>) -> Self {
        assert!(
            !endpoints.is_empty(),
            "placement needs at least one endpoint"
        );
        Self { endpoints }
    }

    /// The endpoint that owns a room.
    pub fn signaling_url(&self, app: &str, room: &str) -> &str {
        &self.endpoints[self.owner(app, room)]
    }

    /// Index (in the list given to [`Placement::new`]) of the endpoint that owns a room.
    pub fn owner(&self, app: &str, room: &str) -> usize {
        let score = |endpoint: &String| {
            let mut h = DefaultHasher::new();
            (app, room, endpoint.as_str()).hash(&mut h);
            h.finish()
        };
        self.endpoints
            .iter()
            .enumerate()
            .max_by_key(|(_, e)| score(e))
            .expect("non-empty")
            .0
    }

    /// How many endpoints rooms are spread over.
    pub fn len(&self) -> usize {
        self.endpoints.len()
    }

    /// Never: a placement has at least one endpoint.
    pub fn is_empty(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_always_lands_on_one_endpoint_and_rooms_spread() {
        let eps: Vec<String> = (0..4)
            .map(|i| format!("ws://127.0.0.1:{}/signaling", 7000 + i))
            .collect();
        let p = Placement::new(eps.clone());
        let mut per_endpoint = std::collections::HashMap::new();
        for r in 0..400 {
            let room = format!("room-{r}");
            let a = p.signaling_url("app", &room).to_owned();
            assert_eq!(p.signaling_url("app", &room), a);
            *per_endpoint.entry(a).or_insert(0) += 1;
        }
        assert_eq!(per_endpoint.len(), 4);
        assert!(per_endpoint.values().all(|n| *n > 50), "{per_endpoint:?}");
        // Dropping one endpoint moves only that endpoint's rooms.
        let fewer = Placement::new(eps[..3].to_vec());
        for r in 0..400 {
            let room = format!("room-{r}");
            let before = p.signaling_url("app", &room);
            if before != eps[3] {
                assert_eq!(fewer.signaling_url("app", &room), before);
            }
        }
    }
}
