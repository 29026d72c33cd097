//! The PostgreSQL engine: the same records as the SQLite engine in a database shared by
//! many processes on many hosts, and the membership table that says which of them are
//! alive.
//!
//! Every call takes a connection from a small pool. An execution's flush is one statement
//! (record and events together, events by arrays), so it commits in one round trip, and it
//! is idempotent: a flush retried after its commit was lost finds its events stored
//! (`ON CONFLICT DO NOTHING` on `(execution, seq)`) and its record already moved on.

mod pool;
mod schema;

use std::time::Duration;

use parking_lot::Mutex;
use postgres::Row;
use serde_json::Value;

use super::{
    event_type_code, event_type_from_code, from_json, to_json, NameTable, Owner, PendingEvent,
};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::execution::{Execution, ExecutionKind, ExecutionStatus, Metrics};
use crate::membership::DaemonInfo;
use crate::session::{Session, SessionStatus};
use crate::template::{Capability, Settings, StartupFile, StartupMode, Template};
use crate::timestamp;
use pool::{Attempt, Db, Failure, Pool};

/// What an instance registers about itself.
pub(crate) struct Registration<'a> {
    pub id: &'a str,
    pub advertise_url: Option<&'a str>,
    pub capacity: Option<u32>,
}

/// A final record (and its last events) that could not be written while the server was
/// away; written when it is back (see [`PgStore::write_deferred`]).
struct Deferred {
    exec: Execution,
    key: Option<i64>,
    events: Vec<PendingEvent>,
}

/// The PostgreSQL storage of one `VmSystem`.
pub(crate) struct PgStore {
    pool: Pool,
    /// Ended executions whose final write failed, oldest first.
    deferred: Mutex<Vec<Deferred>>,
}

const SESSION_COLUMNS: &str =
    "id, template_id, workspace_id, base_commit_oid, worktree_path, status, created_at, \
     closed_at, last_error, owner_pid, owner_started, owner_instance";

/// Concatenates string literals and `&'static str` constants into one `&'static str`,
/// made once (statements are cached by their text).
macro_rules! const_format {
    ($($part:expr),+ $(,)?) => {{
        static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        TEXT.get_or_init(|| [$($part),+].concat()).as_str()
    }};
}

impl PgStore {
    /// Connects and brings the schema to the current version. `url` is shown in messages
    /// without its password.
    pub fn open(url: &str) -> Result<Self> {
        let pool = Pool::new(url)?;
        let shown = without_password(url);
        pool.run(|conn| conn.transaction(|db| schema::migrate(db, &shown)))
            .map_err(|e| match e {
                Error::StoreUnavailable(m) => {
                    Error::StoreUnavailable(format!("cannot open {shown}: {m}"))
                }
                other => other,
            })?;
        Ok(PgStore {
            pool,
            deferred: Mutex::new(Vec::new()),
        })
    }

