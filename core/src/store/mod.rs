//! The record store: one interface over two engines. SQLite (a file, or memory) is the
//! default; a `postgres://` URL puts the records in PostgreSQL, shared by many processes on
//! many hosts. Both keep the same tables, ids and records; what differs is how a live
//! session's owner is known to be alive (a pid on one host, a heartbeat across hosts).
//!
//! `Store` is an enum rather than a trait object: a call is one `match`, which the
//! compiler folds into the SQLite path's own code, so that path costs what it did alone.

mod pg;
mod sqlite;

use std::path::Path;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::event::{Event, EventType};
use crate::execution::Execution;
use crate::membership::DaemonInfo;
use crate::session::{Session, SessionStatus};
use crate::template::{Capability, Settings, StartupFile, Template};

use pg::PgStore;
pub(crate) use pg::Registration;
use sqlite::SqliteStore;

/// Which process and instance holds a session's runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owner {
    pub pid: u32,
    /// Start time of that process (clock ticks since boot), to tell a reused pid apart.
    pub started: u64,
    /// The `VmSystem` instance inside that process (on PostgreSQL, its member id).
    pub instance: String,
}

/// An event waiting to be committed: what the table stores, nothing more (no copy of the
/// execution id, no parsed payload).
#[derive(Debug, Clone)]
pub(crate) struct PendingEvent {
    pub seq: u64,
    /// Milliseconds since the Unix epoch.
    pub ts_ms: i64,
    pub event_type: EventType,
    /// The payload as JSON text.
    pub payload: String,
}

/// The storage of one `VmSystem`.
pub(crate) enum Store {
    Sqlite(SqliteStore),
    // Boxed: a pool, a heartbeat and deferred writes make it several times a SQLite store's size.
    Postgres(Box<PgStore>),
}

/// Calls the same method on whichever engine this store is.
macro_rules! each {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            Store::Sqlite($s) => $call,
            Store::Postgres($s) => $call,
        }
    };
}

impl Store {
    /// Opens (or creates) a database file. A file that is not ours, or is of a newer schema,
    /// is refused before anything is written to it.
    pub fn open_file(path: &Path) -> Result<Self> {
        Ok(Store::Sqlite(SqliteStore::open(path)?))
    }

    pub fn open_in_memory() -> Result<Self> {
        Ok(Store::Sqlite(SqliteStore::open_in_memory()?))
    }

    /// Connects to a PostgreSQL database (`postgres://` URL) and migrates its schema.
    pub fn open_postgres(url: &str) -> Result<Self> {
        Ok(Store::Postgres(Box::new(PgStore::open(url)?)))
    }

    /// Whether many processes on many hosts may share this store (PostgreSQL): its members
    /// are known by heartbeat, not by pid.
    pub fn is_shared(&self) -> bool {
        matches!(self, Store::Postgres(_))
    }

    /// The PostgreSQL engine, for membership.
    pub fn shared(&self) -> Option<&PgStore> {
        match self {
            Store::Postgres(pg) => Some(pg),
            Store::Sqlite(_) => None,
        }
    }

    /// Whether the instance that owns a session row can still hold its runtime: its process
    /// is alive (SQLite), or its member's heartbeat is younger than `timeout` and it is not
    /// reaped (PostgreSQL; a store error counts as alive: nothing is decided while the
    /// store is away).
    pub fn owner_alive(&self, owner: &Owner, timeout: Duration) -> bool {
        match self {
            Store::Sqlite(_) => crate::owner::is_alive(owner),
            Store::Postgres(pg) => pg.member_alive(&owner.instance, timeout).unwrap_or(true),
        }
    }

    /// The members of a shared store, each with the age of its heartbeat (none for
    /// SQLite, whose one member is the caller).
    pub fn members(&self, timeout: Duration) -> Result<Option<Vec<(DaemonInfo, Duration)>>> {
        match self {
            Store::Sqlite(_) => Ok(None),
            Store::Postgres(pg) => pg.members(timeout).map(Some),
        }
    }

    // ---- templates ----

    pub fn insert_template(&self, t: &Template, settings: &Settings) -> Result<()> {
        each!(self, s => s.insert_template(t, settings))
    }

    pub fn template(&self, id: &str) -> Result<Template> {
        each!(self, s => s.template(id))
    }

    pub fn list_templates(&self) -> Result<Vec<Template>> {
        each!(self, s => s.list_templates())
    }

    pub fn delete_template(&self, id: &str) -> Result<()> {
        each!(self, s => s.delete_template(id))
    }

    pub fn settings(&self, id: &str) -> Result<Settings> {
        each!(self, s => s.settings(id))
    }

    /// Applies `change` to the stored settings inside one transaction, so concurrent
    /// partial updates never lose each other's fields.
    pub fn update_settings(
        &self,
        id: &str,
        now: &str,
        change: impl FnOnce(&mut Settings) -> Result<()>,
    ) -> Result<Settings> {
        each!(self, s => s.update_settings(id, now, change))
    }

