//! Templates: the saved runtime policy sessions are stamped from, and its validation.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The only engine this library runs.
pub const ENGINE_QUICKJS: &str = "quickjs";

/// A template's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// A template with everything attached to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateDetail {
    /// The template itself.
    #[serde(flatten)]
    pub template: Template,
    /// Limits, resolver and runtime settings.
    pub settings: Settings,
    /// Startup files sorted by `order_index`.
    pub startup_files: Vec<StartupFile>,
    /// Capabilities in insertion order.
    pub capabilities: Vec<Capability>,
    /// Enabled native modules, sorted by name.
    pub modules: Vec<String>,
    /// Enabled libraries, sorted by name.
    pub libraries: Vec<String>,
}

/// Every setting of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Settings {
    /// Resource limits, enforced while code runs.
    pub limits: Limits,
    /// How `import` specifiers resolve.
    pub resolver: Resolver,
    /// Language and console switches.
    pub runtime: RuntimeSettings,
}

/// Resource limits of every execution in a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// CPU time of the executing thread, in milliseconds.
    pub cpu_ms: u64,
    /// Wall-clock time, in milliseconds.
    pub wall_ms: u64,
    /// Heap limit of the runtime, in MiB.
    pub mem_mb: u64,
    /// Events per execution.
    pub max_events: u64,
    /// Payload bytes per execution, in KiB.
    pub max_output_kb: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu_ms: 5000,
            wall_ms: 30000,
            mem_mb: 128,
            max_events: 1000,
            max_output_kb: 512,
        }
    }
}

/// Module resolution settings (ESM mode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolver {
    /// Folders, relative to the worktree, searched for bare specifiers.
    pub roots: Vec<String>,
    /// Extensions tried in order when a specifier has none that exists.
    pub extensions: Vec<String>,
    /// Whether `/abs/path` specifiers are accepted (still only inside the worktree).
    pub allow_absolute_repo_imports: bool,
}

impl Default for Resolver {
    fn default() -> Self {
        Resolver {
            roots: Vec::new(),
            extensions: vec![".js".into(), ".mjs".into()],
            allow_absolute_repo_imports: false,
        }
    }
}

/// Language and console switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeSettings {
    /// `run_file` evaluates files as ES modules; startup files may use mode `module`.
    pub esm: bool,
    /// Scripts are evaluated in strict mode.
    pub strict: bool,
    /// `console.*` calls are captured as events.
    pub console: bool,
    /// What a promise rejected without a handler does once the job queue drains.
    /// (Settings stored before this field existed read as the default.)
    #[serde(default)]
    pub unhandled_rejections: UnhandledRejections,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        RuntimeSettings {
            esm: false,
            strict: false,
            console: true,
            unhandled_rejections: UnhandledRejections::Error,
        }
    }
}

/// What a promise still rejected without a handler when the job queue drains does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnhandledRejections {
    /// Ends the run as an exception with the rejection's reason (as Node does).
    #[default]
    Error,
    /// Records a `system` event of level `warn` (`Unhandled promise rejection: <reason>`);
    /// the run goes on (as browsers and test hosts do).
    Warn,
}

impl UnhandledRejections {
    /// The setting's value as written in settings.
    pub fn as_str(self) -> &'static str {
        match self {
            UnhandledRejections::Error => "error",
            UnhandledRejections::Warn => "warn",
        }
    }
}

/// Upper bounds that keep a limit meaningful (a day of CPU, 16 GiB, …).
const LIMIT_BOUNDS: [(&str, u64); 5] = [
    ("cpu_ms", 86_400_000),
    ("wall_ms", 86_400_000),
    ("mem_mb", 16_384),
    ("max_events", 10_000_000),
    ("max_output_kb", 1_048_576),
];

impl Settings {
    /// Applies a partial update given as JSON (`{"limits": {"cpu_ms": 100}, …}`), validating
    /// every field; on error nothing is changed and the message names the field.
    pub fn apply_patch(&mut self, patch: &Value) -> Result<()> {
        let patch = as_object(patch, "settings")?;
        let mut next = self.clone();
        for (group, changes) in patch {
            let changes = as_object(changes, group)?;
            match group.as_str() {
                "limits" => next.limits.apply(changes)?,
                "resolver" => next.resolver.apply(changes)?,
                "runtime" => next.runtime.apply(changes)?,
                other => {
                    return Err(Error::validation(format!(
                        "unknown settings group {other:?}; expected limits, resolver or runtime"
                    )))
                }
            }
        }
        *self = next;
        Ok(())
    }
}

