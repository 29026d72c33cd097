//! Live events: hands the core's watcher calls to a JavaScript `onEvent` callback on the
//! main thread, in order.
//!
//! The core calls the watcher on the worker thread; it queues the event and wakes the main
//! thread through a threadsafe function, which drains the queue into the callback. The task
//! drains once more before its Promise settles, so every event is delivered before `await`
//! returns. A callback that throws is reported to the core at the next event, which records
//! it as a `system` event; the execution goes on.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use napi::bindgen_prelude::{Env, Function, FunctionRef, Unknown};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use vm_system::EventWatcher;

use crate::event::Event;

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
            let called = self
                .callback
                .borrow_back(env)
                .and_then(|f| f.call(event.into()).map(drop));
            if let Err(error) = called {
                let mut queue = self.queue();
                if queue.failure.is_none() {
                    queue.failure = Some(error.reason.clone());
                }
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
