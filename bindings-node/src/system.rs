//! The `VmSystem` class: every operation of the SPEC, camelCase. Each method converts its
//! arguments (`args.rs`: a wrong type is a `VALIDATION_ERROR` naming the argument), calls
//! the core and converts the result; errors go through `error.rs`.
//!
//! Parameters arrive as `Unknown` so that the binding, not napi, reports a wrong type; their
//! TypeScript types are therefore given with `ts_args_type`, and the option objects are
//! declared in `types-header.d.ts`.

use std::sync::Arc;

use napi::bindgen_prelude::{Env, Object, Unknown};
use napi_derive::napi;
use serde_json::Value as Json;

use crate::args::{self, field};
use crate::error::{invalid, OrThrow};
use crate::library::{InstalledLibrary, LibraryInfo};
use crate::lifecycle::{self, EnvState, Handle};
use crate::literal::{EventValue, ExecutionValue};
use crate::modules::ModuleInfo;
use crate::run::{OnEvent, Watch};
use crate::session::{RuntimeSummary, Session};
use crate::task;
use crate::template::{Capability, Settings, StartupFile, Template, TemplateDetail};

/// A vm-system database and the live sessions this process runs on it.
#[napi]
pub struct VmSystem {
    handle: Arc<Handle>,
    env_state: Arc<EnvState>,
}

fn unsigned(name: &str, value: Option<i64>, default: u64) -> vm_system::Result<u64> {
    match value {
        None => Ok(default),
        Some(n) => u64::try_from(n)
            .map_err(|_| invalid(format!("{name} must be a non-negative integer, got {n}"))),
    }
}

/// The `onEvent` of an options object, if any.
fn on_event<'a>(
    env: &Env,
    options: Option<&Object<'a>>,
    name: &str,
) -> napi::Result<Option<OnEvent<'a>>> {
    match options {
        Some(o) => args::opt_function(env, name, field(o, "onEvent")?),
        None => Ok(None),
    }
}

fn watch(env: &Env, on_event: Option<OnEvent<'_>>) -> napi::Result<Option<Watch>> {
    on_event.map(|f| Watch::new(env, f)).transpose()
}

/// `args` and `env` of a `runFile` options object (`Json::Null` when absent).
fn run_file_vars(env: &Env, options: Option<&Object<'_>>) -> napi::Result<(Json, Json)> {
    match options {
        Some(o) => Ok((
            args::json(env, "options.args", field(o, "args")?)?,
            args::json(env, "options.env", field(o, "env")?)?,
        )),
        None => Ok((Json::Null, Json::Null)),
    }
}

impl VmSystem {
    /// The core handle, or `VALIDATION_ERROR` once closed.
    fn vm(&self, env: &Env) -> napi::Result<vm_system::VmSystem> {
        let vm = self
            .handle
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        vm.ok_or_else(|| invalid("this VmSystem is closed; open a new one"))
            .or_throw(env)
    }
}

