//! The one mapping of core errors to JavaScript: an `Error` whose `code` is the SPEC code,
//! with `sessionId` / `executionId` when the core error carries them.

use napi::bindgen_prelude::{Env, JsValue};

/// Converts a core error into a napi error holding a ready-made JavaScript `Error`, so a
/// throw or a Promise rejection hands that exact object to JavaScript.
pub(crate) fn to_js(env: &Env, error: vm_system::Error) -> napi::Error {
    match build(env, &error) {
        Ok(err) => err,
        // Building the object failed (the env is tearing down): keep the code at least.
        Err(_) => napi::Error::new(napi::Status::GenericFailure, error.to_string()),
    }
}

fn build(env: &Env, error: &vm_system::Error) -> napi::Result<napi::Error> {
    let mut object = env.create_error(napi::Error::from_reason(error.to_string()))?;
    object.set("code", error.code().as_str())?;
    if let Some(id) = error.session_id() {
        object.set("sessionId", id)?;
    }
    if let Some(id) = error.execution_id() {
        object.set("executionId", id)?;
    }
    Ok(napi::Error::from(object.to_unknown()))
}

/// Core results on the JavaScript thread: `.or_throw(&env)?`.
pub(crate) trait OrThrow<T> {
    /// Maps the core error with [`to_js`].
    fn or_throw(self, env: &Env) -> napi::Result<T>;
}

impl<T> OrThrow<T> for vm_system::Result<T> {
    fn or_throw(self, env: &Env) -> napi::Result<T> {
        self.map_err(|e| to_js(env, e))
    }
}

/// A `VALIDATION_ERROR` for an argument the binding cannot pass on as given.
pub(crate) fn invalid(message: impl Into<String>) -> vm_system::Error {
    vm_system::Error::Validation(message.into())
}
