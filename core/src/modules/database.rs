//! `database`: SQLite through rusqlite, in memory or in a file inside the worktree, with
//! bound parameters only.
//!
//! A script's connection is kept to itself: an authorizer allows only plain SQL and an
//! allowlist of PRAGMAs that act on this connection or its own file (no process-wide
//! settings such as `hard_heap_limit` or `temp_store_directory`, no `mmap_size`, no
//! `ATTACH`); the file is never memory-mapped and its WAL index lives in heap memory
//! (exclusive locking), so truncating a file under SQLite cannot crash the host; values
//! are capped in line with `mem_mb`; and the host's own database is refused by identity.

use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_void};
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;
use rquickjs::function::{Opt, Rest};
use rquickjs::{Array, ArrayBuffer, BigInt, Ctx, IntoJs, Object, Type, TypedArray, Value};
use rusqlite::fallible_iterator::FallibleIterator as _;
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{ffi, Batch, Connection, OpenFlags};

use super::{add_function, error, host_call, string_arg, throw, type_error, Host};
use crate::paths::{self, PathError, Protected};
use crate::run::ActiveRun;

/// Drivers `configure` accepts (the original system's name, and the obvious one).
const DRIVERS: &[&str] = &["sqlite3", "sqlite"];

/// SQLite virtual-machine steps between checks of the run's limits. The patched SQLite
/// (`vendor/libsqlite3-sys.patch`) also checks after every function or concatenation
/// over 64 KiB of values, which may take long in one step.
const PROGRESS_STEPS: c_int = 1000;

/// Largest string or BLOB a script's connection handles: `mem_mb`, but no more than this,
/// so one SQL function over one value (`randomblob`, `replace`, ...) — a single step
/// between two checks of the limits — stays short.
const MAX_VALUE_BYTES: u64 = 4 << 20;

/// Longest SQL text of one statement.
const MAX_SQL_BYTES: c_int = 1 << 20;

/// PRAGMAs a script may run with an argument (set): each acts on this connection or the
/// script's own database file only.
const PRAGMAS_SET: &[&str] = &[
    "analysis_limit",
    "application_id",
    "auto_vacuum",
    "automatic_index",
    "case_sensitive_like",
    "cell_size_check",
    "defer_foreign_keys",
    "foreign_keys",
    "ignore_check_constraints",
    "incremental_vacuum",
    "journal_mode",
    "journal_size_limit",
    "legacy_alter_table",
    "max_page_count",
    "optimize",
    "page_size",
    "query_only",
    "recursive_triggers",
    "reverse_unordered_selects",
    "secure_delete",
    "synchronous",
    "user_version",
    "wal_autocheckpoint",
    "wal_checkpoint",
    // Schema queries take a table or index name as their argument.
    "foreign_key_check",
    "foreign_key_list",
    "index_info",
    "index_list",
    "index_xinfo",
    "integrity_check",
    "quick_check",
    "table_info",
    "table_list",
    "table_xinfo",
];

/// PRAGMAs a script may only read (no argument).
const PRAGMAS_READ: &[&str] = &[
    "busy_timeout",
    "cache_size",
    "collation_list",
    "compile_options",
    "data_version",
    "database_list",
    "encoding",
    "freelist_count",
    "function_list",
    "locking_mode",
    "module_list",
    "page_count",
    "pragma_list",
    "schema_version",
    "temp_store",
];

/// Functions refused even though SQLite has them: they reach beyond the connection.
const FUNCTIONS_DENIED: &[&str] = &["load_extension", "fts3_tokenizer"];

/// Virtual-table modules a script may create tables with.
const VTABLE_MODULES: &[&str] = &["fts3", "fts4", "fts5", "rtree", "rtree_i32", "geopoly"];

/// Largest integer a JavaScript number holds exactly.
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// An open database of a session.
struct Db {
    // Declared first: the connection goes before the progress handler's data.
    conn: Connection,
    _progress: Arc<ActiveRun>,
}

