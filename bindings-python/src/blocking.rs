//! Running a core call that executes JavaScript without holding the GIL, while keeping
//! Ctrl-C working.
//!
//! Python only delivers signals to the main thread, and only when that thread runs Python
//! code. So on the main thread the core call runs on a helper thread while the caller
//! waits in short slices (GIL released), checking for signals between them; a
//! `KeyboardInterrupt` cancels the session's running execution, waits for the call to end
//! and is then raised. Other threads cannot receive signals: they run the call directly.
//! The helper is one long-lived thread (the main thread makes one call at a time and always
//! waits for it), which saves spawning a thread per call.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, OnceLock};
use std::thread::ThreadId;
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use vm_system::VmSystem;

use crate::error;

/// How long the main thread waits before looking for a pending signal.
const SIGNAL_SLICE: Duration = Duration::from_millis(20);

static MAIN_THREAD: OnceLock<ThreadId> = OnceLock::new();

type Task = Box<dyn FnOnce() + Send>;

/// The helper thread's queue, with the process id it was started in (a forked child has
/// the queue but not the thread, and starts its own).
static HELPER: Mutex<Option<(u32, mpsc::Sender<Task>)>> = Mutex::new(None);

fn submit(task: Task) -> PyResult<()> {
    let mut helper = HELPER.lock().unwrap_or_else(|p| p.into_inner());
    let pid = std::process::id();
    let task = match helper.as_ref() {
        Some((owner, tx)) if *owner == pid => match tx.send(task) {
            Ok(()) => return Ok(()),
            Err(mpsc::SendError(task)) => task,
        },
        _ => task,
    };
    let (tx, rx) = mpsc::channel::<Task>();
    std::thread::Builder::new()
        .name("vm-system-main".into())
        .spawn(move || rx.into_iter().for_each(|task| task()))
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start a thread: {e}")))?;
    tx.send(task)
        .map_err(|_| PyRuntimeError::new_err("the vm-system helper thread stopped"))?;
    *helper = Some((pid, tx));
    Ok(())
}

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

/// Runs `job` without the GIL; on the main thread, Ctrl-C cancels the execution running in
/// `session_id` (if known) and raises `KeyboardInterrupt` once the call has ended.
pub(crate) fn run<T, F>(
    py: Python<'_>,
    vm: &VmSystem,
    session_id: Option<&str>,
    job: F,
) -> PyResult<T>
where
    T: Send + 'static,
    F: FnOnce(&VmSystem) -> vm_system::Result<T> + Send + 'static,
{
    let Some(session_id) = session_id.filter(|_| on_main_thread()) else {
        let result = py.detach(|| job(vm));
        return error::map(py, result);
    };
    let (tx, rx) = mpsc::sync_channel(1);
    let worker = vm.clone();
    submit(Box::new(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&worker)));
        if let Ok(result) = result {
            let _ = tx.send(result);
        }
    }))?;
    let mut rx = rx;
    loop {
        // The receiver is `Send` but not `Sync`: move it into the GIL-free closure and back.
        let (received, back) = py.detach(move || (rx.recv_timeout(SIGNAL_SLICE), rx));
        rx = back;
        match received {
            Ok(result) => return error::map(py, result),
            Err(RecvTimeoutError::Disconnected) => {
                return Err(PyRuntimeError::new_err("the vm-system call panicked"))
            }
            Err(RecvTimeoutError::Timeout) => {
                if let Err(interrupt) = py.check_signals() {
                    py.detach(move || cancel_until_done(vm, session_id, rx));
                    return Err(interrupt);
                }
            }
        }
    }
}

/// Cancels whatever runs in the session until the call reports back (the execution may
/// not have started yet when the signal came).
fn cancel_until_done<T>(vm: &VmSystem, session_id: &str, rx: mpsc::Receiver<T>) {
    loop {
        if let Some(id) = vm.running_execution(session_id) {
            let _ = vm.cancel_execution(&id);
        }
        match rx.recv_timeout(Duration::from_millis(5)) {
            Err(RecvTimeoutError::Timeout) => continue,
            _ => return,
        }
    }
}
