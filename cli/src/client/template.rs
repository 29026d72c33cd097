//! `vm-system template …`: templates and their settings, startup files, modules,
//! libraries and capabilities.

use serde_json::{json, Map, Value};

use super::api::segment;
use super::{print, Api, Failure, Out, Outcome};

/// `vm-system template …`
#[derive(clap::Subcommand)]
pub enum TemplateCommand {
    /// Create a template.
    Create {
        /// Template name (unique).
        #[arg(long)]
        name: String,
        /// Engine: `quickjs` (the default); `goja` is accepted as an alias.
        #[arg(long)]
        engine: Option<String>,
    },
    /// List templates, newest first.
    List,
    /// Show a template with its settings, capabilities, startup files, modules, libraries.
    Get {
        /// Template id.
        template_id: String,
    },
    /// Delete a template.
    Delete {
        /// Template id.
        template_id: String,
    },
    /// Show a template's settings, or change some of them (only the flags given).
    Settings(SettingsArgs),
    /// Add a startup file (run at session start, in ascending order).
    AddStartup {
        /// Template id.
        template_id: String,
        /// Path relative to the session's worktree.
        #[arg(long)]
        path: String,
        /// `eval` (a script) or `module` (an ES module).
        #[arg(long, default_value = "eval")]
        mode: String,
        /// Position among the startup files (ascending).
        #[arg(long, default_value_t = 10)]
        order: i64,
    },
    /// Remove a startup file.
    RemoveStartup {
        /// Template id.
        template_id: String,
        /// The startup file's path, as listed by `list-startup`.
        #[arg(long)]
        path: String,
    },
    /// List startup files in run order.
    ListStartup {
        /// Template id.
        template_id: String,
    },
    /// Enable a native module (`database`, `exec`, `fs`).
    AddModule {
        /// Template id.
        template_id: String,
        /// Module name.
        #[arg(long)]
        name: String,
    },
    /// Disable a native module.
    RemoveModule {
        /// Template id.
        template_id: String,
        /// Module name.
        #[arg(long)]
        name: String,
    },
    /// List enabled native modules.
    ListModules {
        /// Template id.
        template_id: String,
    },
    /// Enable a catalog library (e.g. `lodash-4.17.21`; install it with `libs download`).
    AddLibrary {
        /// Template id.
        template_id: String,
        /// Library name from the catalog.
        #[arg(long)]
        name: String,
    },
    /// Disable a library.
    RemoveLibrary {
        /// Template id.
        template_id: String,
        /// Library name.
        #[arg(long)]
        name: String,
    },
    /// List enabled libraries.
    ListLibraries {
        /// Template id.
        template_id: String,
    },
    /// Record a capability (descriptive metadata).
    AddCapability {
        /// Template id.
        template_id: String,
        /// Capability name.
        #[arg(long)]
        name: String,
        /// Kind: module, global, fs, net or env.
        #[arg(long, default_value = "module")]
        kind: String,
        /// Configuration, a JSON object.
        #[arg(long, default_value = "{}")]
        config: String,
        /// Whether it is enabled (`--enabled=false` to record it disabled).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
        enabled: bool,
    },
    /// List capabilities.
    ListCapabilities {
        /// Template id.
        template_id: String,
    },
    /// The native-module catalog.
    ListAvailableModules,
    /// The library catalog, with whether the daemon's cache holds each one.
    ListAvailableLibraries,
}

/// `template settings <id> [flags]`: each flag given becomes one key of the PATCH.
#[derive(clap::Args)]
pub struct SettingsArgs {
    /// Template id.
    template_id: String,
    /// CPU time per execution, in milliseconds.
    #[arg(long)]
    cpu_ms: Option<u64>,
    /// Wall-clock time per execution, in milliseconds.
    #[arg(long)]
    wall_ms: Option<u64>,
    /// Heap limit of the runtime, in MiB.
    #[arg(long)]
    mem_mb: Option<u64>,
    /// Events per execution.
    #[arg(long)]
    max_events: Option<u64>,
    /// Event payload bytes per execution, in KiB.
    #[arg(long)]
    max_output_kb: Option<u64>,
    /// Evaluate run-file files as ES modules (`--esm=false` to turn off).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    esm: Option<bool>,
    /// Evaluate scripts in strict mode (`--strict=false` to turn off).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    strict: Option<bool>,
    /// Capture console.* calls as events (`--console=false` to turn off).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    console: Option<bool>,
    /// Import roots relative to the worktree (repeat, or comma-separated).
    #[arg(long, value_delimiter = ',')]
    roots: Option<Vec<String>>,
    /// Extensions tried for imports, in order, e.g. `.js,.mjs`.
    #[arg(long, value_delimiter = ',')]
    extensions: Option<Vec<String>>,
    /// Accept `/abs/path` imports (still only inside the worktree).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    allow_absolute_repo_imports: Option<bool>,
}

