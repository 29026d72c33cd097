//! Native module catalog records.

use napi_derive::napi;

/// A native module a template may enable.
#[napi(object)]
pub struct ModuleInfo {
    /// Name used with `addModule` and `require`.
    pub name: String,
    /// What it gives the script.
    pub description: String,
    /// Its functions.
    pub functions: Vec<String>,
}

impl From<vm_system::ModuleInfo> for ModuleInfo {
    fn from(m: vm_system::ModuleInfo) -> Self {
        let vm_system::ModuleInfo {
            name,
            description,
            functions,
        } = m;
        ModuleInfo {
            name,
            description,
            functions,
        }
    }
}