struct Database {
    worktree: PathBuf,
    protected: Arc<Protected>,
    active: Arc<ActiveRun>,
    db: Mutex<Option<Db>>,
}

/// Stops a statement when the run's limits are reached or it is cancelled.
extern "C" fn progress(data: *mut c_void) -> c_int {
    // SAFETY: `data` points into the `Arc<ActiveRun>` kept by the `Db` that owns the
    // connection, so it is alive whenever SQLite calls this.
    let active = unsafe { &*(data as *const ActiveRun) };
    let run = active.lock().clone();
    match run {
        Some(run) => c_int::from(run.guard.check().is_some()),
        None => 0,
    }
}

/// The text of an authorizer argument, lowercased.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string valid for the call.
unsafe fn auth_arg(p: *const c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    Some(CStr::from_ptr(p).to_string_lossy().to_ascii_lowercase())
}

/// SQLite's authorizer: plain SQL, allowlisted PRAGMAs, no ATTACH, no extension loading.
extern "C" fn authorize(
    _data: *mut c_void,
    action: c_int,
    a1: *const c_char,
    a2: *const c_char,
    _schema: *const c_char,
    _trigger: *const c_char,
) -> c_int {
    // SAFETY: SQLite passes NULL or valid strings for the call's length.
    let (a1, a2) = unsafe { (auth_arg(a1), auth_arg(a2)) };
    let allowed = match action {
        ffi::SQLITE_PRAGMA => match (a1.as_deref(), a2.as_deref()) {
            (Some(name), None) => PRAGMAS_SET.contains(&name) || PRAGMAS_READ.contains(&name),
            (Some(name), Some(_)) => PRAGMAS_SET.contains(&name),
            _ => false,
        },
        ffi::SQLITE_FUNCTION => a2
            .as_deref()
            .is_some_and(|f| !FUNCTIONS_DENIED.contains(&f)),
        ffi::SQLITE_CREATE_VTABLE | ffi::SQLITE_DROP_VTABLE => {
            a2.as_deref().is_some_and(|m| VTABLE_MODULES.contains(&m))
        }
        ffi::SQLITE_ATTACH | ffi::SQLITE_DETACH => false,
        ffi::SQLITE_CREATE_INDEX
        | ffi::SQLITE_CREATE_TABLE
        | ffi::SQLITE_CREATE_TEMP_INDEX
        | ffi::SQLITE_CREATE_TEMP_TABLE
        | ffi::SQLITE_CREATE_TEMP_TRIGGER
        | ffi::SQLITE_CREATE_TEMP_VIEW
        | ffi::SQLITE_CREATE_TRIGGER
        | ffi::SQLITE_CREATE_VIEW
        | ffi::SQLITE_DELETE
        | ffi::SQLITE_DROP_INDEX
        | ffi::SQLITE_DROP_TABLE
        | ffi::SQLITE_DROP_TEMP_INDEX
        | ffi::SQLITE_DROP_TEMP_TABLE
        | ffi::SQLITE_DROP_TEMP_TRIGGER
        | ffi::SQLITE_DROP_TEMP_VIEW
        | ffi::SQLITE_DROP_TRIGGER
        | ffi::SQLITE_DROP_VIEW
        | ffi::SQLITE_INSERT
        | ffi::SQLITE_READ
        | ffi::SQLITE_SELECT
        | ffi::SQLITE_TRANSACTION
        | ffi::SQLITE_UPDATE
        | ffi::SQLITE_ALTER_TABLE
        | ffi::SQLITE_REINDEX
        | ffi::SQLITE_ANALYZE
        | ffi::SQLITE_SAVEPOINT
        | ffi::SQLITE_RECURSIVE => true,
        _ => false,
    };
    if allowed {
        ffi::SQLITE_OK
    } else {
        ffi::SQLITE_DENY
    }
}

