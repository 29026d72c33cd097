//! The QuickJS engine: the only module that touches rquickjs. A session owns one
//! [`Engine`]; every run goes through [`Engine::run`] with its [`RunContext`], and what
//! JavaScript produced comes back as owned values.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rquickjs::context::EvalOptions;
use rquickjs::{
    qjs, CatchResultExt, CaughtError, Context, Ctx, Function, Object, Persistent, Runtime, Value,
};
use serde_json::{json, Map, Value as Json};

use rquickjs::promise::PromiseState;

use crate::event::{console_payload_text, system_payload, EventType, SystemLevel, CONSOLE_LEVELS};
use crate::limits::{stack_remaining, StopReason};
use crate::run::RunContext;
use crate::template::{Settings, UnhandledRejections};

mod bytecode;
mod loader;
mod source;
mod value;

const PRELUDE: &str = include_str!("prelude.js");

pub(crate) use crate::run::ActiveRun;

/// Preferred JavaScript stack: deep enough for real code, far inside any thread's stack.
const PREFERRED_STACK: usize = 1024 * 1024;
/// Stack kept free below the JavaScript limit for host frames.
const STACK_RESERVE: usize = 256 * 1024;
/// Smallest JavaScript stack a run gets; a thread with less than twice this left is refused.
const MIN_STACK: usize = 32 * 1024;

/// What to run.
pub(crate) enum Code<'a> {
    /// A global script (repl snippets, files outside ESM mode, `eval` startup files).
    /// One that uses `await` at its top level runs as an async script; declarations
    /// persist either way.
    Script { source: &'a str, name: &'a str },
    /// An ES module (files in ESM mode, `module` startup files), loaded from the
    /// worktree like any import, under its worktree-relative `path`: one instance per
    /// session, its default export the result.
    Module { path: &'a str },
}

/// How the evaluated value wraps the result.
enum Wrapper {
    /// The value is the result.
    Plain,
    /// A promise of `{value}` (a script with top-level await).
    AsyncScript,
    /// A promise of the module's namespace; the result is its default export.
    Module,
}

/// What a run produced.
pub(crate) enum Outcome {
    /// Completed; the value payload `{type, preview, json?}`.
    Value(Json),
    /// Threw; the exception payload `{name, message, stack}`.
    Exception(Json),
    /// Stopped by a limit or a cancel.
    Stopped(StopReason),
    /// The engine itself failed (a bug).
    Failed(String),
}

/// One QuickJS runtime and context.
pub(crate) struct Engine {
    // Declared first so it is released before the context and runtime.
    helpers: Held<Object<'static>>,
    context: Context,
    runtime: Runtime,
    active: Arc<ActiveRun>,
    rejections: Arc<Mutex<Vec<PendingRejection>>>,
    strict: bool,
    unhandled_rejections: UnhandledRejections,
}

/// A rejected promise nobody has handled (yet).
struct PendingRejection {
    promise: usize,
    reason: Held<Value<'static>>,
}

/// A saved JavaScript value. Only touched while the runtime lock is held (inside the
/// rejection tracker or `Context::with`), which is what makes sharing it across threads
/// sound: the runtime itself is `Send + Sync` under rquickjs's `parallel` feature.
struct Held<T>(Persistent<T>);

// SAFETY: see `Held`: every access happens under the runtime lock.
unsafe impl<T> Send for Held<T> {}
// SAFETY: see `Held`.
unsafe impl<T> Sync for Held<T> {}

