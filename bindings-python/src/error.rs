//! The one mapping from a core [`vm_system::Error`] to a Python exception: the class for
//! each code is defined once, in `vm_system/errors.py`, and built by its `_from_native`.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyAny;

static FROM_NATIVE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The Python exception (a `vm_system.VmSystemError` subclass) for a core error.
pub(crate) fn to_py_err(py: Python<'_>, err: vm_system::Error) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let factory = FROM_NATIVE.get_or_try_init(py, || {
            Ok::<_, PyErr>(
                py.import("vm_system.errors")?
                    .getattr("_from_native")?
                    .unbind(),
            )
        })?;
        let exc = factory.bind(py).call1((
            err.code().as_str(),
            err.to_string(),
            err.session_id(),
            err.execution_id(),
        ))?;
        Ok(PyErr::from_value(exc))
    };
    build()
        .unwrap_or_else(|e| PyRuntimeError::new_err(format!("{err} (and mapping it failed: {e})")))
}

/// Maps a core result, e.g. `to_py(py, vm.get_template(id))`.
pub(crate) fn map<T>(py: Python<'_>, result: vm_system::Result<T>) -> PyResult<T> {
    result.map_err(|e| to_py_err(py, e))
}
