//! Grouped commits of execution records. SQLite has one writer at a time, and on a file
//! each commit costs a WAL write and its locks whatever it holds, so the flushes of many
//! sessions that arrive together share one transaction: the first caller to find the
//! writer free leads and commits its own flush; callers that arrive while a commit goes on
//! queue theirs and wait, and when the commit ends one of them leads a single transaction
//! holding every flush queued meanwhile. Uncontended, a flush is committed by its own
//! caller at once, as before (no copy, no wait). Each caller still gets its own outcome:
//! when anything in a grouped transaction fails, it is rolled back and every flush of the
//! group is redone alone, so an error reaches exactly the callers whose rows failed.

use parking_lot::{Condvar, Mutex};

use super::super::PendingEvent;
use crate::error::{Error, Result};
use crate::execution::Execution;

/// The text of a flush made before any lock is taken: the JSON columns.
pub(super) struct FlushText {
    pub result: Option<String>,
    pub metrics: String,
    /// `args` and `env`, made only for the first flush of an execution (the insert).
    pub first: Option<(String, String)>,
}

/// One flush as the statements bind it: the record's integer key once it has one, the
/// record, the events not yet stored and their text.
pub(super) struct Flush<'a> {
    pub exec: &'a Execution,
    pub key: Option<i64>,
    pub events: &'a [PendingEvent],
    pub text: &'a FlushText,
}

/// A flush queued by a caller that found the writer busy: a copy, since the leader's
/// thread binds it.
struct Queued {
    ticket: u64,
    exec: Execution,
    key: Option<i64>,
    events: Vec<PendingEvent>,
    text: FlushText,
}

impl Queued {
    fn flush(&self) -> Flush<'_> {
        Flush {
            exec: &self.exec,
            key: self.key,
            events: &self.events,
            text: &self.text,
        }
    }
}

/// What a batch's commit gives each flush: the record's integer key, or the error.
pub(super) type Outcome = Result<i64>;

/// Leader election and hand-off of outcomes for grouped commits.
#[derive(Default)]
pub(super) struct GroupCommit {
    state: Mutex<State>,
    /// Signalled when a batch ends: its outcomes are in `State::done`, and the writer is
    /// free for the next leader.
    ended: Condvar,
}

#[derive(Default)]
struct State {
    /// A leader is committing.
    busy: bool,
    /// Flushes waiting for the next batch.
    queue: Vec<Queued>,
    /// Outcomes of queued flushes, taken by their callers.
    done: Vec<(u64, Outcome)>,
    next_ticket: u64,
    /// The most flushes one transaction held (for tests and benchmarks).
    largest_batch: usize,
}

impl GroupCommit {
    /// Commits `mine` with whatever else is queued, through `commit` (which gets a batch
    /// and returns one outcome per flush, in order), and returns the outcome of `mine`.
    pub fn commit(
        &self,
        mine: Flush<'_>,
        commit: impl Fn(&[Flush<'_>]) -> Vec<Outcome>,
    ) -> Outcome {
        let mut state = self.state.lock();
        if !state.busy {
            // Uncontended (or the writer just came free): lead with our own flush, taking
            // along what queued while the last batch was written.
            state.busy = true;
            let queued = std::mem::take(&mut state.queue);
            drop(state);
            return self
                .lead(Some(mine), queued, &commit)
                .unwrap_or_else(|| Err(Error::internal("a grouped commit gave no outcome")));
        }
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.queue.push(Queued {
            ticket,
            exec: mine.exec.clone(),
            key: mine.key,
            events: mine.events.to_vec(),
            text: FlushText {
                result: mine.text.result.clone(),
                metrics: mine.text.metrics.clone(),
                first: mine.text.first.clone(),
            },
        });
        loop {
            if let Some(i) = state.done.iter().position(|(t, _)| *t == ticket) {
                return state.done.swap_remove(i).1;
            }
            if !state.busy {
                // The last leader is done and our flush is still queued: lead the next
                // batch, which holds it; its outcome comes back through `done`.
                state.busy = true;
                let queued = std::mem::take(&mut state.queue);
                drop(state);
                self.lead(None, queued, &commit);
                state = self.state.lock();
                continue;
            }
            self.ended.wait(&mut state);
        }
    }

    /// Commits one batch (our own flush first, if we have one), hands the queued flushes
    /// their outcomes and frees the writer for the next leader, even if `commit` panics.
    fn lead(
        &self,
        mine: Option<Flush<'_>>,
        queued: Vec<Queued>,
        commit: &impl Fn(&[Flush<'_>]) -> Vec<Outcome>,
    ) -> Option<Outcome> {
        let mut release = Release {
            group: self,
            tickets: queued.iter().map(|q| q.ticket).collect(),
            outcomes: Vec::new(),
            size: queued.len() + usize::from(mine.is_some()),
        };
        let mut batch: Vec<Flush<'_>> = Vec::with_capacity(release.size);
        let own = mine.is_some();
        batch.extend(mine);
        batch.extend(queued.iter().map(Queued::flush));
        let mut outcomes = commit(&batch).into_iter();
        let mine = if own { outcomes.next() } else { None };
        release.outcomes = outcomes.collect();
        drop(release);
        mine
    }

    /// The most flushes one transaction has held so far.
    #[cfg(test)]
    pub fn largest_batch(&self) -> usize {
        self.state.lock().largest_batch
    }

    /// How many flushes wait for the writer now.
    #[cfg(test)]
    pub fn queued(&self) -> usize {
        self.state.lock().queue.len()
    }
}

/// Ends a batch: outcomes to their callers (an error for any the commit did not reach,
/// which happens only if it panicked), the writer free, the waiters woken.
struct Release<'g> {
    group: &'g GroupCommit,
    tickets: Vec<u64>,
    outcomes: Vec<Outcome>,
    size: usize,
}

impl Drop for Release<'_> {
    fn drop(&mut self) {
        let mut state = self.group.state.lock();
        state.busy = false;
        state.largest_batch = state.largest_batch.max(self.size);
        let mut outcomes = std::mem::take(&mut self.outcomes).into_iter();
        for &ticket in &self.tickets {
            let outcome = outcomes.next().unwrap_or_else(|| {
                Err(Error::internal(
                    "the grouped commit holding this flush failed unexpectedly",
                ))
            });
            state.done.push((ticket, outcome));
        }
        drop(state);
        self.group.ended.notify_all();
    }
}
