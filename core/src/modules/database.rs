//! `database`: SQLite through rusqlite, in memory or in a file inside the worktree, with
//! bound parameters only.

use std::os::raw::{c_int, c_void};
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;
use rquickjs::function::{Opt, Rest};
use rquickjs::{Array, ArrayBuffer, BigInt, Ctx, IntoJs, Object, Type, TypedArray, Value};
use rusqlite::fallible_iterator::FallibleIterator as _;
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{ffi, Batch, Connection, OpenFlags};

use super::{add_function, error, host_call, string_arg, throw, type_error, Host};
use crate::engine::ActiveRun;
use crate::paths::{self, PathError};

/// Drivers `configure` accepts (the original system's name, and the obvious one).
const DRIVERS: &[&str] = &["sqlite3", "sqlite"];

/// SQLite virtual-machine steps between checks of the run's limits.
const PROGRESS_STEPS: c_int = 1000;

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

impl Database {
    fn open(&self, ctx: &Ctx<'_>, driver: &str, dsn: &str) -> rquickjs::Result<Db> {
        if !DRIVERS.contains(&driver) {
            return Err(error(
                ctx,
                &format!("database.configure: driver '{driver}' is not supported; use 'sqlite3'"),
            ));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
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
            Connection::open_with_flags(&path, flags)
        };
        let conn = opened.map_err(|e| sqlite_error(ctx, &e))?;
        let active = self.active.clone();
        // SAFETY: the handle is valid while `conn` lives; the progress data outlives the
        // connection because `Db` drops `conn` first.
        unsafe {
            // No ATTACH (nor VACUUM INTO, which attaches): no file outside the worktree.
            ffi::sqlite3_limit(conn.handle(), ffi::SQLITE_LIMIT_ATTACHED, 0);
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
        ValueRef::Blob(bytes) => {
            Ok(TypedArray::<u8>::new(ctx.clone(), bytes.to_vec())?.into_value())
        }
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
        active,
        db: Mutex::new(None),
    });
    let module = Object::new(ctx.clone())?;

    let this = database.clone();
    add_function(
        &module,
        "configure",
        move |ctx: Ctx<'js>, driver: Value<'js>, dsn: Opt<Value<'js>>| -> rquickjs::Result<()> {
            host_call(&ctx, &this.active, "database.configure")?;
            let driver = string_arg(&ctx, &driver, "database.configure", "driver")?;
            let dsn = dsn.0.unwrap_or_else(|| Value::new_undefined(ctx.clone()));
            let dsn = string_arg(&ctx, &dsn, "database.configure", "dsn")?;
            let db = this.open(&ctx, &driver, &dsn)?;
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
