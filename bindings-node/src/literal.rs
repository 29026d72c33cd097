//! Records built as JavaScript object literals.
//!
//! Building an object property by property through napi internalizes every key and walks
//! V8's map transitions on each call: for an execution record that was most of the
//! binding's cost of a `replSync` (about half of the extra time over the same call from
//! Rust). A small JavaScript function returning an object literal does it in one call, with
//! the shape V8 already knows. The function is compiled once per environment (thread).

use std::cell::RefCell;
use std::ptr;

use napi::bindgen_prelude::{ToNapiValue, TypeName};
use napi::{check_status, sys, ValueType};
use serde_json::Value as Json;

/// The builders, in the order of [`Builder`].
const SOURCES: [&str; 2] = [
    // Builder::Execution — keys and their order as in `Execution` and `Metrics`.
    "(function (id, sessionId, kind, input, path, args, env, status, startedAt, endedAt, \
       result, error, durationMs, cpuMs, eventCount, outputBytes, hostCalls, limit) {\
       return { id: id, sessionId: sessionId, kind: kind, input: input, path: path, \
         args: args, env: env, status: status, startedAt: startedAt, endedAt: endedAt, \
         result: result, error: error, metrics: { durationMs: durationMs, cpuMs: cpuMs, \
         eventCount: eventCount, outputBytes: outputBytes, hostCalls: hostCalls, \
         limit: limit } } })",
    // Builder::Event — keys as in `Event`.
    "(function (executionId, seq, ts, type, payload) {\
       return { executionId: executionId, seq: seq, ts: ts, type: type, payload: payload } })",
];

/// Which builder.
#[derive(Clone, Copy)]
pub(crate) enum Builder {
    Execution = 0,
    Event = 1,
}

/// The builders of the environment this thread runs (one environment per thread in Node).
struct Compiled {
    env: usize,
    functions: [sys::napi_ref; 2],
}

thread_local! {
    static COMPILED: RefCell<Option<Compiled>> = const { RefCell::new(None) };
}

/// The builder function, compiled on first use in this environment.
///
/// # Safety
/// `env` is the current environment, on its thread.
unsafe fn builder(env: sys::napi_env, which: Builder) -> napi::Result<sys::napi_value> {
    let reference = COMPILED.with(|compiled| -> napi::Result<sys::napi_ref> {
        let mut compiled = compiled.borrow_mut();
        if compiled.as_ref().is_none_or(|c| c.env != env as usize) {
            // A new environment on this thread (the old one, and its references, are gone).
            let mut functions = [ptr::null_mut(); 2];
            for (slot, source) in functions.iter_mut().zip(SOURCES) {
                let mut script = ptr::null_mut();
                check_status!(sys::napi_create_string_utf8(
                    env,
                    source.as_ptr().cast(),
                    source.len() as isize,
                    &mut script
                ))?;
                let mut function = ptr::null_mut();
                check_status!(sys::napi_run_script(env, script, &mut function))?;
                check_status!(sys::napi_create_reference(env, function, 1, slot))?;
            }
            *compiled = Some(Compiled {
                env: env as usize,
                functions,
            });
        }
        Ok(compiled
            .as_ref()
            .map_or(ptr::null_mut(), |c| c.functions[which as usize]))
    })?;
    let mut function = ptr::null_mut();
    check_status!(sys::napi_get_reference_value(env, reference, &mut function))?;
    Ok(function)
}

/// Calls a builder with its arguments.
///
/// # Safety
/// `env` is the current environment, on its thread; `args` belong to it.
unsafe fn build(
    env: sys::napi_env,
    which: Builder,
    args: &[sys::napi_value],
) -> napi::Result<sys::napi_value> {
    let function = builder(env, which)?;
    let mut undefined = ptr::null_mut();
    check_status!(sys::napi_get_undefined(env, &mut undefined))?;
    let mut result = ptr::null_mut();
    check_status!(sys::napi_call_function(
        env,
        undefined,
        function,
        args.len(),
        args.as_ptr(),
        &mut result
    ))?;
    Ok(result)
}

