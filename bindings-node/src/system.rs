//! The `VmSystem` class: every operation of the SPEC, camelCase. Each method converts its
//! arguments, calls the core and converts the result; errors go through `error.rs`.

use napi::bindgen_prelude::{AsyncTask, Env};
use napi_derive::napi;
use serde_json::Value as Json;

use crate::error::{invalid, OrThrow};
use crate::event::Event;
use crate::execution::Execution;
use crate::library::{InstalledLibrary, LibraryInfo};
use crate::modules::ModuleInfo;
use crate::run::{OnEvent, Watch};
use crate::session::{RuntimeSummary, Session};
use crate::task::Run;
use crate::template::{Capability, Settings, StartupFile, Template, TemplateDetail};

/// Options of `new VmSystem(path, options)`.
#[napi(object)]
pub struct OpenOptions {
    /// Folder of installed libraries; default `.vm-cache/libraries/` beside the database
    /// (or in the working directory for an in-memory database).
    pub library_cache: Option<String>,
}

/// Options of `createSession` and `repl`.
#[napi(object, object_to_js = false)]
pub struct WatchOptions<'a> {
    /// Receives each event, in order, on the main thread while the code runs.
    #[napi(ts_type = "(event: Event) => void")]
    pub on_event: Option<OnEvent<'a>>,
}

/// Options of `runFile`.
#[napi(object, object_to_js = false)]
pub struct RunFileOptions<'a> {
    /// `globalThis.__ARGS__` of the script.
    #[napi(ts_type = "JsonObject")]
    pub args: Option<Json>,
    /// `globalThis.__ENV__` of the script (string values).
    #[napi(ts_type = "Record<string, string>")]
    pub env: Option<Json>,
    /// Receives each event, in order, on the main thread while the code runs.
    #[napi(ts_type = "(event: Event) => void")]
    pub on_event: Option<OnEvent<'a>>,
}

/// Options of `runFileSync`.
#[napi(object)]
pub struct RunFileSyncOptions {
    /// `globalThis.__ARGS__` of the script.
    #[napi(ts_type = "JsonObject")]
    pub args: Option<Json>,
    /// `globalThis.__ENV__` of the script (string values).
    #[napi(ts_type = "Record<string, string>")]
    pub env: Option<Json>,
}

/// A vm-system database and the live sessions this process runs on it.
#[napi]
pub struct VmSystem {
    inner: vm_system::VmSystem,
}

fn watch(env: &Env, on_event: Option<OnEvent<'_>>) -> napi::Result<Option<Watch>> {
    on_event.map(|f| Watch::new(env, f)).transpose()
}

fn unsigned(name: &str, value: Option<i64>, default: u64) -> vm_system::Result<u64> {
    match value {
        None => Ok(default),
        Some(n) => u64::try_from(n)
            .map_err(|_| invalid(format!("{name} must be a non-negative integer, got {n}"))),
    }
}

#[napi]
impl VmSystem {
    /// Opens (or creates) the database at `path`, or a private in-memory one without a path.
    #[napi(constructor)]
    pub fn new(env: Env, path: Option<String>, options: Option<OpenOptions>) -> napi::Result<Self> {
        let options = vm_system::OpenOptions {
            library_cache: options.and_then(|o| o.library_cache).map(Into::into),
        };
        let inner = match path {
            Some(path) => vm_system::VmSystem::open_with(path, options),
            None => vm_system::VmSystem::open_in_memory_with(options),
        };
        Ok(VmSystem {
            inner: inner.or_throw(&env)?,
        })
    }

    /// Closes every live session of this instance.
    #[napi]
    pub fn close(&self) {
        self.inner.close();
    }

    /// The folder installed libraries are kept in.
    #[napi(getter)]
    pub fn library_cache(&self) -> String {
        self.inner.library_cache().to_string_lossy().into_owned()
    }

    // ---- templates ----

    /// Creates a template with the default settings (`engine` must be `quickjs`).
    #[napi]
    pub fn create_template(
        &self,
        env: Env,
        name: String,
        engine: Option<String>,
    ) -> napi::Result<Template> {
        let engine = engine.as_deref().unwrap_or(vm_system::ENGINE_QUICKJS);
        self.inner
            .create_template(&name, engine)
            .map(Into::into)
            .or_throw(&env)
    }

