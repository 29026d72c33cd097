//! Third-party JavaScript libraries: per-template lists, the catalog and the local cache.

use std::ffi::c_char;
use std::path::Path;

use crate::args::{guard, optional_text, text, Out};
use crate::error::vms_error_t;
use crate::system::{system, vms_t};

/// Enables a catalog library (e.g. "lodash-4.17.21") for a template. It must be installed
/// in the cache (`vms_library_install`) before a session of the template starts.
///
/// Returns NULL on success, or `VMS_VALIDATION_ERROR` (name not in the catalog, NULL
/// argument), `VMS_TEMPLATE_NOT_FOUND`, `VMS_INTERNAL`.
#[no_mangle]
pub unsafe extern "C" fn vms_library_add(
    vms: *const vms_t,
    template_id: *const c_char,
    name: *const c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let template_id = text(template_id, "template_id")?;
        let name = text(name, "name")?;
        Ok(vm.add_library(template_id, name)?)
    })
}

/// Disables a library for a template.
///
/// Returns NULL on success, or `VMS_TEMPLATE_NOT_FOUND`, `VMS_VALIDATION_ERROR`,
/// `VMS_INTERNAL`.
#[no_mangle]
pub unsafe extern "C" fn vms_library_remove(
    vms: *const vms_t,
    template_id: *const c_char,
    name: *const c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let template_id = text(template_id, "template_id")?;
        let name = text(name, "name")?;
        Ok(vm.remove_library(template_id, name)?)
    })
}

/// A template's enabled libraries, sorted; `*out` receives a JSON array of names, freed by
/// the caller with `vms_string_free`.
///
/// Returns NULL on success, or `VMS_TEMPLATE_NOT_FOUND`, `VMS_VALIDATION_ERROR`,
/// `VMS_INTERNAL`.
#[no_mangle]
pub unsafe extern "C" fn vms_library_list(
    vms: *const vms_t,
    template_id: *const c_char,
    out: *mut *mut c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let template_id = text(template_id, "template_id")?;
        let out = Out::required(out)?;
        out.json(&vm.list_libraries(template_id)?)
    })
}

/// The library catalog; `*out` receives a JSON array of LibraryInfo records (name,
/// package, version, file, global, sha256, description), freed by the caller with
/// `vms_string_free`.
///
/// Returns NULL on success, or `VMS_VALIDATION_ERROR` (NULL handle or `out`).
#[no_mangle]
pub unsafe extern "C" fn vms_libraries_available(
    vms: *const vms_t,
    out: *mut *mut c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let out = Out::required(out)?;
        out.json(&vm.available_libraries())
    })
}

/// Installs a catalog library into the cache, from `from_path` (a local copy of the file)
/// or, when it is NULL, with `npm pack`. The file's SHA-256 must match the catalog.
///
/// `*out` receives the InstalledLibrary as JSON (`{"name", "path", "sha256", "size"}`);
/// `out` may be NULL. The caller frees `*out` with `vms_string_free`.
///
/// Returns NULL on success, or `VMS_VALIDATION_ERROR` (unknown name, checksum mismatch),
/// `VMS_FILE_NOT_FOUND`, `VMS_INTERNAL` (download or write failed).
#[no_mangle]
pub unsafe extern "C" fn vms_library_install(
    vms: *const vms_t,
    name: *const c_char,
    from_path: *const c_char,
    out: *mut *mut c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let name = text(name, "name")?;
        let from = optional_text(from_path, "from_path")?.map(Path::new);
        let out = Out::optional(out);
        out.json(&vm.install_library(name, from)?)
    })
}

/// The libraries present and intact in the cache; `*out` receives a JSON array of
/// InstalledLibrary records, freed by the caller with `vms_string_free`.
///
/// Returns NULL on success, or `VMS_VALIDATION_ERROR`, `VMS_INTERNAL`.
#[no_mangle]
pub unsafe extern "C" fn vms_libraries_installed(
    vms: *const vms_t,
    out: *mut *mut c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let out = Out::required(out)?;
        out.json(&vm.installed_libraries()?)
    })
}
