//! Execution records: kinds, statuses, metrics.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// How the code of an execution was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionKind {
    /// A snippet.
    Repl,
    /// A file of the worktree.
    RunFile,
    /// A startup file of the template.
    Startup,
}

impl ExecutionKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionKind::Repl => "repl",
            ExecutionKind::RunFile => "run_file",
            ExecutionKind::Startup => "startup",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "repl" => ExecutionKind::Repl,
            "run_file" => ExecutionKind::RunFile,
            "startup" => ExecutionKind::Startup,
            other => return Err(Error::internal(format!("unknown stored kind {other:?}"))),
        })
    }
}

/// How an execution ended: `running → ok | error | timeout | cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutionStatus {
    /// Still running.
    Running,
    /// Completed with a value.
    Ok,
    /// An uncaught exception or an output limit.
    Error,
    /// `cpu_ms` or `wall_ms` reached.
    Timeout,
    /// Cancelled, or its session was closed.
    Cancelled,
}

impl ExecutionStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "running",
            ExecutionStatus::Ok => "ok",
            ExecutionStatus::Error => "error",
            ExecutionStatus::Timeout => "timeout",
            ExecutionStatus::Cancelled => "cancelled",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "running" => ExecutionStatus::Running,
            "ok" => ExecutionStatus::Ok,
            "error" => ExecutionStatus::Error,
            "timeout" => ExecutionStatus::Timeout,
            "cancelled" => ExecutionStatus::Cancelled,
            other => return Err(Error::internal(format!("unknown stored status {other:?}"))),
        })
    }
}

/// What an execution cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Metrics {
    /// Wall-clock duration in milliseconds.
    pub duration_ms: f64,
    /// CPU time of the executing thread in milliseconds.
    pub cpu_ms: f64,
    /// Events stored.
    pub event_count: u64,
    /// Sum of stored payload bytes.
    pub output_bytes: u64,
    /// Calls into native modules (`database`, `fs`, `exec`).
    pub host_calls: u64,
    /// The limit that ended the run (`cpu_ms`, `wall_ms`, `max_events`, `max_output_kb`),
    /// if one did.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub limit: Option<String>,
}

/// An execution record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    /// UUID.
    pub id: String,
    /// The session it ran in.
    pub session_id: String,
    /// repl, run_file or startup.
    pub kind: ExecutionKind,
    /// The snippet, for repl.
    pub input: Option<String>,
    /// The worktree-relative path, for run_file and startup.
    pub path: Option<String>,
    /// `globalThis.__ARGS__` of a file run (`{}` otherwise).
    pub args: Value,
    /// `globalThis.__ENV__` of a file run (`{}` otherwise).
    pub env: Value,
    /// How it ended.
    pub status: ExecutionStatus,
    /// RFC 3339 UTC.
    pub started_at: String,
    /// RFC 3339 UTC, once ended.
    pub ended_at: Option<String>,
    /// The value payload (`{"type", "preview", "json"?}`) of a successful run.
    pub result: Option<Value>,
    /// What went wrong, for any status but `ok`.
    pub error: Option<String>,
    /// Cost and limit information.
    pub metrics: Metrics,
}

impl Execution {
    /// The result as JSON (`result.json`), when the value was representable.
    pub fn value(&self) -> Option<&Value> {
        self.result.as_ref().and_then(|r| r.get("json"))
    }
}
