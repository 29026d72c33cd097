//! Membership and placement: which `VmSystem` instances share a store, which are alive, and
//! where a new session should be built.
//!
//! On SQLite there is one member, this instance, and nothing is stored. On PostgreSQL every
//! instance is a row of the `daemons` table kept fresh by a heartbeat (see
//! `store::postgres`); this module holds the types and the placement policy both share.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A member of the store: one `VmSystem` instance (a daemon, or a library user).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonInfo {
    /// The member id: [`VmSystem::daemon_id`](crate::VmSystem::daemon_id) of that instance,
    /// the `daemon_id` of every session it builds.
    pub id: String,
    /// The URL other daemons use to reach it; `None`: never chosen by another daemon's
    /// placement and never forwarded to.
    pub advertise_url: Option<String>,
    /// When it registered (RFC 3339 UTC).
    pub started_at: String,
    /// Its last heartbeat, in the store's clock (RFC 3339 UTC).
    pub last_heartbeat: String,
    /// Most live sessions it builds; `None`: unlimited.
    pub capacity: Option<u32>,
    /// Its sessions that are `starting` or `ready`.
    pub live_sessions: u32,
    /// Whether its heartbeat is younger than the heartbeat timeout.
    pub alive: bool,
}

impl DaemonInfo {
    /// Room for more sessions: `None` for unlimited.
    fn free(&self) -> Option<u32> {
        self.capacity
            .map(|capacity| capacity.saturating_sub(self.live_sessions))
    }
}

/// Where [`VmSystem::place_session`](crate::VmSystem::place_session) puts a new session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// On this instance: call `create_session` here.
    Here,
    /// On another member, reachable at its `advertise_url`.
    Remote(DaemonInfo),
}

/// Which instance can act on a session's runtime (see
/// [`VmSystem::locate_session`](crate::VmSystem::locate_session)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// Call the core here: it runs the session, or answers for it (closed, not found,
    /// owner dead, ...).
    Local,
    /// The session is live in another member that is alive and reachable at its
    /// `advertise_url`.
    Remote(DaemonInfo),
}

/// The placement policy: among the alive members with free capacity that can be reached
/// (this one always, others only with an `advertise_url`), the one with the most free
/// capacity (unlimited counts as most); ties go to this instance, then to the oldest member.
/// `members` is sorted by `started_at`. `None`: every member is full.
pub(crate) fn place(members: &[DaemonInfo], me: &str) -> Option<Placement> {
    let mut best: Option<&DaemonInfo> = None;
    let rank = |d: &DaemonInfo| d.free().map_or(u64::MAX, u64::from);
    for member in members {
        let reachable = member.id == me || member.advertise_url.is_some();
        if !member.alive || !reachable || member.free() == Some(0) {
            continue;
        }
        best = match best {
            None => Some(member),
            Some(current) => {
                let (a, b) = (rank(member), rank(current));
                // Strictly more room wins; on a tie this instance wins, else the older one
                // (already `current`, since the list is oldest first) stays.
                if a > b || (a == b && member.id == me) {
                    Some(member)
                } else {
                    Some(current)
                }
            }
        };
    }
    best.map(|member| {
        if member.id == me {
            Placement::Here
        } else {
            Placement::Remote(member.clone())
        }
    })
}

/// Every member id this instance has had, the current one last. An instance that finds
/// itself reaped registers again under a new id; the old ones are kept (a few bytes each)
/// so that a `&str` handed out by [`IdHistory::current`] stays valid for the life of the
/// instance.
pub(crate) struct IdHistory {
    ids: Mutex<Vec<Box<str>>>,
}

impl IdHistory {
    pub fn new(first: String) -> Self {
        IdHistory {
            ids: Mutex::new(vec![first.into_boxed_str()]),
        }
    }

