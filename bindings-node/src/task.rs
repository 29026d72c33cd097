//! The Promise forms: a call into the core that runs JavaScript, on a thread of this addon,
//! so the event loop stays free while it runs.
//!
//! Not the libuv pool: Node waits for pool work at `process.exit()` and before a terminated
//! worker's cleanup hooks, so a `while (true) {}` there would hold the exit for its whole
//! time limit. Our threads are counted per environment instead (see `lifecycle.rs`), which
//! cancels them when the environment ends.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use napi::bindgen_prelude::{Env, Object, ToNapiValue};
use vm_system::EventWatcher;

use crate::error::OrThrow;
use crate::lifecycle::EnvState;
use crate::run::Watch;

/// Stack of a run thread: the core's preferred 1 MiB JavaScript stack and room for host
/// frames.
const STACK_SIZE: usize = 4 * 1024 * 1024;
/// An idle run thread ends after this long without work.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

type Work = Box<dyn FnOnce() + Send>;

/// Idle threads wait here for work; a thread is started whenever none is free, so runs in
/// different sessions never queue behind each other.
struct Pool {
    queue: VecDeque<Work>,
    idle: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    queue: VecDeque::new(),
    idle: 0,
});
static WORK_READY: Condvar = Condvar::new();

fn lock_pool() -> MutexGuard<'static, Pool> {
    POOL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn submit(work: Work) -> std::io::Result<()> {
    let mut pool = lock_pool();
    pool.queue.push_back(work);
    if pool.queue.len() <= pool.idle {
        WORK_READY.notify_one();
        return Ok(());
    }
    drop(pool);
    let spawned = std::thread::Builder::new()
        .name("vm-system-run".into())
        .stack_size(STACK_SIZE)
        .spawn(worker);
    if let Err(error) = spawned {
        // Take the work back (it is the newest): the caller reports the failure.
        lock_pool().queue.pop_back();
        return Err(error);
    }
    Ok(())
}

fn worker() {
    let mut pool = lock_pool();
    loop {
        if let Some(work) = pool.queue.pop_front() {
            drop(pool);
            work();
            pool = lock_pool();
            continue;
        }
        pool.idle += 1;
        let (guard, waited) = WORK_READY
            .wait_timeout(pool, IDLE_TIMEOUT)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        pool = guard;
        pool.idle -= 1;
        if waited.timed_out() && pool.queue.is_empty() {
            return;
        }
    }
}

/// Runs `job` on a run thread and returns the Promise it settles: resolved with its value
/// or rejected with the mapped core error, after every event has reached `onEvent`.
pub(crate) fn spawn<'env, T>(
    env: &'env Env,
    state: &Arc<EnvState>,
    watch: Option<Watch>,
    job: impl FnOnce(Option<EventWatcher>) -> vm_system::Result<T> + Send + 'static,
) -> napi::Result<Object<'env>>
where
    T: ToNapiValue + Send + 'static,
{
    let (deferred, promise) = env.create_deferred()?;
    let running = state.run_started();
    let work = move || {
        let watcher = watch.as_ref().map(Watch::watcher);
        let output = catch_unwind(AssertUnwindSafe(|| job(watcher))).unwrap_or_else(|_| {
            Err(vm_system::Error::Internal(
                "the call panicked; please report it".into(),
            ))
        });
        // Counted as ended before the Promise settles: an environment that ends meanwhile
        // has nothing left to wait for.
        drop(running);
        deferred.resolve(move |env: Env| {
            if let Some(watch) = &watch {
                watch.finish(&env);
            }
            output.or_throw(&env)
        });
    };
    submit(Box::new(work)).map_err(|e| {
        napi::Error::from_reason(format!("could not start a thread for the call: {e}"))
    })?;
    Ok(promise)
}