    /// A template with its settings, startup files, capabilities, modules and libraries.
    #[napi]
    pub fn get_template(&self, env: Env, template_id: String) -> napi::Result<TemplateDetail> {
        self.inner
            .get_template(&template_id)
            .map(Into::into)
            .or_throw(&env)
    }

    /// Every template, oldest first.
    #[napi]
    pub fn list_templates(&self, env: Env) -> napi::Result<Vec<Template>> {
        let templates = self.inner.list_templates().or_throw(&env)?;
        Ok(templates.into_iter().map(Into::into).collect())
    }

    /// Deletes a template and everything attached to it.
    #[napi]
    pub fn delete_template(&self, env: Env, template_id: String) -> napi::Result<()> {
        self.inner.delete_template(&template_id).or_throw(&env)
    }

    /// Applies a partial settings update (`{limits: {cpu_ms: 100}}`); returns the new settings.
    #[napi(ts_args_type = "templateId: string, patch: SettingsPatch")]
    pub fn update_settings(
        &self,
        env: Env,
        template_id: String,
        patch: Json,
    ) -> napi::Result<Settings> {
        self.inner
            .update_settings(&template_id, &patch)
            .map(Into::into)
            .or_throw(&env)
    }

    /// Adds a startup file (path relative to the future worktree; mode `eval` or `module`).
    #[napi(
        ts_args_type = "templateId: string, path: string, orderIndex?: number, mode?: StartupMode"
    )]
    pub fn add_startup_file(
        &self,
        env: Env,
        template_id: String,
        path: String,
        order_index: Option<i64>,
        mode: Option<String>,
    ) -> napi::Result<StartupFile> {
        let mode = mode.as_deref().unwrap_or("eval");
        self.inner
            .add_startup_file(&template_id, &path, order_index.unwrap_or(0), mode)
            .map(Into::into)
            .or_throw(&env)
    }

    /// Startup files sorted by `orderIndex` (ties in insertion order).
    #[napi]
    pub fn list_startup_files(
        &self,
        env: Env,
        template_id: String,
    ) -> napi::Result<Vec<StartupFile>> {
        let files = self.inner.list_startup_files(&template_id).or_throw(&env)?;
        Ok(files.into_iter().map(Into::into).collect())
    }

    /// Removes the startup file with this path.
    #[napi]
    pub fn remove_startup_file(
        &self,
        env: Env,
        template_id: String,
        path: String,
    ) -> napi::Result<()> {
        self.inner
            .remove_startup_file(&template_id, &path)
            .or_throw(&env)
    }

    /// Adds (or replaces) a capability record.
    #[napi(
        ts_args_type = "templateId: string, kind: CapabilityKind, name: string, enabled?: boolean, config?: JsonObject"
    )]
    pub fn add_capability(
        &self,
        env: Env,
        template_id: String,
        kind: String,
        name: String,
        enabled: Option<bool>,
        config: Option<Json>,
    ) -> napi::Result<Capability> {
        let config = config.unwrap_or_else(|| Json::Object(Default::default()));
        self.inner
            .add_capability(&template_id, &kind, &name, enabled.unwrap_or(true), &config)
            .map(Into::into)
            .or_throw(&env)
    }

    /// Capabilities in insertion order.
    #[napi]
    pub fn list_capabilities(
        &self,
        env: Env,
        template_id: String,
    ) -> napi::Result<Vec<Capability>> {
        let caps = self.inner.list_capabilities(&template_id).or_throw(&env)?;
        Ok(caps.into_iter().map(Into::into).collect())
    }

    /// Enables a native module (`database`, `fs`, `exec`).
    #[napi]
    pub fn add_module(&self, env: Env, template_id: String, name: String) -> napi::Result<()> {
        self.inner.add_module(&template_id, &name).or_throw(&env)
    }

    /// Disables a native module.
    #[napi]
    pub fn remove_module(&self, env: Env, template_id: String, name: String) -> napi::Result<()> {
        self.inner.remove_module(&template_id, &name).or_throw(&env)
    }

    /// The template's enabled modules, sorted.
    #[napi]
    pub fn list_modules(&self, env: Env, template_id: String) -> napi::Result<Vec<String>> {
        self.inner.list_modules(&template_id).or_throw(&env)
    }

    /// Every native module with its description and functions.
    #[napi]
    pub fn available_modules(&self) -> Vec<ModuleInfo> {
        self.inner
            .available_modules()
            .into_iter()
            .map(Into::into)
            .collect()
    }

    /// Enables a catalog library.
    #[napi]
    pub fn add_library(&self, env: Env, template_id: String, name: String) -> napi::Result<()> {
        self.inner.add_library(&template_id, &name).or_throw(&env)
    }

    /// Disables a library.
    #[napi]
    pub fn remove_library(&self, env: Env, template_id: String, name: String) -> napi::Result<()> {
        self.inner
            .remove_library(&template_id, &name)
            .or_throw(&env)
    }

    /// The template's enabled libraries, sorted.
    #[napi]
    pub fn list_libraries(&self, env: Env, template_id: String) -> napi::Result<Vec<String>> {
        self.inner.list_libraries(&template_id).or_throw(&env)
    }

    /// The library catalog.
    #[napi]
    pub fn available_libraries(&self) -> Vec<LibraryInfo> {
        self.inner
            .available_libraries()
            .into_iter()
            .map(Into::into)
            .collect()
    }

    /// Installs a catalog library into the cache, from a local copy of its file or else with
    /// `npm pack`. Blocks until done.
    #[napi]
    pub fn install_library(
        &self,
        env: Env,
        name: String,
        from_file: Option<String>,
    ) -> napi::Result<InstalledLibrary> {
        let from = from_file.as_deref().map(std::path::Path::new);
        self.inner
            .install_library(&name, from)
            .map(Into::into)
            .or_throw(&env)
    }

    /// Libraries present (and intact) in the cache.
    #[napi]
    pub fn installed_libraries(&self, env: Env) -> napi::Result<Vec<InstalledLibrary>> {
        let libs = self.inner.installed_libraries().or_throw(&env)?;
        Ok(libs.into_iter().map(Into::into).collect())
    }

    // ---- sessions ----

    /// Creates a session off the event loop: builds its runtime, loads libraries, runs the
    /// startup files (their events go to `onEvent`).
    #[napi(ts_return_type = "Promise<Session>")]
    pub fn create_session(
        &self,
        env: Env,
        template_id: String,
        workspace_id: String,
        base_commit_oid: String,
        worktree_path: String,
        options: Option<WatchOptions<'_>>,
    ) -> napi::Result<AsyncTask<Run<Session>>> {
        let watch = watch(&env, options.and_then(|o| o.on_event))?;
        let vm = self.inner.clone();
        Ok(AsyncTask::new(Run::new(watch, move |watcher| {
            vm.create_session_watched(
                &template_id,
                &workspace_id,
                &base_commit_oid,
                &worktree_path,
                watcher,
            )
            .map(Into::into)
        })))
    }

    /// `createSession`, blocking the calling thread (no `onEvent`).
    #[napi]
    pub fn create_session_sync(
        &self,
        env: Env,
        template_id: String,
        workspace_id: String,
        base_commit_oid: String,
        worktree_path: String,
    ) -> napi::Result<Session> {
        self.inner
            .create_session(
                &template_id,
                &workspace_id,
                &base_commit_oid,
                &worktree_path,
            )
            .map(Into::into)
            .or_throw(&env)
    }

    /// A session record.
    #[napi]
    pub fn get_session(&self, env: Env, session_id: String) -> napi::Result<Session> {
        self.inner
            .get_session(&session_id)
            .map(Into::into)
            .or_throw(&env)
    }

    /// Sessions, oldest first, optionally only those with `status`.
    #[napi(ts_args_type = "status?: SessionStatus")]
    pub fn list_sessions(&self, env: Env, status: Option<String>) -> napi::Result<Vec<Session>> {
        let status = status
            .as_deref()
            .map(vm_system::SessionStatus::parse)
            .transpose()
            .or_throw(&env)?;
        let sessions = self.inner.list_sessions(status).or_throw(&env)?;
        Ok(sessions.into_iter().map(Into::into).collect())
    }

    /// Closes a session (a running execution ends `cancelled`); closed or crashed sessions
    /// are returned as they are.
    #[napi]
    pub fn close_session(&self, env: Env, session_id: String) -> napi::Result<Session> {
        self.inner
            .close_session(&session_id)
            .map(Into::into)
            .or_throw(&env)
    }

    /// The live sessions of this process.
    #[napi]
    pub fn runtime_summary(&self) -> RuntimeSummary {
        self.inner.runtime_summary().into()
    }

    // ---- executions ----

    /// Evaluates a snippet as a global script in the session, off the event loop.
    #[napi(ts_return_type = "Promise<Execution>")]
    pub fn repl(
        &self,
        env: Env,
        session_id: String,
        input: String,
        options: Option<WatchOptions<'_>>,
    ) -> napi::Result<AsyncTask<Run<Execution>>> {
        let watch = watch(&env, options.and_then(|o| o.on_event))?;
        let vm = self.inner.clone();
        Ok(AsyncTask::new(Run::new(watch, move |watcher| {
            vm.repl_watched(&session_id, &input, watcher)
                .map(Into::into)
        })))
    }

    /// `repl`, blocking the calling thread (no `onEvent`).
    #[napi]
    pub fn repl_sync(
        &self,
        env: Env,
        session_id: String,
        input: String,
    ) -> napi::Result<Execution> {
        self.inner
            .repl(&session_id, &input)
            .map(Into::into)
            .or_throw(&env)
    }

    /// Runs a worktree file, off the event loop; `args` / `env` become `__ARGS__` / `__ENV__`.
    #[napi(ts_return_type = "Promise<Execution>")]
    pub fn run_file(
        &self,
        env: Env,
        session_id: String,
        path: String,
        options: Option<RunFileOptions<'_>>,
    ) -> napi::Result<AsyncTask<Run<Execution>>> {
        let (args, vars, on_event) = match options {
            Some(o) => (o.args, o.env, o.on_event),
            None => (None, None, None),
        };
        let watch = watch(&env, on_event)?;
        let vm = self.inner.clone();
        Ok(AsyncTask::new(Run::new(watch, move |watcher| {
            let (args, vars) = (args.unwrap_or(Json::Null), vars.unwrap_or(Json::Null));
            vm.run_file_watched(&session_id, &path, &args, &vars, watcher)
                .map(Into::into)
        })))
    }

    /// `runFile`, blocking the calling thread (no `onEvent`).
    #[napi]
    pub fn run_file_sync(
        &self,
        env: Env,
        session_id: String,
        path: String,
        options: Option<RunFileSyncOptions>,
    ) -> napi::Result<Execution> {
        let (args, vars) = match options {
            Some(o) => (o.args.unwrap_or(Json::Null), o.env.unwrap_or(Json::Null)),
            None => (Json::Null, Json::Null),
        };
        self.inner
            .run_file(&session_id, &path, &args, &vars)
            .map(Into::into)
            .or_throw(&env)
    }

    /// The id of the execution running in a session of this process right now, if any.
    #[napi]
    pub fn running_execution(&self, session_id: String) -> Option<String> {
        self.inner.running_execution(&session_id)
    }

    /// An execution record.
    #[napi]
    pub fn get_execution(&self, env: Env, execution_id: String) -> napi::Result<Execution> {
        self.inner
            .get_execution(&execution_id)
            .map(Into::into)
            .or_throw(&env)
    }

    /// A session's executions, newest first, at most `limit` (default 50, 1 to 10,000).
    #[napi]
    pub fn list_executions(
        &self,
        env: Env,
        session_id: String,
        limit: Option<i64>,
    ) -> napi::Result<Vec<Execution>> {
        let limit = unsigned("limit", limit, 50)
            .and_then(|n| {
                u32::try_from(n)
                    .map_err(|_| invalid(format!("limit must be from 1 to 10000, got {n}")))
            })
            .or_throw(&env)?;
        let execs = self
            .inner
            .list_executions(&session_id, limit)
            .or_throw(&env)?;
        Ok(execs.into_iter().map(Into::into).collect())
    }

    /// Events with `seq > afterSeq` (default 0), in order; readable while the execution runs.
    #[napi]
    pub fn events(
        &self,
        env: Env,
        execution_id: String,
        after_seq: Option<i64>,
    ) -> napi::Result<Vec<Event>> {
        let after = unsigned("afterSeq", after_seq, 0).or_throw(&env)?;
        let events = self.inner.events(&execution_id, after).or_throw(&env)?;
        Ok(events.into_iter().map(Into::into).collect())
    }

    /// Cancels a running execution (it ends `cancelled`); an ended one is left as it is.
    #[napi]
    pub fn cancel_execution(&self, env: Env, execution_id: String) -> napi::Result<()> {
        self.inner.cancel_execution(&execution_id).or_throw(&env)
    }
}
