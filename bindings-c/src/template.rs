//! Templates and their settings, startup files and capabilities.

use std::ffi::c_char;

use serde_json::json;
use vm_system::ENGINE_QUICKJS;

use crate::args::{guard, json, optional_json, optional_text, text, Out};
use crate::error::vms_error_t;
use crate::system::{system, vms_t};

/// Creates a template with the default settings; `*out` receives the Template record as
/// JSON (`{"id", "name", "engine", "created_at", "updated_at"}`).
///
/// `engine` may be NULL for "quickjs", the only engine. The caller frees `*out` with
/// `vms_string_free`; on failure `*out` is untouched.
///
/// Returns NULL on success, or `VMS_VALIDATION_ERROR` (NULL or empty name, unknown engine,
/// NULL handle or `out`), `VMS_INTERNAL`.
#[no_mangle]
pub unsafe extern "C" fn vms_template_create(
    vms: *const vms_t,
    name: *const c_char,
    engine: *const c_char,
    out: *mut *mut c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let name = text(name, "name")?;
        let engine = optional_text(engine, "engine")?.unwrap_or(ENGINE_QUICKJS);
        let out = Out::required(out)?;
        out.json(&vm.create_template(name, engine)?)
    })
}

/// A template with its settings and sub-resources; `*out` receives the TemplateDetail as
/// JSON (the Template's keys plus `"settings"`, `"startup_files"`, `"capabilities"`,
/// `"modules"`, `"libraries"`), freed by the caller with `vms_string_free`.
///
/// Returns NULL on success, or `VMS_TEMPLATE_NOT_FOUND`, `VMS_VALIDATION_ERROR`,
/// `VMS_INTERNAL`.
#[no_mangle]
pub unsafe extern "C" fn vms_template_get(
    vms: *const vms_t,
    template_id: *const c_char,
    out: *mut *mut c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let template_id = text(template_id, "template_id")?;
        let out = Out::required(out)?;
        out.json(&vm.get_template(template_id)?)
    })
}

/// Every template, oldest first; `*out` receives a JSON array of Template records, freed by
/// the caller with `vms_string_free`.
///
/// Returns NULL on success, or `VMS_VALIDATION_ERROR`, `VMS_INTERNAL`.
#[no_mangle]
pub unsafe extern "C" fn vms_template_list(
    vms: *const vms_t,
    out: *mut *mut c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let out = Out::required(out)?;
        out.json(&vm.list_templates()?)
    })
}

/// Deletes a template with its settings, startup files, capabilities, modules and
/// libraries. Sessions built from it keep running and stay as history.
///
/// Returns NULL on success, or `VMS_TEMPLATE_NOT_FOUND`, `VMS_VALIDATION_ERROR`,
/// `VMS_INTERNAL`.
#[no_mangle]
pub unsafe extern "C" fn vms_template_delete(
    vms: *const vms_t,
    template_id: *const c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let template_id = text(template_id, "template_id")?;
        Ok(vm.delete_template(template_id)?)
    })
}

/// Applies a partial settings update given as JSON text, e.g.
/// `{"limits": {"cpu_ms": 100}, "runtime": {"strict": true}}`; every field is validated
/// and nothing changes when one is wrong.
///
/// `*out` receives the new Settings as JSON (`{"limits", "resolver", "runtime"}`); `out`
/// may be NULL to discard it. The caller frees `*out` with `vms_string_free`.
///
/// Returns NULL on success, or `VMS_VALIDATION_ERROR` (NULL or malformed patch, unknown
/// key, bad value), `VMS_TEMPLATE_NOT_FOUND`, `VMS_INTERNAL`.
#[no_mangle]
pub unsafe extern "C" fn vms_settings_update(
    vms: *const vms_t,
    template_id: *const c_char,
    patch_json: *const c_char,
    out: *mut *mut c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let template_id = text(template_id, "template_id")?;
        let patch = json(patch_json, "patch_json")?;
        let out = Out::optional(out);
        out.json(&vm.update_settings(template_id, &patch)?)
    })
}

