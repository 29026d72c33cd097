//! Sessions: live runtimes built from templates, bound to a worktree.

use std::ffi::{c_char, c_void};

use vm_system::SessionStatus;

use crate::args::{guard, optional_text, text, Out};
use crate::error::vms_error_t;
use crate::event::{vms_event_cb, watcher};
use crate::system::{system, vms_t};

/// Creates a session from a template on `worktree_path` (an absolute path to an existing
/// directory): builds the runtime, loads modules and libraries, runs the startup files
/// (each recorded as a `startup` execution). All four strings are required and non-empty.
///
/// `callback` (may be NULL) receives the startup files' events live, with `user_data`.
/// `*out` receives the Session record as JSON (`{"id", "template_id", "workspace_id",
/// "base_commit_oid", "worktree_path", "status", "created_at", "closed_at",
/// "last_error"}`), freed by the caller with `vms_string_free`.
///
/// Returns NULL on success, or `VMS_VALIDATION_ERROR` (missing argument, worktree not an
/// absolute existing directory), `VMS_TEMPLATE_NOT_FOUND`, `VMS_STARTUP_FAILED` /
/// `VMS_INVALID_PATH` / `VMS_FILE_NOT_FOUND` (startup failed: the session is `crashed`
/// and the error's details carry its `session_id`), `VMS_INTERNAL`.
#[no_mangle]
pub unsafe extern "C" fn vms_session_create(
    vms: *const vms_t,
    template_id: *const c_char,
    workspace_id: *const c_char,
    base_commit_oid: *const c_char,
    worktree_path: *const c_char,
    callback: vms_event_cb,
    user_data: *mut c_void,
    out: *mut *mut c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let template_id = text(template_id, "template_id")?;
        let workspace_id = text(workspace_id, "workspace_id")?;
        let base_commit_oid = text(base_commit_oid, "base_commit_oid")?;
        let worktree_path = text(worktree_path, "worktree_path")?;
        let out = Out::required(out)?;
        out.json(&vm.create_session_watched(
            template_id,
            workspace_id,
            base_commit_oid,
            worktree_path,
            watcher(callback, user_data),
        )?)
    })
}

/// A session record as JSON in `*out`, freed by the caller with `vms_string_free`. A
/// session left live by a process that has exited reads as `closed`.
///
/// Returns NULL on success, or `VMS_SESSION_NOT_FOUND`, `VMS_VALIDATION_ERROR`,
/// `VMS_INTERNAL`.
#[no_mangle]
pub unsafe extern "C" fn vms_session_get(
    vms: *const vms_t,
    session_id: *const c_char,
    out: *mut *mut c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let session_id = text(session_id, "session_id")?;
        let out = Out::required(out)?;
        out.json(&vm.get_session(session_id)?)
    })
}

/// Sessions, oldest first; `status` ("starting", "ready", "crashed", "closed") filters
/// them, NULL lists all. `*out` receives a JSON array of Session records, freed by the
/// caller with `vms_string_free`.
///
/// Returns NULL on success, or `VMS_VALIDATION_ERROR` (unknown status), `VMS_INTERNAL`.
#[no_mangle]
pub unsafe extern "C" fn vms_session_list(
    vms: *const vms_t,
    status: *const c_char,
    out: *mut *mut c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let status = optional_text(status, "status")?
            .map(SessionStatus::parse)
            .transpose()?;
        let out = Out::required(out)?;
        out.json(&vm.list_sessions(status)?)
    })
}

/// Closes a session: a running execution is interrupted (it ends `cancelled`), the runtime
/// is discarded and `closed_at` set. A closed or crashed session is returned as is.
///
/// `*out` receives the Session record as JSON; `out` may be NULL. The caller frees `*out`
/// with `vms_string_free`.
///
/// Returns NULL on success, or `VMS_SESSION_NOT_FOUND`, `VMS_SESSION_NOT_READY` (live in
/// another process), `VMS_VALIDATION_ERROR`, `VMS_INTERNAL`.
#[no_mangle]
pub unsafe extern "C" fn vms_session_close(
    vms: *const vms_t,
    session_id: *const c_char,
    out: *mut *mut c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let session_id = text(session_id, "session_id")?;
        let out = Out::optional(out);
        out.json(&vm.close_session(session_id)?)
    })
}

/// The id of the execution running in a session of this process right now, for
/// cancelling it while the call that started it still blocks. `*out` receives the id as a
/// plain string, or NULL when nothing runs; the caller frees it with `vms_string_free`.
///
/// Returns NULL on success, or `VMS_VALIDATION_ERROR`.
#[no_mangle]
pub unsafe extern "C" fn vms_session_running_execution(
    vms: *const vms_t,
    session_id: *const c_char,
    out: *mut *mut c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let session_id = text(session_id, "session_id")?;
        let out = Out::required(out)?;
        match vm.running_execution(session_id) {
            Some(id) => out.text(id),
            None => {
                out.null();
                Ok(())
            }
        }
    })
}

/// The live sessions of this process; `*out` receives `{"active_sessions": n,
/// "active_session_ids": [...]}`, freed by the caller with `vms_string_free`.
///
/// Returns NULL on success, or `VMS_VALIDATION_ERROR` (NULL handle or `out`).
#[no_mangle]
pub unsafe extern "C" fn vms_runtime_summary(
    vms: *const vms_t,
    out: *mut *mut c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let out = Out::required(out)?;
        out.json(&vm.runtime_summary())
    })
}