    fn read<T>(&self, mut f: impl FnMut(&mut Db<'_, postgres::Client>) -> Attempt<T>) -> Result<T> {
        self.pool.run(|conn| conn.auto(&mut f))
    }

    fn write<T>(
        &self,
        mut f: impl FnMut(&mut Db<'_, postgres::Transaction<'_>>) -> Attempt<T>,
    ) -> Result<T> {
        self.pool.run(|conn| conn.transaction(&mut f))
    }

    // ---- templates ----

    pub fn insert_template(&self, t: &Template, settings: &Settings) -> Result<()> {
        let (limits, resolver, runtime) = (
            to_json(&settings.limits),
            to_json(&settings.resolver),
            to_json(&settings.runtime),
        );
        self.write(|db| {
            // A retry after a lost commit finds its row: nothing more to do.
            let n = db.execute(
                "INSERT INTO templates (id, name, engine, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (id) DO NOTHING",
                &[&t.id, &t.name, &t.engine, &t.created_at, &t.updated_at],
            )?;
            if n > 0 {
                db.execute(
                    "INSERT INTO template_settings (template_id, limits, resolver, runtime) VALUES ($1, $2, $3, $4)",
                    &[&t.id, &limits, &resolver, &runtime],
                )?;
            }
            Ok(())
        })
    }

    pub fn template(&self, id: &str) -> Result<Template> {
        self.read(|db| {
            db.query_opt(
                "SELECT id, name, engine, created_at, updated_at FROM templates WHERE id = $1",
                &[&id],
            )?
            .map(|r| template_row(&r))
            .ok_or_else(|| Error::TemplateNotFound(id.to_string()).into())
        })
    }

    pub fn list_templates(&self) -> Result<Vec<Template>> {
        self.read(|db| {
            Ok(db
                .query(
                    "SELECT id, name, engine, created_at, updated_at FROM templates ORDER BY created_at, n",
                    &[],
                )?
                .iter()
                .map(template_row)
                .collect())
        })
    }

    pub fn delete_template(&self, id: &str) -> Result<()> {
        let n = self.write(|db| Ok(db.execute("DELETE FROM templates WHERE id = $1", &[&id])?))?;
        if n == 0 {
            return Err(Error::TemplateNotFound(id.to_string()));
        }
        Ok(())
    }

    pub fn settings(&self, id: &str) -> Result<Settings> {
        self.read(|db| read_settings(db, id))
    }

    pub fn update_settings(
        &self,
        id: &str,
        now: &str,
        change: impl FnOnce(&mut Settings) -> Result<()>,
    ) -> Result<Settings> {
        // Retried on a new connection only until `change` has run once: after that the
        // caller is told the store went away.
        let mut change = Some(change);
        self.write(|db| {
            let mut settings = read_settings(db, id)?;
            let Some(change) = change.take() else {
                return Err(Error::StoreUnavailable(
                    "PostgreSQL went away while the settings were updated; retry".into(),
                )
                .into());
            };
            change(&mut settings)?;
            db.execute(
                "UPDATE template_settings SET limits = $2, resolver = $3, runtime = $4 WHERE template_id = $1",
                &[
                    &id,
                    &to_json(&settings.limits),
                    &to_json(&settings.resolver),
                    &to_json(&settings.runtime),
                ],
            )?;
            touch(db, id, now)?;
            Ok(settings)
        })
    }

    pub fn add_startup_file(&self, id: &str, file: &StartupFile, now: &str) -> Result<()> {
        self.write(|db| {
            ensure_template(db, id)?;
            let n = db.execute(
                "INSERT INTO template_startup_files (template_id, path, order_index, mode) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (template_id, path) DO NOTHING",
                &[&id, &file.path, &file.order_index, &file.mode.as_str()],
            )?;
            if n == 0 {
                return Err(Error::validation(format!(
                    "startup file {:?} is already in the template; remove it first to change it",
                    file.path
                ))
                .into());
            }
            touch(db, id, now)
        })
    }

    pub fn startup_files(&self, id: &str) -> Result<Vec<StartupFile>> {
        self.read(|db| {
            ensure_template(db, id)?;
            let rows = db.query(
                "SELECT path, order_index, mode FROM template_startup_files WHERE template_id = $1 ORDER BY order_index, id",
                &[&id],
            )?;
            rows.iter()
                .map(|r| {
                    Ok(StartupFile {
                        path: r.get(0),
                        order_index: r.get(1),
                        mode: StartupMode::parse(r.get(2))?,
                    })
                })
                .collect()
        })
    }

    pub fn remove_startup_file(&self, id: &str, path: &str, now: &str) -> Result<()> {
        self.write(|db| {
            ensure_template(db, id)?;
            let n = db.execute(
                "DELETE FROM template_startup_files WHERE template_id = $1 AND path = $2",
                &[&id, &path],
            )?;
            if n == 0 {
                return Err(Error::validation(format!(
                    "startup file {path:?} is not in template {id}"
                ))
                .into());
            }
            touch(db, id, now)
        })
    }

    pub fn add_capability(&self, id: &str, cap: &Capability, now: &str) -> Result<()> {
        let config = cap.config.to_string();
        self.write(|db| {
            ensure_template(db, id)?;
            db.execute(
                "INSERT INTO template_capabilities (template_id, kind, name, enabled, config) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (template_id, kind, name) DO UPDATE SET enabled = excluded.enabled, config = excluded.config",
                &[&id, &cap.kind, &cap.name, &cap.enabled, &config],
            )?;
            touch(db, id, now)
        })
    }

    pub fn capabilities(&self, id: &str) -> Result<Vec<Capability>> {
        self.read(|db| {
            ensure_template(db, id)?;
            let rows = db.query(
                "SELECT kind, name, enabled, config FROM template_capabilities WHERE template_id = $1 ORDER BY id",
                &[&id],
            )?;
            rows.iter()
                .map(|r| {
                    Ok(Capability {
                        kind: r.get(0),
                        name: r.get(1),
                        enabled: r.get(2),
                        config: from_json(r.get(3))?,
                    })
                })
                .collect()
        })
    }

    pub fn add_name(&self, table: NameTable, id: &str, name: &str, now: &str) -> Result<()> {
        let sql = match table {
            NameTable::Modules => {
                "INSERT INTO template_modules (template_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING"
            }
            NameTable::Libraries => {
                "INSERT INTO template_libraries (template_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING"
            }
        };
        self.write(|db| {
            ensure_template(db, id)?;
            db.execute(sql, &[&id, &name])?;
            touch(db, id, now)
        })
    }

    pub fn remove_name(&self, table: NameTable, id: &str, name: &str, now: &str) -> Result<()> {
        let sql = match table {
            NameTable::Modules => {
                "DELETE FROM template_modules WHERE template_id = $1 AND name = $2"
            }
            NameTable::Libraries => {
                "DELETE FROM template_libraries WHERE template_id = $1 AND name = $2"
            }
        };
        self.write(|db| {
            ensure_template(db, id)?;
            if db.execute(sql, &[&id, &name])? == 0 {
                return Err(Error::validation(format!(
                    "{} {name:?} is not in template {id}",
                    table.what()
                ))
                .into());
            }
            touch(db, id, now)
        })
    }

    pub fn names(&self, table: NameTable, id: &str) -> Result<Vec<String>> {
        // Byte order, as SQLite sorts.
        let sql = match table {
            NameTable::Modules => {
                "SELECT name FROM template_modules WHERE template_id = $1 ORDER BY name COLLATE \"C\""
            }
            NameTable::Libraries => {
                "SELECT name FROM template_libraries WHERE template_id = $1 ORDER BY name COLLATE \"C\""
            }
        };
        self.read(|db| {
            ensure_template(db, id)?;
            Ok(db.query(sql, &[&id])?.iter().map(|r| r.get(0)).collect())
        })
    }

    // ---- sessions ----

    pub fn insert_session(&self, s: &Session, owner: &Owner) -> Result<()> {
        self.write(|db| {
            db.execute(
                "INSERT INTO sessions (id, template_id, workspace_id, base_commit_oid, worktree_path, status,
                    created_at, closed_at, last_error, owner_pid, owner_started, owner_instance)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                 ON CONFLICT (id) DO NOTHING",
                &[
                    &s.id,
                    &s.template_id,
                    &s.workspace_id,
                    &s.base_commit_oid,
                    &s.worktree_path,
                    &s.status.as_str(),
                    &s.created_at,
                    &s.closed_at,
                    &s.last_error.as_deref().map(str::as_bytes),
                    &i64::from(owner.pid),
                    &(owner.started as i64),
                    &owner.instance,
                ],
            )?;
            Ok(())
        })
    }

