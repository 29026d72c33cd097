//! Native modules: host capabilities a template opts in to (`database`, `fs`, `exec`).
//!
//! A session whose template enables at least one module gets a global `require(name)`;
//! each enabled module is one object per session, kept in the runtime's userdata (not in
//! a global a script could overwrite) so `require` and ES `import` hand out the same one.
//! Every module function is a host call: it needs a running execution, counts in the
//! execution's `metrics.host_calls` and stays inside the session's worktree.

mod database;
mod exec;
mod fs;

use std::path::PathBuf;
use std::sync::Arc;

use rquickjs::function::IntoJsFunc;
use rquickjs::{Ctx, Exception, Function, IntoJs, JsLifetime, Object, Value};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::run::{ActiveRun, RunContext};
use crate::template::Capability;

pub(crate) use exec::Isolation;

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
        description:
            "SQLite databases (in memory or a file inside the worktree) with bound parameters",
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

/// Checks the config of a capability that configures a native module: the `exec` module
/// capability (`kind: "module", name: "exec"`) takes `{"isolation": "none" | "bwrap"}`.
pub(crate) fn check_capability(kind: &str, name: &str, config: &serde_json::Value) -> Result<()> {
    if kind == "module" && name == "exec" {
        exec::parse_config(config).map_err(Error::validation)?;
    }
    Ok(())
}

/// The isolation of `exec` that a template's capabilities ask for: its enabled `exec`
/// module capability's config, or none. An unusable stored config is kept as the reason
/// every `exec.run` then fails with, never read as "no isolation".
pub(crate) fn exec_isolation(
    capabilities: &[Capability],
) -> std::result::Result<Isolation, String> {
    capabilities
        .iter()
        .find(|c| c.kind == "module" && c.name == "exec" && c.enabled)
        .map_or(Ok(Isolation::None), |c| exec::parse_config(&c.config))
}

/// What the native modules of a session need from the host.
pub(crate) struct Host {
    /// The session's canonical worktree: the boundary of `fs`, `database` files and `exec`.
    pub worktree: PathBuf,
    /// Modules the template enables.
    pub modules: Vec<String>,
    /// The host's own database files, which neither `fs` nor `database` may open.
    pub protected: Arc<crate::paths::Protected>,
    /// How `exec` isolates its programs (see [`exec_isolation`]).
    pub exec_isolation: std::result::Result<Isolation, String>,
}

/// The module objects of one runtime, in its userdata.
struct Installed<'js> {
    modules: Vec<(&'static str, Object<'js>)>,
}

// SAFETY: `Installed<'js>` only holds `'js`-bound values; `Changed` swaps that lifetime.
unsafe impl<'js> JsLifetime<'js> for Installed<'js> {
    type Changed<'to> = Installed<'to>;
}

/// Installs `require` (only when the template enables a module) into a new context.
pub(crate) fn install<'js>(
    ctx: &Ctx<'js>,
    host: &Host,
    active: &Arc<ActiveRun>,
) -> rquickjs::Result<()> {
    if host.modules.is_empty() {
        return Ok(());
    }
    let mut modules = Vec::new();
    for name in &host.modules {
        // Names were checked by `add_module`; one retired from the catalog is skipped.
        let Some(entry) = CATALOG.iter().find(|m| m.name == name) else {
            continue;
        };
        let object = match entry.name {
            "database" => database::create(ctx, host, active.clone())?,
            "fs" => fs::create(ctx, host, active.clone())?,
            _ => exec::create(ctx, host, active.clone())?,
        };
        modules.push((entry.name, object));
    }
    ctx.store_userdata(Installed { modules })
        .map_err(|e| rquickjs::Error::new_from_js_message("modules", "userdata", e.to_string()))?;
    let require = Function::new(ctx.clone(), require)?.with_name("require")?;
    ctx.globals().set("require", require)
}