impl Limits {
    fn apply(&mut self, changes: &Map<String, Value>) -> Result<()> {
        for (key, value) in changes {
            let Some((name, max)) = LIMIT_BOUNDS.iter().find(|(name, _)| name == key) else {
                return Err(unknown_key(
                    "limits",
                    key,
                    "cpu_ms, wall_ms, mem_mb, max_events, max_output_kb",
                ));
            };
            let n = value
                .as_u64()
                .filter(|n| (1..=*max).contains(n))
                .ok_or_else(|| {
                    Error::validation(format!(
                        "limits.{name} must be an integer from 1 to {max}, got {value}"
                    ))
                })?;
            match *name {
                "cpu_ms" => self.cpu_ms = n,
                "wall_ms" => self.wall_ms = n,
                "mem_mb" => self.mem_mb = n,
                "max_events" => self.max_events = n,
                _ => self.max_output_kb = n,
            }
        }
        Ok(())
    }
}

impl Resolver {
    fn apply(&mut self, changes: &Map<String, Value>) -> Result<()> {
        for (key, value) in changes {
            match key.as_str() {
                "roots" => {
                    let roots = string_list(value, "resolver.roots")?;
                    for root in &roots {
                        crate::paths::check_relative(root)
                            .map_err(|e| Error::validation(format!("resolver.roots: {e}")))?;
                    }
                    self.roots = roots;
                }
                "extensions" => {
                    let exts = string_list(value, "resolver.extensions")?;
                    if let Some(bad) = exts
                        .iter()
                        .find(|e| !e.starts_with('.') || e.len() < 2 || e.contains(['/', '\\']))
                    {
                        return Err(Error::validation(format!(
                            "resolver.extensions: {bad:?} is not an extension like \".js\""
                        )));
                    }
                    self.extensions = exts;
                }
                "allow_absolute_repo_imports" => {
                    self.allow_absolute_repo_imports =
                        boolean(value, "resolver.allow_absolute_repo_imports")?
                }
                _ => {
                    return Err(unknown_key(
                        "resolver",
                        key,
                        "roots, extensions, allow_absolute_repo_imports",
                    ))
                }
            }
        }
        Ok(())
    }
}

impl RuntimeSettings {
    fn apply(&mut self, changes: &Map<String, Value>) -> Result<()> {
        for (key, value) in changes {
            let field = format!("runtime.{key}");
            match key.as_str() {
                "esm" => self.esm = boolean(value, &field)?,
                "strict" => self.strict = boolean(value, &field)?,
                "console" => self.console = boolean(value, &field)?,
                "unhandled_rejections" => {
                    self.unhandled_rejections = match value.as_str() {
                        Some("error") => UnhandledRejections::Error,
                        Some("warn") => UnhandledRejections::Warn,
                        _ => {
                            return Err(Error::validation(format!(
                                "{field} must be \"error\" or \"warn\", got {value}"
                            )))
                        }
                    }
                }
                _ => {
                    return Err(unknown_key(
                        "runtime",
                        key,
                        "esm, strict, console, unhandled_rejections",
                    ))
                }
            }
        }
        Ok(())
    }
}

fn as_object<'a>(value: &'a Value, what: &str) -> Result<&'a Map<String, Value>> {
    value
        .as_object()
        .ok_or_else(|| Error::validation(format!("{what} must be an object, got {value}")))
}

fn unknown_key(group: &str, key: &str, expected: &str) -> Error {
    Error::validation(format!(
        "unknown setting {group}.{key}; {group} has {expected}"
    ))
}

fn boolean(value: &Value, field: &str) -> Result<bool> {
    value
        .as_bool()
        .ok_or_else(|| Error::validation(format!("{field} must be true or false, got {value}")))
}

fn string_list(value: &Value, field: &str) -> Result<Vec<String>> {
    let items = value
        .as_array()
        .ok_or_else(|| Error::validation(format!("{field} must be a list of strings")))?;
    items
        .iter()
        .map(|v| {
            v.as_str().map(str::to_string).ok_or_else(|| {
                Error::validation(format!("{field} must be a list of strings, found {v}"))
            })
        })
        .collect()
}

/// How a startup file is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartupMode {
    /// A global script.
    Eval,
    /// An ES module (needs `runtime.esm`).
    Module,
}

impl StartupMode {
    /// Parses `eval` / `module`; anything else is `STARTUP_MODE_UNSUPPORTED`.
    pub fn parse(mode: &str) -> Result<Self> {
        match mode {
            "eval" => Ok(StartupMode::Eval),
            "module" => Ok(StartupMode::Module),
            other => Err(Error::StartupModeUnsupported(other.to_string())),
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            StartupMode::Eval => "eval",
            StartupMode::Module => "module",
        }
    }
}

/// A file run when a session starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartupFile {
    /// Relative to the session's worktree.
    pub path: String,
    /// Files run in ascending order; ties in insertion order.
    pub order_index: i64,
    /// `eval` or `module`.
    pub mode: StartupMode,
}

/// What a capability grants.
pub const CAPABILITY_KINDS: [&str; 5] = ["module", "global", "fs", "net", "env"];

