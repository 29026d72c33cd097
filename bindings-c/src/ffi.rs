//! The bottom layer of the C boundary: the panic guard of infallible functions, borrowing
//! and freeing what the library handed out, and strings for C. It imports nothing of this
//! crate; everything else builds on it (`error` → `args` → `system` → the operations).

use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs the body of an infallible exported function, giving `fallback` if it panics.
pub(crate) fn guard_or<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// Borrows an object the library handed out, `None` for NULL.
///
/// # Safety
/// `ptr` is NULL or points to a live `T`.
pub(crate) unsafe fn borrow<'a, T>(ptr: *const T) -> Option<&'a T> {
    ptr.as_ref()
}

/// Takes back and drops an object the library handed out as `Box::into_raw`; NULL is a
/// no-op.
///
/// # Safety
/// `ptr` is NULL or came from `Box::into_raw` and is not used afterwards.
pub(crate) unsafe fn drop_box<T>(ptr: *mut T) {
    if !ptr.is_null() {
        drop(Box::from_raw(ptr));
    }
}

/// A string for C with any interior NUL replaced, so it is never truncated silently.
pub(crate) fn lossy_cstring(text: String) -> CString {
    CString::new(text).unwrap_or_else(|e| {
        let cleaned = String::from_utf8_lossy(&e.into_vec()).replace('\0', "\u{FFFD}");
        CString::new(cleaned).unwrap_or_default()
    })
}

pub(crate) fn drop_string(value: *mut c_char) {
    if !value.is_null() {
        // SAFETY: every string handed out comes from `CString::into_raw`.
        drop(unsafe { CString::from_raw(value) });
    }
}

/// Frees a string returned by vm-system through a `char **out` parameter. NULL is accepted
/// and ignored. Do not pass strings the library only lends (`vms_error_message`,
/// `vms_version`, the `event_json` of a callback).
#[no_mangle]
pub unsafe extern "C" fn vms_string_free(s: *mut c_char) {
    guard_or((), || drop_string(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interior_nul_is_replaced() {
        assert_eq!(lossy_cstring("a\0b".into()).to_str().unwrap(), "a\u{FFFD}b");
    }
}
