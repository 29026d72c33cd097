//! The SQLite engine. One writer connection behind a mutex, held only for the length of a
//! short transaction and never while JavaScript runs; execution records that many
//! sessions flush at once share one transaction (`group`); on a file, reads use a small
//! pool of their own connections (WAL lets them read while a commit goes on), and a
//! checkpointer thread keeps the WAL bounded.

mod group;
mod schema;
mod wal_writes;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row};
use serde_json::Value;

use self::group::{Flush, FlushText, GroupCommit, Outcome};
use super::{
    event_type_code, event_type_from_code, from_json, to_json, NameTable, Owner, PendingEvent,
};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::execution::{Execution, ExecutionKind, ExecutionStatus, Metrics};
use crate::session::{Session, SessionStatus};
use crate::template::{Capability, Settings, StartupFile, StartupMode, Template};
use crate::timestamp;

/// The SQLite storage of one `VmSystem`.
pub(crate) struct SqliteStore {
    /// Fields drop in order: the checkpointer and the readers go before the writer, whose
    /// close (the last connection) checkpoints and removes the WAL.
    _checkpointer: Option<Checkpointer>,
    readers: Option<ReadPool>,
    writer: Arc<Mutex<Connection>>,
    /// Execution flushes arriving together, committed in one transaction.
    group: GroupCommit,
}

/// Connections that only read, reused across calls. A reader never takes the writer's
/// mutex, so reads go on while a commit is written.
struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

/// Idle read connections kept for reuse (more are opened while many threads read at once).
const IDLE_READERS: usize = 4;

impl ReadPool {
    fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let idle = self.idle.lock().pop();
        let conn = match idle {
            Some(conn) => conn,
            None => {
                let conn = open_connection(&self.path)?;
                conn.busy_timeout(BUSY_TIMEOUT)?;
                conn.pragma_update(None, "query_only", true)?;
                conn.set_prepared_statement_cache_capacity(32);
                conn
            }
        };
        let out = f(&conn);
        let mut idle = self.idle.lock();
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        out
    }
}

/// How long a statement waits for another connection's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The WAL is checkpointed in the background; past this many frames (4 MiB of 1 KiB
/// pages) the checkpointer is woken at once rather than at its next turn.
const CHECKPOINT_FRAMES: i32 = 4096;

/// A restarted WAL is truncated back to this size, so one burst does not keep a large
/// file (and a large mapped index) for the life of the database.
const WAL_SIZE_LIMIT: i64 = 8 << 20;

/// How often the background checkpoint runs when nothing wakes it sooner.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(500);

/// How long the checkpointer's final pass waits for readers (holding our writers back).
const CHECKPOINT_WAIT: Duration = Duration::from_millis(200);

/// Moves the WAL into the database file from a thread of its own, so the fsyncs of a
/// checkpoint never land on an execution's commit, and keeps the WAL bounded: a passive
/// checkpoint alone never finishes while commits keep coming, so when the WAL is large
/// the thread finishes the checkpoint between two commits (holding the writer's mutex
/// for the few frames left) and the next commit starts the WAL over.
struct Checkpointer {
    signal: Arc<CheckpointSignal>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Default)]
struct CheckpointSignal {
    /// Set by the WAL hook when the WAL passed `CHECKPOINT_FRAMES`.
    wanted: AtomicBool,
    stop: Mutex<bool>,
    wake: Condvar,
}

impl CheckpointSignal {
    fn request(&self) {
        if !self.wanted.swap(true, Ordering::AcqRel) {
            let _guard = self.stop.lock();
            self.wake.notify_one();
        }
    }
}

impl Checkpointer {
    fn start(path: &Path, writer: Arc<Mutex<Connection>>) -> Result<Self> {
        let conn = open_connection(path)?;
        conn.busy_timeout(CHECKPOINT_WAIT)?;
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        let signal = Arc::new(CheckpointSignal::default());
        {
            let signal = signal.clone();
            writer
                .lock()
                .wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, frames| {
                    if frames >= CHECKPOINT_FRAMES {
                        signal.request();
                    }
                    Ok(())
                }))?;
        }
        let shared = signal.clone();
        let thread = std::thread::Builder::new()
            .name("vm-system-checkpoint".into())
            .spawn(move || {
                loop {
                    {
                        let mut stop = shared.stop.lock();
                        if !*stop && !shared.wanted.load(Ordering::Acquire) {
                            shared.wake.wait_for(&mut stop, CHECKPOINT_INTERVAL);
                        }
                        if *stop {
                            break;
                        }
                    }
                    shared.wanted.store(false, Ordering::Release);
                    checkpoint(&conn, &writer);
                }
                run_checkpoint(&conn, "PASSIVE");
            })
            .map_err(|e| Error::internal(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Checkpointer {
            signal,
            thread: Some(thread),
        })
    }
}

