//! Execution records. `args`, `env` and `result` keep their JSON contents as given/stored.
//!
//! These structs declare the `Execution` and `Metrics` interfaces of index.d.ts; the values
//! themselves are built as object literals (see `literal.rs`), with the same keys.

use napi_derive::napi;
use serde_json::Value as Json;

/// One run of code in a session.
#[allow(dead_code)] // only declares the TypeScript interface (see the module doc)
#[napi(object, use_nullable = true)]
pub struct Execution {
    /// UUID.
    pub id: String,
    /// The session it ran in.
    pub session_id: String,
    /// `repl`, `run_file` or `startup`.
    #[napi(ts_type = "ExecutionKind")]
    pub kind: String,
    /// The snippet, for repl.
    pub input: Option<String>,
    /// The worktree-relative path, for run_file and startup.
    pub path: Option<String>,
    /// `globalThis.__ARGS__` of a file run (`{}` otherwise).
    #[napi(ts_type = "JsonObject")]
    pub args: Json,
    /// `globalThis.__ENV__` of a file run (`{}` otherwise).
    #[napi(ts_type = "Record<string, string>")]
    pub env: Json,
    /// `running`, `ok`, `error`, `timeout` or `cancelled`.
    #[napi(ts_type = "ExecutionStatus")]
    pub status: String,
    /// RFC 3339 UTC.
    pub started_at: String,
    /// RFC 3339 UTC, once ended.
    pub ended_at: Option<String>,
    /// The value payload of a successful run.
    #[napi(ts_type = "ValuePayload")]
    pub result: Option<Json>,
    /// What went wrong, for any status but `ok`.
    pub error: Option<String>,
    /// Cost and limit information.
    pub metrics: Metrics,
}

/// What an execution cost.
#[allow(dead_code)] // only declares the TypeScript interface (see the module doc)
#[napi(object, use_nullable = true)]
pub struct Metrics {
    /// Wall-clock duration in milliseconds.
    pub duration_ms: f64,
    /// CPU time of the executing thread in milliseconds.
    pub cpu_ms: f64,
    /// Events stored.
    pub event_count: i64,
    /// Sum of stored payload bytes.
    pub output_bytes: i64,
    /// Calls into native modules.
    pub host_calls: i64,
    /// The limit that ended the run (`cpu_ms`, `wall_ms`, `max_events`, `max_output_kb`).
    pub limit: Option<String>,
}
