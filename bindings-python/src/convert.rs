//! JSON in, Python values out: arguments arrive as JSON text (serialised by the Python
//! layer, which gives the caller Python's own `TypeError` for unserialisable values);
//! records leave as dicts built from their serde form (snake_case keys, as in the SPEC).

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde::Serialize;
use serde_json::Value as Json;

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