    pub fn set_session_status(
        &self,
        id: &str,
        status: SessionStatus,
        last_error: Option<&str>,
        closed_at: Option<&str>,
    ) -> Result<bool> {
        self.write(|db| {
            let n = db.execute(
                "UPDATE sessions SET status = $2, last_error = COALESCE($3, last_error), closed_at = COALESCE($4, closed_at)
                 WHERE id = $1 AND status IN ('starting', 'ready')",
                &[&id, &status.as_str(), &last_error.map(str::as_bytes), &closed_at],
            )?;
            Ok(n > 0)
        })
    }

    pub fn session(&self, id: &str) -> Result<(Session, Owner)> {
        self.read(|db| {
            let row = db
                .query_opt(
                    const_format!("SELECT ", SESSION_COLUMNS, " FROM sessions WHERE id = $1"),
                    &[&id],
                )?
                .ok_or_else(|| Error::SessionNotFound(id.to_string()))?;
            Ok(session_row(&row)?)
        })
    }

    pub fn sessions(&self, status: Option<SessionStatus>) -> Result<Vec<(Session, Owner)>> {
        let status = status.map(|s| s.as_str());
        self.read(|db| {
            let rows = db.query(
                const_format!(
                    "SELECT ",
                    SESSION_COLUMNS,
                    " FROM sessions WHERE $1::text IS NULL OR status = $1 ORDER BY created_at, n"
                ),
                &[&status],
            )?;
            Ok(rows.iter().map(session_row).collect::<Result<_>>()?)
        })
    }

