//! The handle: opening, closing and freeing a vm-system database.

use std::ffi::c_char;
use std::path::PathBuf;

use vm_system::{OpenOptions, VmSystem};

use crate::args::{self, guard, optional_text, Out, OutHandle};
use crate::error::vms_error_t;
use crate::ffi::{self, guard_or};

/// A vm-system database and the live sessions this process runs on it. Opaque; create it
/// with `vms_open`, free it with `vms_free`. Thread-safe: any function taking a
/// `const vms_t *` may be called from several threads at once (different sessions run in
/// parallel). A handle does not survive `fork()`: in the child every call on the inherited
/// handle returns `VMS_VALIDATION_ERROR` ("open a new VmSystem in this process"), and
/// `vms_free` there releases nothing of the parent's; the child opens its own handle.
pub struct vms_t {
    pub(crate) vm: VmSystem,
}

/// The `VmSystem` behind a handle. NULL, and a handle inherited through `fork()` (its
/// database connections and sessions are the parent's), are `VMS_VALIDATION_ERROR`.
///
/// # Safety
/// `handle` is NULL or a live pointer returned by `vms_open`.
pub(crate) unsafe fn system<'a>(handle: *const vms_t) -> args::Result<&'a VmSystem> {
    let vm = ffi::borrow(handle)
        .map(|h| &h.vm)
        .ok_or_else(|| vms_error_t::validation("vms handle is NULL; open one with vms_open"))?;
    vm.check_process()?;
    Ok(vm)
}

/// The library version, e.g. "0.1.0". Static storage: never free it.
#[no_mangle]
pub extern "C" fn vms_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}

/// Opens (or creates) a database and returns a handle in `*out`.
///
/// `path` is a SQLite file (created and migrated forward as needed), or NULL for a private
/// in-memory database. Libraries are cached in `.vm-cache/libraries/` beside the file (in
/// the working directory for an in-memory database); see `vms_open_with` to choose.
/// On success the caller owns `*out` and frees it with `vms_free`; on failure `*out` is
/// untouched.
///
/// Returns NULL on success, or an error: `VMS_VALIDATION_ERROR` (NULL `out`, empty path,
/// invalid UTF-8; a path whose directory does not exist or that cannot be opened; a file
/// that is not a vm-system database — not SQLite, or another application's database —
/// or one written by a newer vm-system: such a file is left unchanged), `VMS_INTERNAL`
/// (a storage failure while migrating: a bug or a broken disk). `":memory:"` opens a
/// private in-memory database, as NULL does.
#[no_mangle]
pub unsafe extern "C" fn vms_open(path: *const c_char, out: *mut *mut vms_t) -> *mut vms_error_t {
    vms_open_with(path, std::ptr::null(), out)
}

/// Like `vms_open`, with the folder installed libraries are kept in (`library_cache`,
/// NULL for the default).
///
/// Returns NULL on success, or an error: `VMS_VALIDATION_ERROR`, `VMS_INTERNAL`.
#[no_mangle]
pub unsafe extern "C" fn vms_open_with(
    path: *const c_char,
    library_cache: *const c_char,
    out: *mut *mut vms_t,
) -> *mut vms_error_t {
    guard(|| {
        let path = optional_text(path, "path")?;
        let options = OpenOptions {
            library_cache: optional_text(library_cache, "library_cache")?.map(PathBuf::from),
            ..OpenOptions::default()
        };
        let out = OutHandle::required(out)?;
        let vm = match path {
            Some(path) => VmSystem::open_with(path, options)?,
            None => VmSystem::open_in_memory_with(options)?,
        };
        out.put(vms_t { vm });
        Ok(())
    })
}

/// Closes every live session of the handle (a running execution ends `cancelled`). The
/// handle stays usable; `vms_free` also does this.
///
/// Returns NULL on success, or `VMS_VALIDATION_ERROR` for a NULL handle.
#[no_mangle]
pub unsafe extern "C" fn vms_close(vms: *const vms_t) -> *mut vms_error_t {
    guard(|| {
        system(vms)?.close();
        Ok(())
    })
}

/// Closes the handle's live sessions and frees it. NULL is accepted and ignored. No other
/// thread may be using the handle, nor an event callback of one of its executions. In a
/// `fork()` child, frees the child's copy only (nothing of the parent's is touched).
#[no_mangle]
pub unsafe extern "C" fn vms_free(vms: *mut vms_t) {
    guard_or((), || ffi::drop_box(vms))
}

/// The folder installed libraries are kept in, as a plain string (not JSON) in `*out`;
/// the caller frees it with `vms_string_free`.
///
/// Returns NULL on success, or `VMS_VALIDATION_ERROR` (NULL handle or `out`).
#[no_mangle]
pub unsafe extern "C" fn vms_library_cache(
    vms: *const vms_t,
    out: *mut *mut c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let out = Out::required(out)?;
        out.text(vm.library_cache().to_string_lossy().into_owned())
    })
}
