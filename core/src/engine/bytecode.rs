//! The prelude compiled once per process: parsing it took most of a session's start, and
//! QuickJS bytecode can be loaded into any runtime of the same engine build.

use std::ffi::CString;
use std::sync::OnceLock;

use rquickjs::qjs;
use rquickjs::{Context, Ctx, Function, Runtime, Value};

/// The prelude's bytecode, or `None` when compiling it failed (then it is parsed each time).
fn compiled(source: &'static str) -> Option<&'static [u8]> {
    static BYTECODE: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    BYTECODE
        .get_or_init(|| {
            let runtime = Runtime::new().ok()?;
            let context = Context::full(&runtime).ok()?;
            context.with(|ctx| compile(&ctx, source))
        })
        .as_deref()
}

fn compile(ctx: &Ctx<'_>, source: &str) -> Option<Vec<u8>> {
    let code = CString::new(source).ok()?;
    let name = CString::new("prelude.js").ok()?;
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: the context is locked (inside `with`); every value and buffer QuickJS returns
    // is freed here.
    unsafe {
        let flags = (qjs::JS_EVAL_TYPE_GLOBAL | qjs::JS_EVAL_FLAG_COMPILE_ONLY) as i32;
        let function = qjs::JS_Eval(raw, code.as_ptr(), source.len() as _, name.as_ptr(), flags);
        if qjs::JS_IsException(function) {
            drop(ctx.catch());
            return None;
        }
        let mut size: qjs::size_t = 0;
        let buffer =
            qjs::JS_WriteObject(raw, &mut size, function, qjs::JS_WRITE_OBJ_BYTECODE as i32);
        qjs::JS_FreeValue(raw, function);
        if buffer.is_null() {
            drop(ctx.catch());
            return None;
        }
        let bytes = std::slice::from_raw_parts(buffer, size as usize).to_vec();
        qjs::js_free(raw, buffer.cast());
        Some(bytes)
    }
}

/// Evaluates the prelude in `ctx` and returns the function it evaluates to.
pub(crate) fn load_prelude<'js>(
    ctx: &Ctx<'js>,
    source: &'static str,
) -> rquickjs::Result<Function<'js>> {
    let Some(bytes) = compiled(source) else {
        return ctx.eval(source);
    };
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: the context is locked; the bytecode was written by this same engine build.
    let value = unsafe {
        let function = qjs::JS_ReadObject(
            raw,
            bytes.as_ptr(),
            bytes.len() as _,
            qjs::JS_READ_OBJ_BYTECODE as i32,
        );
        if qjs::JS_IsException(function) {
            return Err(rquickjs::Error::Exception);
        }
        let result = qjs::JS_EvalFunction(raw, function);
        if qjs::JS_IsException(result) {
            return Err(rquickjs::Error::Exception);
        }
        Value::from_raw(ctx.clone(), result)
    };
    Function::from_value(value)
}
