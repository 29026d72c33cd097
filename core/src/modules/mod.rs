//! Native modules: host capabilities a template opts in to (`database`, `fs`, `exec`).

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::engine::ActiveRun;

use crate::error::{Error, Result};

/// A native module a template may enable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleInfo {
    /// Name used with `add_module` and `require`.
    pub name: String,
    /// What it gives the script.
    pub description: String,
    /// Its functions.
    pub functions: Vec<String>,
}

struct CatalogModule {
    name: &'static str,
    description: &'static str,
    functions: &'static [&'static str],
}

const CATALOG: &[CatalogModule] = &[
    CatalogModule {
        name: "database",
        description: "SQLite databases (in memory or a file inside the worktree) with bound parameters",
        functions: &["configure", "query", "exec", "close"],
    },
    CatalogModule {
        name: "exec",
        description: "run a program (no shell) in the worktree and get its combined output",
        functions: &["run"],
    },
    CatalogModule {
        name: "fs",
        description: "read and write files confined to the session's worktree",
        functions: &[
            "readFileSync",
            "writeFileSync",
            "appendFileSync",
            "existsSync",
            "readdirSync",
            "mkdirSync",
            "statSync",
            "unlinkSync",
        ],
    },
];

/// JavaScript built-ins people try to add as modules.
const BUILT_INS: &[&str] = &[
    "console", "json", "math", "date", "array", "string", "object", "promise",
];

/// Every native module, sorted by name.
pub fn available() -> Vec<ModuleInfo> {
    CATALOG
        .iter()
        .map(|m| ModuleInfo {
            name: m.name.to_string(),
            description: m.description.to_string(),
            functions: m.functions.iter().map(|f| f.to_string()).collect(),
        })
        .collect()
}

/// Accepts a catalog name; built-ins and unknown names are `MODULE_NOT_ALLOWED`.
pub(crate) fn check_name(name: &str) -> Result<()> {
    if CATALOG.iter().any(|m| m.name == name) {
        return Ok(());
    }
    let names: Vec<&str> = CATALOG.iter().map(|m| m.name).collect();
    if BUILT_INS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(Error::ModuleNotAllowed(format!(
            "{name:?} is a JavaScript built-in and always available; only native modules ({}) can be added",
            names.join(", ")
        )));
    }
    Err(Error::ModuleNotAllowed(format!(
        "{name:?} is not a native module; available modules: {}",
        names.join(", ")
    )))
}

/// What the native modules of a session need from the host.
pub(crate) struct Host {
    /// The session's canonical worktree: the boundary of `fs`, `database` files and `exec`.
    pub worktree: PathBuf,
    /// Modules the template enables.
    pub modules: Vec<String>,
}

/// Installs `require` (only when the template enables a module) into a new context.
pub(crate) fn install(
    _ctx: &rquickjs::Ctx<'_>,
    _host: &Host,
    _active: &Arc<ActiveRun>,
) -> rquickjs::Result<()> {
    Ok(())
}

/// The object of an enabled native module (the same one `require` returns), for
/// `import … from 'database'` in ESM mode; `None` when the module is not enabled.
pub(crate) fn module_value<'js>(
    _ctx: &rquickjs::Ctx<'js>,
    _name: &str,
) -> rquickjs::Result<Option<rquickjs::Value<'js>>> {
    Ok(None)
}