/// One turn of the checkpointer: a passive pass while commits go on, then, if the WAL is
/// large, a restart between two commits.
fn checkpoint(conn: &Connection, writer: &Mutex<Connection>) {
    let Some((frames, _)) = run_checkpoint(conn, "PASSIVE") else {
        return;
    };
    if frames >= CHECKPOINT_FRAMES {
        // A WAL starts over only when a commit begins while every frame is checkpointed
        // and no checkpoint runs; back-to-back commits almost never meet that. So our
        // writers wait on the mutex (no busy loop) while RESTART copies the frames
        // committed during the passive pass and waits (up to CHECKPOINT_WAIT) for readers
        // still on the old WAL: the next commit starts the file over.
        let _writer = writer.lock();
        run_checkpoint(conn, "RESTART");
    }
}

/// Runs `PRAGMA wal_checkpoint(mode)`; returns the WAL's frames and those checkpointed.
/// (The pragma, unlike `sqlite3_wal_checkpoint_v2` on a fresh connection, first opens the
/// database, so it always sees the WAL.)
fn run_checkpoint(conn: &Connection, mode: &str) -> Option<(i32, i32)> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok((r.get(1)?, r.get(2)?))
    })
    .ok()
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        *self.signal.stop.lock() = true;
        self.signal.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Opens a connection on a path as a plain file name (no `file:` URIs).
/// Through the VFS that writes a commit's WAL frames with one system call (`wal_writes`).
fn open_connection(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    match wal_writes::vfs_name() {
        Some(vfs) => Connection::open_with_flags_and_vfs(path, flags, vfs),
        None => Connection::open_with_flags(path, flags),
    }
    .map_err(|e| Error::validation(format!("cannot open database {}: {e}", path.display())))
}