    // ---- executions and events ----

    /// Stores new events and the execution's current record in one statement. The first
    /// flush inserts the row (unless the session's owner was reaped: a fenced instance
    /// writes nothing more); later ones update it while it is still `running` (a record
    /// ended by a reaper is never written over). A final flush that cannot reach the
    /// server is kept and written once it is back.
    pub fn flush_execution(
        &self,
        exec: &Execution,
        key: &mut Option<i64>,
        events: &[PendingEvent],
    ) -> Result<()> {
        match self.try_flush(exec, *key, events, pool::RETRY_FOR) {
            Ok(n) => {
                if n.is_some() {
                    *key = n;
                }
                Ok(())
            }
            Err(Error::StoreUnavailable(message)) if exec.status != ExecutionStatus::Running => {
                let mut deferred = self.deferred.lock();
                deferred.retain(|d| d.exec.id != exec.id);
                deferred.push(Deferred {
                    exec: exec.clone(),
                    key: *key,
                    events: events.to_vec(),
                });
                Err(Error::StoreUnavailable(format!(
                    "{message}; the execution's end will be written when PostgreSQL is back"
                )))
            }
            Err(e) => Err(e),
        }
    }

    /// One flush: returns the row's key (`None` when nothing was written because the
    /// owner was reaped).
    fn try_flush(
        &self,
        exec: &Execution,
        key: Option<i64>,
        events: &[PendingEvent],
        retry_for: Duration,
    ) -> Result<Option<i64>> {
        let result = exec.result.as_ref().map(Value::to_string);
        let metrics = to_json(&exec.metrics);
        let seqs: Vec<i64> = events.iter().map(|e| e.seq as i64).collect();
        let ts: Vec<i64> = events.iter().map(|e| e.ts_ms).collect();
        let types: Vec<i16> = events
            .iter()
            .map(|e| event_type_code(e.event_type) as i16)
            .collect();
        let payloads: Vec<&str> = events.iter().map(|e| e.payload.as_str()).collect();
        let status = exec.status.as_str();
        let (input, error) = (text_bytes(&exec.input), text_bytes(&exec.error));
        match key {
            Some(n) => self.pool.run_for(retry_for, |conn| conn.auto(|db| {
                let row = db.query_opt(
                    "WITH ex AS (
                        UPDATE executions SET status = $2, ended_at = $3, result = $4, error = $5, metrics = $6
                        WHERE n = $1 AND status = 'running' RETURNING n
                    ), ev AS (
                        INSERT INTO events (execution, seq, ts, type, payload)
                        SELECT ex.n, u.seq, u.ts, u.type, u.payload
                        FROM ex, unnest($7::bigint[], $8::bigint[], $9::smallint[], $10::text[]) AS u(seq, ts, type, payload)
                        ON CONFLICT (execution, seq) DO NOTHING
                    )
                    SELECT n FROM ex",
                    &[&n, &status, &exec.ended_at, &result, &error, &metrics, &seqs, &ts, &types, &payloads],
                )?;
                // No row: the record had already ended (a reaper ended it, or this is a
                // retry of a flush that committed); its key stays.
                Ok(Some(row.map_or(n, |r| r.get(0))))
            })),
            None => {
                let (args, env) = (exec.args.to_string(), exec.env.to_string());
                self.pool.run_for(retry_for, |conn| conn.auto(|db| {
                    let row = db.query_opt(
                        "WITH ex AS (
                            INSERT INTO executions (id, session_id, kind, input, path, args, env, status, started_at,
                                ended_at, result, error, metrics)
                            SELECT $1::text, $2::text, $3::text, $4::bytea, $5::text, $6::text, $7::text, $8::text,
                                $9::text, $10::text, $11::text, $12::bytea, $13::text
                            WHERE NOT EXISTS (
                                SELECT 1 FROM sessions s JOIN daemons d ON d.id = s.owner_instance
                                WHERE s.id = $2 AND d.reaped_at IS NOT NULL)
                            ON CONFLICT (id) DO UPDATE SET status = excluded.status, ended_at = excluded.ended_at,
                                result = excluded.result, error = excluded.error, metrics = excluded.metrics
                            WHERE executions.status = 'running'
                            RETURNING n
                        ), ev AS (
                            INSERT INTO events (execution, seq, ts, type, payload)
                            SELECT ex.n, u.seq, u.ts, u.type, u.payload
                            FROM ex, unnest($14::bigint[], $15::bigint[], $16::smallint[], $17::text[]) AS u(seq, ts, type, payload)
                            ON CONFLICT (execution, seq) DO NOTHING
                        )
                        SELECT n FROM ex",
                        &[
                            &exec.id, &exec.session_id, &exec.kind.as_str(), &input, &exec.path,
                            &args, &env, &status, &exec.started_at, &exec.ended_at, &result,
                            &error, &metrics, &seqs, &ts, &types, &payloads,
                        ],
                    )?;
                    if let Some(row) = row {
                        return Ok(Some(row.get(0)));
                    }
                    // Stored by an earlier attempt and ended since, or refused (owner reaped).
                    Ok(db
                        .query_opt("SELECT n FROM executions WHERE id = $1", &[&exec.id])?
                        .map(|r| r.get(0)))
                }))
            }
        }
    }

    /// Writes the final records kept while the server was away; returns how many are
    /// still waiting. Called by the heartbeat every second.
    pub fn write_deferred(&self) -> usize {
        let pending: Vec<Deferred> = std::mem::take(&mut *self.deferred.lock());
        let mut left = Vec::new();
        for d in pending {
            match self.try_flush(&d.exec, d.key, &d.events, Duration::ZERO) {
                Ok(_) => {}
                Err(Error::StoreUnavailable(_)) => left.push(d),
                // Refused for good (a bug): nothing more can be done with it.
                Err(_) => {}
            }
        }
        let mut deferred = self.deferred.lock();
        // Newer deferrals (made while this ran) stay after the older ones.
        let newer = std::mem::take(&mut *deferred);
        left.extend(newer);
        let n = left.len();
        *deferred = left;
        n
    }

    pub fn execution(&self, id: &str) -> Result<(Execution, Owner)> {
        self.read(|db| {
            let row = db
                .query_opt(
                    "SELECT e.id, e.session_id, e.kind, e.input, e.path, e.args, e.env, e.status, e.started_at,
                        e.ended_at, e.result, e.error, e.metrics, s.owner_pid, s.owner_started, s.owner_instance
                     FROM executions e JOIN sessions s ON s.id = e.session_id WHERE e.id = $1",
                    &[&id],
                )?
                .ok_or_else(|| Error::ExecutionNotFound(id.to_string()))?;
            Ok((execution_row(&row)?, owner_at(&row, 13)))
        })
    }

    pub fn executions(&self, session_id: &str, limit: u32) -> Result<(Vec<Execution>, Owner)> {
        self.read(|db| {
            let owner = db
                .query_opt(
                    "SELECT owner_pid, owner_started, owner_instance FROM sessions WHERE id = $1",
                    &[&session_id],
                )?
                .map(|r| owner_at(&r, 0))
                .ok_or_else(|| Error::SessionNotFound(session_id.to_string()))?;
            let rows = db.query(
                "SELECT e.id, e.session_id, e.kind, e.input, e.path, e.args, e.env, e.status, e.started_at,
                    e.ended_at, e.result, e.error, e.metrics
                 FROM executions e WHERE e.session_id = $1 ORDER BY e.n DESC LIMIT $2",
                &[&session_id, &i64::from(limit)],
            )?;
            let executions = rows.iter().map(execution_row).collect::<Result<Vec<_>>>()?;
            Ok((executions, owner))
        })
    }

    pub fn events(&self, execution_id: &str, after_seq: u64) -> Result<Vec<Event>> {
        let after = after_seq.min(i64::MAX as u64) as i64;
        self.read(|db| {
            let n: i64 = db
                .query_opt("SELECT n FROM executions WHERE id = $1", &[&execution_id])?
                .map(|r| r.get(0))
                .ok_or_else(|| Error::ExecutionNotFound(execution_id.to_string()))?;
            let rows = db.query(
                "SELECT seq, ts, type, payload FROM events WHERE execution = $1 AND seq > $2 ORDER BY seq",
                &[&n, &after],
            )?;
            rows.iter()
                .map(|r| {
                    Ok(Event {
                        execution_id: execution_id.to_string(),
                        seq: r.get::<_, i64>(0) as u64,
                        ts: timestamp::format_millis(r.get(1)),
                        event_type: event_type_from_code(i64::from(r.get::<_, i16>(2)))?,
                        payload: from_json(r.get(3))?,
                    })
                })
                .collect::<Result<Vec<_>>>()
                .map_err(Failure::from)
        })
    }

    pub fn mark_lost(
        &self,
        session_id: &str,
        session_error: &str,
        execution_error: &str,
        now: &str,
    ) -> Result<()> {
        self.write(|db| {
            db.execute(
                "UPDATE sessions SET status = 'closed', last_error = COALESCE(last_error, $2), closed_at = COALESCE(closed_at, $3)
                 WHERE id = $1 AND status IN ('starting', 'ready')",
                &[&session_id, &session_error.as_bytes(), &now],
            )?;
            db.execute(
                "UPDATE executions SET status = 'error', error = $2, ended_at = COALESCE(ended_at, $3)
                 WHERE session_id = $1 AND status = 'running'",
                &[&session_id, &execution_error.as_bytes(), &now],
            )?;
            Ok(())
        })
    }

    // ---- members ----

    /// Adds this instance to the members, alive from now (the server's clock).
    pub fn register(&self, me: &Registration<'_>) -> Result<()> {
        let capacity = me.capacity.map(|c| c.min(i32::MAX as u32) as i32);
        self.write(|db| {
            db.execute(
                "INSERT INTO daemons (id, advertise_url, started_at, last_heartbeat, capacity)
                 VALUES ($1, $2, now(), now(), $3) ON CONFLICT (id) DO NOTHING",
                &[&me.id, &me.advertise_url, &capacity],
            )?;
            Ok(())
        })
    }

    /// Renews this member's heartbeat. `Ok(false)`: it has been reaped (it must stop its
    /// sessions and register again under a new id). One attempt: the heartbeat runs again
    /// in a second.
    pub fn heartbeat(&self, id: &str) -> Result<bool> {
        self.pool.run_for(Duration::ZERO, |conn| {
            conn.auto(|db| {
                Ok(db.execute(
                    "UPDATE daemons SET last_heartbeat = now() WHERE id = $1 AND reaped_at IS NULL",
                    &[&id],
                )? > 0)
            })
        })
    }

    /// Leaves the members (a clean close): marked reaped, so nobody reaps it again.
    pub fn leave(&self, id: &str) -> Result<()> {
        self.pool.run_for(Duration::ZERO, |conn| {
            conn.auto(|db| {
                db.execute(
                    "UPDATE daemons SET reaped_at = now() WHERE id = $1 AND reaped_at IS NULL",
                    &[&id],
                )?;
                Ok(())
            })
        })
    }

    /// The members that are not reaped, oldest first, `alive` by `timeout`, each with the
    /// age of its heartbeat (in the server's clock).
    pub fn members(&self, timeout: Duration) -> Result<Vec<(DaemonInfo, Duration)>> {
        let secs = timeout.as_secs_f64();
        self.read(|db| {
            let rows = db.query(
                // Times as the records' RFC 3339 UTC text (milliseconds, `Z`).
                    "SELECT d.id, d.advertise_url,
                        to_char(d.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
                        to_char(d.last_heartbeat AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
                        d.capacity,
                        (SELECT count(*) FROM sessions s WHERE s.owner_instance = d.id
                            AND s.status IN ('starting', 'ready')),
                        d.last_heartbeat > now() - make_interval(secs => $1),
                        GREATEST(EXTRACT(EPOCH FROM now() - d.last_heartbeat), 0)::float8
                     FROM daemons d WHERE d.reaped_at IS NULL ORDER BY d.started_at, d.id",
                &[&secs],
            )?;
            Ok(rows
                .iter()
                .map(|r| {
                    let member = DaemonInfo {
                        id: r.get(0),
                        advertise_url: r.get(1),
                        started_at: r.get(2),
                        last_heartbeat: r.get(3),
                        capacity: r.get::<_, Option<i32>>(4).map(|c| c.max(0) as u32),
                        live_sessions: r.get::<_, i64>(5).max(0) as u32,
                        alive: r.get(6),
                    };
                    let age = Duration::try_from_secs_f64(r.get(7)).unwrap_or(Duration::MAX);
                    (member, age)
                })
                .collect())
        })
    }

    /// Whether a member is alive: not reaped and its heartbeat younger than `timeout`.
    pub fn member_alive(&self, id: &str, timeout: Duration) -> Result<bool> {
        let secs = timeout.as_secs_f64();
        self.read(|db| {
            Ok(db
                .query_opt(
                    "SELECT reaped_at IS NULL AND last_heartbeat > now() - make_interval(secs => $2)
                     FROM daemons WHERE id = $1",
                    &[&id, &secs],
                )?
                .is_some_and(|r| r.get(0)))
        })
    }

    /// Reaps every member (other than `me`) whose heartbeat is older than `timeout`: marks
    /// it reaped, closes its live sessions and ends its running executions, all in one
    /// transaction. The member rows are locked (`FOR UPDATE`, in id order) first, so when
    /// several instances reap at once the later ones wait, then find the rows reaped and
    /// skip them: each member is reaped exactly once. Returns the ids reaped here.
    pub fn reap(&self, me: &str, timeout: Duration) -> Result<Vec<String>> {
        let secs = timeout.as_secs_f64();
        let now = timestamp::now();
        self.write(|db| {
            let dead = db.query(
                "SELECT id, advertise_url, floor(extract(epoch FROM now() - last_heartbeat))::bigint
                 FROM daemons
                 WHERE reaped_at IS NULL AND id <> $1 AND last_heartbeat <= now() - make_interval(secs => $2)
                 ORDER BY id FOR UPDATE",
                &[&me, &secs],
            )?;
            let mut reaped = Vec::with_capacity(dead.len());
            for row in &dead {
                let id: String = row.get(0);
                let url: Option<String> = row.get(1);
                let silent: i64 = row.get(2);
                let session_error = format!(
                    "daemon {id} ({}) stopped: no heartbeat for {silent} s",
                    url.as_deref().unwrap_or("no advertised URL")
                );
                let execution_error = format!("runtime lost: daemon {id} stopped");
                db.execute(
                    "UPDATE daemons SET reaped_at = now() WHERE id = $1",
                    &[&id],
                )?;
                db.execute(
                    "UPDATE executions SET status = 'error', error = $2, ended_at = COALESCE(ended_at, $3)
                     WHERE status = 'running' AND session_id IN (SELECT id FROM sessions WHERE owner_instance = $1)",
                    &[&id, &execution_error.as_bytes(), &now],
                )?;
                db.execute(
                    "UPDATE sessions SET status = 'closed', last_error = $2, closed_at = COALESCE(closed_at, $3)
                     WHERE owner_instance = $1 AND status IN ('starting', 'ready')",
                    &[&id, &session_error.as_bytes(), &now],
                )?;
                reaped.push(id);
            }
            Ok(reaped)
        })
    }
}

/// The URL with its password replaced, for messages.
fn without_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:***{}",
            &url[..scheme_end + 3],
            &authority[..colon],
            &rest[at..]
        ),
        _ => url.to_string(),
    }
}

