//! Template records. Settings keep the SPEC's snake_case keys inside each group, the same
//! keys `updateSettings` takes.

use napi_derive::napi;
use serde_json::Value as Json;

/// A template's identity.
#[napi(object)]
pub struct Template {
    /// UUID.
    pub id: String,
    /// Name given at creation.
    pub name: String,
    /// Always `quickjs`.
    pub engine: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC; changes with settings and sub-resources.
    pub updated_at: String,
}

impl From<vm_system::Template> for Template {
    fn from(t: vm_system::Template) -> Self {
        let vm_system::Template {
            id,
            name,
            engine,
            created_at,
            updated_at,
        } = t;
        Template {
            id,
            name,
            engine,
            created_at,
            updated_at,
        }
    }
}

/// A template with its settings and everything attached to it.
#[napi(object)]
pub struct TemplateDetail {
    /// UUID.
    pub id: String,
    /// Name given at creation.
    pub name: String,
    /// Always `quickjs`.
    pub engine: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
    /// Limits, resolver and runtime settings.
    pub settings: Settings,
    /// Startup files sorted by `orderIndex`.
    pub startup_files: Vec<StartupFile>,
    /// Capabilities in insertion order.
    pub capabilities: Vec<Capability>,
    /// Enabled native modules, sorted.
    pub modules: Vec<String>,
    /// Enabled libraries, sorted.
    pub libraries: Vec<String>,
}

impl From<vm_system::TemplateDetail> for TemplateDetail {
    fn from(d: vm_system::TemplateDetail) -> Self {
        let vm_system::TemplateDetail {
            template,
            settings,
            startup_files,
            capabilities,
            modules,
            libraries,
        } = d;
        let vm_system::Template {
            id,
            name,
            engine,
            created_at,
            updated_at,
        } = template;
        TemplateDetail {
            id,
            name,
            engine,
            created_at,
            updated_at,
            settings: settings.into(),
            startup_files: startup_files.into_iter().map(Into::into).collect(),
            capabilities: capabilities.into_iter().map(Into::into).collect(),
            modules,
            libraries,
        }
    }
}

/// Every setting of a template (keys as in the SPEC).
#[napi(object)]
pub struct Settings {
    /// Resource limits.
    pub limits: Limits,
    /// How `import` specifiers resolve.
    pub resolver: Resolver,
    /// Language and console switches.
    pub runtime: RuntimeSettings,
}

impl From<vm_system::Settings> for Settings {
    fn from(s: vm_system::Settings) -> Self {
        let vm_system::Settings {
            limits,
            resolver,
            runtime,
        } = s;
        Settings {
            limits: limits.into(),
            resolver: resolver.into(),
            runtime: runtime.into(),
        }
    }
}

/// Resource limits of every execution in a session.
#[napi(object)]
pub struct Limits {
    /// CPU time of the executing thread, in milliseconds.
    #[napi(js_name = "cpu_ms")]
    pub cpu_ms: i64,
    /// Wall-clock time, in milliseconds.
    #[napi(js_name = "wall_ms")]
    pub wall_ms: i64,
    /// Heap limit of the runtime, in MiB.
    #[napi(js_name = "mem_mb")]
    pub mem_mb: i64,
    /// Events per execution.
    #[napi(js_name = "max_events")]
    pub max_events: i64,
    /// Payload bytes per execution, in KiB.
    #[napi(js_name = "max_output_kb")]
    pub max_output_kb: i64,
}

// The core bounds every limit far below i64::MAX.
impl From<vm_system::Limits> for Limits {
    fn from(l: vm_system::Limits) -> Self {
        let vm_system::Limits {
            cpu_ms,
            wall_ms,
            mem_mb,
            max_events,
            max_output_kb,
        } = l;
        Limits {
            cpu_ms: cpu_ms as i64,
            wall_ms: wall_ms as i64,
            mem_mb: mem_mb as i64,
            max_events: max_events as i64,
            max_output_kb: max_output_kb as i64,
        }
    }
}

/// Module resolution settings.
#[napi(object)]
pub struct Resolver {
    /// Folders, relative to the worktree, searched for bare specifiers.
    pub roots: Vec<String>,
    /// Extensions tried in order.
    pub extensions: Vec<String>,
    /// Whether `/abs/path` specifiers are accepted (still only inside the worktree).
    #[napi(js_name = "allow_absolute_repo_imports")]
    pub allow_absolute_repo_imports: bool,
}

impl From<vm_system::Resolver> for Resolver {
    fn from(r: vm_system::Resolver) -> Self {
        let vm_system::Resolver {
            roots,
            extensions,
            allow_absolute_repo_imports,
        } = r;
        Resolver {
            roots,
            extensions,
            allow_absolute_repo_imports,
        }
    }
}

/// Language and console switches.
#[napi(object)]
pub struct RuntimeSettings {
    /// `runFile` evaluates files as ES modules; startup files may use mode `module`.
    pub esm: bool,
    /// Scripts are evaluated in strict mode.
    pub strict: bool,
    /// `console.*` calls are captured as events.
    pub console: bool,
    /// A promise rejected without a handler: `error` ends the run, `warn` records a
    /// `system` warning and the run goes on.
    #[napi(js_name = "unhandled_rejections", ts_type = "UnhandledRejections")]
    pub unhandled_rejections: String,
}

impl From<vm_system::RuntimeSettings> for RuntimeSettings {
    fn from(r: vm_system::RuntimeSettings) -> Self {
        let vm_system::RuntimeSettings {
            esm,
            strict,
            console,
            unhandled_rejections,
        } = r;
        RuntimeSettings {
            esm,
            strict,
            console,
            unhandled_rejections: unhandled_rejections.as_str().to_string(),
        }
    }
}

/// A startup file of a template.
#[napi(object)]
pub struct StartupFile {
    /// Path relative to the worktree.
    pub path: String,
    /// Run order (ties in insertion order).
    pub order_index: i64,
    /// `eval` (global script) or `module` (ES module).
    #[napi(ts_type = "StartupMode")]
    pub mode: String,
}

impl From<vm_system::StartupFile> for StartupFile {
    fn from(f: vm_system::StartupFile) -> Self {
        let vm_system::StartupFile {
            path,
            order_index,
            mode,
        } = f;
        StartupFile {
            path,
            order_index,
            mode: mode.as_str().to_string(),
        }
    }
}

/// A capability record of a template.
#[napi(object)]
pub struct Capability {
    /// `module`, `global`, `fs`, `net` or `env`.
    #[napi(ts_type = "CapabilityKind")]
    pub kind: String,
    /// What it is about.
    pub name: String,
    /// Whether it is on.
    pub enabled: bool,
    /// Free-form configuration (stored as given).
    #[napi(ts_type = "JsonObject")]
    pub config: Json,
}

impl From<vm_system::Capability> for Capability {
    fn from(c: vm_system::Capability) -> Self {
        let vm_system::Capability {
            kind,
            name,
            enabled,
            config,
        } = c;
        Capability {
            kind,
            name,
            enabled,
            config,
        }
    }
}