/// A string (ids, timestamps and statuses are ASCII: Latin-1 is the cheap path).
unsafe fn string(env: sys::napi_env, text: &str) -> napi::Result<sys::napi_value> {
    let mut value = ptr::null_mut();
    if text.is_ascii() {
        check_status!(sys::napi_create_string_latin1(
            env,
            text.as_ptr().cast(),
            text.len() as isize,
            &mut value
        ))?;
    } else {
        check_status!(sys::napi_create_string_utf8(
            env,
            text.as_ptr().cast(),
            text.len() as isize,
            &mut value
        ))?;
    }
    Ok(value)
}

unsafe fn null(env: sys::napi_env) -> napi::Result<sys::napi_value> {
    let mut value = ptr::null_mut();
    check_status!(sys::napi_get_null(env, &mut value))?;
    Ok(value)
}

unsafe fn opt_string(env: sys::napi_env, text: Option<&str>) -> napi::Result<sys::napi_value> {
    match text {
        Some(text) => string(env, text),
        None => null(env),
    }
}

unsafe fn number(env: sys::napi_env, n: f64) -> napi::Result<sys::napi_value> {
    let mut value = ptr::null_mut();
    check_status!(sys::napi_create_double(env, n, &mut value))?;
    Ok(value)
}

/// A JSON value; the common empty object without serde.
unsafe fn json(env: sys::napi_env, value: Json) -> napi::Result<sys::napi_value> {
    match value {
        Json::Object(map) if map.is_empty() => {
            let mut object = ptr::null_mut();
            check_status!(sys::napi_create_object(env, &mut object))?;
            Ok(object)
        }
        other => Json::to_napi_value(env, other),
    }
}

/// An execution record for JavaScript (typed `Execution` in index.d.ts).
pub struct ExecutionValue(pub(crate) vm_system::Execution);

impl TypeName for ExecutionValue {
    fn type_name() -> &'static str {
        "Execution"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for ExecutionValue {
    unsafe fn to_napi_value(env: sys::napi_env, value: Self) -> napi::Result<sys::napi_value> {
        let vm_system::Execution {
            id,
            session_id,
            kind,
            input,
            path,
            args,
            env: vars,
            status,
            started_at,
            ended_at,
            result,
            error,
            metrics: m,
        } = value.0;
        let args = [
            string(env, &id)?,
            string(env, &session_id)?,
            string(env, kind.as_str())?,
            opt_string(env, input.as_deref())?,
            opt_string(env, path.as_deref())?,
            json(env, args)?,
            json(env, vars)?,
            string(env, status.as_str())?,
            string(env, &started_at)?,
            opt_string(env, ended_at.as_deref())?,
            match result {
                Some(result) => json(env, result)?,
                None => null(env)?,
            },
            opt_string(env, error.as_deref())?,
            number(env, m.duration_ms)?,
            number(env, m.cpu_ms)?,
            number(env, m.event_count as f64)?,
            number(env, m.output_bytes as f64)?,
            number(env, m.host_calls as f64)?,
            opt_string(env, m.limit.as_deref())?,
        ];
        build(env, Builder::Execution, &args)
    }
}

/// An event record for JavaScript (typed `Event` in index.d.ts).
pub struct EventValue(pub(crate) vm_system::Event);

impl TypeName for EventValue {
    fn type_name() -> &'static str {
        "Event"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for EventValue {
    unsafe fn to_napi_value(env: sys::napi_env, value: Self) -> napi::Result<sys::napi_value> {
        let e = value.0;
        let args = [
            string(env, &e.execution_id)?,
            number(env, e.seq as f64)?,
            string(env, &e.ts)?,
            string(env, e.event_type.as_str())?,
            Json::to_napi_value(env, e.payload)?,
        ];
        build(env, Builder::Event, &args)
    }
}
