//! What each JavaScript environment (the main thread, each worker thread) has open in this
//! addon, so that the environment's end closes it.
//!
//! Node joins nothing of ours at exit, and a terminated worker does not wait for our
//! threads, so a run would go on in a dying process or outlive its worker. Instead, when an
//! environment ends — `process.exit()` or the end of the program (the `exit` event), or
//! `worker.terminate()` (an environment cleanup hook) — every `VmSystem` it opened is
//! closed, which cancels their running executions (recorded `cancelled`), and the runs are
//! given a moment to record that before the environment goes.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, Weak};
use std::time::{Duration, Instant};

use napi::bindgen_prelude::{Env, JsObjectValue, Object, Unknown};
use napi::{check_status, sys, JsValue};

/// Longest wait at an environment's end for its cancelled runs to record their end.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// The core handle behind one JavaScript `VmSystem`; `None` once closed.
pub(crate) type Handle = RwLock<Option<vm_system::VmSystem>>;

/// The handles and running calls of one JavaScript environment.
#[derive(Default)]
pub(crate) struct EnvState {
    handles: Mutex<Vec<Weak<Handle>>>,
    runs: Mutex<usize>,
    runs_done: Condvar,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl EnvState {
    /// The state of `env`, created (with its exit listener and cleanup hook) on first use.
    pub(crate) fn of(env: &Env) -> napi::Result<Arc<EnvState>> {
        static ENVS: Mutex<Vec<(usize, Arc<EnvState>)>> = Mutex::new(Vec::new());
        let key = env.raw() as usize;
        let mut envs = lock(&ENVS);
        if let Some((_, state)) = envs.iter().find(|(k, _)| *k == key) {
            return Ok(state.clone());
        }
        let state = Arc::new(EnvState::default());
        // `process.exit()` and the natural end of the program emit `exit` while JavaScript
        // still runs; a terminated worker only runs cleanup hooks.
        let on_exit = state.clone();
        let listener =
            env.create_function_from_closure::<(), (), _>("vmSystemExit", move |_| {
                on_exit.shut_down();
                Ok(())
            })?;
        let process: Object = env.get_global()?.get_named_property("process")?;
        let on: Unknown = process.get_named_property("on")?;
        let exit = env.create_string("exit")?;
        let argv = [exit.raw(), listener.raw()];
        let mut result = std::ptr::null_mut();
        // SAFETY: on the environment's thread; every value belongs to `env`.
        check_status!(unsafe {
            sys::napi_call_function(
                env.raw(),
                process.raw(),
                on.raw(),
                2,
                argv.as_ptr(),
                &mut result,
            )
        })?;
        let on_cleanup = state.clone();
        env.add_env_cleanup_hook((), move |()| {
            lock(&ENVS).retain(|(k, _)| *k != key);
            on_cleanup.shut_down();
        })?;
        envs.push((key, state.clone()));
        Ok(state)
    }

    /// Remembers a handle opened in this environment.
    pub(crate) fn adopt(&self, handle: &Arc<Handle>) {
        let mut handles = lock(&self.handles);
        handles.retain(|h| h.strong_count() > 0);
        handles.push(Arc::downgrade(handle));
    }

    /// Counts a call running on a thread of its own until the guard drops.
    pub(crate) fn run_started(self: &Arc<Self>) -> RunGuard {
        *lock(&self.runs) += 1;
        RunGuard(self.clone())
    }

    /// Closes every handle of this environment (cancelling their running executions) and
    /// waits a bounded time for the running calls to end.
    fn shut_down(&self) {
        let handles: Vec<Arc<Handle>> = lock(&self.handles)
            .drain(..)
            .filter_map(|h| h.upgrade())
            .collect();
        for handle in handles {
            close(&handle);
        }
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        let mut runs = lock(&self.runs);
        while *runs > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            runs = self
                .runs_done
                .wait_timeout(runs, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }
}

/// Closes a handle: its live sessions close (running executions end `cancelled`) and the
/// database is released once the calls still running on it have ended.
pub(crate) fn close(handle: &Handle) {
    let vm = handle
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .take();
    if let Some(vm) = vm {
        vm.close();
    }
}

/// One running call of an environment; dropping it counts the call as ended.
pub(crate) struct RunGuard(Arc<EnvState>);

impl Drop for RunGuard {
    fn drop(&mut self) {
        let mut runs = lock(&self.0.runs);
        *runs -= 1;
        if *runs == 0 {
            self.0.runs_done.notify_all();
        }
    }
}