impl Engine {
    /// Builds a runtime with the template's memory limit, the interrupt handler that
    /// enforces the run limits, the console shim and the timers.
    pub fn new(
        settings: &Settings,
        host: &crate::modules::Host,
        active: Arc<ActiveRun>,
    ) -> Result<Engine, String> {
        let runtime = Runtime::new().map_err(|e| format!("cannot create a runtime: {e}"))?;
        runtime.set_memory_limit((settings.limits.mem_mb as usize).saturating_mul(1 << 20));
        let watched = active.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || {
            let run = watched.lock().clone();
            match run {
                Some(run) => {
                    let stop = run.guard.check().is_some();
                    if !stop {
                        run.maybe_flush();
                    }
                    stop
                }
                None => false,
            }
        })));
        let rejections: Arc<Mutex<Vec<PendingRejection>>> = Arc::default();
        let tracked = rejections.clone();
        runtime.set_host_promise_rejection_tracker(Some(Box::new(
            move |ctx: Ctx<'_>, promise: Value<'_>, reason: Value<'_>, handled: bool| {
                let id = identity(&promise);
                let mut pending = tracked.lock();
                if handled {
                    pending.retain(|p| p.promise != id);
                } else {
                    pending.push(PendingRejection {
                        promise: id,
                        reason: Held(Persistent::save(&ctx, reason)),
                    });
                }
            },
        )));
        runtime.set_loader(
            loader::WorktreeResolver {
                worktree: host.worktree.clone(),
                settings: settings.resolver.clone(),
                native: host.modules.clone(),
            },
            loader::WorktreeLoader {
                worktree: host.worktree.clone(),
                native: host.modules.clone(),
            },
        );
        let context =
            Context::full(&runtime).map_err(|e| format!("cannot create a context: {e}"))?;
        context
            .with(|ctx| crate::modules::install(&ctx, host, &active))
            .map_err(|e| format!("cannot install native modules: {e}"))?;
        let emitter = active.clone();
        let helpers = context.with(|ctx| -> Result<_, String> {
            let prelude: Function = bytecode::load_prelude(&ctx, PRELUDE)
                .catch(&ctx)
                .map_err(|e| format!("prelude failed: {e}"))?;
            let emit = Function::new(
                ctx.clone(),
                move |ctx: Ctx<'_>, level: u32, text: Value<'_>| {
                    // A separate statement: the lock is released before the event reaches a
                    // watcher, which may call back into the library.
                    let Some(run) = emitter.lock().clone() else {
                        return;
                    };
                    let level = CONSOLE_LEVELS.get(level as usize).copied().unwrap_or("log");
                    let text = value::string_lossy(&ctx, &text).unwrap_or_default();
                    let payload = console_payload_text(level, &text);
                    run.emit_text(
                        EventType::Console,
                        payload,
                        || json!({"level": level, "text": text}),
                    );
                },
            )
            .map_err(|e| format!("cannot create console: {e}"))?;
            let classify = Function::new(ctx.clone(), |ctx: Ctx<'_>, v: Value<'_>| {
                value::classify(&ctx, &v)
            })
            .map_err(|e| format!("cannot create the classifier: {e}"))?;
            let helpers: Object = prelude
                .call((emit, classify, settings.runtime.console))
                .catch(&ctx)
                .map_err(|e| format!("prelude failed: {e}"))?;
            install_queue_microtask(&ctx)
                .map_err(|e| format!("cannot install queueMicrotask: {e}"))?;
            Ok(Held(Persistent::save(&ctx, helpers)))
        })?;
        Ok(Engine {
            helpers,
            context,
            runtime,
            active,
            rejections,
            strict: settings.runtime.strict,
            unhandled_rejections: settings.runtime.unhandled_rejections,
        })
    }

    /// Evaluates a library file in the global scope (before any startup file).
    pub fn load_library(&self, name: &str, source: &str) -> Result<(), String> {
        self.context.with(|ctx| {
            let mut options = EvalOptions::default();
            options.strict = false;
            options.filename = Some(format!("library:{name}"));
            ctx.eval_with_options::<(), _>(source, options)
                .catch(&ctx)
                .map_err(|e| e.to_string())
        })
    }

    /// Runs `code` under `run`'s limits, settles its promises and timers, and describes
    /// the result. `globals` sets `__ARGS__` and `__ENV__` first.
    pub fn run(
        &self,
        run: &Arc<RunContext>,
        code: Code<'_>,
        globals: Option<(&Json, &Json)>,
    ) -> Outcome {
        let budget = match stack_budget() {
            Ok(budget) => budget,
            Err(message) => return Outcome::Failed(message),
        };
        self.runtime.set_max_stack_size(budget);
        *self.active.lock() = Some(run.clone());
        let outcome = self.context.with(|ctx| {
            let helpers = match self.helpers.0.clone().restore(&ctx) {
                Ok(h) => h,
                Err(e) => return Outcome::Failed(format!("engine helpers lost: {e}")),
            };
            let outcome = self.run_in(&ctx, &helpers, run, code, globals);
            // A run that ended abnormally leaves its work behind; a finished one may have
            // queued some while its result was described (a getter, `toJSON`, a trap).
            if outcome_is_final(&outcome)
                || run.guard.stopped().is_some()
                || self.has_leftovers(&ctx, &helpers)
            {
                self.discard_pending(&ctx, &helpers);
            }
            outcome
        });
        *self.active.lock() = None;
        match run.guard.stopped() {
            Some(reason) => Outcome::Stopped(reason),
            None => outcome,
        }
    }

    fn run_in<'js>(
        &self,
        ctx: &Ctx<'js>,
        helpers: &Object<'js>,
        run: &Arc<RunContext>,
        code: Code<'_>,
        globals: Option<(&Json, &Json)>,
    ) -> Outcome {
        if let Some((args, env)) = globals {
            let set: Function = match helpers.get("setGlobals") {
                Ok(f) => f,
                Err(e) => return Outcome::Failed(e.to_string()),
            };
            if let Err(e) = set
                .call::<_, ()>((args.to_string(), env.to_string()))
                .catch(ctx)
            {
                return self.caught(ctx, helpers, run, e);
            }
        }
        let evaluated = match code {
            Code::Script { source, name } => self.eval_script(ctx, source, name),
            Code::Module { path } => {
                // Imported like any module: a self-import or a cycle back to the entry
                // finds this same instance, and its name in stacks is its path.
                let specifier = format!("./{}", path.trim_start_matches("./"));
                rquickjs::Module::import(ctx, specifier)
                    .catch(ctx)
                    .map(|promise| (promise.into_value(), Wrapper::Module))
            }
        };
        let (value, wrapper) = match evaluated {
            Ok(v) => v,
            Err(e) => return self.caught(ctx, helpers, run, e),
        };
        let own_promise = match wrapper {
            // A plain script whose last value is a promise reports its settled value: its
            // rejection is the run's exception, not also an unhandled one.
            Wrapper::Plain if value.is_promise() => identity(&value),
            Wrapper::Plain => 0,
            _ => identity(&value),
        };
        if let Some(outcome) = self.settle(ctx, helpers, run, own_promise) {
            return outcome;
        }
        let value = match wrapper {
            Wrapper::Plain => value,
            Wrapper::AsyncScript => match self.settled(ctx, helpers, run, value) {
                Ok(v) => match v.as_object() {
                    Some(o) => o.get::<_, Value>("value").unwrap_or(v),
                    None => v,
                },
                Err(outcome) => return outcome,
            },
            Wrapper::Module => match self.settled(ctx, helpers, run, value) {
                Ok(namespace) => match namespace.as_object() {
                    Some(ns) => match ns.get::<_, Value>("default").catch(ctx) {
                        Ok(v) => v,
                        Err(e) => return self.caught(ctx, helpers, run, e),
                    },
                    None => Value::new_undefined(ctx.clone()),
                },
                Err(outcome) => return outcome,
            },
        };
        let value = match self.settled(ctx, helpers, run, value) {
            Ok(v) => v,
            Err(outcome) => return outcome,
        };
        self.describe(ctx, helpers, run, value)
    }

    /// Evaluates a global script. The grammar decides whether it is async: the input is
    /// compiled once as a plain script, and only when that fails and the text has
    /// `await` in it is it evaluated again as an async script (top-level `await`). So
    /// `var await = 1`, an `aw\u0061it` class or `await` in a comment stay plain scripts,
    /// and an input without top-level `await` is parsed once.
    fn eval_script<'js>(
        &self,
        ctx: &Ctx<'js>,
        source: &str,
        name: &str,
    ) -> Result<(Value<'js>, Wrapper), CaughtError<'js>> {
        match source::compile_script(ctx, source, name, self.strict).catch(ctx) {
            Ok(compiled) => source::run_compiled(ctx, compiled)
                .catch(ctx)
                .map(|v| (v, Wrapper::Plain)),
            Err(plain_error) if source.contains("await") => {
                drop(plain_error);
                source::eval_async_script(ctx, source, name, self.strict)
                    .catch(ctx)
                    .map(|v| (v, Wrapper::AsyncScript))
            }
            Err(e) => Err(e),
        }
    }

    /// The settled value of a promise (or the value itself when it is none, or still
    /// pending); a rejection becomes the exception outcome.
    fn settled<'js>(
        &self,
        ctx: &Ctx<'js>,
        helpers: &Object<'js>,
        run: &Arc<RunContext>,
        value: Value<'js>,
    ) -> Result<Value<'js>, Outcome> {
        let Some(promise) = value.as_promise() else {
            return Ok(value);
        };
        match promise.state() {
            PromiseState::Pending => Ok(value.clone()),
            PromiseState::Resolved => match promise.result::<Value>() {
                Some(Ok(v)) => Ok(v),
                Some(Err(e)) => {
                    Err(self.caught(ctx, helpers, run, CaughtError::from_error(ctx, e)))
                }
                None => Ok(value.clone()),
            },
            PromiseState::Rejected => {
                let id = identity(&value);
                self.rejections.lock().retain(|p| p.promise != id);
                match promise.result::<Value>().and_then(|r| r.err()) {
                    Some(e) => Err(self.caught(ctx, helpers, run, CaughtError::from_error(ctx, e))),
                    None => Err(Outcome::Failed("rejected promise without reason".into())),
                }
            }
        }
    }

    /// Drives promise jobs and timers until nothing is pending, a limit stops the run or
    /// a timer callback or unhandled rejection ends it with an exception.
    /// `own_promise` is the run's own evaluation promise, whose rejection is the run's
    /// exception rather than an unhandled one.
    fn settle<'js>(
        &self,
        ctx: &Ctx<'js>,
        helpers: &Object<'js>,
        run: &Arc<RunContext>,
        own_promise: usize,
    ) -> Option<Outcome> {
        let next_delay: Function = helpers.get("nextTimerDelay").ok()?;
        let run_due: Function = helpers.get("runDueTimer").ok()?;
        loop {
            let mut jobs = 0u32;
            loop {
                match run_job(ctx) {
                    Job::Idle => break,
                    Job::Ran => {}
                    Job::Threw(thrown) => return Some(self.exception(ctx, helpers, run, thrown)),
                }
                jobs = jobs.wrapping_add(1);
                // Short jobs may never reach the interrupt poll: check the clocks here too.
                let stop = if jobs % 64 == 0 {
                    run.guard.check()
                } else {
                    run.guard.stopped()
                };
                if let Some(reason) = stop {
                    return Some(Outcome::Stopped(reason));
                }
            }
            if let Some(outcome) = self.unhandled_rejection(ctx, helpers, run, own_promise) {
                return Some(outcome);
            }
            if let Some(reason) = run.guard.check() {
                return Some(Outcome::Stopped(reason));
            }
            let delay: f64 = match next_delay.call(()).catch(ctx) {
                Ok(d) => d,
                Err(e) => return Some(self.caught(ctx, helpers, run, e)),
            };
            if delay < 0.0 {
                return None;
            }
            if delay > 0.0 {
                run.flush();
                if let Some(reason) = wait(run, Duration::from_micros((delay * 1000.0) as u64)) {
                    return Some(Outcome::Stopped(reason));
                }
            }
            if let Err(e) = run_due.call::<_, bool>(()).catch(ctx) {
                return Some(self.caught(ctx, helpers, run, e));
            }
        }
    }

    /// Reports the rejections nobody handled by the time the job queue drained: the
    /// first ends the run (`"error"`), or each becomes a `system` warning (`"warn"`).
    fn unhandled_rejection<'js>(
        &self,
        ctx: &Ctx<'js>,
        helpers: &Object<'js>,
        run: &Arc<RunContext>,
        own_promise: usize,
    ) -> Option<Outcome> {
        loop {
            let first = {
                let mut pending = self.rejections.lock();
                let index = pending.iter().position(|p| p.promise != own_promise)?;
                pending.remove(index)
            };
            let reason = first.reason.0.restore(ctx).ok()?;
            match self.unhandled_rejections {
                UnhandledRejections::Error => {
                    return Some(self.exception(ctx, helpers, run, reason))
                }
                UnhandledRejections::Warn => {
                    let reason = match self.exception(ctx, helpers, run, reason) {
                        Outcome::Exception(e) => {
                            let message = e["message"].as_str().unwrap_or_default();
                            message
                                .strip_prefix("Uncaught ")
                                .unwrap_or(message)
                                .to_string()
                        }
                        other => return Some(other),
                    };
                    let message = format!("Unhandled promise rejection: {reason}");
                    // Counted like the script's own output: a flood of rejections meets
                    // `max_events` and `max_output_kb`.
                    run.emit(
                        EventType::System,
                        system_payload(SystemLevel::Warn, &message),
                    );
                    if let Some(reason) = run.guard.stopped() {
                        return Some(Outcome::Stopped(reason));
                    }
                }
            }
        }
    }

    /// Whether a finished run left timers, jobs or rejections behind (queued while its
    /// result was described).
    fn has_leftovers<'js>(&self, ctx: &Ctx<'js>, helpers: &Object<'js>) -> bool {
        // SAFETY: inside `Context::with`, so the runtime is locked.
        let jobs = unsafe { qjs::JS_IsJobPending(qjs::JS_GetRuntime(ctx.as_raw().as_ptr())) };
        jobs || !self.rejections.lock().is_empty()
            || helpers
                .get::<_, Function>("hasTimers")
                .and_then(|f| f.call::<_, bool>(()))
                .unwrap_or(true)
    }

    /// Drops the timers, jobs and rejections a run left behind (a stopped run's, or what a
    /// finished run queued while its result was described), so nothing of it runs in the
    /// next execution. No script code runs here.
    fn discard_pending<'js>(&self, ctx: &Ctx<'js>, helpers: &Object<'js>) {
        if let Ok(clear) = helpers.get::<_, Function>("clearTimers") {
            // `catch` takes the interrupt this call may raise off the context.
            let _ = clear.call::<_, ()>(()).catch(ctx);
        }
        discard_jobs(ctx);
        let leftovers = std::mem::take(&mut *self.rejections.lock());
        for r in leftovers {
            let _ = r.reason.0.restore(ctx);
        }
    }

    fn caught<'js>(
        &self,
        ctx: &Ctx<'js>,
        helpers: &Object<'js>,
        run: &Arc<RunContext>,
        error: CaughtError<'js>,
    ) -> Outcome {
        if let Some(reason) = run.guard.stopped() {
            return Outcome::Stopped(reason);
        }
        match error {
            CaughtError::Exception(e) => self.exception(ctx, helpers, run, e.into_value()),
            CaughtError::Value(v) => self.exception(ctx, helpers, run, v),
            CaughtError::Error(e) => Outcome::Failed(e.to_string()),
        }
    }

    /// Describes a thrown value. Runs under the run's limits; when it cannot be
    /// described (out of memory or stack) the exception says so.
    fn exception<'js>(
        &self,
        ctx: &Ctx<'js>,
        helpers: &Object<'js>,
        run: &Arc<RunContext>,
        thrown: Value<'js>,
    ) -> Outcome {
        if let Some(reason) = run.guard.stopped() {
            return Outcome::Stopped(reason);
        }
        let describe: Function = match helpers.get("exception") {
            Ok(f) => f,
            Err(e) => return Outcome::Failed(e.to_string()),
        };
        let is_error = value::is_error(&thrown);
        let parts = describe
            .call::<_, Object>((thrown, is_error))
            .catch(ctx)
            .ok()
            .and_then(|parts| {
                let part = |i: u32| -> Option<String> {
                    let v: Value = parts.get(i).ok()?;
                    value::string_lossy(ctx, &v)
                };
                Some([part(0)?, part(1)?, part(2)?])
            });
        match parts {
            Some([name, message, stack]) => {
                Outcome::Exception(json!({"name": name, "message": message, "stack": stack}))
            }
            None if run.guard.stopped().is_some() => {
                Outcome::Stopped(run.guard.stopped().unwrap_or(StopReason::Cancelled))
            }
            // Describing needs memory and stack; when the run exhausted one of them the
            // thrown value cannot be looked at (QuickJS even throws `null` when out of memory).
            None => Outcome::Exception(json!({
                "name": "InternalError",
                "message": "InternalError: out of memory or stack while throwing; the exception could not be described",
                "stack": ""
            })),
        }
    }

    /// Describes the completion value: its type from its internal class, its JSON from
    /// the engine's serialiser, its preview from a helper captured before user code ran.
    /// Getters, traps and `toJSON` that run do so under the run's limits; whatever they
    /// throw leaves the value with its type and no `json`, and the run still succeeds.
    fn describe<'js>(
        &self,
        ctx: &Ctx<'js>,
        helpers: &Object<'js>,
        run: &Arc<RunContext>,
        value: Value<'js>,
    ) -> Outcome {
        let kind = value::classify(ctx, &value);
        let (preview, json) = match value::simple_primitive(&value) {
            // The common results (`1+1`, a flag, nothing): no call into the prelude, no
            // JSON text to parse back.
            Some(described) => described,
            None => match Self::describe_in_engine(ctx, helpers, run, &value, kind) {
                Ok(described) => described,
                Err(reason) => return Outcome::Stopped(reason),
            },
        };
        let mut payload = Map::new();
        payload.insert("type".into(), Json::String(kind.to_string()));
        payload.insert("preview".into(), Json::String(preview));
        if let Some(json) = json {
            payload.insert("json".into(), json);
        }
        if let Some(reason) = run.guard.stopped() {
            return Outcome::Stopped(reason);
        }
        Outcome::Value(Json::Object(payload))
    }

    /// The preview (the prelude's `preview`) and JSON (the engine's serialiser) of a value
    /// that is not a [`value::simple_primitive`]; the stop reason if the run was stopped
    /// while they ran.
    fn describe_in_engine<'js>(
        ctx: &Ctx<'js>,
        helpers: &Object<'js>,
        run: &Arc<RunContext>,
        value: &Value<'js>,
        kind: &str,
    ) -> Result<(String, Option<Json>), StopReason> {
        let preview = match value::string_lossy(ctx, value) {
            Some(text) => text,
            None => {
                let preview = helpers
                    .get::<_, Function>("preview")
                    .and_then(|f| f.call::<_, Value>((value.clone(), kind)))
                    .catch(ctx);
                match preview {
                    Ok(p) => value::string_lossy(ctx, &p).unwrap_or_else(|| format!("[{kind}]")),
                    Err(_) => {
                        if let Some(reason) = run.guard.stopped() {
                            return Err(reason);
                        }
                        format!("[{kind}]")
                    }
                }
            }
        };
        if matches!(kind, "function" | "symbol" | "undefined") {
            return Ok((preview, None));
        }
        match value::json(ctx, value) {
            Ok(json) => Ok((preview, json)),
            Err(()) => Err(run.guard.stopped().unwrap_or(StopReason::Cancelled)),
        }
    }
}

