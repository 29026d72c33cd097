//! Arguments as JavaScript passes them. Each is checked against what its parameter expects,
//! so a wrong type is a `VALIDATION_ERROR` naming the argument and what was expected (as
//! the C binding does), rather than napi's "Failed to convert JavaScript value …".
//!
//! An exception raised while reading an argument (a throwing getter on an options object)
//! is left pending as it is: the caller gets their own exception object, untouched.

use napi::bindgen_prelude::{Env, FromNapiValue, Function, JsObjectValue, Object, Unknown};
use napi::{JsValue, ValueType};
use serde_json::Value as Json;

use crate::error::to_js;

/// A `VALIDATION_ERROR`: "`name` must be `expected`, got …".
fn wrong(env: &Env, name: &str, expected: &str, value: &Unknown<'_>) -> napi::Error {
    let message = format!("{name} must be {expected}, got {}", describe(env, value));
    to_js(env, vm_system::Error::Validation(message))
}

/// A short, safe description of a value for an error message (never runs user code).
fn describe(env: &Env, value: &Unknown<'_>) -> String {
    let raw = value.raw();
    match value.get_type() {
        Ok(ValueType::Undefined) => "undefined".into(),
        Ok(ValueType::Null) => "null".into(),
        Ok(ValueType::Boolean) => match unsafe { bool::from_napi_value(env.raw(), raw) } {
            Ok(b) => format!("boolean {b}"),
            Err(_) => "a boolean".into(),
        },
        Ok(ValueType::Number) => match unsafe { f64::from_napi_value(env.raw(), raw) } {
            Ok(n) => format!("number {n}"),
            Err(_) => "a number".into(),
        },
        Ok(ValueType::String) => match unsafe { String::from_napi_value(env.raw(), raw) } {
            Ok(s) if s.chars().count() <= 40 => format!("string {s:?}"),
            Ok(s) => format!("string {:?}…", s.chars().take(40).collect::<String>()),
            Err(_) => "a string".into(),
        },
        Ok(ValueType::Symbol) => "a symbol".into(),
        Ok(ValueType::Function) => "a function".into(),
        Ok(ValueType::BigInt) => "a bigint".into(),
        Ok(ValueType::Object) if value.is_array().unwrap_or(false) => "an array".into(),
        Ok(ValueType::Object) => "an object".into(),
        _ => "a value of another kind".into(),
    }
}

fn is_absent(value: &Unknown<'_>) -> bool {
    matches!(
        value.get_type(),
        Ok(ValueType::Undefined) | Ok(ValueType::Null)
    )
}

/// A required string.
pub(crate) fn string(env: &Env, name: &str, value: Unknown<'_>) -> napi::Result<String> {
    if value.get_type()? != ValueType::String {
        return Err(wrong(env, name, "a string", &value));
    }
    unsafe { String::from_napi_value(env.raw(), value.raw()) }
}

/// An optional string: `undefined` and `null` are absent.
pub(crate) fn opt_string(
    env: &Env,
    name: &str,
    value: Unknown<'_>,
) -> napi::Result<Option<String>> {
    if is_absent(&value) {
        return Ok(None);
    }
    string(env, name, value).map(Some)
}

/// An optional whole number (`undefined` and `null` are absent).
pub(crate) fn opt_integer(env: &Env, name: &str, value: Unknown<'_>) -> napi::Result<Option<i64>> {
    if is_absent(&value) {
        return Ok(None);
    }
    if value.get_type()? != ValueType::Number {
        return Err(wrong(env, name, "an integer", &value));
    }
    let n = unsafe { f64::from_napi_value(env.raw(), value.raw()) }?;
    // 2^63 is exactly representable; anything at or past it does not fit an i64.
    if n.fract() != 0.0 || !n.is_finite() || n.abs() >= 9.223_372_036_854_776e18 {
        return Err(wrong(env, name, "an integer", &value));
    }
    Ok(Some(n as i64))
}

/// An optional boolean (`undefined` and `null` are absent).
pub(crate) fn opt_bool(env: &Env, name: &str, value: Unknown<'_>) -> napi::Result<Option<bool>> {
    if is_absent(&value) {
        return Ok(None);
    }
    if value.get_type()? != ValueType::Boolean {
        return Err(wrong(env, name, "a boolean", &value));
    }
    unsafe { bool::from_napi_value(env.raw(), value.raw()) }.map(Some)
}

/// Any JSON value; `undefined` is absent (`Json::Null`).
pub(crate) fn json(env: &Env, name: &str, value: Unknown<'_>) -> napi::Result<Json> {
    if value.get_type()? == ValueType::Undefined {
        return Ok(Json::Null);
    }
    match unsafe { Json::from_napi_value(env.raw(), value.raw()) } {
        Ok(json) => Ok(json),
        // A getter threw while the value was read: that exception is the caller's.
        Err(e) if e.status == napi::Status::PendingException => Err(e),
        Err(_) => Err(wrong(env, name, "a JSON value", &value)),
    }
}

/// An optional options object.
pub(crate) fn opt_object<'a>(
    env: &Env,
    name: &str,
    value: Unknown<'a>,
) -> napi::Result<Option<Object<'a>>> {
    if is_absent(&value) {
        return Ok(None);
    }
    if value.get_type()? != ValueType::Object || value.is_array()? {
        return Err(wrong(env, name, "an object", &value));
    }
    unsafe { Object::from_napi_value(env.raw(), value.raw()) }.map(Some)
}

/// An optional function (`undefined` and `null` are absent).
pub(crate) fn opt_function<'a, Args: napi::bindgen_prelude::JsValuesTupleIntoVec, Ret>(
    env: &Env,
    name: &str,
    value: Unknown<'a>,
) -> napi::Result<Option<Function<'a, Args, Ret>>>
where
    Ret: FromNapiValue,
{
    if is_absent(&value) {
        return Ok(None);
    }
    if value.get_type()? != ValueType::Function {
        return Err(wrong(env, name, "a function", &value));
    }
    unsafe { Function::from_napi_value(env.raw(), value.raw()) }.map(Some)
}

/// A property of an options object (runs its getter, if any: an exception stays pending).
pub(crate) fn field<'a>(object: &Object<'a>, key: &str) -> napi::Result<Unknown<'a>> {
    object.get_named_property::<Unknown<'a>>(key)
}