/// The object of an enabled module (the one `require(name)` returns); `None` when the
/// session's template does not enable it or it is not a native module.
pub(crate) fn module_value<'js>(
    ctx: &Ctx<'js>,
    name: &str,
) -> rquickjs::Result<Option<Value<'js>>> {
    let Some(installed) = ctx.userdata::<Installed<'js>>() else {
        return Ok(None);
    };
    Ok(installed
        .modules
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, object)| object.clone().into_value()))
}

/// Why `name` cannot be loaded in this session: a catalog module the template does not
/// enable (and how to enable it), or no such module (Node's wording).
pub(crate) fn missing_module_message(name: &str) -> String {
    if CATALOG.iter().any(|m| m.name == name) {
        format!(
            "native module '{name}' is not enabled for this session; enable it on the template with add_module(template_id, \"{name}\") and create a new session"
        )
    } else {
        format!("Cannot find module '{name}'")
    }
}

fn require<'js>(ctx: Ctx<'js>, id: Value<'js>) -> rquickjs::Result<Value<'js>> {
    let Some(name) = id.as_string().map(|s| s.to_string()).transpose()? else {
        return Err(type_error(
            &ctx,
            &format!(
                "The \"id\" argument must be of type string. Received {}",
                id.type_name()
            ),
        ));
    };
    if let Some(module) = module_value(&ctx, &name)? {
        return Ok(module);
    }
    let code = if CATALOG.iter().any(|m| m.name == name) {
        "ERR_MODULE_NOT_ENABLED"
    } else {
        "MODULE_NOT_FOUND"
    };
    Err(throw(
        &ctx,
        &missing_module_message(&name),
        &[("code", code.into_js(&ctx)?)],
    ))
}

/// The running execution a host function serves, counted as one host call. Throws when
/// no execution runs or the running one is stopping.
pub(crate) fn host_call(
    ctx: &Ctx<'_>,
    active: &ActiveRun,
    function: &str,
) -> rquickjs::Result<Arc<RunContext>> {
    let Some(run) = active.lock().clone() else {
        return Err(error(
            ctx,
            &format!("{function} can only be called while an execution runs"),
        ));
    };
    run.count_host_call();
    if run.guard.check().is_some() {
        return Err(error(
            ctx,
            &format!("{function}: the execution is stopping"),
        ));
    }
    Ok(run)
}

/// Adds a named function property.
pub(crate) fn add_function<'js, P, F>(
    object: &Object<'js>,
    name: &str,
    f: F,
) -> rquickjs::Result<()>
where
    F: IntoJsFunc<'js, P> + 'js,
{
    let function = Function::new(object.ctx().clone(), f)?.with_name(name)?;
    object.set(name, function)
}

/// Throws an `Error` with `message` and extra properties.
pub(crate) fn throw<'js>(
    ctx: &Ctx<'js>,
    message: &str,
    props: &[(&str, Value<'js>)],
) -> rquickjs::Error {
    let built = Exception::from_message(ctx.clone(), message).and_then(|e| {
        let object = e.into_object();
        for (key, value) in props {
            object.set(*key, value.clone())?;
        }
        Ok(object)
    });
    match built {
        Ok(object) => ctx.throw(object.into_value()),
        Err(e) => e,
    }
}

/// Throws a plain `Error`.
pub(crate) fn error(ctx: &Ctx<'_>, message: &str) -> rquickjs::Error {
    Exception::throw_message(ctx, message)
}

/// Throws a `TypeError` (a wrong argument).
pub(crate) fn type_error(ctx: &Ctx<'_>, message: &str) -> rquickjs::Error {
    Exception::throw_type(ctx, message)
}

/// A string argument, or a `TypeError` naming it.
pub(crate) fn string_arg(
    ctx: &Ctx<'_>,
    value: &Value<'_>,
    function: &str,
    what: &str,
) -> rquickjs::Result<String> {
    match value.as_string() {
        Some(s) => s.to_string(),
        None => Err(type_error(
            ctx,
            &format!(
                "{function}: the \"{what}\" argument must be a string, got {}",
                value.type_name()
            ),
        )),
    }
}
