//! JSON in, Python values out: arguments arrive as JSON text (serialised by the Python
//! layer, which gives the caller Python's own `TypeError` for unserialisable values);
//! records leave as dicts built from their serde form (snake_case keys, as in the SPEC).

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde::Serialize;
use serde_json::Value as Json;
use vm_system::{Event, Execution, Metrics};

/// Parses a JSON argument; `None` is JSON null.
pub(crate) fn parse_json(text: Option<&str>) -> vm_system::Result<Json> {
    match text {
        None => Ok(Json::Null),
        Some(text) => serde_json::from_str(text)
            .map_err(|e| vm_system::Error::Validation(format!("invalid JSON argument: {e}"))),
    }
}

/// A record (or list of records) as Python dicts and lists.
pub(crate) fn record<'py, T: Serialize>(py: Python<'py>, value: &T) -> PyResult<Bound<'py, PyAny>> {
    let json = serde_json::to_value(value).map_err(|e| {
        pyo3::exceptions::PyRuntimeError::new_err(format!("cannot serialise record: {e}"))
    })?;
    to_py(py, &json)
}

/// A JSON value as the Python object `json.loads` would give.
pub(crate) fn to_py<'py>(py: Python<'py>, value: &Json) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Json::Null => py.None().into_bound(py),
        Json::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Json::String(s) => s.into_pyobject(py)?.into_any(),
        Json::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Json::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, to_py(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

/// An execution record as the dict `record` gives, built field by field (the path every
/// `repl` takes: no intermediate JSON tree, keys interned).
pub(crate) fn execution<'py>(py: Python<'py>, e: &Execution) -> PyResult<Bound<'py, PyAny>> {
    let d = PyDict::new(py);
    d.set_item(intern!(py, "id"), &e.id)?;
    d.set_item(intern!(py, "session_id"), &e.session_id)?;
    d.set_item(intern!(py, "kind"), e.kind.as_str())?;
    d.set_item(intern!(py, "input"), e.input.as_deref())?;
    d.set_item(intern!(py, "path"), e.path.as_deref())?;
    d.set_item(intern!(py, "args"), to_py(py, &e.args)?)?;
    d.set_item(intern!(py, "env"), to_py(py, &e.env)?)?;
    d.set_item(intern!(py, "status"), e.status.as_str())?;
    d.set_item(intern!(py, "started_at"), &e.started_at)?;
    d.set_item(intern!(py, "ended_at"), e.ended_at.as_deref())?;
    let result = match &e.result {
        Some(r) => to_py(py, r)?,
        None => py.None().into_bound(py),
    };
    d.set_item(intern!(py, "result"), result)?;
    d.set_item(intern!(py, "error"), e.error.as_deref())?;
    d.set_item(intern!(py, "metrics"), metrics(py, &e.metrics)?)?;
    Ok(d.into_any())
}

fn metrics<'py>(py: Python<'py>, m: &Metrics) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item(intern!(py, "duration_ms"), m.duration_ms)?;
    d.set_item(intern!(py, "cpu_ms"), m.cpu_ms)?;
    d.set_item(intern!(py, "event_count"), m.event_count)?;
    d.set_item(intern!(py, "output_bytes"), m.output_bytes)?;
    d.set_item(intern!(py, "host_calls"), m.host_calls)?;
    if let Some(limit) = &m.limit {
        d.set_item(intern!(py, "limit"), limit)?;
    }
    Ok(d)
}

/// Execution records as a list of dicts.
pub(crate) fn executions<'py>(py: Python<'py>, list: &[Execution]) -> PyResult<Bound<'py, PyAny>> {
    let out = PyList::empty(py);
    for e in list {
        out.append(execution(py, e)?)?;
    }
    Ok(out.into_any())
}

/// An event as the dict `record` gives (watchers get one per event).
pub(crate) fn event<'py>(py: Python<'py>, e: &Event) -> PyResult<Bound<'py, PyAny>> {
    let d = PyDict::new(py);
    d.set_item(intern!(py, "execution_id"), &e.execution_id)?;
    d.set_item(intern!(py, "seq"), e.seq)?;
    d.set_item(intern!(py, "ts"), &e.ts)?;
    d.set_item(intern!(py, "type"), e.event_type.as_str())?;
    d.set_item(intern!(py, "payload"), to_py(py, &e.payload)?)?;
    Ok(d.into_any())
}

/// Events as a list of dicts.
pub(crate) fn events<'py>(py: Python<'py>, list: &[Event]) -> PyResult<Bound<'py, PyAny>> {
    let out = PyList::empty(py);
    for e in list {
        out.append(event(py, e)?)?;
    }
    Ok(out.into_any())
}
