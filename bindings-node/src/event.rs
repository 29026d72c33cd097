//! Event records. Payloads keep the SPEC's keys unchanged.

use napi_derive::napi;
use serde_json::Value as Json;

/// One numbered fact of an execution.
#[napi(object)]
pub struct Event {
    /// The execution it belongs to.
    pub execution_id: String,
    /// 1, 2, 3 … without gaps.
    pub seq: i64,
    /// RFC 3339 UTC.
    pub ts: String,
    /// `input_echo`, `console`, `value`, `exception` or `system`.
    #[napi(js_name = "type", ts_type = "EventType")]
    pub event_type: String,
    /// Type-specific payload (see the SPEC).
    #[napi(ts_type = "EventPayload")]
    pub payload: Json,
}

impl From<vm_system::Event> for Event {
    fn from(e: vm_system::Event) -> Self {
        let vm_system::Event {
            execution_id,
            seq,
            ts,
            event_type,
            payload,
        } = e;
        Event {
            execution_id,
            seq: seq as i64,
            ts,
            event_type: event_type.as_str().to_string(),
            payload,
        }
    }
}