/// A capability record of a template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capability {
    /// One of `module`, `global`, `fs`, `net`, `env`.
    pub kind: String,
    /// What the capability is about (a module name, a global, a path…).
    pub name: String,
    /// Whether it is in force.
    pub enabled: bool,
    /// Free-form configuration object.
    pub config: Value,
}

/// Checks a capability's fields.
pub(crate) fn validate_capability(kind: &str, name: &str, config: &Value) -> Result<()> {
    if !CAPABILITY_KINDS.contains(&kind) {
        return Err(Error::validation(format!(
            "capability kind {kind:?} is not one of {}",
            CAPABILITY_KINDS.join(", ")
        )));
    }
    require_non_empty("name", name)?;
    if !config.is_object() {
        return Err(Error::validation(format!(
            "capability config must be an object, got {config}"
        )));
    }
    crate::modules::check_capability(kind, name, config)
}

/// Checks the engine name given at creation.
pub(crate) fn validate_engine(engine: &str) -> Result<()> {
    if engine == ENGINE_QUICKJS {
        Ok(())
    } else {
        Err(Error::validation(format!(
            "engine {engine:?} is not supported; the supported engines are: {ENGINE_QUICKJS}"
        )))
    }
}

/// Fails with `VALIDATION_ERROR` naming `field` when `value` is empty, blank or holds a NUL.
pub(crate) fn require_non_empty(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        Err(Error::validation(format!(
            "{field} is required and must not be empty"
        )))
    } else if value.contains('\0') {
        // Names cross C strings and PostgreSQL `text`, neither of which holds a NUL.
        Err(Error::validation(format!(
            "{field} must not contain a NUL byte"
        )))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_match_the_spec() {
        let s = Settings::default();
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            json!({
                "limits": {"cpu_ms": 5000, "wall_ms": 30000, "mem_mb": 128, "max_events": 1000, "max_output_kb": 512},
                "resolver": {"roots": [], "extensions": [".js", ".mjs"], "allow_absolute_repo_imports": false},
                "runtime": {"esm": false, "strict": false, "console": true, "unhandled_rejections": "error"}
            })
        );
    }

    #[test]
    fn patch_is_partial_and_all_or_nothing() {
        let mut s = Settings::default();
        s.apply_patch(&json!({"limits": {"cpu_ms": 100}, "runtime": {"esm": true}}))
            .unwrap();
        assert_eq!(s.limits.cpu_ms, 100);
        assert_eq!(s.limits.wall_ms, 30000);
        assert!(s.runtime.esm);
        s.apply_patch(&json!({"runtime": {"unhandled_rejections": "warn"}}))
            .unwrap();
        assert_eq!(s.runtime.unhandled_rejections, UnhandledRejections::Warn);
        assert!(
            s.runtime.esm,
            "a partial patch keeps the other runtime settings"
        );
        let before = s.clone();
        let err = s
            .apply_patch(&json!({"limits": {"wall_ms": 5, "mem_mb": 0}}))
            .unwrap_err();
        assert!(err.to_string().contains("limits.mem_mb"), "{err}");
        assert_eq!(s, before);
    }

    #[test]
    fn patch_rejects_bad_values_naming_the_field() {
        let mut s = Settings::default();
        for (patch, field) in [
            (json!({"limits": {"cpu_ms": -1}}), "limits.cpu_ms"),
            (json!({"limits": {"max_events": 1.5}}), "limits.max_events"),
            (json!({"limits": {"mem_mb": 999999}}), "limits.mem_mb"),
            (json!({"limits": {"bogus": 1}}), "limits.bogus"),
            (json!({"runtime": {"esm": "yes"}}), "runtime.esm"),
            (
                json!({"runtime": {"unhandled_rejections": "ignore"}}),
                "runtime.unhandled_rejections",
            ),
            (
                json!({"runtime": {"unhandled_rejections": true}}),
                "runtime.unhandled_rejections",
            ),
            (
                json!({"resolver": {"extensions": ["js"]}}),
                "resolver.extensions",
            ),
            (json!({"resolver": {"roots": ["../up"]}}), "resolver.roots"),
            (json!({"other": {}}), "other"),
        ] {
            let err = s.apply_patch(&patch).unwrap_err();
            assert_eq!(err.code(), crate::ErrorCode::Validation);
            assert!(err.to_string().contains(field), "{err} should name {field}");
        }
    }

    #[test]
    fn modes_parse() {
        assert_eq!(StartupMode::parse("eval").unwrap(), StartupMode::Eval);
        assert_eq!(StartupMode::parse("module").unwrap(), StartupMode::Module);
        assert_eq!(
            StartupMode::parse("jit").unwrap_err().code(),
            crate::ErrorCode::StartupModeUnsupported
        );
    }
}