    /// The current id.
    pub fn current(&self) -> &str {
        let ids = self.ids.lock();
        let current: *const str = &**ids.last().expect("an instance always has an id");
        // SAFETY: the boxed str's heap bytes never move (growing the Vec moves the boxes,
        // not what they point to), are never mutated, and are freed only when `self` is
        // dropped, which the returned lifetime (that of `&self`) rules out.
        unsafe { &*current }
    }

    /// Moves to a new id (after this instance found itself reaped).
    pub fn replace(&self, next: String) {
        self.ids.lock().push(next.into_boxed_str());
    }
}

/// How often a member of a shared store renews its heartbeat (and reaps).
pub(crate) const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);

/// A thread that calls `tick` every [`HEARTBEAT_INTERVAL`] until stopped (dropped) or
/// `tick` returns `false`.
pub(crate) struct Heartbeat {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Heartbeat {
    pub fn start(mut tick: impl FnMut() -> bool + Send + 'static) -> Result<Self> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let shared = stop.clone();
        let thread = std::thread::Builder::new()
            .name("vm-system-heartbeat".into())
            .spawn(move || loop {
                {
                    let mut stopped = shared.0.lock();
                    if !*stopped {
                        shared.1.wait_for(&mut stopped, HEARTBEAT_INTERVAL);
                    }
                    if *stopped {
                        return;
                    }
                }
                if !tick() {
                    return;
                }
            })
            .map_err(|e| Error::internal(format!("cannot start the heartbeat thread: {e}")))?;
        Ok(Heartbeat {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
        if let Some(thread) = self.thread.take() {
            // Dropped from its own tick (the tick held the last handle of the instance):
            // the thread sees the flag and ends by itself.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, url: Option<&str>, capacity: Option<u32>, live: u32) -> DaemonInfo {
        DaemonInfo {
            id: id.into(),
            advertise_url: url.map(str::to_string),
            started_at: String::new(),
            last_heartbeat: String::new(),
            capacity,
            live_sessions: live,
            alive: true,
        }
    }

    #[test]
    fn the_most_free_capacity_wins_and_ties_go_here_then_to_the_oldest() {
        let a = member("a", Some("http://a"), Some(10), 5);
        let b = member("b", Some("http://b"), Some(10), 2);
        let me = member("me", None, Some(10), 2);
        // b and me both have 8 free: me wins the tie.
        assert_eq!(
            place(&[a.clone(), b.clone(), me.clone()], "me"),
            Some(Placement::Here)
        );
        // Without me, b has the most room.
        let full_me = member("me", None, Some(10), 10);
        assert_eq!(
            place(&[a.clone(), b.clone(), full_me.clone()], "me"),
            Some(Placement::Remote(b.clone()))
        );
        // Two equal others: the oldest (first) wins.
        let c = member("c", Some("http://c"), Some(10), 2);
        assert_eq!(
            place(&[b.clone(), c.clone(), full_me.clone()], "me"),
            Some(Placement::Remote(b.clone()))
        );
        // Unlimited beats any number.
        let unlimited = member("u", Some("http://u"), None, 1000);
        assert_eq!(
            place(&[b.clone(), unlimited.clone(), me.clone()], "me"),
            Some(Placement::Remote(unlimited))
        );
    }

    #[test]
    fn dead_unreachable_and_full_members_are_never_chosen() {
        let mut dead = member("dead", Some("http://d"), None, 0);
        dead.alive = false;
        let hidden = member("hidden", None, None, 0);
        let full = member("full", Some("http://f"), Some(3), 3);
        let full_me = member("me", None, Some(1), 1);
        assert_eq!(place(&[dead, hidden, full, full_me], "me"), None);
        assert_eq!(place(&[], "me"), None);
    }

    #[test]
    fn an_id_handed_out_stays_valid_after_the_id_changes() {
        let ids = IdHistory::new("first".into());
        let first = ids.current();
        for n in 0..100 {
            ids.replace(format!("id-{n}"));
        }
        assert_eq!(first, "first");
        assert_eq!(ids.current(), "id-99");
    }
}
