//! The error object and status codes: the core's `ErrorCode`, mapped once.

use std::any::Any;
use std::ffi::{c_char, CStr, CString};

use vm_system::{Error, ErrorCode};

use crate::ffi::{self, guard_or};

/// Stable status codes, the same numbers as the SPEC error codes (and the Rust core's
/// `ErrorCode`). A number is never renumbered or reused once retired.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum vms_status {
    /// No error (what `vms_error_code(NULL)` returns).
    VMS_OK = 0,
    /// `VALIDATION_ERROR`: missing or invalid argument (also NULL pointers, invalid UTF-8,
    /// malformed JSON).
    VMS_VALIDATION_ERROR = 1,
    /// `TEMPLATE_NOT_FOUND`: unknown template id.
    VMS_TEMPLATE_NOT_FOUND = 2,
    /// `SESSION_NOT_FOUND`: unknown session id.
    VMS_SESSION_NOT_FOUND = 3,
    /// `EXECUTION_NOT_FOUND`: unknown execution id.
    VMS_EXECUTION_NOT_FOUND = 4,
    /// `FILE_NOT_FOUND`: file missing in the worktree.
    VMS_FILE_NOT_FOUND = 5,
    /// `SESSION_NOT_READY`: the session is not `ready`.
    VMS_SESSION_NOT_READY = 6,
    /// `SESSION_BUSY`: another execution is running in the session.
    VMS_SESSION_BUSY = 7,
    /// `INVALID_PATH`: absolute path, traversal, or symlink escape.
    VMS_INVALID_PATH = 8,
    /// `OUTPUT_LIMIT_EXCEEDED`: `max_events` / `max_output_kb` reached.
    VMS_OUTPUT_LIMIT_EXCEEDED = 9,
    /// `STARTUP_MODE_UNSUPPORTED`: unknown startup mode.
    VMS_STARTUP_MODE_UNSUPPORTED = 10,
    /// `MODULE_NOT_ALLOWED`: built-in or unknown module name.
    VMS_MODULE_NOT_ALLOWED = 11,
    /// `STARTUP_FAILED`: session startup threw or could not load something.
    VMS_STARTUP_FAILED = 12,
    /// `INTERNAL`: anything else (a bug, or a failure of the host such as storage).
    VMS_INTERNAL = 13,
    /// `NO_CAPACITY`: the instance (or, for placement, every instance) holds as many live
    /// sessions as its capacity allows.
    VMS_NO_CAPACITY = 14,
    /// `STORE_UNAVAILABLE`: the store (a PostgreSQL server) cannot be reached; a retried
    /// call may succeed.
    VMS_STORE_UNAVAILABLE = 15,
}

impl vms_status {
    /// The SPEC name of a status number (`"OK"` for 0), `None` for unknown numbers.
    fn name(code: u32) -> Option<&'static CStr> {
        Some(match code {
            0 => c"OK",
            1 => c"VALIDATION_ERROR",
            2 => c"TEMPLATE_NOT_FOUND",
            3 => c"SESSION_NOT_FOUND",
            4 => c"EXECUTION_NOT_FOUND",
            5 => c"FILE_NOT_FOUND",
            6 => c"SESSION_NOT_READY",
            7 => c"SESSION_BUSY",
            8 => c"INVALID_PATH",
            9 => c"OUTPUT_LIMIT_EXCEEDED",
            10 => c"STARTUP_MODE_UNSUPPORTED",
            11 => c"MODULE_NOT_ALLOWED",
            12 => c"STARTUP_FAILED",
            13 => c"INTERNAL",
            14 => c"NO_CAPACITY",
            15 => c"STORE_UNAVAILABLE",
            _ => return None,
        })
    }
}

impl From<ErrorCode> for vms_status {
    fn from(code: ErrorCode) -> Self {
        match code {
            ErrorCode::Validation => vms_status::VMS_VALIDATION_ERROR,
            ErrorCode::TemplateNotFound => vms_status::VMS_TEMPLATE_NOT_FOUND,
            ErrorCode::SessionNotFound => vms_status::VMS_SESSION_NOT_FOUND,
            ErrorCode::ExecutionNotFound => vms_status::VMS_EXECUTION_NOT_FOUND,
            ErrorCode::FileNotFound => vms_status::VMS_FILE_NOT_FOUND,
            ErrorCode::SessionNotReady => vms_status::VMS_SESSION_NOT_READY,
            ErrorCode::SessionBusy => vms_status::VMS_SESSION_BUSY,
            ErrorCode::InvalidPath => vms_status::VMS_INVALID_PATH,
            ErrorCode::OutputLimitExceeded => vms_status::VMS_OUTPUT_LIMIT_EXCEEDED,
            ErrorCode::StartupModeUnsupported => vms_status::VMS_STARTUP_MODE_UNSUPPORTED,
            ErrorCode::ModuleNotAllowed => vms_status::VMS_MODULE_NOT_ALLOWED,
            ErrorCode::StartupFailed => vms_status::VMS_STARTUP_FAILED,
            ErrorCode::Internal => vms_status::VMS_INTERNAL,
            ErrorCode::NoCapacity => vms_status::VMS_NO_CAPACITY,
            ErrorCode::StoreUnavailable => vms_status::VMS_STORE_UNAVAILABLE,
            // A code added to the core but not yet here: still an error, never a crash.
            _ => vms_status::VMS_INTERNAL,
        }
    }
}

