//! The Promise forms: a call into the core that runs JavaScript, on the libuv thread pool,
//! so the event loop stays free while it runs.

use napi::bindgen_prelude::{Env, ToNapiValue, TypeName};
use napi::Task;
use vm_system::EventWatcher;

use crate::error::OrThrow;
use crate::run::Watch;

type Job<T> = Box<dyn FnOnce(Option<EventWatcher>) -> vm_system::Result<T> + Send>;

/// One blocking core call, resolved to `T` or rejected with the mapped core error.
pub struct Run<T> {
    job: Option<Job<T>>,
    watch: Option<Watch>,
}

impl<T> Run<T> {
    pub(crate) fn new(
        watch: Option<Watch>,
        job: impl FnOnce(Option<EventWatcher>) -> vm_system::Result<T> + Send + 'static,
    ) -> Self {
        Run {
            job: Some(Box::new(job)),
            watch,
        }
    }
}

impl<T: ToNapiValue + TypeName + Send + 'static> Task for Run<T> {
    type Output = vm_system::Result<T>;
    type JsValue = T;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let job = self
            .job
            .take()
            .ok_or_else(|| napi::Error::from_reason("task ran twice"))?;
        Ok(job(self.watch.as_ref().map(Watch::watcher)))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<T> {
        if let Some(watch) = &self.watch {
            watch.finish(&env);
        }
        output.or_throw(&env)
    }
}
