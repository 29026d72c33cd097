//! Arguments and results of the exported functions: the panic guard of fallible ones,
//! required and optional strings and JSON, and the out-parameters. Builds on `ffi` and
//! `error`; the handle and the operations build on it.

use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use serde::Serialize;
use serde_json::Value as Json;

use crate::error::vms_error_t;
use crate::ffi::drop_string;

/// What an exported body returns before it crosses the boundary.
pub(crate) type Result<T> = std::result::Result<T, vms_error_t>;

/// Runs the body of a fallible exported function: `Ok` becomes NULL, `Err` an owned error,
/// and a panic a `VMS_INTERNAL` error instead of unwinding into C.
pub(crate) fn guard(body: impl FnOnce() -> Result<()>) -> *mut vms_error_t {
    let outcome = catch_unwind(AssertUnwindSafe(body))
        .unwrap_or_else(|panic| Err(vms_error_t::panicked(panic)));
    match outcome {
        Ok(()) => ptr::null_mut(),
        Err(error) => Box::into_raw(Box::new(error)),
    }
}

/// A `T **out` parameter for a new handle, written only once the call has succeeded.
pub(crate) struct OutHandle<T>(*mut *mut T);

impl<T> OutHandle<T> {
    /// NULL is `VMS_VALIDATION_ERROR`.
    ///
    /// # Safety
    /// `out` is NULL or valid for one write of a `T *`.
    pub(crate) unsafe fn required(out: *mut *mut T) -> Result<Self> {
        if out.is_null() {
            return Err(vms_error_t::validation(
                "out is NULL; pass the address of a handle pointer",
            ));
        }
        Ok(OutHandle(out))
    }

    /// Hands `value` to the caller, who frees it with the type's `_free` function.
    pub(crate) fn put(self, value: T) {
        // SAFETY: the constructor's contract (valid for one write).
        unsafe { *self.0 = Box::into_raw(Box::new(value)) };
    }
}

/// A required string argument: NULL or invalid UTF-8 is `VMS_VALIDATION_ERROR`.
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string that outlives the call.
pub(crate) unsafe fn text<'a>(ptr: *const c_char, name: &str) -> Result<&'a str> {
    optional_text(ptr, name)?
        .ok_or_else(|| vms_error_t::validation(format!("{name} is NULL; it is required")))
}

/// A string argument given as a pointer and a byte length (it may hold NUL bytes): NULL
/// is `VMS_VALIDATION_ERROR` unless the length is 0; so is invalid UTF-8.
///
/// # Safety
/// `ptr` must point to `len` readable bytes (or be NULL with `len` 0) for `'a`.
pub(crate) unsafe fn text_n<'a>(ptr: *const c_char, len: usize, name: &str) -> Result<&'a str> {
    if ptr.is_null() {
        return if len == 0 {
            Ok("")
        } else {
            Err(vms_error_t::validation(format!(
                "{name} is NULL with a length of {len}"
            )))
        };
    }
    std::str::from_utf8(std::slice::from_raw_parts(ptr.cast::<u8>(), len))
        .map_err(|e| vms_error_t::validation(format!("{name} is not valid UTF-8: {e}")))
}

/// An optional string argument: NULL is `None`; invalid UTF-8 is `VMS_VALIDATION_ERROR`.
///
/// # Safety
/// As [`text`].
pub(crate) unsafe fn optional_text<'a>(ptr: *const c_char, name: &str) -> Result<Option<&'a str>> {
    if ptr.is_null() {
        return Ok(None);
    }
    CStr::from_ptr(ptr)
        .to_str()
        .map(Some)
        .map_err(|e| vms_error_t::validation(format!("{name} is not valid UTF-8: {e}")))
}

/// An optional JSON argument: NULL is `None`; invalid UTF-8 or malformed JSON is
/// `VMS_VALIDATION_ERROR`.
///
/// # Safety
/// As [`text`].
pub(crate) unsafe fn optional_json(ptr: *const c_char, name: &str) -> Result<Option<Json>> {
    match optional_text(ptr, name)? {
        None => Ok(None),
        Some(text) => serde_json::from_str(text)
            .map(Some)
            .map_err(|e| vms_error_t::validation(format!("{name} is not valid JSON: {e}"))),
    }
}

/// A required JSON argument.
///
/// # Safety
/// As [`text`].
pub(crate) unsafe fn json(ptr: *const c_char, name: &str) -> Result<Json> {
    optional_json(ptr, name)?
        .ok_or_else(|| vms_error_t::validation(format!("{name} is NULL; it is required")))
}

/// A `char **out` parameter, written only once the call has succeeded.
pub(crate) struct Out(*mut *mut c_char);

impl Out {
    /// An out-parameter the caller must give: NULL is `VMS_VALIDATION_ERROR`.
    ///
    /// # Safety
    /// `out` is NULL or valid for one write of a `char *`.
    pub(crate) unsafe fn required(out: *mut *mut c_char) -> Result<Out> {
        if out.is_null() {
            return Err(vms_error_t::validation(
                "out is NULL; pass the address of a char *",
            ));
        }
        Ok(Out(out))
    }

    /// An out-parameter the caller may leave NULL to discard the result.
    ///
    /// # Safety
    /// As [`Out::required`].
    pub(crate) unsafe fn optional(out: *mut *mut c_char) -> Out {
        Out(out)
    }

    /// Writes `value` as JSON text (the serde form of the core's records).
    pub(crate) fn json<T: Serialize + ?Sized>(self, value: &T) -> Result<()> {
        let text = serde_json::to_string(value).map_err(vms_error_t::internal)?;
        self.text(text)
    }

    /// Writes `value` as a plain string.
    pub(crate) fn text(self, value: String) -> Result<()> {
        let value = CString::new(value).map_err(vms_error_t::internal)?;
        self.put(value.into_raw());
        Ok(())
    }

    /// Writes NULL (a successful "nothing").
    pub(crate) fn null(self) {
        self.put(ptr::null_mut());
    }

    fn put(self, value: *mut c_char) {
        if self.0.is_null() {
            // Discarded by the caller: free it right away.
            drop_string(value);
        } else {
            // SAFETY: the constructors' contract (valid for one write).
            unsafe { *self.0 = value };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::vms_status;

    #[test]
    fn a_panic_becomes_an_internal_error() {
        let err = guard(|| panic!("boom"));
        assert!(!err.is_null());
        let err = unsafe { Box::from_raw(err) };
        assert_eq!(err.code(), vms_status::VMS_INTERNAL);
        assert!(err.message().to_str().unwrap().contains("boom"));
    }

    #[test]
    fn success_is_null() {
        assert!(guard(|| Ok(())).is_null());
    }
}