impl Database {
    /// Refuses the host's own database files, by identity.
    fn check_not_host(
        &self,
        ctx: &Ctx<'_>,
        path: &std::path::Path,
        dsn: &str,
    ) -> rquickjs::Result<()> {
        match std::fs::metadata(path) {
            Ok(meta) if self.protected.holds(&meta) => Err(throw(
                ctx,
                &format!("database.configure: '{dsn}' is one of the host's own database files; scripts cannot open it"),
                &[("code", "SQLITE_AUTH".into_js(ctx)?)],
            )),
            _ => Ok(()),
        }
    }

    fn open(&self, ctx: &Ctx<'_>, driver: &str, dsn: &str, mem_mb: u64) -> rquickjs::Result<Db> {
        if !DRIVERS.contains(&driver) {
            return Err(error(
                ctx,
                &format!("database.configure: driver '{driver}' is not supported; use 'sqlite3'"),
            ));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_NOFOLLOW;
        let mut file = None;
        let opened = if dsn == ":memory:" {
            Connection::open_in_memory_with_flags(flags)
        } else {
            if dsn.starts_with("file:") || dsn.contains('?') {
                return Err(error(
                    ctx,
                    &format!(
                        "database.configure: DSN '{dsn}' is not supported: give ':memory:' or a path relative to the worktree, such as 'data/app.db' (no file: URIs or ?options)"
                    ),
                ));
            }
            let path = match paths::resolve_inside(&self.worktree, dsn) {
                Ok(path) => path,
                Err(PathError::Invalid(message)) => {
                    return Err(throw(
                        ctx,
                        &format!("database.configure: {message}; database files must be inside the session's worktree"),
                        &[("code", "INVALID_PATH".into_js(ctx)?)],
                    ))
                }
                Err(PathError::NotFound(_)) => {
                    return Err(error(
                        ctx,
                        "database.configure: the DSN is empty; give ':memory:' or a path relative to the worktree",
                    ))
                }
            };
            if let Some(dir) = path.parent().filter(|d| !d.is_dir()) {
                let shown = paths::relative_to(&self.worktree, dir).unwrap_or_default();
                return Err(error(
                    ctx,
                    &format!("database.configure: directory '{shown}' does not exist in the worktree; create it first"),
                ));
            }
            self.check_not_host(ctx, &path, dsn)?;
            file = Some(path.clone());
            Connection::open_with_flags(&path, flags)
        };
        let conn = opened.map_err(|e| sqlite_error(ctx, &e))?;
        if let Some(path) = &file {
            // Checked again now that the name is bound to a file.
            self.check_not_host(ctx, path, dsn)?;
        }
        let fail = |e: rusqlite::Error| sqlite_error(ctx, &e);
        // Set before the first read of the file: no memory map of it (truncating a mapped
        // file raises SIGBUS), and in WAL mode the index in heap memory rather than in a
        // mapped `-shm` file another process could truncate. Exclusive locking holds the
        // file for this connection until it closes.
        conn.pragma_update(None, "mmap_size", 0).map_err(fail)?;
        if file.is_some() {
            conn.query_row("PRAGMA locking_mode=EXCLUSIVE", [], |_| Ok(()))
                .map_err(fail)?;
        }
        let max_value = (mem_mb.saturating_mul(1 << 20)).clamp(1 << 20, MAX_VALUE_BYTES) as c_int;
        let active = self.active.clone();
        // SAFETY: the handle is valid while `conn` lives; the progress data outlives the
        // connection because `Db` drops `conn` first.
        unsafe {
            let db = conn.handle();
            // No ATTACH (nor VACUUM INTO, which attaches): no file outside the worktree.
            ffi::sqlite3_limit(db, ffi::SQLITE_LIMIT_ATTACHED, 0);
            ffi::sqlite3_limit(db, ffi::SQLITE_LIMIT_LENGTH, max_value);
            ffi::sqlite3_limit(db, ffi::SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_BYTES);
            for (option, on) in [
                (ffi::SQLITE_DBCONFIG_DEFENSIVE, 1),
                (ffi::SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0),
                (ffi::SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0),
                (ffi::SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, 0),
            ] {
                ffi::sqlite3_db_config(db, option, on, std::ptr::null_mut::<c_int>());
            }
            ffi::sqlite3_set_authorizer(db, Some(authorize), std::ptr::null_mut());
            ffi::sqlite3_progress_handler(
                conn.handle(),
                PROGRESS_STEPS,
                Some(progress),
                Arc::as_ptr(&active) as *mut c_void,
            );
        }
        Ok(Db {
            conn,
            _progress: active,
        })
    }
}

/// The bound parameters: the rest arguments, or the elements of a single array argument.
fn parameters<'js>(
    ctx: &Ctx<'js>,
    function: &str,
    args: Vec<Value<'js>>,
) -> rquickjs::Result<Vec<SqlValue>> {
    let spread = match args.as_slice() {
        [single] => single
            .as_array()
            .map(|a| a.iter::<Value>().collect::<rquickjs::Result<Vec<_>>>()),
        _ => None,
    };
    let values = match spread {
        Some(elements) => elements?,
        None => args,
    };
    values
        .iter()
        .enumerate()
        .map(|(i, v)| to_sql(ctx, function, i + 1, v))
        .collect()
}

