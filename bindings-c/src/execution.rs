//! Executions: running code in a session, reading the records back, cancelling.

use std::ffi::{c_char, c_void};

use serde_json::json;

use crate::args::{guard, optional_json, text, text_n, Out};
use crate::error::vms_error_t;
use crate::event::{vms_event_cb, watcher};
use crate::system::{system, vms_t};

/// Evaluates `input` as a global script in the session (declarations persist to later
/// executions); blocks until it ends. `input` is a NUL-terminated string, so it ends at
/// its first NUL byte: a program holding U+0000 (legal in JavaScript string, template and
/// RegExp literals) goes through `vms_repl_n`, which takes the length. A JavaScript exception is not an API error: the
/// execution ends with status "error" and an `exception` event.
///
/// `callback` (may be NULL) receives each event live, with `user_data`. `*out` receives
/// the Execution record as JSON (`{"id", "session_id", "kind", "input", "path", "args",
/// "env", "status", "started_at", "ended_at", "result", "error", "metrics"}`); `out` may
/// be NULL. The caller frees `*out` with `vms_string_free`.
///
/// Returns NULL on success, or `VMS_SESSION_NOT_FOUND`, `VMS_SESSION_NOT_READY`,
/// `VMS_SESSION_BUSY` (details carry `session_id`), `VMS_OUTPUT_LIMIT_EXCEEDED` (details
/// carry `execution_id`), `VMS_VALIDATION_ERROR`, `VMS_INTERNAL`.
#[no_mangle]
pub unsafe extern "C" fn vms_repl(
    vms: *const vms_t,
    session_id: *const c_char,
    input: *const c_char,
    callback: vms_event_cb,
    user_data: *mut c_void,
    out: *mut *mut c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let session_id = text(session_id, "session_id")?;
        let input = text(input, "input")?;
        let out = Out::optional(out);
        out.json(&vm.repl_watched(session_id, input, watcher(callback, user_data))?)
    })
}

/// `vms_repl` with the input given as `input_len` bytes of UTF-8 at `input` (no NUL
/// terminator needed; NUL bytes inside are part of the program). The rest is as
/// `vms_repl`; invalid UTF-8 is `VMS_VALIDATION_ERROR`.
#[no_mangle]
pub unsafe extern "C" fn vms_repl_n(
    vms: *const vms_t,
    session_id: *const c_char,
    input: *const c_char,
    input_len: usize,
    callback: vms_event_cb,
    user_data: *mut c_void,
    out: *mut *mut c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let session_id = text(session_id, "session_id")?;
        let input = text_n(input, input_len, "input")?;
        let out = Out::optional(out);
        out.json(&vm.repl_watched(session_id, input, watcher(callback, user_data))?)
    })
}

/// Runs a worktree file in the session; blocks until it ends. `args_json` and `env_json`
/// (JSON objects, `env` values strings; NULL for `{}`) become `globalThis.__ARGS__` and
/// `globalThis.__ENV__`.
///
/// `callback` (may be NULL) receives each event live, with `user_data`. `*out` receives
/// the Execution record as JSON; `out` may be NULL. The caller frees `*out` with
/// `vms_string_free`.
///
/// Returns NULL on success, or `VMS_INVALID_PATH` (absolute, `..`-escaping, or symlink
/// escape), `VMS_FILE_NOT_FOUND`, `VMS_SESSION_NOT_FOUND`, `VMS_SESSION_NOT_READY`,
/// `VMS_SESSION_BUSY`, `VMS_OUTPUT_LIMIT_EXCEEDED`, `VMS_VALIDATION_ERROR` (malformed
/// JSON, non-object args/env, non-string env value), `VMS_INTERNAL`.
#[no_mangle]
pub unsafe extern "C" fn vms_run_file(
    vms: *const vms_t,
    session_id: *const c_char,
    path: *const c_char,
    args_json: *const c_char,
    env_json: *const c_char,
    callback: vms_event_cb,
    user_data: *mut c_void,
    out: *mut *mut c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let session_id = text(session_id, "session_id")?;
        let path = text(path, "path")?;
        let args = optional_json(args_json, "args_json")?.unwrap_or_else(|| json!({}));
        let env = optional_json(env_json, "env_json")?.unwrap_or_else(|| json!({}));
        let out = Out::optional(out);
        let watcher = watcher(callback, user_data);
        out.json(&vm.run_file_watched(session_id, path, &args, &env, watcher)?)
    })
}

/// An Execution record as JSON in `*out`, freed by the caller with `vms_string_free`.
///
/// Returns NULL on success, or `VMS_EXECUTION_NOT_FOUND`, `VMS_VALIDATION_ERROR`,
/// `VMS_INTERNAL`.
#[no_mangle]
pub unsafe extern "C" fn vms_execution_get(
    vms: *const vms_t,
    execution_id: *const c_char,
    out: *mut *mut c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let execution_id = text(execution_id, "execution_id")?;
        let out = Out::required(out)?;
        out.json(&vm.get_execution(execution_id)?)
    })
}

/// A session's executions, newest first, at most `limit` (1 to 10000; the SPEC default is
/// 50). `*out` receives a JSON array of Execution records, freed by the caller with
/// `vms_string_free`.
///
/// Returns NULL on success, or `VMS_VALIDATION_ERROR` (limit out of range),
/// `VMS_SESSION_NOT_FOUND`, `VMS_INTERNAL`.
#[no_mangle]
pub unsafe extern "C" fn vms_execution_list(
    vms: *const vms_t,
    session_id: *const c_char,
    limit: u32,
    out: *mut *mut c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let session_id = text(session_id, "session_id")?;
        let out = Out::required(out)?;
        out.json(&vm.list_executions(session_id, limit)?)
    })
}

/// Cancels a running execution from any thread; it ends `cancelled` and the blocked
/// `vms_repl` / `vms_run_file` returns. An execution that has already ended is left as it
/// is.
///
/// Returns NULL on success, or `VMS_EXECUTION_NOT_FOUND`, `VMS_VALIDATION_ERROR` (running
/// in another process), `VMS_INTERNAL`.
#[no_mangle]
pub unsafe extern "C" fn vms_execution_cancel(
    vms: *const vms_t,
    execution_id: *const c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let execution_id = text(execution_id, "execution_id")?;
        Ok(vm.cancel_execution(execution_id)?)
    })
}
