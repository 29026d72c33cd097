//! SQLite storage: one connection behind a mutex, held only for the length of a statement
//! or a short transaction, never while JavaScript runs.

mod schema;

use std::path::Path;
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::event::{Event, EventType};
use crate::execution::{Execution, ExecutionKind, ExecutionStatus, Metrics};
use crate::session::{Session, SessionStatus};
use crate::template::{Capability, Settings, StartupFile, StartupMode, Template};

/// Which process and instance holds a session's runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owner {
    pub pid: u32,
    /// Start time of that process (clock ticks since boot), to tell a reused pid apart.
    pub started: u64,
    /// The `VmSystem` instance inside that process.
    pub instance: String,
}

/// The storage of one `VmSystem`.
pub(crate) struct Store {
    conn: Mutex<Connection>,
    _checkpointer: Option<Checkpointer>,
}

/// Moves the WAL into the database file from a thread of its own, so the fsyncs of a
/// checkpoint never land on an execution's commit.
struct Checkpointer {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How often the background checkpoint runs.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(500);

impl Checkpointer {
    fn start(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("vm-system-checkpoint".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(CHECKPOINT_INTERVAL)
                {
                    // PASSIVE never blocks writers; a busy database simply waits for the next turn.
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
                let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            })
            .map_err(|e| Error::internal(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Store {
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path).map_err(|e| {
            Error::validation(format!("cannot open database {}: {e}", path.display()))
        })?;
        let mut store = Self::configure(conn, true)?;
        store._checkpointer = Some(Checkpointer::start(path)?);
        Ok(store)
    }

    pub fn open_in_memory() -> Result<Self> {
        Self::configure(Connection::open_in_memory()?, false)
    }

    fn configure(mut conn: Connection, file: bool) -> Result<Self> {
        conn.busy_timeout(Duration::from_secs(10))?;
        if file {
            // Small pages: a short execution's commit writes a few pages to the WAL, and
            // copying and checksumming 4 KiB pages was a large part of it. Takes effect only
            // when the database is created.
            conn.pragma_update(None, "page_size", 1024)?;
            let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(Error::internal(format!(
                    "could not enable WAL (mode {mode})"
                )));
            }
            // WAL makes NORMAL durable against application crashes; only power loss can
            // drop the last transactions.
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            // Checkpoints run on the checkpointer thread instead of inside commits.
            conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        }
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.set_prepared_statement_cache_capacity(64);
        schema::migrate(&mut conn)?;
        Ok(Store {
            conn: Mutex::new(conn),
            _checkpointer: None,
        })
    }

    /// Runs `f` in one immediate transaction.
    fn write<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        f(&self.conn.lock())
    }

    // ---- templates ----