fn to_sql(
    ctx: &Ctx<'_>,
    function: &str,
    index: usize,
    value: &Value<'_>,
) -> rquickjs::Result<SqlValue> {
    Ok(match value.type_of() {
        Type::Uninitialized | Type::Undefined | Type::Null => SqlValue::Null,
        Type::Bool => SqlValue::Integer(i64::from(value.as_bool().unwrap_or(false))),
        Type::Int => SqlValue::Integer(i64::from(value.as_int().unwrap_or(0))),
        Type::Float => {
            let f = value.as_float().unwrap_or(f64::NAN);
            if f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER as f64 {
                SqlValue::Integer(f as i64)
            } else {
                SqlValue::Real(f)
            }
        }
        Type::String => SqlValue::Text(
            value
                .as_string()
                .map(|s| s.to_string())
                .transpose()?
                .unwrap_or_default(),
        ),
        Type::BigInt => {
            let big = value.as_big_int().cloned();
            match big.map(BigInt::to_i64) {
                Some(Ok(i)) => SqlValue::Integer(i),
                _ => {
                    return Err(type_error(
                        ctx,
                        &format!("database.{function}: parameter {index} is a BigInt outside the 64-bit range"),
                    ))
                }
            }
        }
        _ => {
            if let Ok(array) = TypedArray::<u8>::from_value(value.clone()) {
                // SAFETY: the bytes are copied before any JavaScript runs again.
                return Ok(SqlValue::Blob(
                    unsafe { array.as_bytes() }
                        .map(<[u8]>::to_vec)
                        .unwrap_or_default(),
                ));
            }
            if let Some(buffer) = ArrayBuffer::from_value(value.clone()) {
                // SAFETY: as above.
                return Ok(SqlValue::Blob(
                    unsafe { buffer.as_bytes() }
                        .map(<[u8]>::to_vec)
                        .unwrap_or_default(),
                ));
            }
            return Err(type_error(
                ctx,
                &format!(
                    "database.{function}: parameter {index} is {}; bind numbers, strings, booleans, null, BigInt or Uint8Array",
                    value.type_name()
                ),
            ));
        }
    })
}

fn to_js<'js>(ctx: &Ctx<'js>, value: ValueRef<'_>) -> rquickjs::Result<Value<'js>> {
    match value {
        ValueRef::Null => Ok(Value::new_null(ctx.clone())),
        ValueRef::Integer(i) if i.abs() <= MAX_SAFE_INTEGER => (i as f64).into_js(ctx),
        ValueRef::Integer(i) => Ok(BigInt::from_i64(ctx.clone(), i)?.into_value()),
        ValueRef::Real(f) => f.into_js(ctx),
        ValueRef::Text(bytes) => String::from_utf8_lossy(bytes).into_js(ctx),
        // Copied into memory QuickJS allocates, so mem_mb counts it.
        ValueRef::Blob(bytes) => Ok(TypedArray::<u8>::new_copy(ctx.clone(), bytes)?.into_value()),
    }
}

