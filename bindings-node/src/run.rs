//! Live events: hands the core's watcher calls to a JavaScript `onEvent` callback on the
//! main thread, in order.
//!
//! The core calls the watcher on the worker thread; it queues the event and wakes the main
//! thread through a threadsafe function, which drains the queue into the callback. The task
//! drains once more before its Promise settles, so every event is delivered before `await`
//! returns. A callback that throws — any value, caught and described here without letting
//! an exception escape (which would end the process) — is reported to the core at the next
//! event, which records it as a `system` event; the execution goes on.

use std::collections::VecDeque;
use std::ptr;
use std::sync::{Arc, Mutex, MutexGuard};

use napi::bindgen_prelude::{Env, FromNapiValue, Function, FunctionRef, ToNapiValue, Unknown};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{sys, JsValue};
use vm_system::EventWatcher;

use crate::event::Event;
use crate::literal::EventValue;

/// The `onEvent` callback as napi sees it.
pub(crate) type OnEvent<'a> = Function<'a, Event, Unknown<'static>>;

type Wake = ThreadsafeFunction<(), (), (), napi::Status, false>;

#[derive(Default)]
struct Queue {
    events: VecDeque<vm_system::Event>,
    wake_pending: bool,
    failure: Option<String>,
}

struct Delivery {
    queue: Mutex<Queue>,
    callback: FunctionRef<Event, Unknown<'static>>,
}

impl Delivery {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Calls the callback for every queued event. Main thread only.
    fn drain(&self, env: &Env) {
        self.queue().wake_pending = false;
        loop {
            let Some(event) = self.queue().events.pop_front() else {
                return;
            };
            if let Err(message) = self.call(env, event) {
                let mut queue = self.queue();
                if queue.failure.is_none() {
                    queue.failure = Some(message);
                }
            }
        }
    }

    /// Calls the callback with one event. Whatever it throws is caught here and described
    /// without running more of the caller's code that could throw again: an exception left
    /// pending in this threadsafe-function callback would end the process.
    fn call(&self, env: &Env, event: vm_system::Event) -> Result<(), String> {
        let raw_env = env.raw();
        let callback = self
            .callback
            .borrow_back(env)
            .map_err(|e| format!("the callback is gone: {e}"))?;
        let mut result = ptr::null_mut();
        // SAFETY: main thread, inside a napi callback scope; every value belongs to `env`.
        unsafe {
            let arg = EventValue::to_napi_value(raw_env, EventValue(event))
                .map_err(|e| format!("the event could not be converted: {e}"))?;
            let mut undefined = ptr::null_mut();
            sys::napi_get_undefined(raw_env, &mut undefined);
            let status =
                sys::napi_call_function(raw_env, undefined, callback.raw(), 1, &arg, &mut result);
            match take_exception(raw_env) {
                Some(thrown) => Err(describe(raw_env, thrown)),
                None if status != sys::Status::napi_ok => {
                    Err(format!("the call failed ({})", napi::Status::from(status)))
                }
                None => Ok(()),
            }
        }
    }
}

/// An `onEvent` callback bound to one call.
pub(crate) struct Watch {
    delivery: Arc<Delivery>,
    wake: Arc<Wake>,
}

impl Watch {
    /// Prepares delivery to `callback` (on the main thread).
    pub(crate) fn new(env: &Env, callback: OnEvent<'_>) -> napi::Result<Self> {
        let callback = callback.create_ref()?;
        let delivery = Arc::new(Delivery {
            queue: Mutex::default(),
            callback,
        });
        let noop = env.create_function_from_closure::<(), (), _>("vmSystemWake", |_| Ok(()))?;
        let drainer = delivery.clone();
        let wake = noop
            .build_threadsafe_function::<()>()
            .callee_handled::<false>()
            .build_callback(move |ctx| {
                drainer.drain(&ctx.env);
                Ok(())
            })?;
        Ok(Watch {
            delivery,
            wake: Arc::new(wake),
        })
    }

    /// The watcher the core calls on the worker thread.
    pub(crate) fn watcher(&self) -> EventWatcher {
        let delivery = self.delivery.clone();
        let wake = self.wake.clone();
        Box::new(move |event| {
            let (failure, wake_now) = {
                let mut queue = delivery.queue();
                queue.events.push_back(event.clone());
                let wake_now = !std::mem::replace(&mut queue.wake_pending, true);
                (queue.failure.take(), wake_now)
            };
            if wake_now {
                wake.call((), ThreadsafeFunctionCallMode::NonBlocking);
            }
            match failure {
                Some(message) => Err(format!("the onEvent callback threw: {message}")),
                None => Ok(()),
            }
        })
    }

    /// Delivers what is still queued (before the Promise settles). Main thread only.
    pub(crate) fn finish(&self, env: &Env) {
        self.delivery.drain(env);
    }
}

/// The pending exception, cleared; `None` when nothing is pending.
///
/// # Safety
/// `env` is the current environment, on its thread.
unsafe fn take_exception(env: sys::napi_env) -> Option<sys::napi_value> {
    let mut pending = false;
    if sys::napi_is_exception_pending(env, &mut pending) != sys::Status::napi_ok || !pending {
        return None;
    }
    let mut thrown = ptr::null_mut();
    sys::napi_get_and_clear_last_exception(env, &mut thrown);
    Some(thrown)
}

/// `String(thrown)` (which, unlike a template string, accepts a Symbol), or a plain
/// description when even that throws (an object whose `toString` throws).
///
/// # Safety
/// `env` is the current environment, on its thread; `thrown` belongs to it.
unsafe fn describe(env: sys::napi_env, thrown: sys::napi_value) -> String {
    let fallback = || {
        let mut kind = sys::ValueType::napi_undefined;
        sys::napi_typeof(env, thrown, &mut kind);
        let kind = napi::ValueType::from(kind).to_string().to_lowercase();
        format!("a thrown {kind} that cannot be shown as text")
    };
    let mut global = ptr::null_mut();
    let mut string_fn = ptr::null_mut();
    let mut text = ptr::null_mut();
    let called = sys::napi_get_global(env, &mut global) == sys::Status::napi_ok
        && sys::napi_get_named_property(env, global, c"String".as_ptr(), &mut string_fn)
            == sys::Status::napi_ok
        && sys::napi_call_function(env, global, string_fn, 1, &thrown, &mut text)
            == sys::Status::napi_ok;
    if take_exception(env).is_some() || !called {
        return fallback();
    }
    match String::from_napi_value(env, text) {
        Ok(text) => text,
        Err(_) => {
            take_exception(env);
            fallback()
        }
    }
}