/// Installs `queueMicrotask`, which queues the callback as a job of its own: no promise
/// machinery a script could patch is involved, and an exception it throws ends the run
/// like any uncaught exception.
fn install_queue_microtask(ctx: &Ctx<'_>) -> rquickjs::Result<()> {
    unsafe extern "C" fn call_callback(
        ctx: *mut qjs::JSContext,
        _argc: std::ffi::c_int,
        argv: *mut qjs::JSValue,
    ) -> qjs::JSValue {
        // SAFETY: QuickJS passes the one argument given to `JS_EnqueueJob`.
        unsafe { qjs::JS_Call(ctx, *argv, qjs::JS_UNDEFINED, 0, std::ptr::null_mut()) }
    }
    let queue = Function::new(
        ctx.clone(),
        |ctx: Ctx<'_>, callback: Value<'_>| -> rquickjs::Result<()> {
            if !callback.is_function() {
                return Err(rquickjs::Exception::throw_type(
                    &ctx,
                    "queueMicrotask callback must be a function",
                ));
            }
            let mut argv = [callback.as_raw()];
            // SAFETY: the context is locked; `JS_EnqueueJob` duplicates the argument.
            let rc = unsafe {
                qjs::JS_EnqueueJob(
                    ctx.as_raw().as_ptr(),
                    Some(call_callback),
                    1,
                    argv.as_mut_ptr(),
                )
            };
            if rc < 0 {
                return Err(rquickjs::Error::Exception);
            }
            Ok(())
        },
    )?
    .with_name("queueMicrotask")?;
    ctx.globals().set("queueMicrotask", queue)
}

