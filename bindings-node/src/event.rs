//! Event records. Payloads keep the SPEC's keys unchanged.
//!
//! The struct declares the `Event` interface of index.d.ts; the values themselves are built
//! as object literals (see `literal.rs`), with the same keys.

use napi_derive::napi;
use serde_json::Value as Json;

/// One numbered fact of an execution.
#[allow(dead_code)] // only declares the TypeScript interface (see the module doc)
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