fn template_row(r: &Row) -> Template {
    Template {
        id: r.get(0),
        name: r.get(1),
        engine: r.get(2),
        created_at: r.get(3),
        updated_at: r.get(4),
    }
}

fn session_row(r: &Row) -> Result<(Session, Owner)> {
    let status: &str = r.get(5);
    let status = SessionStatus::parse(status)
        .map_err(|_| Error::internal(format!("unknown stored session status {status:?}")))?;
    Ok((
        Session {
            id: r.get(0),
            template_id: r.get(1),
            workspace_id: r.get(2),
            base_commit_oid: r.get(3),
            worktree_path: r.get(4),
            status,
            created_at: r.get(6),
            closed_at: r.get(7),
            last_error: bytes_text(r.get(8)),
            daemon_id: r.get(11),
        },
        owner_at(r, 9),
    ))
}

/// The free-text columns (an input, an error) are BYTEA holding UTF-8: PostgreSQL's
/// `text` cannot hold a NUL, and a script's source or message may.
fn text_bytes(text: &Option<String>) -> Option<&[u8]> {
    text.as_deref().map(str::as_bytes)
}

fn bytes_text(bytes: Option<Vec<u8>>) -> Option<String> {
    bytes.map(|b| {
        String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    })
}

fn owner_at(r: &Row, at: usize) -> Owner {
    Owner {
        pid: r.get::<_, i64>(at) as u32,
        started: r.get::<_, i64>(at + 1) as u64,
        instance: r.get(at + 2),
    }
}

