//! Following an execution live: the stored events after a seq, then each new event as it
//! is recorded, then the final record. Any number of followers per execution; each has its
//! own queue, so a slow follower never holds a lock of the run nor delays another.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::time::Duration;

use crate::event::Event;
use crate::execution::Execution;

/// One item of a followed execution, in order: events (seq ascending, no gaps after the
/// requested seq), then exactly one [`FollowItem::End`].
#[derive(Debug, Clone, PartialEq)]
pub enum FollowItem {
    /// An event, stored before it is delivered.
    Event(Event),
    /// The execution ended; its final record. Nothing follows.
    End(Box<Execution>),
}

/// The sending half, kept by a running execution (or a replaying thread).
pub(crate) type FollowSender = Sender<FollowItem>;

/// Receives the items of one followed execution (see [`crate::VmSystem::follow`]).
///
/// Dropping it unsubscribes: the execution notices at its next event and forgets it.
pub struct Follower {
    rx: Receiver<FollowItem>,
    ended: bool,
}

/// What [`Follower::next_timeout`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum FollowPoll {
    /// The next item.
    Item(FollowItem),
    /// Nothing arrived in time; the execution still runs.
    Pending,
    /// The end was already delivered (or the execution's run vanished without one, which
    /// only happens if its thread panicked): nothing more will come.
    Closed,
}

impl Follower {
    pub(crate) fn channel() -> (FollowSender, Follower) {
        let (tx, rx) = std::sync::mpsc::channel();
        (tx, Follower { rx, ended: false })
    }

    /// Waits for the next item; `None` once the end has been delivered.
    pub fn next_item(&mut self) -> Option<FollowItem> {
        if self.ended {
            return None;
        }
        let item = self.rx.recv().ok();
        self.note(item.as_ref());
        item
    }

    /// Waits at most `timeout` for the next item.
    pub fn next_timeout(&mut self, timeout: Duration) -> FollowPoll {
        if self.ended {
            return FollowPoll::Closed;
        }
        match self.rx.recv_timeout(timeout) {
            Ok(item) => {
                self.note(Some(&item));
                FollowPoll::Item(item)
            }
            Err(RecvTimeoutError::Timeout) => FollowPoll::Pending,
            Err(RecvTimeoutError::Disconnected) => {
                self.ended = true;
                FollowPoll::Closed
            }
        }
    }

    /// The next item if one is already queued.
    pub fn try_next(&mut self) -> FollowPoll {
        if self.ended {
            return FollowPoll::Closed;
        }
        match self.rx.try_recv() {
            Ok(item) => {
                self.note(Some(&item));
                FollowPoll::Item(item)
            }
            Err(TryRecvError::Empty) => FollowPoll::Pending,
            Err(TryRecvError::Disconnected) => {
                self.ended = true;
                FollowPoll::Closed
            }
        }
    }

    fn note(&mut self, item: Option<&FollowItem>) {
        if !matches!(item, Some(FollowItem::Event(_))) {
            self.ended = true;
        }
    }
}

impl Iterator for Follower {
    type Item = FollowItem;

    fn next(&mut self) -> Option<FollowItem> {
        self.next_item()
    }
}