impl SettingsArgs {
    /// The PATCH body: only the groups and keys given on the command line.
    fn patch(&self) -> Map<String, Value> {
        let mut groups = Map::new();
        let mut put = |group: &str, key: &str, value: Option<Value>| {
            if let Some(value) = value {
                groups
                    .entry(group)
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
                    .map(|g| g.insert(key.into(), value));
            }
        };
        put("limits", "cpu_ms", self.cpu_ms.map(Value::from));
        put("limits", "wall_ms", self.wall_ms.map(Value::from));
        put("limits", "mem_mb", self.mem_mb.map(Value::from));
        put("limits", "max_events", self.max_events.map(Value::from));
        put(
            "limits",
            "max_output_kb",
            self.max_output_kb.map(Value::from),
        );
        put("resolver", "roots", self.roots.clone().map(Value::from));
        put(
            "resolver",
            "extensions",
            self.extensions.clone().map(Value::from),
        );
        put(
            "resolver",
            "allow_absolute_repo_imports",
            self.allow_absolute_repo_imports.map(Value::from),
        );
        put("runtime", "esm", self.esm.map(Value::from));
        put("runtime", "strict", self.strict.map(Value::from));
        put("runtime", "console", self.console.map(Value::from));
        groups
    }
}

/// Runs one `template` command.
pub fn run(api: &Api, out: &mut Out, command: TemplateCommand) -> Outcome {
    use TemplateCommand as C;
    match command {
        C::Create { name, engine } => {
            let mut body = json!({ "name": name });
            if let Some(engine) = engine {
                body["engine"] = json!(engine);
            }
            out.emit(&api.post("/templates", &body)?, print::template_created);
        }
        C::List => out.emit(&api.get("/templates")?, print::template_list),
        C::Get { template_id } => out.emit(
            &api.get(&format!("/templates/{}", segment(&template_id)))?,
            print::template_detail,
        ),
        C::Delete { template_id } => {
            let v = api.delete(&format!("/templates/{}", segment(&template_id)))?;
            out.emit(&v, |w, _| print::template_deleted(w, &template_id));
        }
        C::Settings(args) => {
            let path = format!("/templates/{}", segment(&args.template_id));
            let patch = args.patch();
            if patch.is_empty() {
                let detail = api.get(&path)?;
                let settings = detail.get("settings").cloned().unwrap_or(Value::Null);
                out.emit(&settings, |w, v| {
                    print::settings(w, &args.template_id, v, false)
                });
            } else {
                let v = api.patch(&format!("{path}/settings"), &Value::Object(patch))?;
                out.emit(&v, |w, v| print::settings(w, &args.template_id, v, true));
            }
        }
        C::AddStartup {
            template_id,
            path,
            mode,
            order,
        } => {
            let body = json!({ "path": path, "order_index": order, "mode": mode });
            let v = api.post(&startup_path(&template_id), &body)?;
            out.emit(&v, |w, v| print::startup_added(w, v, &template_id));
        }
        C::RemoveStartup { template_id, path } => {
            let url = format!("{}/{}", startup_path(&template_id), segment(&path));
            let v = api.delete(&url)?;
            out.emit(&v, |w, _| print::startup_removed(w, &path, &template_id));
        }
        C::ListStartup { template_id } => {
            out.emit(&api.get(&startup_path(&template_id))?, print::startup_list)
        }
        C::AddModule { template_id, name } => {
            let v = api.post(&sub(&template_id, "modules"), &json!({ "name": name }))?;
            out.emit(&v, |w, _| print::module_added(w, &name, &template_id));
        }
        C::RemoveModule { template_id, name } => {
            let v = api.delete(&format!(
                "{}/{}",
                sub(&template_id, "modules"),
                segment(&name)
            ))?;
            out.emit(&v, |w, _| print::module_removed(w, &name, &template_id));
        }
        C::ListModules { template_id } => out
            .emit(&api.get(&sub(&template_id, "modules"))?, |w, v| {
                print::names(w, v, "No modules configured")
            }),
        C::AddLibrary { template_id, name } => {
            let v = api.post(&sub(&template_id, "libraries"), &json!({ "name": name }))?;
            out.emit(&v, |w, _| print::library_added(w, &name, &template_id));
        }
        C::RemoveLibrary { template_id, name } => {
            let v = api.delete(&format!(
                "{}/{}",
                sub(&template_id, "libraries"),
                segment(&name)
            ))?;
            out.emit(&v, |w, _| print::library_removed(w, &name, &template_id));
        }
        C::ListLibraries { template_id } => out
            .emit(&api.get(&sub(&template_id, "libraries"))?, |w, v| {
                print::names(w, v, "No libraries configured")
            }),
        C::AddCapability {
            template_id,
            name,
            kind,
            config,
            enabled,
        } => {
            let config: Value = serde_json::from_str(&config)
                .map_err(|e| Failure::Usage(format!("invalid config JSON: {e}")))?;
            let body = json!({ "kind": kind, "name": name, "enabled": enabled, "config": config });
            let v = api.post(&sub(&template_id, "capabilities"), &body)?;
            out.emit(&v, |w, v| print::capability_added(w, v, &template_id));
        }
        C::ListCapabilities { template_id } => out.emit(
            &api.get(&sub(&template_id, "capabilities"))?,
            print::capability_list,
        ),
        C::ListAvailableModules => out.emit(&api.get("/modules")?, print::pretty),
        C::ListAvailableLibraries => out.emit(&api.get("/libraries")?, print::pretty),
    }
    Ok(())
}

fn sub(template_id: &str, what: &str) -> String {
    format!("/templates/{}/{what}", segment(template_id))
}

fn startup_path(template_id: &str) -> String {
    sub(template_id, "startup-files")
}