/// The 16 bytes every SQLite database file starts with.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Refuses, before SQLite opens it, a path whose directory is missing or a file that is
/// not an SQLite database, with a message that says which.
fn check_file(path: &Path) -> Result<()> {
    let shown = path.display();
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(Error::validation(format!(
            "cannot open database {shown}: the directory {} does not exist",
            parent.display()
        )));
    }
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(Error::validation(format!(
                "cannot open database {shown}: {e}"
            )))
        }
    };
    let meta = file
        .metadata()
        .map_err(|e| Error::validation(format!("cannot open database {shown}: {e}")))?;
    if meta.is_dir() {
        return Err(Error::validation(format!(
            "cannot open database {shown}: it is a directory"
        )));
    }
    if meta.len() == 0 {
        return Ok(());
    }
    let mut head = [0u8; 16];
    let read = std::io::Read::read(&mut file, &mut head).unwrap_or(0);
    if read < head.len() || &head != SQLITE_MAGIC {
        return Err(Error::validation(format!(
            "{shown} is not a vm-system database: it is not an SQLite database file ({} bytes \
             of something else); it was left unchanged; choose another path",
            meta.len()
        )));
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (or creates) a database file. A file that is not ours, or is of a newer schema,
    /// is refused before anything is written to it.
    pub fn open(path: &Path) -> Result<Self> {
        check_file(path)?;
        let conn = open_connection(path)?;
        schema::identify(&conn, &path.display().to_string())?;
        let writer = Arc::new(Mutex::new(Self::configure(conn, true)?));
        let checkpointer = Checkpointer::start(path, writer.clone())?;
        Ok(SqliteStore {
            _checkpointer: Some(checkpointer),
            readers: Some(ReadPool {
                path: path.to_path_buf(),
                idle: Mutex::new(Vec::new()),
            }),
            writer,
            group: GroupCommit::default(),
        })
    }

    pub fn open_in_memory() -> Result<Self> {
        let conn = Self::configure(Connection::open_in_memory()?, false)?;
        Ok(SqliteStore {
            _checkpointer: None,
            readers: None,
            writer: Arc::new(Mutex::new(conn)),
            group: GroupCommit::default(),
        })
    }

    fn configure(mut conn: Connection, file: bool) -> Result<Connection> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
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
            conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        }
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.set_prepared_statement_cache_capacity(64);
        schema::migrate(&mut conn)?;
        Ok(conn)
    }

    /// Runs `f` in one immediate transaction.
    fn write<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.writer.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs `f` on a read connection of the pool (on the writer for an in-memory database).
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        match &self.readers {
            Some(pool) => pool.with(f),
            None => f(&self.writer.lock()),
        }
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

    /// Stores new events and the execution's current record in one transaction. The row is
    /// inserted on the first flush (`key` is `None`; it becomes the row's integer key) and
    /// updated after. Text is made before any lock is taken, so the time other sessions'
    /// commits wait is the statements and the WAL write alone; flushes of other sessions
    /// arriving meanwhile share the transaction (see `group`).
    pub fn flush_execution(
        &self,
        exec: &Execution,
        key: &mut Option<i64>,
        events: &[PendingEvent],
    ) -> Result<()> {
        let text = FlushText {
            result: exec.result.as_ref().map(Value::to_string),
            metrics: to_json(&exec.metrics),
            first: match key {
                None => Some((exec.args.to_string(), exec.env.to_string())),
                Some(_) => None,
            },
        };
        let flush = Flush {
            exec,
            key: *key,
            events,
            text: &text,
        };
        let n = self
            .group
            .commit(flush, |batch| commit_batch(&self.writer.lock(), batch))?;
        *key = Some(n);
        Ok(())
    }

    /// An execution record, with the owner of its session (to tell whether a `running`
    /// record still has a process behind it).
    pub fn execution(&self, id: &str) -> Result<(Execution, Owner)> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {EXECUTION_COLUMNS}, s.owner_pid, s.owner_started, s.owner_instance
                 FROM executions e JOIN sessions s ON s.id = e.session_id WHERE e.id = ?1"
            ))?
            .query_row([id], |r| {
                let exec = execution_row(r)?;
                let owner = owner_at(r, 13)?;
                Ok(exec.map(|e| (e, owner)))
            })
            .optional()?
            .ok_or_else(|| Error::ExecutionNotFound(id.to_string()))?
        })
    }

    /// A session's executions, newest first, with the session's owner.
    pub fn executions(&self, session_id: &str, limit: u32) -> Result<(Vec<Execution>, Owner)> {
        self.read(|c| {
            let owner = c
                .prepare_cached(
                    "SELECT owner_pid, owner_started, owner_instance FROM sessions WHERE id = ?1",
                )?
                .query_row([session_id], |r| owner_at(r, 0))
                .optional()?
                .ok_or_else(|| Error::SessionNotFound(session_id.to_string()))?;
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {EXECUTION_COLUMNS} FROM executions e WHERE e.session_id = ?1 ORDER BY e.n DESC LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![session_id, limit], execution_row)?;
            let executions = rows.map(|r| r?).collect::<Result<Vec<_>>>()?;
            Ok((executions, owner))
        })
    }

    pub fn events(&self, execution_id: &str, after_seq: u64) -> Result<Vec<Event>> {
        self.read(|c| {
            let n: i64 = c
                .prepare_cached("SELECT n FROM executions WHERE id = ?1")?
                .query_row([execution_id], |r| r.get(0))
                .optional()?
                .ok_or_else(|| Error::ExecutionNotFound(execution_id.to_string()))?;
            let mut stmt = c.prepare_cached(
                "SELECT seq, ts, type, payload FROM events WHERE execution = ?1 AND seq > ?2 ORDER BY seq",
            )?;
            let mut rows = stmt.query(params![n, after_seq.min(i64::MAX as u64) as i64])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let payload = r.get_ref(3)?.as_str().map_err(rusqlite::Error::from)?;
                out.push(Event {
                    execution_id: execution_id.to_string(),
                    seq: r.get::<_, i64>(0)? as u64,
                    ts: timestamp::format_millis(r.get(1)?),
                    event_type: event_type_from_code(r.get(2)?)?,
                    payload: from_json(payload)?,
                });
            }
            Ok(out)
        })
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
        self.write(|tx| {
            tx.execute(
                "UPDATE sessions SET status = 'closed', last_error = COALESCE(last_error, ?2), closed_at = COALESCE(closed_at, ?3)
                 WHERE id = ?1 AND status IN ('starting', 'ready')",
                params![session_id, session_error, now],
            )?;
            tx.execute(
                "UPDATE executions SET status = 'error', error = ?2, ended_at = COALESCE(ended_at, ?3)
                 WHERE session_id = ?1 AND status = 'running'",
                params![session_id, execution_error, now],
            )?;
            Ok(())
        })
    }
}