#[napi]
impl VmSystem {
    /// Opens (or creates) the database at `path`, or a private in-memory one without a path.
    #[napi(
        constructor,
        ts_args_type = "path?: string | undefined | null, options?: OpenOptions | undefined | null"
    )]
    pub fn new(env: Env, path: Unknown<'_>, options: Unknown<'_>) -> napi::Result<Self> {
        let path = args::opt_string(&env, "path", path)?;
        let options = args::opt_object(&env, "options", options)?;
        let library_cache = match &options {
            Some(o) => args::opt_string(&env, "options.libraryCache", field(o, "libraryCache")?)?,
            None => None,
        };
        let options = vm_system::OpenOptions {
            library_cache: library_cache.map(Into::into),
            ..vm_system::OpenOptions::default()
        };
        let vm = match path {
            Some(path) => vm_system::VmSystem::open_with(path, options),
            None => vm_system::VmSystem::open_in_memory_with(options),
        }
        .or_throw(&env)?;
        let env_state = EnvState::of(&env)?;
        let handle = Arc::new(Handle::new(Some(vm)));
        env_state.adopt(&handle);
        Ok(VmSystem { handle, env_state })
    }

    /// Closes every live session of this instance (a running execution ends `cancelled`) and
    /// releases the database (files, background thread) once the runs still going on it end.
    /// Every later call fails with `VALIDATION_ERROR`; closing again does nothing.
    #[napi]
    pub fn close(&self) {
        lifecycle::close(&self.handle);
    }

    /// Whether `close()` was called.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.handle
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .is_none()
    }

    /// The folder installed libraries are kept in.
    #[napi(getter)]
    pub fn library_cache(&self, env: Env) -> napi::Result<String> {
        Ok(self
            .vm(&env)?
            .library_cache()
            .to_string_lossy()
            .into_owned())
    }

    // ---- templates ----

    /// Creates a template with the default settings (`engine` must be `quickjs`).
    #[napi(ts_args_type = "name: string, engine?: string | undefined | null")]
    pub fn create_template(
        &self,
        env: Env,
        name: Unknown<'_>,
        engine: Unknown<'_>,
    ) -> napi::Result<Template> {
        let name = args::string(&env, "name", name)?;
        let engine = args::opt_string(&env, "engine", engine)?;
        let engine = engine.as_deref().unwrap_or(vm_system::ENGINE_QUICKJS);
        self.vm(&env)?
            .create_template(&name, engine)
            .map(Into::into)
            .or_throw(&env)
    }

    /// A template with its settings, startup files, capabilities, modules and libraries.
    #[napi(ts_args_type = "templateId: string")]
    pub fn get_template(&self, env: Env, template_id: Unknown<'_>) -> napi::Result<TemplateDetail> {
        let template_id = args::string(&env, "templateId", template_id)?;
        self.vm(&env)?
            .get_template(&template_id)
            .map(Into::into)
            .or_throw(&env)
    }

    /// Every template, oldest first.
    #[napi]
    pub fn list_templates(&self, env: Env) -> napi::Result<Vec<Template>> {
        let templates = self.vm(&env)?.list_templates().or_throw(&env)?;
        Ok(templates.into_iter().map(Into::into).collect())
    }

    /// Deletes a template and everything attached to it.
    #[napi(ts_args_type = "templateId: string")]
    pub fn delete_template(&self, env: Env, template_id: Unknown<'_>) -> napi::Result<()> {
        let template_id = args::string(&env, "templateId", template_id)?;
        self.vm(&env)?.delete_template(&template_id).or_throw(&env)
    }

    /// Applies a partial settings update (`{limits: {cpu_ms: 100}}`); returns the new settings.
    #[napi(ts_args_type = "templateId: string, patch: SettingsPatch")]
    pub fn update_settings(
        &self,
        env: Env,
        template_id: Unknown<'_>,
        patch: Unknown<'_>,
    ) -> napi::Result<Settings> {
        let template_id = args::string(&env, "templateId", template_id)?;
        let patch = args::json(&env, "patch", patch)?;
        self.vm(&env)?
            .update_settings(&template_id, &patch)
            .map(Into::into)
            .or_throw(&env)
    }

    /// Adds a startup file (path relative to the future worktree; mode `eval` or `module`).
    #[napi(
        ts_args_type = "templateId: string, path: string, orderIndex?: number | undefined | null, mode?: StartupMode | undefined | null"
    )]
    pub fn add_startup_file(
        &self,
        env: Env,
        template_id: Unknown<'_>,
        path: Unknown<'_>,
        order_index: Unknown<'_>,
        mode: Unknown<'_>,
    ) -> napi::Result<StartupFile> {
        let template_id = args::string(&env, "templateId", template_id)?;
        let path = args::string(&env, "path", path)?;
        let order_index = args::opt_integer(&env, "orderIndex", order_index)?;
        let mode = args::opt_string(&env, "mode", mode)?;
        self.vm(&env)?
            .add_startup_file(
                &template_id,
                &path,
                order_index.unwrap_or(0),
                mode.as_deref().unwrap_or("eval"),
            )
            .map(Into::into)
            .or_throw(&env)
    }

    /// Startup files sorted by `orderIndex` (ties in insertion order).
    #[napi(ts_args_type = "templateId: string")]
    pub fn list_startup_files(
        &self,
        env: Env,
        template_id: Unknown<'_>,
    ) -> napi::Result<Vec<StartupFile>> {
        let template_id = args::string(&env, "templateId", template_id)?;
        let files = self
            .vm(&env)?
            .list_startup_files(&template_id)
            .or_throw(&env)?;
        Ok(files.into_iter().map(Into::into).collect())
    }

    /// Removes the startup file with this path.
    #[napi(ts_args_type = "templateId: string, path: string")]
    pub fn remove_startup_file(
        &self,
        env: Env,
        template_id: Unknown<'_>,
        path: Unknown<'_>,
    ) -> napi::Result<()> {
        let template_id = args::string(&env, "templateId", template_id)?;
        let path = args::string(&env, "path", path)?;
        self.vm(&env)?
            .remove_startup_file(&template_id, &path)
            .or_throw(&env)
    }

    /// Adds (or replaces) a capability record.
    #[napi(
        ts_args_type = "templateId: string, kind: CapabilityKind, name: string, enabled?: boolean | undefined | null, config?: JsonObject | undefined | null"
    )]
    pub fn add_capability(
        &self,
        env: Env,
        template_id: Unknown<'_>,
        kind: Unknown<'_>,
        name: Unknown<'_>,
        enabled: Unknown<'_>,
        config: Unknown<'_>,
    ) -> napi::Result<Capability> {
        let template_id = args::string(&env, "templateId", template_id)?;
        let kind = args::string(&env, "kind", kind)?;
        let name = args::string(&env, "name", name)?;
        let enabled = args::opt_bool(&env, "enabled", enabled)?;
        let config = match args::json(&env, "config", config)? {
            Json::Null => Json::Object(Default::default()),
            config => config,
        };
        self.vm(&env)?
            .add_capability(&template_id, &kind, &name, enabled.unwrap_or(true), &config)
            .map(Into::into)
            .or_throw(&env)
    }

    /// Capabilities in insertion order.
    #[napi(ts_args_type = "templateId: string")]
    pub fn list_capabilities(
        &self,
        env: Env,
        template_id: Unknown<'_>,
    ) -> napi::Result<Vec<Capability>> {
        let template_id = args::string(&env, "templateId", template_id)?;
        let caps = self
            .vm(&env)?
            .list_capabilities(&template_id)
            .or_throw(&env)?;
        Ok(caps.into_iter().map(Into::into).collect())
    }

    /// Enables a native module (`database`, `fs`, `exec`).
    #[napi(ts_args_type = "templateId: string, name: string")]
    pub fn add_module(
        &self,
        env: Env,
        template_id: Unknown<'_>,
        name: Unknown<'_>,
    ) -> napi::Result<()> {
        let template_id = args::string(&env, "templateId", template_id)?;
        let name = args::string(&env, "name", name)?;
        self.vm(&env)?
            .add_module(&template_id, &name)
            .or_throw(&env)
    }

    /// Disables a native module.
    #[napi(ts_args_type = "templateId: string, name: string")]
    pub fn remove_module(
        &self,
        env: Env,
        template_id: Unknown<'_>,
        name: Unknown<'_>,
    ) -> napi::Result<()> {
        let template_id = args::string(&env, "templateId", template_id)?;
        let name = args::string(&env, "name", name)?;
        self.vm(&env)?
            .remove_module(&template_id, &name)
            .or_throw(&env)
    }

    /// The template's enabled modules, sorted.
    #[napi(ts_args_type = "templateId: string")]
    pub fn list_modules(&self, env: Env, template_id: Unknown<'_>) -> napi::Result<Vec<String>> {
        let template_id = args::string(&env, "templateId", template_id)?;
        self.vm(&env)?.list_modules(&template_id).or_throw(&env)
    }

    /// Every native module with its description and functions.
    #[napi]
    pub fn available_modules(&self, env: Env) -> napi::Result<Vec<ModuleInfo>> {
        Ok(self
            .vm(&env)?
            .available_modules()
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Enables a catalog library.
    #[napi(ts_args_type = "templateId: string, name: string")]
    pub fn add_library(
        &self,
        env: Env,
        template_id: Unknown<'_>,
        name: Unknown<'_>,
    ) -> napi::Result<()> {
        let template_id = args::string(&env, "templateId", template_id)?;
        let name = args::string(&env, "name", name)?;
        self.vm(&env)?
            .add_library(&template_id, &name)
            .or_throw(&env)
    }

    /// Disables a library.
    #[napi(ts_args_type = "templateId: string, name: string")]
    pub fn remove_library(
        &self,
        env: Env,
        template_id: Unknown<'_>,
        name: Unknown<'_>,
    ) -> napi::Result<()> {
        let template_id = args::string(&env, "templateId", template_id)?;
        let name = args::string(&env, "name", name)?;
        self.vm(&env)?
            .remove_library(&template_id, &name)
            .or_throw(&env)
    }

    /// The template's enabled libraries, sorted.
    #[napi(ts_args_type = "templateId: string")]
    pub fn list_libraries(&self, env: Env, template_id: Unknown<'_>) -> napi::Result<Vec<String>> {
        let template_id = args::string(&env, "templateId", template_id)?;
        self.vm(&env)?.list_libraries(&template_id).or_throw(&env)
    }

    /// The library catalog.
    #[napi]
    pub fn available_libraries(&self, env: Env) -> napi::Result<Vec<LibraryInfo>> {
        Ok(self
            .vm(&env)?
            .available_libraries()
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Installs a catalog library into the cache, from a local copy of its file or else with
    /// `npm pack`. Blocks until done.
    #[napi(ts_args_type = "name: string, fromFile?: string | undefined | null")]
    pub fn install_library(
        &self,
        env: Env,
        name: Unknown<'_>,
        from_file: Unknown<'_>,
    ) -> napi::Result<InstalledLibrary> {
        let name = args::string(&env, "name", name)?;
        let from_file = args::opt_string(&env, "fromFile", from_file)?;
        let from = from_file.as_deref().map(std::path::Path::new);
        self.vm(&env)?
            .install_library(&name, from)
            .map(Into::into)
            .or_throw(&env)
    }

    /// Libraries present (and intact) in the cache.
    #[napi]
    pub fn installed_libraries(&self, env: Env) -> napi::Result<Vec<InstalledLibrary>> {
        let libs = self.vm(&env)?.installed_libraries().or_throw(&env)?;
        Ok(libs.into_iter().map(Into::into).collect())
    }

    // ---- sessions ----

    /// Creates a session off the event loop: builds its runtime, loads libraries, runs the
    /// startup files (their events go to `onEvent`).
    #[napi(
        ts_args_type = "templateId: string, workspaceId: string, baseCommitOid: string, worktreePath: string, options?: WatchOptions | undefined | null",
        ts_return_type = "Promise<Session>"
    )]
    pub fn create_session<'env>(
        &self,
        env: &'env Env,
        template_id: Unknown<'_>,
        workspace_id: Unknown<'_>,
        base_commit_oid: Unknown<'_>,
        worktree_path: Unknown<'_>,
        options: Unknown<'_>,
    ) -> napi::Result<Object<'env>> {
        let template_id = args::string(env, "templateId", template_id)?;
        let workspace_id = args::string(env, "workspaceId", workspace_id)?;
        let base_commit_oid = args::string(env, "baseCommitOid", base_commit_oid)?;
        let worktree_path = args::string(env, "worktreePath", worktree_path)?;
        let options = args::opt_object(env, "options", options)?;
        let on_event = on_event(env, options.as_ref(), "options.onEvent")?;
        let vm = self.vm(env)?;
        let watch = watch(env, on_event)?;
        task::spawn(env, &self.env_state, watch, move |watcher| {
            vm.create_session_watched(
                &template_id,
                &workspace_id,
                &base_commit_oid,
                &worktree_path,
                watcher,
            )
            .map(Session::from)
        })
    }

    /// `createSession`, blocking the calling thread (no `onEvent`).
    #[napi(
        ts_args_type = "templateId: string, workspaceId: string, baseCommitOid: string, worktreePath: string"
    )]
    pub fn create_session_sync(
        &self,
        env: Env,
        template_id: Unknown<'_>,
        workspace_id: Unknown<'_>,
        base_commit_oid: Unknown<'_>,
        worktree_path: Unknown<'_>,
    ) -> napi::Result<Session> {
        let template_id = args::string(&env, "templateId", template_id)?;
        let workspace_id = args::string(&env, "workspaceId", workspace_id)?;
        let base_commit_oid = args::string(&env, "baseCommitOid", base_commit_oid)?;
        let worktree_path = args::string(&env, "worktreePath", worktree_path)?;
        self.vm(&env)?
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
    #[napi(ts_args_type = "sessionId: string")]
    pub fn get_session(&self, env: Env, session_id: Unknown<'_>) -> napi::Result<Session> {
        let session_id = args::string(&env, "sessionId", session_id)?;
        self.vm(&env)?
            .get_session(&session_id)
            .map(Into::into)
            .or_throw(&env)
    }

    /// Sessions, oldest first, optionally only those with `status`.
    #[napi(ts_args_type = "status?: SessionStatus | undefined | null")]
    pub fn list_sessions(&self, env: Env, status: Unknown<'_>) -> napi::Result<Vec<Session>> {
        let status = args::opt_string(&env, "status", status)?;
        let status = status
            .as_deref()
            .map(vm_system::SessionStatus::parse)
            .transpose()
            .or_throw(&env)?;
        let sessions = self.vm(&env)?.list_sessions(status).or_throw(&env)?;
        Ok(sessions.into_iter().map(Into::into).collect())
    }

    /// Closes a session (a running execution is stopped and ends `cancelled`); closed or
    /// crashed sessions are returned as they are. May be called from an `onEvent` callback.
    #[napi(ts_args_type = "sessionId: string")]
    pub fn close_session(&self, env: Env, session_id: Unknown<'_>) -> napi::Result<Session> {
        let session_id = args::string(&env, "sessionId", session_id)?;
        self.vm(&env)?
            .close_session(&session_id)
            .map(Into::into)
            .or_throw(&env)
    }

    /// The live sessions of this instance (none once closed).
    #[napi]
    pub fn runtime_summary(&self) -> RuntimeSummary {
        let vm = self
            .handle
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        match vm {
            Some(vm) => vm.runtime_summary().into(),
            None => RuntimeSummary {
                active_sessions: 0,
                active_session_ids: Vec::new(),
            },
        }
    }

    // ---- executions ----

    /// Evaluates a snippet as a global script in the session, off the event loop.
    #[napi(
        ts_args_type = "sessionId: string, input: string, options?: WatchOptions | undefined | null",
        ts_return_type = "Promise<Execution>"
    )]
    pub fn repl<'env>(
        &self,
        env: &'env Env,
        session_id: Unknown<'_>,
        input: Unknown<'_>,
        options: Unknown<'_>,
    ) -> napi::Result<Object<'env>> {
        let session_id = args::string(env, "sessionId", session_id)?;
        let input = args::string(env, "input", input)?;
        let options = args::opt_object(env, "options", options)?;
        let on_event = on_event(env, options.as_ref(), "options.onEvent")?;
        let vm = self.vm(env)?;
        let watch = watch(env, on_event)?;
        task::spawn(env, &self.env_state, watch, move |watcher| {
            vm.repl_watched(&session_id, &input, watcher)
                .map(ExecutionValue)
        })
    }

    /// `repl`, blocking the calling thread (no `onEvent`).
    #[napi(
        ts_args_type = "sessionId: string, input: string",
        ts_return_type = "Execution"
    )]
    pub fn repl_sync(
        &self,
        env: Env,
        session_id: Unknown<'_>,
        input: Unknown<'_>,
    ) -> napi::Result<ExecutionValue> {
        let session_id = args::string(&env, "sessionId", session_id)?;
        let input = args::string(&env, "input", input)?;
        self.vm(&env)?
            .repl(&session_id, &input)
            .map(ExecutionValue)
            .or_throw(&env)
    }

    /// Runs a worktree file, off the event loop; `args` / `env` become `__ARGS__` / `__ENV__`.
    #[napi(
        ts_args_type = "sessionId: string, path: string, options?: RunFileOptions | undefined | null",
        ts_return_type = "Promise<Execution>"
    )]
    pub fn run_file<'env>(
        &self,
        env: &'env Env,
        session_id: Unknown<'_>,
        path: Unknown<'_>,
        options: Unknown<'_>,
    ) -> napi::Result<Object<'env>> {
        let session_id = args::string(env, "sessionId", session_id)?;
        let path = args::string(env, "path", path)?;
        let options = args::opt_object(env, "options", options)?;
        let (file_args, vars) = run_file_vars(env, options.as_ref())?;
        let on_event = on_event(env, options.as_ref(), "options.onEvent")?;
        let vm = self.vm(env)?;
        let watch = watch(env, on_event)?;
        task::spawn(env, &self.env_state, watch, move |watcher| {
            vm.run_file_watched(&session_id, &path, &file_args, &vars, watcher)
                .map(ExecutionValue)
        })
    }

    /// `runFile`, blocking the calling thread (no `onEvent`).
    #[napi(
        ts_args_type = "sessionId: string, path: string, options?: RunFileSyncOptions | undefined | null",
        ts_return_type = "Execution"
    )]
    pub fn run_file_sync(
        &self,
        env: Env,
        session_id: Unknown<'_>,
        path: Unknown<'_>,
        options: Unknown<'_>,
    ) -> napi::Result<ExecutionValue> {
        let session_id = args::string(&env, "sessionId", session_id)?;
        let path = args::string(&env, "path", path)?;
        let options = args::opt_object(&env, "options", options)?;
        let (file_args, vars) = run_file_vars(&env, options.as_ref())?;
        self.vm(&env)?
            .run_file(&session_id, &path, &file_args, &vars)
            .map(ExecutionValue)
            .or_throw(&env)
    }

    /// The id of the execution running in a session of this process right now, if any.
    #[napi(ts_args_type = "sessionId: string")]
    pub fn running_execution(
        &self,
        env: Env,
        session_id: Unknown<'_>,
    ) -> napi::Result<Option<String>> {
        let session_id = args::string(&env, "sessionId", session_id)?;
        Ok(self.vm(&env)?.running_execution(&session_id))
    }

    /// An execution record.
    #[napi(ts_args_type = "executionId: string", ts_return_type = "Execution")]
    pub fn get_execution(
        &self,
        env: Env,
        execution_id: Unknown<'_>,
    ) -> napi::Result<ExecutionValue> {
        let execution_id = args::string(&env, "executionId", execution_id)?;
        self.vm(&env)?
            .get_execution(&execution_id)
            .map(ExecutionValue)
            .or_throw(&env)
    }

    /// A session's executions, newest first, at most `limit` (default 50, 1 to 10,000).
    #[napi(
        ts_args_type = "sessionId: string, limit?: number | undefined | null",
        ts_return_type = "Array<Execution>"
    )]
    pub fn list_executions(
        &self,
        env: Env,
        session_id: Unknown<'_>,
        limit: Unknown<'_>,
    ) -> napi::Result<Vec<ExecutionValue>> {
        let session_id = args::string(&env, "sessionId", session_id)?;
        let limit = args::opt_integer(&env, "limit", limit)?;
        let limit = unsigned("limit", limit, 50)
            .and_then(|n| {
                u32::try_from(n)
                    .map_err(|_| invalid(format!("limit must be from 1 to 10000, got {n}")))
            })
            .or_throw(&env)?;
        let execs = self
            .vm(&env)?
            .list_executions(&session_id, limit)
            .or_throw(&env)?;
        Ok(execs.into_iter().map(ExecutionValue).collect())
    }

    /// Events with `seq > afterSeq` (default 0), in order; readable while the execution runs.
    #[napi(
        ts_args_type = "executionId: string, afterSeq?: number | undefined | null",
        ts_return_type = "Array<Event>"
    )]
    pub fn events(
        &self,
        env: Env,
        execution_id: Unknown<'_>,
        after_seq: Unknown<'_>,
    ) -> napi::Result<Vec<EventValue>> {
        let execution_id = args::string(&env, "executionId", execution_id)?;
        let after_seq = args::opt_integer(&env, "afterSeq", after_seq)?;
        let after = unsigned("afterSeq", after_seq, 0).or_throw(&env)?;
        let events = self.vm(&env)?.events(&execution_id, after).or_throw(&env)?;
        Ok(events.into_iter().map(EventValue).collect())
    }

    /// Cancels a running execution (it ends `cancelled`); an ended one is left as it is.
    #[napi(ts_args_type = "executionId: string")]
    pub fn cancel_execution(&self, env: Env, execution_id: Unknown<'_>) -> napi::Result<()> {
        let execution_id = args::string(&env, "executionId", execution_id)?;
        self.vm(&env)?
            .cancel_execution(&execution_id)
            .or_throw(&env)
    }
}