    pub fn insert_template(&self, t: &Template, settings: &Settings) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO templates (id, name, engine, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![t.id, t.name, t.engine, t.created_at, t.updated_at],
            )?;
            tx.execute(
                "INSERT INTO template_settings (template_id, limits, resolver, runtime) VALUES (?1, ?2, ?3, ?4)",
                params![t.id, to_json(&settings.limits), to_json(&settings.resolver), to_json(&settings.runtime)],
            )?;
            Ok(())
        })
    }

    pub fn template(&self, id: &str) -> Result<Template> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT id, name, engine, created_at, updated_at FROM templates WHERE id = ?1",
            )?
            .query_row([id], template_row)
            .optional()?
            .ok_or_else(|| Error::TemplateNotFound(id.to_string()))
        })
    }

    pub fn list_templates(&self) -> Result<Vec<Template>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, name, engine, created_at, updated_at FROM templates ORDER BY created_at, rowid",
            )?;
            let rows = stmt.query_map([], template_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    pub fn delete_template(&self, id: &str) -> Result<()> {
        let n = self.write(|tx| Ok(tx.execute("DELETE FROM templates WHERE id = ?1", [id])?))?;
        if n == 0 {
            return Err(Error::TemplateNotFound(id.to_string()));
        }
        Ok(())
    }

    pub fn settings(&self, id: &str) -> Result<Settings> {
        self.read(|c| read_settings(c, id))
    }

    /// Applies `change` to the stored settings inside one transaction, so concurrent
    /// partial updates never lose each other's fields.
    pub fn update_settings(
        &self,
        id: &str,
        now: &str,
        change: impl FnOnce(&mut Settings) -> Result<()>,
    ) -> Result<Settings> {
        self.write(|tx| {
            let mut settings = read_settings(tx, id)?;
            change(&mut settings)?;
            tx.execute(
                "UPDATE template_settings SET limits = ?2, resolver = ?3, runtime = ?4 WHERE template_id = ?1",
                params![id, to_json(&settings.limits), to_json(&settings.resolver), to_json(&settings.runtime)],
            )?;
            touch(tx, id, now)?;
            Ok(settings)
        })
    }

    pub fn add_startup_file(&self, id: &str, file: &StartupFile, now: &str) -> Result<()> {
        self.write(|tx| {
            ensure_template(tx, id)?;
            let n = tx.execute(
                "INSERT INTO template_startup_files (template_id, path, order_index, mode) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (template_id, path) DO NOTHING",
                params![id, file.path, file.order_index, file.mode.as_str()],
            )?;
            if n == 0 {
                return Err(Error::validation(format!(
                    "startup file {:?} is already in the template; remove it first to change it",
                    file.path
                )));
            }
            touch(tx, id, now)
        })
    }

    pub fn startup_files(&self, id: &str) -> Result<Vec<StartupFile>> {
        self.read(|c| {
            ensure_template(c, id)?;
            let mut stmt = c.prepare_cached(
                "SELECT path, order_index, mode FROM template_startup_files WHERE template_id = ?1 ORDER BY order_index, id",
            )?;
            let rows = stmt.query_map([id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?))
            })?;
            rows.map(|row| {
                let (path, order_index, mode) = row?;
                Ok(StartupFile { path, order_index, mode: StartupMode::parse(&mode)? })
            })
            .collect()
        })
    }

    pub fn remove_startup_file(&self, id: &str, path: &str, now: &str) -> Result<()> {
        self.remove_child(
            id,
            now,
            "template_startup_files",
            "path",
            path,
            "startup file",
        )
    }

    pub fn add_capability(&self, id: &str, cap: &Capability, now: &str) -> Result<()> {
        self.write(|tx| {
            ensure_template(tx, id)?;
            tx.execute(
                "INSERT INTO template_capabilities (template_id, kind, name, enabled, config) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (template_id, kind, name) DO UPDATE SET enabled = excluded.enabled, config = excluded.config",
                params![id, cap.kind, cap.name, cap.enabled, cap.config.to_string()],
            )?;
            touch(tx, id, now)
        })
    }

    pub fn capabilities(&self, id: &str) -> Result<Vec<Capability>> {
        self.read(|c| {
            ensure_template(c, id)?;
            let mut stmt = c.prepare_cached(
                "SELECT kind, name, enabled, config FROM template_capabilities WHERE template_id = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, bool>(2)?, r.get::<_, String>(3)?))
            })?;
            rows.map(|row| {
                let (kind, name, enabled, config) = row?;
                Ok(Capability { kind, name, enabled, config: from_json(&config)? })
            })
            .collect()
        })
    }

    /// Adds a name to `template_modules` or `template_libraries`; adding twice is a no-op.
    pub fn add_name(&self, table: NameTable, id: &str, name: &str, now: &str) -> Result<()> {
        self.write(|tx| {
            ensure_template(tx, id)?;
            tx.execute(
                &format!(
                    "INSERT OR IGNORE INTO {} (template_id, name) VALUES (?1, ?2)",
                    table.table()
                ),
                params![id, name],
            )?;
            touch(tx, id, now)
        })
    }

    pub fn remove_name(&self, table: NameTable, id: &str, name: &str, now: &str) -> Result<()> {
        self.remove_child(id, now, table.table(), "name", name, table.what())
    }

    pub fn names(&self, table: NameTable, id: &str) -> Result<Vec<String>> {
        self.read(|c| {
            ensure_template(c, id)?;
            let mut stmt = c.prepare_cached(&format!(
                "SELECT name FROM {} WHERE template_id = ?1 ORDER BY name",
                table.table()
            ))?;
            let rows = stmt.query_map([id], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn remove_child(
        &self,
        id: &str,
        now: &str,
        table: &str,
        column: &str,
        value: &str,
        what: &str,
    ) -> Result<()> {
        self.write(|tx| {
            ensure_template(tx, id)?;
            let n = tx.execute(
                &format!("DELETE FROM {table} WHERE template_id = ?1 AND {column} = ?2"),
                params![id, value],
            )?;
            if n == 0 {
                return Err(Error::validation(format!(
                    "{what} {value:?} is not in template {id}"
                )));
            }
            touch(tx, id, now)
        })
    }

    // ---- sessions ----

    pub fn insert_session(&self, s: &Session, owner: &Owner) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO sessions (id, template_id, workspace_id, base_commit_oid, worktree_path, status,
                    created_at, closed_at, last_error, owner_pid, owner_started, owner_instance)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    s.id, s.template_id, s.workspace_id, s.base_commit_oid, s.worktree_path,
                    s.status.as_str(), s.created_at, s.closed_at, s.last_error,
                    owner.pid, owner.started as i64, owner.instance
                ],
            )?;
            Ok(())
        })
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
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE sessions SET status = ?2, last_error = COALESCE(?3, last_error), closed_at = COALESCE(?4, closed_at)
                 WHERE id = ?1 AND status IN ('starting', 'ready')",
                params![id, status.as_str(), last_error, closed_at],
            )?;
            Ok(n > 0)
        })
    }

    pub fn session(&self, id: &str) -> Result<(Session, Owner)> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"
            ))?
            .query_row([id], session_row)
            .optional()?
            .ok_or_else(|| Error::SessionNotFound(id.to_string()))?
        })
    }

    pub fn sessions(&self, status: Option<SessionStatus>) -> Result<Vec<(Session, Owner)>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE ?1 IS NULL OR status = ?1 ORDER BY created_at, rowid"
            ))?;
            let rows = stmt.query_map([status.map(|s| s.as_str())], session_row)?;
            rows.map(|r| r?).collect()
        })
    }

    // ---- executions and events ----

    /// Runs `f` in one immediate transaction whose BEGIN and COMMIT statements are cached:
    /// the path every execution takes.
    fn write_hot<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.conn.lock();
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        match f(&conn).and_then(|out| {
            conn.prepare_cached("COMMIT")?.execute([])?;
            Ok(out)
        }) {
            Ok(out) => Ok(out),
            Err(e) => {
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
                Err(e)
            }
        }
    }

    /// Stores new events and the execution's current record in one transaction. The row is
    /// inserted on the first flush and updated after. Each event comes with its payload's
    /// JSON text, already made when the event was recorded.
    pub fn flush_execution(
        &self,
        exec: &Execution,
        first: bool,
        events: &[(Event, String)],
    ) -> Result<()> {
        self.write_hot(|tx| {
            let result = exec.result.as_ref().map(Value::to_string);
            let metrics = to_json(&exec.metrics);
            if first {
                tx.prepare_cached(
                    "INSERT INTO executions (id, session_id, kind, input, path, args, env, status, started_at,
                        ended_at, result, error, metrics) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                )?
                .execute(params![
                    exec.id, exec.session_id, exec.kind.as_str(), exec.input, exec.path,
                    exec.args.to_string(), exec.env.to_string(), exec.status.as_str(), exec.started_at,
                    exec.ended_at, result, exec.error, metrics
                ])?;
            } else {
                tx.prepare_cached(
                    "UPDATE executions SET status = ?2, ended_at = ?3, result = ?4, error = ?5, metrics = ?6 WHERE id = ?1",
                )?
                .execute(params![exec.id, exec.status.as_str(), exec.ended_at, result, exec.error, metrics])?;
            }
            // Many rows per statement: a console flood commits thousands of events at once.
            let mut chunks = events.chunks_exact(EVENT_BATCH);
            if events.len() >= EVENT_BATCH {
                let mut insert = tx.prepare_cached(&insert_events_sql(EVENT_BATCH))?;
                for chunk in chunks.by_ref() {
                    bind_events(&mut insert, chunk)?;
                    insert.raw_execute()?;
                }
            }
            let rest = chunks.remainder();
            if !rest.is_empty() {
                let mut insert = tx.prepare_cached(&insert_events_sql(1))?;
                for event in rest {
                    bind_events(&mut insert, std::slice::from_ref(event))?;
                    insert.raw_execute()?;
                }
            }
            Ok(())
        })
    }

    pub fn execution(&self, id: &str) -> Result<Execution> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {EXECUTION_COLUMNS} FROM executions WHERE id = ?1"
            ))?
            .query_row([id], execution_row)
            .optional()?
            .ok_or_else(|| Error::ExecutionNotFound(id.to_string()))?
        })
    }

    pub fn executions(&self, session_id: &str, limit: u32) -> Result<Vec<Execution>> {
        self.read(|c| {
            let exists: bool = c
                .prepare_cached("SELECT 1 FROM sessions WHERE id = ?1")?
                .exists([session_id])?;
            if !exists {
                return Err(Error::SessionNotFound(session_id.to_string()));
            }
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {EXECUTION_COLUMNS} FROM executions WHERE session_id = ?1 ORDER BY rowid DESC LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![session_id, limit], execution_row)?;
            rows.map(|r| r?).collect()
        })
    }

    pub fn events(&self, execution_id: &str, after_seq: u64) -> Result<Vec<Event>> {
        self.read(|c| {
            let exists = c
                .prepare_cached("SELECT 1 FROM executions WHERE id = ?1")?
                .exists([execution_id])?;
            if !exists {
                return Err(Error::ExecutionNotFound(execution_id.to_string()));
            }
            let mut stmt = c.prepare_cached(
                "SELECT execution_id, seq, ts, type, payload FROM events WHERE execution_id = ?1 AND seq > ?2 ORDER BY seq",
            )?;
            let rows = stmt.query_map(params![execution_id, after_seq.min(i64::MAX as u64) as i64], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, String>(4)?))
            })?;
            rows.map(|row| {
                let (execution_id, seq, ts, kind, payload) = row?;
                Ok(Event {
                    execution_id,
                    seq: seq as u64,
                    ts,
                    event_type: EventType::parse(&kind)?,
                    payload: from_json(&payload)?,
                })
            })
            .collect()
        })
    }
}