/// Adds a startup file: `path` relative to the future worktree, run in ascending
/// `order_index` (ties in insertion order), `mode` "eval" (global script) or "module" (ES
/// module); NULL mode means "eval".
///
/// `*out` receives the StartupFile as JSON (`{"path", "order_index", "mode"}`); `out` may
/// be NULL. The caller frees `*out` with `vms_string_free`.
///
/// Returns NULL on success, or `VMS_INVALID_PATH` (absolute or escaping path),
/// `VMS_STARTUP_MODE_UNSUPPORTED`, `VMS_TEMPLATE_NOT_FOUND`, `VMS_VALIDATION_ERROR`,
/// `VMS_INTERNAL`.
#[no_mangle]
pub unsafe extern "C" fn vms_startup_file_add(
    vms: *const vms_t,
    template_id: *const c_char,
    path: *const c_char,
    order_index: i64,
    mode: *const c_char,
    out: *mut *mut c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let template_id = text(template_id, "template_id")?;
        let path = text(path, "path")?;
        let mode = optional_text(mode, "mode")?.unwrap_or("eval");
        let out = Out::optional(out);
        out.json(&vm.add_startup_file(template_id, path, order_index, mode)?)
    })
}

/// A template's startup files in run order; `*out` receives a JSON array of StartupFile
/// records, freed by the caller with `vms_string_free`.
///
/// Returns NULL on success, or `VMS_TEMPLATE_NOT_FOUND`, `VMS_VALIDATION_ERROR`,
/// `VMS_INTERNAL`.
#[no_mangle]
pub unsafe extern "C" fn vms_startup_file_list(
    vms: *const vms_t,
    template_id: *const c_char,
    out: *mut *mut c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let template_id = text(template_id, "template_id")?;
        let out = Out::required(out)?;
        out.json(&vm.list_startup_files(template_id)?)
    })
}

/// Removes the startup file with this path.
///
/// Returns NULL on success, or `VMS_TEMPLATE_NOT_FOUND`, `VMS_VALIDATION_ERROR`, `VMS_INTERNAL`.
#[no_mangle]
pub unsafe extern "C" fn vms_startup_file_remove(
    vms: *const vms_t,
    template_id: *const c_char,
    path: *const c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let template_id = text(template_id, "template_id")?;
        let path = text(path, "path")?;
        Ok(vm.remove_startup_file(template_id, path)?)
    })
}

/// Adds (or replaces) a capability record: `kind` one of "module", "global", "fs", "net",
/// "env"; `config_json` a JSON object, or NULL for `{}`.
///
/// `*out` receives the Capability as JSON (`{"kind", "name", "enabled", "config"}`); `out`
/// may be NULL. The caller frees `*out` with `vms_string_free`.
///
/// Returns NULL on success, or `VMS_VALIDATION_ERROR` (unknown kind, empty name, malformed
/// config), `VMS_TEMPLATE_NOT_FOUND`, `VMS_INTERNAL`.
#[no_mangle]
pub unsafe extern "C" fn vms_capability_add(
    vms: *const vms_t,
    template_id: *const c_char,
    kind: *const c_char,
    name: *const c_char,
    enabled: bool,
    config_json: *const c_char,
    out: *mut *mut c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let template_id = text(template_id, "template_id")?;
        let kind = text(kind, "kind")?;
        let name = text(name, "name")?;
        let config = optional_json(config_json, "config_json")?.unwrap_or_else(|| json!({}));
        let out = Out::optional(out);
        out.json(&vm.add_capability(template_id, kind, name, enabled, &config)?)
    })
}

/// A template's capabilities in insertion order; `*out` receives a JSON array of Capability
/// records, freed by the caller with `vms_string_free`.
///
/// Returns NULL on success, or `VMS_TEMPLATE_NOT_FOUND`, `VMS_VALIDATION_ERROR`,
/// `VMS_INTERNAL`.
#[no_mangle]
pub unsafe extern "C" fn vms_capability_list(
    vms: *const vms_t,
    template_id: *const c_char,
    out: *mut *mut c_char,
) -> *mut vms_error_t {
    guard(|| {
        let vm = system(vms)?;
        let template_id = text(template_id, "template_id")?;
        let out = Out::required(out)?;
        out.json(&vm.list_capabilities(template_id)?)
    })
}
