//! The context of one running execution: every event flows through it, to storage and to
//! the live watcher, and it holds the run's limits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::Value;

use crate::error::Result;
use crate::event::{system_payload, Event, EventType, SystemLevel};
use crate::execution::{Execution, ExecutionStatus, Metrics};
use crate::follow::{FollowItem, FollowSender, Follower};
use crate::limits::{Guard, StopReason};
use crate::store::{PendingEvent, Store};
use crate::template::Limits;
use crate::timestamp;

/// Receives each event of an execution, in order, as it happens. An `Err` (or a panic) is
/// reported once as a `system` event and does not stop the execution.
pub type EventWatcher = Box<dyn FnMut(&Event) -> std::result::Result<(), String> + Send>;

/// The run a session is executing, if any: set by the engine for the length of a run and
/// read by the interrupt handler, the native modules' host calls and `cancel`. It lives
/// here, below both the engine and the modules, so the modules never import the engine.
pub(crate) type ActiveRun = Mutex<Option<Arc<RunContext>>>;

/// Pending events are committed at least this often while a run goes on, so other threads
/// and processes can read them.
const FLUSH_INTERVAL: Duration = Duration::from_millis(20);

/// One execution while it runs.
pub(crate) struct RunContext {
    pub guard: Guard,
    pub limits: Limits,
    store: Arc<Store>,
    recorder: Mutex<Recorder>,
    watcher: Mutex<Option<EventWatcher>>,
    /// Whether the run started with a watcher.
    watched: bool,
    host_calls: AtomicU64,
    /// The thread running the code (the one `start` was called on). `pthread_self`, not
    /// `std::thread::current()`, which allocates a handle that a host's own threads (C's
    /// main thread) never free.
    thread: libc::pthread_t,
    /// Set while the watcher (user code) runs.
    in_watcher: std::sync::atomic::AtomicBool,
}

struct Recorder {
    exec: Execution,
    /// The record's integer key once it is stored.
    key: Option<i64>,
    /// Events not yet committed.
    pending: Vec<PendingEvent>,
    next_seq: u64,
    output_bytes: u64,
    last_flush: Instant,
    watcher_failed: bool,
    flush_error: Option<crate::Error>,
    /// Live followers; each event is queued to them in seq order while this lock is held
    /// (a queue push, never the follower's own code), if its seq is past the one the
    /// follower asked to start after.
    followers: Vec<(u64, FollowSender)>,
    /// Set by `release`, once the run's session is free again: later followers get the
    /// stored events and the final record at once.
    released: bool,
}

/// Whether an event was stored or refused by a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recorded {
    Stored,
    Refused,
}

