//! `vm_system._native`: the private native module under the `vm_system` Python package.
//!
//! It converts arguments, calls the core with the GIL released and converts the results to
//! plain Python values (dicts, lists). The typed records, the exception classes and the
//! public API live in the pure-Python package on top of it.

mod blocking;
mod convert;
mod error;
mod event;
mod system;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    blocking::remember_main_thread(m.py())?;
    m.add_class::<system::VmSystem>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
