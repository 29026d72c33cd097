//! Events: the numbered facts of an execution, and the payloads the SPEC defines.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// What an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// The input: `{"text"}` for repl, `{"path"}` for files.
    InputEcho,
    /// A `console.*` call: `{"level", "text"}`.
    Console,
    /// The completion value: `{"type", "preview", "json"?}`.
    Value,
    /// An uncaught exception: `{"name", "message", "stack"}`.
    Exception,
    /// Limits, cancellation, lifecycle: `{"level", "message"}`.
    System,
}

impl EventType {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::InputEcho => "input_echo",
            EventType::Console => "console",
            EventType::Value => "value",
            EventType::Exception => "exception",
            EventType::System => "system",
        }
    }
}

/// One event of an execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The execution it belongs to.
    pub execution_id: String,
    /// 1, 2, 3 … without gaps.
    pub seq: u64,
    /// RFC 3339 UTC.
    pub ts: String,
    /// Kind of event.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// Type-specific payload.
    pub payload: Value,
}

/// Severity of a `system` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SystemLevel {
    Info,
    Warn,
    Error,
}

pub(crate) fn system_payload(level: SystemLevel, message: &str) -> Value {
    let level = match level {
        SystemLevel::Info => "info",
        SystemLevel::Warn => "warn",
        SystemLevel::Error => "error",
    };
    json!({"level": level, "message": message})
}

/// The console levels the shim captures.
pub const CONSOLE_LEVELS: [&str; 5] = ["log", "info", "warn", "error", "debug"];