impl RunContext {
    /// Starts a run on the calling thread (whose CPU clock `cpu_ms` measures).
    pub fn start(
        store: Arc<Store>,
        exec: Execution,
        limits: Limits,
        watcher: Option<EventWatcher>,
    ) -> Arc<Self> {
        Arc::new(RunContext {
            guard: Guard::start(&limits),
            limits,
            store,
            recorder: Mutex::new(Recorder {
                exec,
                key: None,
                pending: Vec::with_capacity(4),
                next_seq: 1,
                output_bytes: 0,
                last_flush: Instant::now(),
                watcher_failed: false,
                flush_error: None,
                followers: Vec::new(),
                released: false,
            }),
            watched: watcher.is_some(),
            watcher: Mutex::new(watcher),
            host_calls: AtomicU64::new(0),
            // SAFETY: pthread_self has no preconditions.
            thread: unsafe { libc::pthread_self() },
            in_watcher: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Whether the calling thread may wait for this run to end: not from the run's own
    /// thread (a watcher, or a host's interrupt check, closing its session), and not while
    /// the watcher runs (user code may wait for the very caller that would wait for it).
    pub fn can_be_waited_for(&self) -> bool {
        // SAFETY: pthread_self has no preconditions.
        let current = unsafe { libc::pthread_self() };
        current != self.thread && !self.in_watcher.load(Ordering::SeqCst)
    }

    pub fn execution_id(&self) -> String {
        self.recorder.lock().exec.id.clone()
    }

    /// Records an event produced by the code. Refused (and the run stopped) when it would
    /// pass `max_events` or `max_output_kb`, or when the run is already stopping.
    pub fn emit(&self, event_type: EventType, payload: Value) -> Recorded {
        if self.guard.stopped().is_some() {
            return Recorded::Refused;
        }
        let text = payload.to_string();
        self.emit_text(event_type, text, move || payload)
    }

    /// [`emit`](Self::emit) of a payload the caller keeps (the value of a run, which is
    /// also its result): it is copied only for a watcher or a follower.
    pub fn emit_ref(&self, event_type: EventType, payload: &Value) -> Recorded {
        if self.guard.stopped().is_some() {
            return Recorded::Refused;
        }
        let text = payload.to_string();
        self.emit_text(event_type, text, || payload.clone())
    }

    /// [`emit`](Self::emit) of a payload already written as JSON text (the hot events: console
    /// lines and the input echo, see [`crate::event`]): storage takes the text as it is, and
    /// the `Value` is made by `value` only when a watcher or a follower needs an `Event`.
    pub fn emit_text(
        &self,
        event_type: EventType,
        text: String,
        value: impl FnOnce() -> Value,
    ) -> Recorded {
        if self.guard.stopped().is_some() {
            return Recorded::Refused;
        }
        let size = text.len() as u64;
        {
            let rec = self.recorder.lock();
            let count = rec.next_seq - 1;
            if count + 1 > self.limits.max_events {
                drop(rec);
                self.guard.stop(StopReason::MaxEvents);
                return Recorded::Refused;
            }
            if rec.output_bytes + size > self.limits.max_output_kb * 1024 {
                drop(rec);
                self.guard.stop(StopReason::MaxOutput);
                return Recorded::Refused;
            }
        }
        self.record(event_type, value, text);
        Recorded::Stored
    }

    /// Records a `system` event; these are the run's own notes and pass the output limits
    /// (at most a handful per run).
    pub fn system(&self, level: SystemLevel, message: &str) {
        let payload = system_payload(level, message);
        let text = payload.to_string();
        self.record(EventType::System, move || payload, text);
    }

    fn record(&self, event_type: EventType, payload: impl FnOnce() -> Value, text: String) {
        let copy = {
            let mut rec = self.recorder.lock();
            let seq = rec.next_seq;
            let ts_ms = timestamp::now_ms();
            rec.next_seq += 1;
            rec.output_bytes += text.len() as u64;
            // Only a watched or followed run builds an `Event`; storage needs the text alone.
            let event = (self.watched || !rec.followers.is_empty()).then(|| Event {
                execution_id: rec.exec.id.clone(),
                seq,
                ts: timestamp::format_millis(ts_ms),
                event_type,
                payload: payload(),
            });
            if let Some(event) = &event {
                if !rec.followers.is_empty() {
                    // A follower that went away is forgotten at its first missed event.
                    rec.followers.retain(|(after, tx)| {
                        event.seq <= *after || tx.send(FollowItem::Event(event.clone())).is_ok()
                    });
                }
            }
            let copy = if self.watched { event } else { None };
            rec.pending.push(PendingEvent {
                seq,
                ts_ms,
                event_type,
                payload: text,
            });
            if rec.last_flush.elapsed() >= FLUSH_INTERVAL {
                self.flush_locked(&mut rec);
            }
            copy
        };
        if let Some(event) = copy {
            self.notify(&event);
        }
    }

    fn notify(&self, event: &Event) {
        // The watcher is taken out for the call, so no lock is held while user code runs
        // (it may call back into the library, from this thread or another).
        let Some(mut watch) = self.watcher.lock().take() else {
            return;
        };
        self.in_watcher.store(true, Ordering::SeqCst);
        let failure = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| watch(event)))
        {
            Ok(Ok(())) => None,
            Ok(Err(message)) => Some(message),
            Err(_) => Some("the event watcher panicked".to_string()),
        };
        self.in_watcher.store(false, Ordering::SeqCst);
        *self.watcher.lock() = Some(watch);
        if let Some(message) = failure {
            let first = !std::mem::replace(&mut self.recorder.lock().watcher_failed, true);
            if first {
                self.system(
                    SystemLevel::Warn,
                    &format!("event watcher failed: {message}; the execution goes on"),
                );
            }
        }
    }

    /// A follower of this run: the stored events with `seq > after_seq`, then every new
    /// one, then the final record. Pending events are committed first, so what is replayed
    /// is what is stored; the recorder lock makes replay and live delivery one gapless
    /// sequence.
    pub fn follow(&self, after_seq: u64) -> Result<Follower> {
        let (tx, follower) = Follower::channel();
        let mut rec = self.recorder.lock();
        if !(rec.released || rec.key.is_some() && rec.pending.is_empty()) {
            self.flush_locked(&mut rec);
        }
        if let Some(e) = rec.flush_error.take() {
            return Err(crate::Error::Internal(format!(
                "could not store execution {}: {e}",
                rec.exec.id
            )));
        }
        for event in self.store.events(&rec.exec.id, after_seq)? {
            let _ = tx.send(FollowItem::Event(event));
        }
        if rec.released {
            let _ = tx.send(FollowItem::End(Box::new(rec.exec.clone())));
        } else {
            rec.followers.push((after_seq, tx));
        }
        Ok(follower)
    }

    /// Gives every follower the final record (after `finish`, once the session lock is
    /// released).
    pub fn release(&self) {
        let mut rec = self.recorder.lock();
        rec.released = true;
        for (_, tx) in std::mem::take(&mut rec.followers) {
            let _ = tx.send(FollowItem::End(Box::new(rec.exec.clone())));
        }
    }

    /// Hands the watcher back once the run is over (for the next startup file).
    pub fn take_watcher(&self) -> Option<EventWatcher> {
        self.watcher.lock().take()
    }

    /// Counts one call into a native module.
    pub fn count_host_call(&self) {
        self.host_calls.fetch_add(1, Ordering::Relaxed);
    }

    /// Commits pending events when the last commit is older than the flush interval.
    pub fn maybe_flush(&self) {
        let mut rec = self.recorder.lock();
        if rec.last_flush.elapsed() >= FLUSH_INTERVAL
            && !(rec.key.is_some() && rec.pending.is_empty())
        {
            self.flush_locked(&mut rec);
        }
    }

    /// Commits pending events now (before a blocking host call, for instance).
    pub fn flush(&self) {
        let mut rec = self.recorder.lock();
        if !(rec.key.is_some() && rec.pending.is_empty()) {
            self.flush_locked(&mut rec);
        }
    }

    /// Writes the record and the pending events (the record is always rewritten, so the
    /// final status lands even when no event is pending).
    fn flush_locked(&self, rec: &mut Recorder) {
        rec.last_flush = Instant::now();
        rec.exec.metrics = self.metrics(rec);
        let Recorder {
            exec, key, pending, ..
        } = rec;
        match self.store.flush_execution(exec, key, pending) {
            Ok(()) => pending.clear(),
            // Keep the events and try again at the next flush; the final one reports it.
            Err(e) => rec.flush_error = Some(e),
        }
    }

    fn metrics(&self, rec: &Recorder) -> Metrics {
        Metrics {
            duration_ms: micros_as_ms(self.guard.elapsed().as_nanos() as u64),
            cpu_ms: micros_as_ms(self.guard.cpu_used_ns()),
            event_count: rec.next_seq - 1,
            output_bytes: rec.output_bytes,
            host_calls: self.host_calls.load(Ordering::Relaxed),
            limit: self
                .guard
                .stopped()
                .and_then(StopReason::limit_name)
                .map(str::to_string),
        }
    }

    /// Ends the run: sets the final status, commits everything and returns the record.
    pub fn finish(
        &self,
        status: ExecutionStatus,
        result: Option<Value>,
        error: Option<String>,
    ) -> Result<Execution> {
        let mut rec = self.recorder.lock();
        rec.exec.status = status;
        rec.exec.result = result;
        rec.exec.error = error;
        rec.exec.ended_at = Some(timestamp::now());
        rec.flush_error = None;
        self.flush_locked(&mut rec);
        if let Some(e) = rec.flush_error.take() {
            // A store that cannot be reached keeps its code: the caller may retry.
            return Err(match e {
                crate::Error::StoreUnavailable(m) => crate::Error::StoreUnavailable(format!(
                    "could not store the end of execution {}: {m}",
                    rec.exec.id
                )),
                e => crate::Error::Internal(format!(
                    "could not store execution {}: {e}",
                    rec.exec.id
                )),
            });
        }
        Ok(rec.exec.clone())
    }
}

/// Nanoseconds as milliseconds with microsecond precision.
fn micros_as_ms(nanos: u64) -> f64 {
    (nanos / 1000) as f64 / 1000.0
}