fn execution_row(r: &Row) -> Result<Execution> {
    Ok(Execution {
        id: r.get(0),
        session_id: r.get(1),
        kind: ExecutionKind::parse(r.get(2))?,
        input: bytes_text(r.get(3)),
        path: r.get(4),
        args: from_json(r.get(5))?,
        env: from_json(r.get(6))?,
        status: ExecutionStatus::parse(r.get(7))?,
        started_at: r.get(8),
        ended_at: r.get(9),
        result: r.get::<_, Option<&str>>(10).map(from_json).transpose()?,
        error: bytes_text(r.get(11)),
        metrics: from_json::<Metrics>(r.get(12))?,
    })
}

fn read_settings<C: postgres::GenericClient>(db: &mut Db<'_, C>, id: &str) -> Attempt<Settings> {
    let row = db
        .query_opt(
            "SELECT limits, resolver, runtime FROM template_settings WHERE template_id = $1",
            &[&id],
        )?
        .ok_or_else(|| Error::TemplateNotFound(id.to_string()))?;
    Ok(Settings {
        limits: from_json(row.get(0))?,
        resolver: from_json(row.get(1))?,
        runtime: from_json(row.get(2))?,
    })
}

fn ensure_template<C: postgres::GenericClient>(db: &mut Db<'_, C>, id: &str) -> Attempt<()> {
    match db.query_opt("SELECT 1 FROM templates WHERE id = $1", &[&id])? {
        Some(_) => Ok(()),
        None => Err(Error::TemplateNotFound(id.to_string()).into()),
    }
}

fn touch<C: postgres::GenericClient>(db: &mut Db<'_, C>, id: &str, now: &str) -> Attempt<()> {
    db.execute(
        "UPDATE templates SET updated_at = $2 WHERE id = $1",
        &[&id, &now],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_never_shown() {
        assert_eq!(
            without_password("postgres://me:secret@db:5432/vm"),
            "postgres://me:***@db:5432/vm"
        );
        assert_eq!(
            without_password("postgres://me@db/vm"),
            "postgres://me@db/vm"
        );
    }
}