/// A SQLite failure as a JavaScript `Error` carrying SQLite's message, with `code` such as
/// `SQLITE_ERROR` or `SQLITE_CONSTRAINT`.
fn sqlite_error(ctx: &Ctx<'_>, e: &rusqlite::Error) -> rquickjs::Error {
    let (message, code) = match e {
        rusqlite::Error::SqliteFailure(failure, message) => (
            message.clone().unwrap_or_else(|| failure.to_string()),
            primary_code_name(failure.extended_code & 0xff),
        ),
        rusqlite::Error::SqlInputError { error, msg, .. } => {
            (msg.clone(), primary_code_name(error.extended_code & 0xff))
        }
        other => (other.to_string(), "SQLITE_MISUSE"),
    };
    match code.into_js(ctx) {
        Ok(code) => throw(ctx, &message, &[("code", code)]),
        Err(e) => e,
    }
}

fn primary_code_name(code: c_int) -> &'static str {
    match code {
        ffi::SQLITE_PERM => "SQLITE_PERM",
        ffi::SQLITE_ABORT => "SQLITE_ABORT",
        ffi::SQLITE_BUSY => "SQLITE_BUSY",
        ffi::SQLITE_LOCKED => "SQLITE_LOCKED",
        ffi::SQLITE_NOMEM => "SQLITE_NOMEM",
        ffi::SQLITE_READONLY => "SQLITE_READONLY",
        ffi::SQLITE_INTERRUPT => "SQLITE_INTERRUPT",
        ffi::SQLITE_IOERR => "SQLITE_IOERR",
        ffi::SQLITE_CORRUPT => "SQLITE_CORRUPT",
        ffi::SQLITE_FULL => "SQLITE_FULL",
        ffi::SQLITE_CANTOPEN => "SQLITE_CANTOPEN",
        ffi::SQLITE_TOOBIG => "SQLITE_TOOBIG",
        ffi::SQLITE_CONSTRAINT => "SQLITE_CONSTRAINT",
        ffi::SQLITE_MISMATCH => "SQLITE_MISMATCH",
        ffi::SQLITE_MISUSE => "SQLITE_MISUSE",
        ffi::SQLITE_AUTH => "SQLITE_AUTH",
        ffi::SQLITE_RANGE => "SQLITE_RANGE",
        _ => "SQLITE_ERROR",
    }
}

fn not_configured(ctx: &Ctx<'_>, function: &str) -> rquickjs::Error {
    error(
        ctx,
        &format!(
            "database.{function}: no database is configured; call configure('sqlite3', ':memory:') or configure('sqlite3', 'data/app.db') first"
        ),
    )
}

