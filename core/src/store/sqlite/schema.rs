//! The schema, as a list of forward migrations applied in order on open.

use rusqlite::Connection;

use crate::error::Result;

/// Each entry migrates from version `index` to `index + 1`. Append only: a released
/// migration never changes.
const MIGRATIONS: &[&str] = &[
    // 1: templates, sessions, executions, events.
    r#"
    CREATE TABLE templates (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        engine TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE template_settings (
        template_id TEXT PRIMARY KEY REFERENCES templates(id) ON DELETE CASCADE,
        limits TEXT NOT NULL,
        resolver TEXT NOT NULL,
        runtime TEXT NOT NULL
    );
    CREATE TABLE template_startup_files (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        template_id TEXT NOT NULL REFERENCES templates(id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        order_index INTEGER NOT NULL,
        mode TEXT NOT NULL,
        UNIQUE (template_id, path)
    );
    CREATE TABLE template_capabilities (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        template_id TEXT NOT NULL REFERENCES templates(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        enabled INTEGER NOT NULL,
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
        last_error TEXT,
        owner_pid INTEGER NOT NULL,
        owner_started INTEGER NOT NULL,
        owner_instance TEXT NOT NULL
    );
    CREATE INDEX sessions_status ON sessions(status);
    CREATE TABLE executions (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id),
        kind TEXT NOT NULL,
        input TEXT,
        path TEXT,
        args TEXT NOT NULL,
        env TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        result TEXT,
        error TEXT,
        metrics TEXT NOT NULL
    );
    CREATE INDEX executions_session ON executions(session_id);
    CREATE TABLE events (
        execution_id TEXT NOT NULL REFERENCES executions(id),
        seq INTEGER NOT NULL,
        ts TEXT NOT NULL,
        type TEXT NOT NULL,
        payload TEXT NOT NULL,
        PRIMARY KEY (execution_id, seq)
    ) WITHOUT ROWID;
    "#,
    // 2: compact execution records. Executions get an integer key that events use instead
    // of the 36-character id (smaller keys: fewer pages written per commit); event time and
    // type become integers; the hot tables lose their foreign keys (the store keeps them
    // consistent, and each check was an index lookup per row); the file is marked as ours.
    r#"
    CREATE TABLE executions_v2 (
        n INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        session_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        input TEXT,
        path TEXT,
        args TEXT NOT NULL,
        env TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        result TEXT,
        error TEXT,
        metrics TEXT NOT NULL
    );
    INSERT INTO executions_v2 (n, id, session_id, kind, input, path, args, env, status,
        started_at, ended_at, result, error, metrics)
        SELECT rowid, id, session_id, kind, input, path, args, env, status,
            started_at, ended_at, result, error, metrics
        FROM executions ORDER BY rowid;
    -- type: 1 input_echo, 2 console, 3 value, 4 exception, 5 system. ts: ms since the epoch.
    CREATE TABLE events_v2 (
        execution INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        type INTEGER NOT NULL,
        payload TEXT NOT NULL,
        PRIMARY KEY (execution, seq)
    ) WITHOUT ROWID;
    INSERT INTO events_v2 (execution, seq, ts, type, payload)
        SELECT x.n, e.seq,
            CAST(ROUND((julianday(e.ts) - 2440587.5) * 86400000.0) AS INTEGER),
            CASE e.type WHEN 'input_echo' THEN 1 WHEN 'console' THEN 2 WHEN 'value' THEN 3
                WHEN 'exception' THEN 4 ELSE 5 END,
            e.payload
        FROM events e JOIN executions_v2 x ON x.id = e.execution_id;
    DROP TABLE events;
    DROP TABLE executions;
    ALTER TABLE executions_v2 RENAME TO executions;
    ALTER TABLE events_v2 RENAME TO events;
    CREATE INDEX executions_session ON executions(session_id, n);
    PRAGMA application_id = 1447908185;
    "#,
];

/// `PRAGMA application_id` of a vm-system database ("VMSY"), set by migration 2.
pub(crate) const APPLICATION_ID: i64 = 0x564D_5359;

/// The tables that mark a database of schema version 1 (before the application id) as ours.
const VERSION_1_TABLES: &[&str] = &["events", "executions", "sessions", "templates"];

/// The version a fully migrated database has.
pub(crate) const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// Applies every migration the database has not seen, each in its own transaction.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > CURRENT_VERSION {
            return Err(newer(version));
        }
        if version == CURRENT_VERSION {
            return Ok(());
        }
        tx.execute_batch(MIGRATIONS[version as usize])?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}

fn newer(version: i64) -> crate::Error {
    crate::Error::validation(format!(
        "the file is a vm-system database of schema version {version}, written by a newer \
         vm-system than this one (which reads up to version {CURRENT_VERSION}); open it with \
         that newer version, or choose another file"
    ))
}

/// Tells a vm-system database from any other SQLite database before anything is written,
/// so a file we refuse is left exactly as it was: Ok for a new (empty) database or one of
/// ours this library can migrate. `what` names the file in messages.
pub(crate) fn identify(conn: &Connection, what: &str) -> Result<()> {
    let not_sqlite = |e: rusqlite::Error| -> crate::Error {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => crate::Error::validation(format!(
                "{what} is not a vm-system database: it is not an SQLite database file \
                 (or it is encrypted or damaged); choose another path"
            )),
            _ => crate::Error::validation(format!("cannot read database {what}: {e}")),
        }
    };
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(not_sqlite)?;
    let application: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(not_sqlite)?;
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(not_sqlite)?;
    if tables.is_empty() && version == 0 && application == 0 {
        return Ok(());
    }
    let ours = application == APPLICATION_ID
        || (application == 0
            && version == 1
            && VERSION_1_TABLES
                .iter()
                .all(|t| tables.iter().any(|name| name == t)));
    if !ours {
        let mut shown: Vec<&str> = tables.iter().map(String::as_str).take(8).collect();
        if tables.len() > shown.len() {
            shown.push("…");
        }
        return Err(crate::Error::validation(format!(
            "{what} is not a vm-system database: it is an SQLite database of another \
             application (tables: {}; user_version {version}, application_id {application}); \
             it was left unchanged; choose another path",
            if shown.is_empty() {
                "none".to_string()
            } else {
                shown.join(", ")
            }
        )));
    }
    if version > CURRENT_VERSION {
        return Err(newer(version));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_migration_sets_the_application_id() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        let id: i64 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .unwrap();
        assert_eq!(id, APPLICATION_ID);
        identify(&conn, "test").unwrap();
    }
}
