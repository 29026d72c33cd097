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
];

/// The version a fully migrated database has.
pub(crate) const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// Applies every migration the database has not seen, each in its own transaction.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > CURRENT_VERSION {
            return Err(crate::Error::Internal(format!(
                "the database has schema version {version}, newer than this library's \
                 {CURRENT_VERSION}; upgrade vm-system to open it"
            )));
        }
        if version == CURRENT_VERSION {
            return Ok(());
        }
        tx.execute_batch(MIGRATIONS[version as usize])?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}
