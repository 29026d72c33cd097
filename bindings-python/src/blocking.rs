//! Running a core call that executes JavaScript without holding the GIL, while keeping
//! Ctrl-C working.
//!
//! Python only delivers signals to the main thread, and only when that thread runs Python
//! code. So on the main thread the call runs right there with the GIL released, and the
//! core asks (through [`vm_system::with_interrupt_check`], about every 20 ms of a run) whether
//! to stop: the check takes the GIL back for a moment and runs the pending signal handlers.
//! A `KeyboardInterrupt` (or any exception a handler raises) cancels the execution, which
//! ends `cancelled`, and is raised once the call has returned. A short call never reaches
//! a check and pays nothing for it. Other threads cannot receive signals: they run the call
//! with the GIL released and nothing else.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::OnceLock;
use std::thread::ThreadId;

use pyo3::prelude::*;
use vm_system::VmSystem;

use crate::error;

static MAIN_THREAD: OnceLock<ThreadId> = OnceLock::new();

/// Records the interpreter's main thread (the module is normally imported there).
pub(crate) fn remember_main_thread(py: Python<'_>) -> PyResult<()> {
    let threading = py.import("threading")?;
    let current = threading.call_method0("current_thread")?;
    if current.is(&threading.call_method0("main_thread")?) {
        let _ = MAIN_THREAD.set(std::thread::current().id());
    }
    Ok(())
}

fn on_main_thread() -> bool {
    MAIN_THREAD.get() == Some(&std::thread::current().id())
}

/// Runs `job` without the GIL; on the main thread, Ctrl-C cancels the execution it runs and
/// raises `KeyboardInterrupt` once the call has ended.
pub(crate) fn run<T, F>(py: Python<'_>, vm: &VmSystem, job: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce(&VmSystem) -> vm_system::Result<T> + Send,
{
    if !on_main_thread() {
        let result = py.detach(|| job(vm));
        return error::map(py, result);
    }
    // The check runs on this thread only; the raised exception waits here for the return.
    let raised: Rc<RefCell<Option<PyErr>>> = Rc::default();
    let slot = raised.clone();
    let check = move || {
        if slot.borrow().is_some() {
            return true;
        }
        Python::attach(|py| match py.check_signals() {
            Ok(()) => false,
            Err(e) => {
                *slot.borrow_mut() = Some(e);
                true
            }
        })
    };
    // `Rc` is not `Send`, but the closure never leaves this thread: `with_interrupt_check`
    // keeps it in a thread-local for the length of the call.
    let check = AssertSend(check);
    let result = py.detach(move || {
        let check = check;
        vm_system::with_interrupt_check(check.0, || job(vm))
    });
    if let Some(interrupt) = raised.borrow_mut().take() {
        return Err(interrupt);
    }
    error::map(py, result)
}

/// Carries a value that is created and used on one thread across `Python::detach`, whose
/// closure must be `Send` although it runs on the calling thread.
struct AssertSend<T>(T);

// SAFETY: `run` creates the value, hands it to `detach` (which runs the closure on the same
// thread, synchronously) and never lets it reach another thread.
unsafe impl<T> Send for AssertSend<T> {}