/// What running one pending job did.
enum Job<'js> {
    /// No job was pending.
    Idle,
    /// A job ran.
    Ran,
    /// A job threw: out of memory, an interrupt, or an error outside any promise.
    Threw(Value<'js>),
}

/// Runs one pending job. Unlike `Ctx::execute_pending_job`, a job that throws is reported
/// rather than swallowed, so an out-of-memory error in a promise job ends the run.
fn run_job<'js>(ctx: &Ctx<'js>) -> Job<'js> {
    // SAFETY: called inside `Context::with`, so the runtime is locked; the runtime has this
    // one context, which is where a failing job leaves its exception.
    unsafe {
        let raw = ctx.as_raw().as_ptr();
        let mut job_ctx = std::ptr::null_mut();
        match rquickjs::qjs::JS_ExecutePendingJob(rquickjs::qjs::JS_GetRuntime(raw), &mut job_ctx) {
            0 => Job::Idle,
            r if r > 0 => Job::Ran,
            _ => {
                let source = if job_ctx.is_null() { raw } else { job_ctx };
                Job::Threw(Value::from_raw(
                    ctx.clone(),
                    rquickjs::qjs::JS_GetException(source),
                ))
            }
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // Saved values hold a reference to the context: release them inside it, or the
        // context (and with it the whole runtime) would never be freed.
        let leftovers = std::mem::take(&mut *self.rejections.lock());
        if !leftovers.is_empty() {
            self.context.with(|ctx| {
                for r in leftovers {
                    let _ = r.reason.0.restore(&ctx);
                }
            });
        }
    }
}

