//! Native modules (`database`, `fs`, `exec`) enabled per template.

use std::ffi::c_char;

use crate::args::{guard, text, Out};
use crate::error::vms_error_t;
use crate::system::{system, vms_t};

/// Enables a native module from the catalog ("database", "fs", "exec") for a template.
///
/// Returns NULL on success, or `VMS_MODULE_NOT_ALLOWED` (a JavaScript built-in such as
/// "console", or an unknown name; the message says why), `VMS_TEMPLATE_NOT_FOUND`,
/// `VMS_VALIDATION_ERROR`, `VMS_INTERNAL`.
#[no_mangle]
pub unsafe extern "C" fn vms_module_add(
    vms: *const vms_t,
    template_id: *const c_char,
    name: *const c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let template_id = text(template_id, "template_id")?;
        let name = text(name, "name")?;
        Ok(vm.add_module(template_id, name)?)
    })
}

/// Disables a native module for a template.
///
/// Returns NULL on success, or `VMS_TEMPLATE_NOT_FOUND`, `VMS_VALIDATION_ERROR`,
/// `VMS_INTERNAL`.
#[no_mangle]
pub unsafe extern "C" fn vms_module_remove(
    vms: *const vms_t,
    template_id: *const c_char,
    name: *const c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let template_id = text(template_id, "template_id")?;
        let name = text(name, "name")?;
        Ok(vm.remove_module(template_id, name)?)
    })
}

/// A template's enabled modules, sorted; `*out` receives a JSON array of names, freed by
/// the caller with `vms_string_free`.
///
/// Returns NULL on success, or `VMS_TEMPLATE_NOT_FOUND`, `VMS_VALIDATION_ERROR`,
/// `VMS_INTERNAL`.
#[no_mangle]
pub unsafe extern "C" fn vms_module_list(
    vms: *const vms_t,
    template_id: *const c_char,
    out: *mut *mut c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let template_id = text(template_id, "template_id")?;
        let out = Out::required(out)?;
        out.json(&vm.list_modules(template_id)?)
    })
}

/// The native-module catalog; `*out` receives a JSON array of ModuleInfo records (name,
/// description, functions), freed by the caller with `vms_string_free`.
///
/// Returns NULL on success, or `VMS_VALIDATION_ERROR` (NULL handle or `out`).
#[no_mangle]
pub unsafe extern "C" fn vms_modules_available(
    vms: *const vms_t,
    out: *mut *mut c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let out = Out::required(out)?;
        out.json(&vm.available_modules())
    })
}
