//! Where sessions live, as this instance last saw it, so that a request for a session held
//! by another member is routed without a store round trip.
//!
//! A session's owner never changes, so it is remembered after the first lookup. The member
//! list is read again by the heartbeat every second. A member counts as alive here only
//! while its heartbeat, aged by the time since the list was read, is younger than the
//! timeout: the judgement the store would make, never a more hopeful one. Whatever these
//! routes cannot tell (an unknown session, a member that is not alive, a list the heartbeat
//! stopped refreshing) goes to the store.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::membership::DaemonInfo;

/// Most sessions whose owner is remembered; past it the memory starts again (each entry is
/// two ids, so this is a few MiB at most).
const MAX_OWNERS: usize = 65_536;

/// A member list older than this is not used: the heartbeat that refreshes it every second
/// has stalled (the store is away), and the store must be asked.
const MAX_LIST_AGE: Duration = Duration::from_secs(2);

#[derive(Default)]
pub(crate) struct Routes {
    /// Session id → the id of the member that built it.
    owners: Mutex<HashMap<String, String>>,
    members: Mutex<Option<MemberList>>,
}

struct MemberList {
    read_at: Instant,
    /// Each member with the age of its heartbeat when the list was read.
    members: Vec<(DaemonInfo, Duration)>,
}

impl Routes {
    pub fn remember_owner(&self, session_id: &str, owner: &str) {
        let mut owners = self.owners.lock();
        if owners.len() >= MAX_OWNERS {
            owners.clear();
        }
        owners.insert(session_id.to_string(), owner.to_string());
    }

    pub fn owner(&self, session_id: &str) -> Option<String> {
        self.owners.lock().get(session_id).cloned()
    }

    pub fn set_members(&self, members: Vec<(DaemonInfo, Duration)>) {
        *self.members.lock() = Some(MemberList {
            read_at: Instant::now(),
            members,
        });
    }

    /// The member `id` when the last list says it is alive now and can be reached (it has
    /// an `advertise_url`); `None` when it is not, or the list cannot say.
    pub fn live_member(&self, id: &str, timeout: Duration) -> Option<DaemonInfo> {
        let list = self.members.lock();
        let list = list.as_ref()?;
        let since = list.read_at.elapsed();
        if since > MAX_LIST_AGE {
            return None;
        }
        let (member, age) = list.members.iter().find(|(m, _)| m.id == id)?;
        let alive = *age + since < timeout;
        (alive && member.advertise_url.is_some()).then(|| member.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, url: Option<&str>) -> DaemonInfo {
        DaemonInfo {
            id: id.into(),
            advertise_url: url.map(Into::into),
            started_at: String::new(),
            last_heartbeat: String::new(),
            capacity: None,
            live_sessions: 0,
            alive: true,
        }
    }

    #[test]
    fn a_member_is_alive_only_while_its_aged_heartbeat_is_younger_than_the_timeout() {
        let routes = Routes::default();
        let timeout = Duration::from_secs(5);
        assert_eq!(routes.live_member("a", timeout), None, "no list yet");
        routes.set_members(vec![
            (member("a", Some("http://a")), Duration::from_millis(300)),
            (member("b", Some("http://b")), Duration::from_millis(4_990)),
            (member("c", None), Duration::ZERO),
        ]);
        assert_eq!(routes.live_member("a", timeout).unwrap().id, "a");
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            routes.live_member("b", timeout),
            None,
            "its timeout passed since"
        );
        assert_eq!(routes.live_member("c", timeout), None, "cannot be reached");
        assert_eq!(routes.live_member("d", timeout), None, "unknown");
    }

    #[test]
    fn a_list_the_heartbeat_stopped_refreshing_is_not_used() {
        let routes = Routes::default();
        *routes.members.lock() = Some(MemberList {
            read_at: Instant::now() - MAX_LIST_AGE - Duration::from_millis(1),
            members: vec![(member("a", Some("http://a")), Duration::ZERO)],
        });
        assert_eq!(routes.live_member("a", Duration::from_secs(60)), None);
    }

    #[test]
    fn owners_are_remembered_within_a_bound() {
        let routes = Routes::default();
        routes.remember_owner("s1", "a");
        assert_eq!(routes.owner("s1").as_deref(), Some("a"));
        for i in 0..MAX_OWNERS {
            routes.remember_owner(&format!("x{i}"), "b");
        }
        assert!(routes.owners.lock().len() <= MAX_OWNERS);
        assert_eq!(routes.owner("s1"), None, "the memory started again");
    }
}