fn outcome_is_final(outcome: &Outcome) -> bool {
    !matches!(outcome, Outcome::Value(_))
}

/// Sleeps until `delay` has passed, waking early for a stop; returns the stop reason.
fn wait(run: &RunContext, delay: Duration) -> Option<StopReason> {
    let until = std::time::Instant::now() + delay;
    loop {
        if let Some(reason) = run.guard.check() {
            return Some(reason);
        }
        let now = std::time::Instant::now();
        if now >= until {
            return None;
        }
        let slice = (until - now)
            .min(run.guard.wall_remaining())
            .min(Duration::from_millis(5));
        std::thread::sleep(slice.max(Duration::from_micros(100)));
    }
}

/// The JavaScript stack limit for a run on the calling thread: the preferred size when the
/// thread has room, otherwise half of what is left, so overflow is a `RangeError` and
/// never a crash of the thread. A thread too small for even [`MIN_STACK`] is refused
/// (QuickJS would read a budget of 0 as "no limit").
fn stack_budget() -> Result<usize, String> {
    match stack_remaining() {
        Some(left) if left >= PREFERRED_STACK + STACK_RESERVE => Ok(PREFERRED_STACK),
        Some(left) if left / 2 >= MIN_STACK => Ok(left / 2),
        Some(left) => Err(format!(
            "the calling thread has only {} KiB of stack left; JavaScript needs at least {} KiB: run executions on a thread with a larger stack (1 MiB or more)",
            left / 1024,
            MIN_STACK * 2 / 1024
        )),
        None => Ok(256 * 1024),
    }
}

extern "C" {
    /// Added to QuickJS-NG by `vendor/rquickjs-sys.patch`: frees every pending job
    /// without running it.
    fn JS_DiscardPendingJobs(rt: *mut rquickjs::qjs::JSRuntime);
}

/// Drops every queued promise job of the runtime without running it.
fn discard_jobs(ctx: &Ctx<'_>) {
    // SAFETY: called inside `Context::with`, so the runtime is locked and alive.
    unsafe { JS_DiscardPendingJobs(rquickjs::qjs::JS_GetRuntime(ctx.as_raw().as_ptr())) }
}

/// Identity of a JavaScript object (its heap address), for matching promises.
fn identity(value: &Value<'_>) -> usize {
    if value.is_object() {
        // SAFETY: reading the pointer of an object value; it is not dereferenced.
        unsafe { rquickjs::qjs::JS_VALUE_GET_PTR(value.as_raw()) as usize }
    } else {
        0
    }
}
