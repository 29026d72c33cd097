//! Live events: a Python callable as the core's [`EventWatcher`].

use pyo3::prelude::*;
use vm_system::{Event, EventWatcher};

use crate::convert;

/// Calls `callback(event_dict)` for each event, taking the GIL for the call. A raised
/// exception becomes the watcher's `Err`, which the core records as a `system` event
/// without stopping the execution.
pub(crate) fn watcher(callback: Option<Py<PyAny>>) -> Option<EventWatcher> {
    let callback = callback?;
    Some(Box::new(move |event: &Event| {
        Python::attach(|py| {
            let event = convert::event(py, event).map_err(|e| e.to_string())?;
            callback
                .call1(py, (event,))
                .map(drop)
                .map_err(|e| e.to_string())
        })
    }))
}