/// Events inserted by one statement when many are pending.
const EVENT_BATCH: usize = 32;

fn insert_events_sql(rows: usize) -> String {
    let values = vec!["(?, ?, ?, ?, ?)"; rows].join(", ");
    format!("INSERT INTO events (execution_id, seq, ts, type, payload) VALUES {values}")
}

fn bind_events(stmt: &mut rusqlite::CachedStatement<'_>, events: &[(Event, String)]) -> Result<()> {
    for (i, (e, payload)) in events.iter().enumerate() {
        let at = i * 5;
        stmt.raw_bind_parameter(at + 1, &e.execution_id)?;
        stmt.raw_bind_parameter(at + 2, e.seq as i64)?;
        stmt.raw_bind_parameter(at + 3, &e.ts)?;
        stmt.raw_bind_parameter(at + 4, e.event_type.as_str())?;
        stmt.raw_bind_parameter(at + 5, payload)?;
    }
    Ok(())
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

const SESSION_COLUMNS: &str =
    "id, template_id, workspace_id, base_commit_oid, worktree_path, status, created_at, \
     closed_at, last_error, owner_pid, owner_started, owner_instance";

const EXECUTION_COLUMNS: &str =
    "id, session_id, kind, input, path, args, env, status, started_at, ended_at, result, error, metrics";

fn template_row(r: &Row<'_>) -> rusqlite::Result<Template> {
    Ok(Template {
        id: r.get(0)?,
        name: r.get(1)?,
        engine: r.get(2)?,
        created_at: r.get(3)?,
        updated_at: r.get(4)?,
    })
}

fn session_row(r: &Row<'_>) -> rusqlite::Result<Result<(Session, Owner)>> {
    let status: String = r.get(5)?;
    let status = match SessionStatus::parse(&status) {
        Ok(s) => s,
        Err(_) => {
            return Ok(Err(Error::internal(format!(
                "unknown stored session status {status:?}"
            ))))
        }
    };
    Ok(Ok((
        Session {
            id: r.get(0)?,
            template_id: r.get(1)?,
            workspace_id: r.get(2)?,
            base_commit_oid: r.get(3)?,
            worktree_path: r.get(4)?,
            status,
            created_at: r.get(6)?,
            closed_at: r.get(7)?,
            last_error: r.get(8)?,
        },
        Owner {
            pid: r.get(9)?,
            started: r.get::<_, i64>(10)? as u64,
            instance: r.get(11)?,
        },
    )))
}

fn execution_row(r: &Row<'_>) -> rusqlite::Result<Result<Execution>> {
    let raw = (
        r.get::<_, String>(2)?,
        r.get::<_, String>(5)?,
        r.get::<_, String>(6)?,
        r.get::<_, String>(7)?,
        r.get::<_, Option<String>>(10)?,
        r.get::<_, String>(12)?,
    );
    let build = || -> Result<Execution> {
        Ok(Execution {
            id: r.get(0)?,
            session_id: r.get(1)?,
            kind: ExecutionKind::parse(&raw.0)?,
            input: r.get(3)?,
            path: r.get(4)?,
            args: from_json(&raw.1)?,
            env: from_json(&raw.2)?,
            status: ExecutionStatus::parse(&raw.3)?,
            started_at: r.get(8)?,
            ended_at: r.get(9)?,
            result: raw.4.as_deref().map(from_json).transpose()?,
            error: r.get(11)?,
            metrics: from_json::<Metrics>(&raw.5)?,
        })
    };
    Ok(build())
}

fn read_settings(c: &Connection, id: &str) -> Result<Settings> {
    let (limits, resolver, runtime) = c
        .prepare_cached(
            "SELECT limits, resolver, runtime FROM template_settings WHERE template_id = ?1",
        )?
        .query_row([id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .optional()?
        .ok_or_else(|| Error::TemplateNotFound(id.to_string()))?;
    Ok(Settings {
        limits: from_json(&limits)?,
        resolver: from_json(&resolver)?,
        runtime: from_json(&runtime)?,
    })
}

fn ensure_template(c: &Connection, id: &str) -> Result<()> {
    let exists = c
        .prepare_cached("SELECT 1 FROM templates WHERE id = ?1")?
        .exists([id])?;
    if exists {
        Ok(())
    } else {
        Err(Error::TemplateNotFound(id.to_string()))
    }
}

fn touch(c: &Connection, id: &str, now: &str) -> Result<()> {
    c.execute(
        "UPDATE templates SET updated_at = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("records serialise")
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| Error::internal(format!("corrupt stored JSON: {e}")))
}
