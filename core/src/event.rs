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

/// The payload text of a `console` event, `{"level","text"}`, written directly: the same
/// bytes as serialising the `Value`, without building one for every line.
pub(crate) fn console_payload_text(level: &str, text: &str) -> String {
    object_text(&[("level", level), ("text", text)])
}

/// The payload text of an `input_echo` event: `{"text"}` for a snippet, `{"path"}` for a file.
pub(crate) fn input_echo_text(key: &'static str, value: &str) -> String {
    object_text(&[(key, value)])
}

/// A compact JSON object of string members, in order (as `serde_json` writes one).
fn object_text(members: &[(&str, &str)]) -> String {
    let len: usize = members.iter().map(|(k, v)| k.len() + v.len() + 8).sum();
    let mut out = Vec::with_capacity(len + 2);
    out.push(b'{');
    for (i, (key, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Writing a `str` to a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut out, key);
        out.push(b':');
        let _ = serde_json::to_writer(&mut out, value);
    }
    out.push(b'}');
    // serde_json writes UTF-8 (the input is UTF-8 and escapes are ASCII).
    String::from_utf8(out).unwrap_or_default()
}

/// The console levels the shim captures.
pub const CONSOLE_LEVELS: [&str; 5] = ["log", "info", "warn", "error", "debug"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_text_is_what_serialising_the_value_gives() {
        let texts = [
            "",
            "line 1",
            "quote \" backslash \\ slash /",
            "control \u{0} \u{1f} \n \t \r tab",
            "unicode é 日本 🎉 \u{2028} \u{fffd}",
        ];
        for text in texts {
            for level in CONSOLE_LEVELS {
                assert_eq!(
                    console_payload_text(level, text),
                    json!({"level": level, "text": text}).to_string()
                );
            }
            assert_eq!(
                input_echo_text("text", text),
                json!({"text": text}).to_string()
            );
            assert_eq!(
                input_echo_text("path", text),
                json!({"path": text}).to_string()
            );
        }
    }
}