/// Commits a batch of flushes in one immediate transaction and gives each its outcome. If
/// anything fails, the whole transaction is rolled back and each flush is redone alone, so
/// an error reaches only the flushes it belongs to.
fn commit_batch(conn: &Connection, batch: &[Flush<'_>]) -> Vec<Outcome> {
    if let [only] = batch {
        return vec![transaction(conn, |c| apply_flush(c, only))];
    }
    let together = transaction(conn, |c| {
        batch
            .iter()
            .map(|flush| apply_flush(c, flush))
            .collect::<Result<Vec<i64>>>()
    });
    match together {
        Ok(keys) => keys.into_iter().map(Ok).collect(),
        Err(_) => batch
            .iter()
            .map(|flush| transaction(conn, |c| apply_flush(c, flush)))
            .collect(),
    }
}

/// Runs `f` in one immediate transaction whose BEGIN and COMMIT statements are cached (the
/// path every execution takes), rolled back if anything fails.
fn transaction<T>(conn: &Connection, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    match f(conn).and_then(|out| {
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

/// The statements of one flush: the record inserted (first flush) or updated, then the
/// events. Returns the record's integer key.
fn apply_flush(tx: &Connection, flush: &Flush<'_>) -> Result<i64> {
    let (exec, text) = (flush.exec, flush.text);
    let n = match (flush.key, &text.first) {
        (Some(n), _) => {
            tx.prepare_cached(
                "UPDATE executions SET status = ?2, ended_at = ?3, result = ?4, error = ?5, metrics = ?6 WHERE n = ?1",
            )?
            .execute(params![n, exec.status.as_str(), exec.ended_at, text.result, exec.error, text.metrics])?;
            n
        }
        (None, Some((args, env))) => {
            tx.prepare_cached(
                "INSERT INTO executions (id, session_id, kind, input, path, args, env, status, started_at,
                    ended_at, result, error, metrics) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?
            .execute(params![
                exec.id, exec.session_id, exec.kind.as_str(), exec.input, exec.path,
                args, env, exec.status.as_str(), exec.started_at,
                exec.ended_at, text.result, exec.error, text.metrics
            ])?;
            tx.last_insert_rowid()
        }
        (None, None) => {
            return Err(Error::internal(
                "the first flush of an execution came without its args",
            ))
        }
    };
    // Many rows per statement: a console flood commits thousands of events at once.
    let events = flush.events;
    let mut chunks = events.chunks_exact(EVENT_BATCH);
    if events.len() >= EVENT_BATCH {
        let mut insert = tx.prepare_cached(&insert_events_sql(EVENT_BATCH))?;
        for chunk in chunks.by_ref() {
            bind_events(&mut insert, n, chunk)?;
            insert.raw_execute()?;
        }
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut insert = tx.prepare_cached(&insert_events_sql(1))?;
        for event in rest {
            bind_events(&mut insert, n, std::slice::from_ref(event))?;
            insert.raw_execute()?;
        }
    }
    Ok(n)
}

/// Events inserted by one statement when many are pending.
const EVENT_BATCH: usize = 32;

fn insert_events_sql(rows: usize) -> String {
    let values = vec!["(?, ?, ?, ?, ?)"; rows].join(", ");
    format!("INSERT INTO events (execution, seq, ts, type, payload) VALUES {values}")
}

fn bind_events(
    stmt: &mut rusqlite::CachedStatement<'_>,
    execution: i64,
    events: &[PendingEvent],
) -> Result<()> {
    for (i, e) in events.iter().enumerate() {
        let at = i * 5;
        stmt.raw_bind_parameter(at + 1, execution)?;
        stmt.raw_bind_parameter(at + 2, e.seq as i64)?;
        stmt.raw_bind_parameter(at + 3, e.ts_ms)?;
        stmt.raw_bind_parameter(at + 4, event_type_code(e.event_type))?;
        stmt.raw_bind_parameter(at + 5, &e.payload)?;
    }
    Ok(())
}

const SESSION_COLUMNS: &str =
    "id, template_id, workspace_id, base_commit_oid, worktree_path, status, created_at, \
     closed_at, last_error, owner_pid, owner_started, owner_instance";

const EXECUTION_COLUMNS: &str = "e.id, e.session_id, e.kind, e.input, e.path, e.args, e.env, \
     e.status, e.started_at, e.ended_at, e.result, e.error, e.metrics";

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
            daemon_id: r.get(11)?,
        },
        owner_at(r, 9)?,
    )))
}

/// The owner columns (pid, start time, instance) starting at column `at`.
fn owner_at(r: &Row<'_>, at: usize) -> rusqlite::Result<Owner> {
    Ok(Owner {
        pid: r.get(at)?,
        started: r.get::<_, i64>(at + 1)? as u64,
        instance: r.get(at + 2)?,
    })
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

#[cfg(test)]
mod tests;
