//! Compiling JavaScript source. QuickJS is always given the source's length, so a NUL
//! character is part of the program (legal in strings, templates and RegExp literals)
//! rather than its end; rquickjs's own entry points take C strings and refuse it.

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};

use rquickjs::module::Declared;
use rquickjs::{qjs, Ctx, Error, Module, Result, Value};

/// A script's or module's name as a C string (a NUL in a name cannot come from a checked
/// path; it is dropped rather than failing the run).
fn c_name(name: &str) -> CString {
    CString::new(name.replace('\0', "")).unwrap_or_default()
}

/// Calls `JS_Eval` on `source` (with its length) and returns the raw result.
///
/// # Safety
/// The caller owns the returned value (a module value is owned by the runtime instead).
unsafe fn eval_raw(
    raw: *mut qjs::JSContext,
    source: &str,
    name: &CStr,
    flags: u32,
) -> qjs::JSValue {
    // QuickJS reads one byte past the end, which must be NUL.
    let mut bytes = Vec::with_capacity(source.len() + 1);
    bytes.extend_from_slice(source.as_bytes());
    bytes.push(0);
    qjs::JS_UpdateStackTop(qjs::JS_GetRuntime(raw));
    qjs::JS_Eval(
        raw,
        bytes.as_ptr().cast::<c_char>(),
        source.len() as _,
        name.as_ptr(),
        flags as i32,
    )
}

/// Compiles a global script without running it.
pub(crate) fn compile_script<'js>(
    ctx: &Ctx<'js>,
    source: &str,
    name: &str,
    strict: bool,
) -> Result<Value<'js>> {
    let mut flags = qjs::JS_EVAL_TYPE_GLOBAL | qjs::JS_EVAL_FLAG_COMPILE_ONLY;
    if strict {
        flags |= qjs::JS_EVAL_FLAG_STRICT;
    }
    // SAFETY: the context is locked (we hold a `Ctx`); the result is owned by the `Value`.
    unsafe {
        let value = eval_raw(ctx.as_raw().as_ptr(), source, &c_name(name), flags);
        if qjs::JS_IsException(value) {
            return Err(Error::Exception);
        }
        Ok(Value::from_raw(ctx.clone(), value))
    }
}

/// Runs a script compiled by [`compile_script`]; its completion value is the result.
pub(crate) fn run_compiled<'js>(ctx: &Ctx<'js>, compiled: Value<'js>) -> Result<Value<'js>> {
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: `JS_EvalFunction` consumes one reference, which the dup provides; the
    // result is owned by the returned `Value`.
    unsafe {
        let function = qjs::JS_DupValue(raw, compiled.as_raw());
        drop(compiled);
        qjs::JS_UpdateStackTop(qjs::JS_GetRuntime(raw));
        let value = qjs::JS_EvalFunction(raw, function);
        if qjs::JS_IsException(value) {
            return Err(Error::Exception);
        }
        Ok(Value::from_raw(ctx.clone(), value))
    }
}

/// Evaluates a global script with top-level `await`: the result is a promise of `{value}`.
pub(crate) fn eval_async_script<'js>(
    ctx: &Ctx<'js>,
    source: &str,
    name: &str,
    strict: bool,
) -> Result<Value<'js>> {
    let mut flags = qjs::JS_EVAL_TYPE_GLOBAL | qjs::JS_EVAL_FLAG_ASYNC;
    if strict {
        flags |= qjs::JS_EVAL_FLAG_STRICT;
    }
    // SAFETY: as in `compile_script`.
    unsafe {
        let value = eval_raw(ctx.as_raw().as_ptr(), source, &c_name(name), flags);
        if qjs::JS_IsException(value) {
            return Err(Error::Exception);
        }
        Ok(Value::from_raw(ctx.clone(), value))
    }
}

thread_local! {
    /// The module being declared: `Module::from_load_fn` takes a plain function, so the
    /// source and `import.meta.url` reach it through here.
    static DECLARING: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
}

unsafe extern "C" fn declare_pending(
    ctx: *mut qjs::JSContext,
    name: *const c_char,
) -> *mut qjs::JSModuleDef {
    let Some((source, url)) = DECLARING.with(|d| d.borrow_mut().take()) else {
        return std::ptr::null_mut();
    };
    // SAFETY: called by `from_load_fn` with the locked context and a valid name.
    unsafe {
        let flags =
            qjs::JS_EVAL_TYPE_MODULE | qjs::JS_EVAL_FLAG_STRICT | qjs::JS_EVAL_FLAG_COMPILE_ONLY;
        let module = eval_raw(ctx, &source, CStr::from_ptr(name), flags);
        if qjs::JS_IsException(module) {
            return std::ptr::null_mut();
        }
        let def = qjs::JS_VALUE_GET_PTR(module).cast::<qjs::JSModuleDef>();
        let meta = qjs::JS_GetImportMeta(ctx, def);
        if qjs::JS_IsException(meta) {
            return std::ptr::null_mut();
        }
        let url = CString::new(url).unwrap_or_default();
        let url_value = qjs::JS_NewStringLen(ctx, url.as_ptr(), url.as_bytes().len() as _);
        let key = c"url";
        let set = qjs::JS_SetPropertyStr(ctx, meta, key.as_ptr(), url_value);
        qjs::JS_FreeValue(ctx, meta);
        if set < 0 {
            return std::ptr::null_mut();
        }
        def
    }
}

/// Declares (compiles) a module named `name` whose `import.meta.url` is `url`.
pub(crate) fn declare_module<'js>(
    ctx: &Ctx<'js>,
    name: &str,
    source: String,
    url: String,
) -> Result<Module<'js, Declared>> {
    DECLARING.with(|d| *d.borrow_mut() = Some((source, url)));
    // SAFETY: `declare_pending` returns a module compiled in this context, or NULL with
    // the exception set.
    let declared = unsafe { Module::from_load_fn(ctx.clone(), c_name(name), declare_pending) };
    DECLARING.with(|d| d.borrow_mut().take());
    declared
}

/// A `file://` URL for an absolute path, percent-encoding what a URL path cannot hold.
pub(crate) fn file_url(path: &std::path::Path) -> String {
    let mut url = String::from("file://");
    for byte in path.to_string_lossy().bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                url.push(byte as char)
            }
            other => url.push_str(&format!("%{other:02X}")),
        }
    }
    url
}