/// An error returned by a vm-system function: a status code, a message for humans and
/// details (the session or execution it is about) as JSON. Owned by the caller; free it
/// with `vms_error_free`.
#[derive(Debug)]
pub struct vms_error_t {
    code: vms_status,
    message: CString,
    details: CString,
}

impl vms_error_t {
    /// A `VMS_VALIDATION_ERROR` raised by the binding itself (bad pointer, UTF-8, JSON).
    pub(crate) fn validation(message: impl Into<String>) -> Self {
        Self::new(
            vms_status::VMS_VALIDATION_ERROR,
            message.into(),
            serde_json::json!({}),
        )
    }

    /// A `VMS_INTERNAL` raised by the binding itself.
    pub(crate) fn internal(message: impl std::fmt::Display) -> Self {
        Self::new(
            vms_status::VMS_INTERNAL,
            format!("internal error: {message}"),
            serde_json::json!({}),
        )
    }

    /// The error for a panic caught at the boundary.
    pub(crate) fn panicked(payload: Box<dyn Any + Send>) -> Self {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        Self::internal(format!(
            "vm-system panicked ({what}); this is a bug, please report it"
        ))
    }

    fn new(code: vms_status, message: String, details: serde_json::Value) -> Self {
        vms_error_t {
            code,
            message: ffi::lossy_cstring(message),
            details: ffi::lossy_cstring(details.to_string()),
        }
    }

    /// The status code.
    pub fn code(&self) -> vms_status {
        self.code
    }

    /// The message.
    pub fn message(&self) -> &CStr {
        &self.message
    }

    /// The details JSON.
    pub fn details(&self) -> &CStr {
        &self.details
    }
}

impl From<Error> for vms_error_t {
    fn from(error: Error) -> Self {
        let mut details = serde_json::Map::new();
        if let Some(id) = error.session_id() {
            details.insert("session_id".into(), id.into());
        }
        if let Some(id) = error.execution_id() {
            details.insert("execution_id".into(), id.into());
        }
        Self::new(error.code().into(), error.to_string(), details.into())
    }
}

/// The status code of an error; `VMS_OK` when `err` is NULL.
#[no_mangle]
pub unsafe extern "C" fn vms_error_code(err: *const vms_error_t) -> vms_status {
    guard_or(vms_status::VMS_INTERNAL, || match ffi::borrow(err) {
        Some(err) => err.code,
        None => vms_status::VMS_OK,
    })
}

/// The message of an error, for humans: says what went wrong and what to do.
///
/// Borrowed from `err`: valid until `vms_error_free(err)`; do not free it. Returns ""
/// when `err` is NULL.
#[no_mangle]
pub unsafe extern "C" fn vms_error_message(err: *const vms_error_t) -> *const c_char {
    guard_or(c"".as_ptr(), || match ffi::borrow(err) {
        Some(err) => err.message.as_ptr(),
        None => c"".as_ptr(),
    })
}

/// The details of an error as a JSON object: `{"session_id": "…"}` (e.g. for
/// `VMS_STARTUP_FAILED`, `VMS_SESSION_BUSY`), `{"execution_id": "…"}` (for
/// `VMS_OUTPUT_LIMIT_EXCEEDED`), or `{}`.
///
/// Borrowed from `err`: valid until `vms_error_free(err)`; do not free it. Returns "{}"
/// when `err` is NULL.
#[no_mangle]
pub unsafe extern "C" fn vms_error_details_json(err: *const vms_error_t) -> *const c_char {
    guard_or(c"{}".as_ptr(), || match ffi::borrow(err) {
        Some(err) => err.details.as_ptr(),
        None => c"{}".as_ptr(),
    })
}

/// Frees an error returned by any vm-system function. NULL is accepted and ignored.
#[no_mangle]
pub unsafe extern "C" fn vms_error_free(err: *mut vms_error_t) {
    guard_or((), || ffi::drop_box(err))
}

/// The SPEC name of a status code (`"OK"`, `"VALIDATION_ERROR"`, `"SESSION_BUSY"`, …),
/// `"UNKNOWN"` for a number that is not a status.
///
/// Static storage: never free it.
#[no_mangle]
pub extern "C" fn vms_status_name(code: u32) -> *const c_char {
    guard_or(c"UNKNOWN".as_ptr(), || {
        vms_status::name(code).unwrap_or(c"UNKNOWN").as_ptr()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_code_keeps_its_number_and_name() {
        for code in ErrorCode::ALL {
            let status = vms_status::from(code);
            assert_eq!(status as u32, code as u32, "{code}");
            assert_eq!(
                vms_status::name(status as u32).unwrap().to_str().unwrap(),
                code.as_str()
            );
        }
    }

    #[test]
    fn details_carry_the_ids() {
        let err = vms_error_t::from(Error::SessionBusy {
            session_id: "s1".into(),
        });
        assert_eq!(err.code(), vms_status::VMS_SESSION_BUSY);
        assert_eq!(err.details().to_str().unwrap(), r#"{"session_id":"s1"}"#);
        let err = vms_error_t::from(Error::Validation("bad".into()));
        assert_eq!(err.details().to_str().unwrap(), "{}");
    }
}