    pub fn add_startup_file(&self, id: &str, file: &StartupFile, now: &str) -> Result<()> {
        each!(self, s => s.add_startup_file(id, file, now))
    }

    pub fn startup_files(&self, id: &str) -> Result<Vec<StartupFile>> {
        each!(self, s => s.startup_files(id))
    }

    pub fn remove_startup_file(&self, id: &str, path: &str, now: &str) -> Result<()> {
        each!(self, s => s.remove_startup_file(id, path, now))
    }

    pub fn add_capability(&self, id: &str, cap: &Capability, now: &str) -> Result<()> {
        each!(self, s => s.add_capability(id, cap, now))
    }

    pub fn capabilities(&self, id: &str) -> Result<Vec<Capability>> {
        each!(self, s => s.capabilities(id))
    }

    /// Adds a name to `template_modules` or `template_libraries`; adding twice is a no-op.
    pub fn add_name(&self, table: NameTable, id: &str, name: &str, now: &str) -> Result<()> {
        each!(self, s => s.add_name(table, id, name, now))
    }

    pub fn remove_name(&self, table: NameTable, id: &str, name: &str, now: &str) -> Result<()> {
        each!(self, s => s.remove_name(table, id, name, now))
    }

    pub fn names(&self, table: NameTable, id: &str) -> Result<Vec<String>> {
        each!(self, s => s.names(table, id))
    }

    // ---- sessions ----

    pub fn insert_session(&self, session: &Session, owner: &Owner) -> Result<()> {
        each!(self, s => s.insert_session(session, owner))
    }

    /// Moves a session to `status`, but only from a live state: a closed or crashed row
    /// never comes back. Returns whether the row changed.
    pub fn set_session_status(
        &self,
        id: &str,
        status: SessionStatus,
        last_error: Option<&str>,
        closed_at: Option<&str>,
    ) -> Result<bool> {
        each!(self, s => s.set_session_status(id, status, last_error, closed_at))
    }

    pub fn session(&self, id: &str) -> Result<(Session, Owner)> {
        each!(self, s => s.session(id))
    }

    pub fn sessions(&self, status: Option<SessionStatus>) -> Result<Vec<(Session, Owner)>> {
        each!(self, s => s.sessions(status))
    }

    // ---- executions and events ----

    /// Stores new events and the execution's current record in one transaction. The row is
    /// inserted on the first flush (`key` is `None`; it becomes the row's integer key) and
    /// updated after.
    #[inline]
    pub fn flush_execution(
        &self,
        exec: &Execution,
        key: &mut Option<i64>,
        events: &[PendingEvent],
    ) -> Result<()> {
        each!(self, s => s.flush_execution(exec, key, events))
    }

    /// An execution record, with the owner of its session (to tell whether a `running`
    /// record still has a process behind it).
    pub fn execution(&self, id: &str) -> Result<(Execution, Owner)> {
        each!(self, s => s.execution(id))
    }

    /// A session's executions, newest first, with the session's owner.
    pub fn executions(&self, session_id: &str, limit: u32) -> Result<(Vec<Execution>, Owner)> {
        each!(self, s => s.executions(session_id, limit))
    }

    pub fn events(&self, execution_id: &str, after_seq: u64) -> Result<Vec<Event>> {
        each!(self, s => s.events(execution_id, after_seq))
    }

    /// Ends the records a vanished process left behind: its session (if still live) becomes
    /// `closed` with `session_error`, and its `running` executions end `error` with
    /// `execution_error`, in one transaction. Their events stay as stored.
    pub fn mark_lost(
        &self,
        session_id: &str,
        session_error: &str,
        execution_error: &str,
        now: &str,
    ) -> Result<()> {
        each!(self, s => s.mark_lost(session_id, session_error, execution_error, now))
    }
}

/// The stored number of an event type (see SQLite schema migration 2).
pub(super) fn event_type_code(t: EventType) -> i64 {
    match t {
        EventType::InputEcho => 1,
        EventType::Console => 2,
        EventType::Value => 3,
        EventType::Exception => 4,
        EventType::System => 5,
    }
}

pub(super) fn event_type_from_code(code: i64) -> Result<EventType> {
    Ok(match code {
        1 => EventType::InputEcho,
        2 => EventType::Console,
        3 => EventType::Value,
        4 => EventType::Exception,
        5 => EventType::System,
        other => {
            return Err(Error::internal(format!(
                "unknown stored event type {other}"
            )))
        }
    })
}

/// The two tables of plain names attached to a template.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NameTable {
    Modules,
    Libraries,
}

impl NameTable {
    fn table(self) -> &'static str {
        match self {
            NameTable::Modules => "template_modules",
            NameTable::Libraries => "template_libraries",
        }
    }

    fn what(self) -> &'static str {
        match self {
            NameTable::Modules => "module",
            NameTable::Libraries => "library",
        }
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("records serialise")
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| Error::internal(format!("corrupt stored JSON: {e}")))
}