/// Builds the `database` module object.
pub(super) fn create<'js>(
    ctx: &Ctx<'js>,
    host: &Host,
    active: Arc<ActiveRun>,
) -> rquickjs::Result<Object<'js>> {
    let database = Arc::new(Database {
        worktree: host.worktree.clone(),
        protected: host.protected.clone(),
        active,
        db: Mutex::new(None),
    });
    let module = Object::new(ctx.clone())?;

    let this = database.clone();
    add_function(
        &module,
        "configure",
        move |ctx: Ctx<'js>, driver: Value<'js>, dsn: Opt<Value<'js>>| -> rquickjs::Result<()> {
            let run = host_call(&ctx, &this.active, "database.configure")?;
            let driver = string_arg(&ctx, &driver, "database.configure", "driver")?;
            let dsn = dsn.0.unwrap_or_else(|| Value::new_undefined(ctx.clone()));
            let dsn = string_arg(&ctx, &dsn, "database.configure", "dsn")?;
            let db = this.open(&ctx, &driver, &dsn, run.limits.mem_mb)?;
            // The previous database, if any, is closed when replaced.
            *this.db.lock() = Some(db);
            Ok(())
        },
    )?;

    let this = database.clone();
    add_function(
        &module,
        "query",
        move |ctx: Ctx<'js>,
              sql: Value<'js>,
              args: Rest<Value<'js>>|
              -> rquickjs::Result<Array<'js>> {
            host_call(&ctx, &this.active, "database.query")?;
            let sql = string_arg(&ctx, &sql, "database.query", "sql")?;
            let params = parameters(&ctx, "query", args.0)?;
            let guard = this.db.lock();
            let db = guard
                .as_ref()
                .ok_or_else(|| not_configured(&ctx, "query"))?;
            let mut stmt = db.conn.prepare(&sql).map_err(|e| sqlite_error(&ctx, &e))?;
            let names: Vec<String> = stmt.column_names().map(String::from).collect();
            let mut rows = stmt
                .query(rusqlite::params_from_iter(params))
                .map_err(|e| sqlite_error(&ctx, &e))?;
            let out = Array::new(ctx.clone())?;
            let mut index = 0;
            while let Some(row) = rows.next().map_err(|e| sqlite_error(&ctx, &e))? {
                let object = Object::new(ctx.clone())?;
                for (i, name) in names.iter().enumerate() {
                    let value = row.get_ref(i).map_err(|e| sqlite_error(&ctx, &e))?;
                    object.set(name.as_str(), to_js(&ctx, value)?)?;
                }
                out.set(index, object)?;
                index += 1;
            }
            Ok(out)
        },
    )?;

    let this = database.clone();
    add_function(
        &module,
        "exec",
        move |ctx: Ctx<'js>,
              sql: Value<'js>,
              args: Rest<Value<'js>>|
              -> rquickjs::Result<Object<'js>> {
            host_call(&ctx, &this.active, "database.exec")?;
            let sql = string_arg(&ctx, &sql, "database.exec", "sql")?;
            let params = parameters(&ctx, "exec", args.0)?;
            let guard = this.db.lock();
            let db = guard.as_ref().ok_or_else(|| not_configured(&ctx, "exec"))?;
            let conn = &db.conn;
            let before = conn.total_changes();
            let fail = |e: rusqlite::Error| sqlite_error(&ctx, &e);
            if params.is_empty() {
                // Without parameters several statements may run in one call (a schema script).
                let mut batch = Batch::new(conn, &sql);
                while let Some(mut stmt) = batch.next().map_err(fail)? {
                    let mut rows = stmt.query([]).map_err(fail)?;
                    while rows.next().map_err(fail)?.is_some() {}
                }
            } else {
                let mut stmt = conn.prepare(&sql).map_err(fail)?;
                let mut rows = stmt
                    .query(rusqlite::params_from_iter(params))
                    .map_err(fail)?;
                while rows.next().map_err(fail)?.is_some() {}
            }
            let result = Object::new(ctx.clone())?;
            result.set("success", true)?;
            result.set(
                "rowsAffected",
                conn.total_changes().saturating_sub(before) as f64,
            )?;
            result.set(
                "lastInsertId",
                to_js(&ctx, ValueRef::Integer(conn.last_insert_rowid()))?,
            )?;
            Ok(result)
        },
    )?;

    let this = database;
    add_function(
        &module,
        "close",
        move |ctx: Ctx<'js>| -> rquickjs::Result<()> {
            host_call(&ctx, &this.active, "database.close")?;
            let db = this.db.lock().take();
            if let Some(db) = db {
                db.conn.close().map_err(|(_, e)| sqlite_error(&ctx, &e))?;
            }
            Ok(())
        },
    )?;

    Ok(module)
}
