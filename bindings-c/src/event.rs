//! Events: reading them back, and the callback that watches them live.

use std::ffi::{c_char, c_int, c_void, CString};

use vm_system::{Event, EventWatcher};

use crate::args::{guard, text, Out};
use crate::error::vms_error_t;
use crate::system::{system, vms_t};

/// Receives each event of an execution as it happens, in order: `event_json` is the Event
/// as JSON (`{"execution_id", "seq", "ts", "type", "payload"}`), borrowed for the length
/// of the call (copy it to keep it; never free it). `user_data` is the pointer given with
/// the callback.
///
/// Runs on the thread that called `vms_repl` / `vms_run_file` / `vms_session_create`,
/// before that call returns, with no lock of the library held: it may call any vm-system
/// function, and other threads' calls return while it runs. Closing its own session
/// (`vms_session_close`, `vms_close`) ends the running execution `cancelled` once the
/// callback returns; running code in its own session gives `VMS_SESSION_BUSY`. Return 0 on
/// success; a non-zero return does not stop the execution: it is recorded as a `system`
/// event. The callback must not unwind (C++ exceptions, longjmp) through the library, and
/// must not call `vms_free` on the handle in use.
pub type vms_event_cb =
    Option<unsafe extern "C" fn(event_json: *const c_char, user_data: *mut c_void) -> c_int>;

/// The caller's `user_data`, carried to the thread that runs the execution.
struct UserData(*mut c_void);

// SAFETY: the pointer is only handed back to the caller's callback, on the calling thread
// (the core runs an execution synchronously); what it points to is the caller's business.
unsafe impl Send for UserData {}

impl UserData {
    fn get(&self) -> *mut c_void {
        self.0
    }
}

/// The core watcher that forwards each event to a C callback; `None` without a callback.
pub(crate) fn watcher(callback: vms_event_cb, user_data: *mut c_void) -> Option<EventWatcher> {
    let callback = callback?;
    let user_data = UserData(user_data);
    Some(Box::new(move |event: &Event| {
        let json = serde_json::to_string(event).map_err(|e| e.to_string())?;
        let json = CString::new(json).map_err(|e| e.to_string())?;
        // SAFETY: the caller promised a valid callback; `json` outlives the call.
        match unsafe { callback(json.as_ptr(), user_data.get()) } {
            0 => Ok(()),
            rc => Err(format!("event callback returned {rc}")),
        }
    }))
}

/// The events of an execution with `seq > after_seq`, in order (0 for all); readable while
/// the execution runs. `*out` receives a JSON array of Event records, freed by the caller
/// with `vms_string_free`.
///
/// Returns NULL on success, or `VMS_EXECUTION_NOT_FOUND`, `VMS_VALIDATION_ERROR`,
/// `VMS_INTERNAL`.
#[no_mangle]
pub unsafe extern "C" fn vms_events(
    vms: *const vms_t,
    execution_id: *const c_char,
    after_seq: u64,
    out: *mut *mut c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let execution_id = text(execution_id, "execution_id")?;
        let out = Out::required(out)?;
        out.json(&vm.events(execution_id, after_seq)?)
    })
}
