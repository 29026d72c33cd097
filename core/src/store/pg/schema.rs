//! The PostgreSQL schema: the SQLite schema's final state (same tables, columns, keys and
//! stored forms) plus the `daemons` membership table, as a list of forward migrations.
//! Concurrent first opens of one database serialize on an advisory lock.

use super::pool::{Attempt, Db};
use crate::error::Error;

/// Each entry migrates from version `index` to `index + 1`. Append only: a released
/// migration never changes.
const MIGRATIONS: &[&str] = &[
    // 1: the records (as SQLite's schema version 2) and the members.
    r#"
    CREATE TABLE templates (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        engine TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        -- Insertion order (SQLite's rowid), to break ties of created_at.
        n BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE
    );
    CREATE TABLE template_settings (
        template_id TEXT PRIMARY KEY REFERENCES templates(id) ON DELETE CASCADE,
        limits TEXT NOT NULL,
        resolver TEXT NOT NULL,
        runtime TEXT NOT NULL
    );
    CREATE TABLE template_startup_files (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        template_id TEXT NOT NULL REFERENCES templates(id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        order_index BIGINT NOT NULL,
        mode TEXT NOT NULL,
        UNIQUE (template_id, path)
    );
    CREATE TABLE template_capabilities (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        template_id TEXT NOT NULL REFERENCES templates(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        enabled BOOLEAN NOT NULL,
        config TEXT NOT NULL,
        UNIQUE (template_id, kind, name)
    );
    CREATE TABLE template_modules (
        template_id TEXT NOT NULL REFERENCES templates(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        PRIMARY KEY (template_id, name)
    );
    CREATE TABLE template_libraries (
        template_id TEXT NOT NULL REFERENCES templates(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        PRIMARY KEY (template_id, name)
    );
    -- Sessions outlive their template as history: no foreign key to templates.
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        template_id TEXT NOT NULL,
        workspace_id TEXT NOT NULL,
        base_commit_oid TEXT NOT NULL,
        worktree_path TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        closed_at TEXT,
        last_error BYTEA,
        owner_pid BIGINT NOT NULL,
        owner_started BIGINT NOT NULL,
        -- The member (daemons.id) that holds the runtime: the session's daemon_id.
        owner_instance TEXT NOT NULL,
        n BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE
    );
    CREATE INDEX sessions_status ON sessions(status);
    CREATE INDEX sessions_owner ON sessions(owner_instance);
    CREATE TABLE executions (
        n BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        session_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        input BYTEA,
        path TEXT,
        args TEXT NOT NULL,
        env TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        result TEXT,
        error BYTEA,
        metrics TEXT NOT NULL
    );
    CREATE INDEX executions_session ON executions(session_id, n);
    -- type: 1 input_echo, 2 console, 3 value, 4 exception, 5 system. ts: ms since the epoch.
    CREATE TABLE events (
        execution BIGINT NOT NULL,
        seq BIGINT NOT NULL,
        ts BIGINT NOT NULL,
        type SMALLINT NOT NULL,
        payload TEXT NOT NULL,
        PRIMARY KEY (execution, seq)
    );
    -- Members: every VmSystem open on this database. Times are the server's clock.
    CREATE TABLE daemons (
        id TEXT PRIMARY KEY,
        advertise_url TEXT,
        started_at TIMESTAMPTZ NOT NULL,
        last_heartbeat TIMESTAMPTZ NOT NULL,
        capacity INTEGER,
        reaped_at TIMESTAMPTZ
    );
    "#,
];

/// The version a fully migrated database has.
pub(super) const CURRENT_VERSION: i32 = MIGRATIONS.len() as i32;

/// The advisory lock key that serializes migrations ("VMSY").
const MIGRATION_LOCK: i64 = 0x564D_5359;

/// Tables whose presence without our version table means the database is another
/// application's.
const OUR_TABLES: &[&str] = &["templates", "sessions", "executions", "events", "daemons"];

/// Brings the database to the current version in one transaction, holding the advisory
/// lock so that concurrent first opens apply each migration once. A database of another
/// application, or of a newer vm-system, is refused unchanged.
pub(super) fn migrate(db: &mut Db<'_, postgres::Transaction<'_>>, what: &str) -> Attempt<()> {
    db.query_one("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    let versioned = db
        .query_one("SELECT to_regclass('vm_system_schema') IS NOT NULL", &[])?
        .get::<_, bool>(0);
    if !versioned {
        let found: Vec<String> = db
            .query(
                "SELECT table_name::text FROM information_schema.tables
                 WHERE table_schema = current_schema() AND table_name::text = ANY($1::text[]) ORDER BY 1",
                &[&OUR_TABLES],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if !found.is_empty() {
            return Err(Error::validation(format!(
                "{what} is not a vm-system database: it has tables named like ours ({}) but \
                 no vm_system_schema table; it was left unchanged; use another database",
                found.join(", ")
            ))
            .into());
        }
        db.batch("CREATE TABLE vm_system_schema (version INTEGER NOT NULL); INSERT INTO vm_system_schema VALUES (0)")?;
    }
    let version: i32 = db
        .query_one("SELECT version FROM vm_system_schema", &[])?
        .get(0);
    if version > CURRENT_VERSION {
        return Err(Error::validation(format!(
            "{what} is a vm-system database of schema version {version}, written by a newer \
             vm-system than this one (which reads up to version {CURRENT_VERSION}); open it \
             with that newer version, or use another database"
        ))
        .into());
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        db.batch(sql)?;
        db.execute(
            "UPDATE vm_system_schema SET version = $1",
            &[&(index as i32 + 1)],
        )?;
    }
    Ok(())
}
