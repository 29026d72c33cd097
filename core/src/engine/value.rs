//! Reading JavaScript values from the host side without running anything a script can
//! patch: a value's type comes from its internal class, strings are converted with lone
//! surrogates replaced, and JSON comes from the engine's own serialiser.

use std::borrow::Cow;

use rquickjs::{qjs, Ctx, Value};
use serde_json::Value as Json;

/// The SPEC's value type of `v`, read from its tag and internal class (a Proxy is an
/// `object`, or a `function` when callable).
pub(crate) fn classify(ctx: &Ctx<'_>, v: &Value<'_>) -> &'static str {
    if v.is_undefined() {
        return "undefined";
    }
    if v.is_null() {
        return "null";
    }
    if v.is_bool() {
        return "boolean";
    }
    if v.is_number() {
        return "number";
    }
    if v.is_big_int() {
        return "bigint";
    }
    if v.is_string() {
        return "string";
    }
    if v.is_symbol() {
        return "symbol";
    }
    if !v.is_object() {
        return "undefined";
    }
    let raw = v.as_raw();
    // SAFETY: class checks on a live object value; none of them runs JavaScript.
    unsafe {
        if qjs::JS_IsFunction(ctx.as_raw().as_ptr(), raw) {
            "function"
        } else if qjs::JS_IsArray(raw) {
            "array"
        } else if qjs::JS_IsDate(raw) {
            "date"
        } else if qjs::JS_IsRegExp(raw) {
            "regexp"
        } else if qjs::JS_IsError(raw) {
            "error"
        } else if qjs::JS_IsPromise(raw) {
            "promise"
        } else if qjs::JS_IsMap(raw) {
            "map"
        } else if qjs::JS_IsSet(raw) {
            "set"
        } else {
            "object"
        }
    }
}

/// The preview and JSON of a primitive the host can write without the engine: an integer,
/// `true`/`false`, `null` and `undefined` (what `String(v)` and `JSON.stringify(v)` give;
/// `undefined` has no JSON). `None` for anything else.
pub(crate) fn simple_primitive(v: &Value<'_>) -> Option<(String, Option<Json>)> {
    if let Some(i) = v.as_int() {
        return Some((i.to_string(), Some(Json::from(i))));
    }
    if let Some(b) = v.as_bool() {
        return Some((b.to_string(), Some(Json::Bool(b))));
    }
    if v.is_null() {
        return Some(("null".to_string(), Some(Json::Null)));
    }
    if v.is_undefined() {
        return Some(("undefined".to_string(), None));
    }
    None
}

/// Whether `v` is an Error object (by internal class, whatever its prototype says).
pub(crate) fn is_error(v: &Value<'_>) -> bool {
    // SAFETY: a class check; runs no JavaScript.
    unsafe { qjs::JS_IsError(v.as_raw()) }
}

/// A JavaScript string as Rust text: each lone surrogate becomes U+FFFD. `None` when `v`
/// is not a string.
pub(crate) fn string_lossy(ctx: &Ctx<'_>, v: &Value<'_>) -> Option<String> {
    if !v.is_string() {
        return None;
    }
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: converting a string value (no JavaScript runs); the buffer is freed here.
    unsafe {
        let mut len: qjs::size_t = 0;
        let ptr = qjs::JS_ToCStringLen2(raw, &mut len, v.as_raw(), false);
        if ptr.is_null() {
            // Out of memory: the exception is not the script's; take it off.
            qjs::JS_FreeValue(raw, qjs::JS_GetException(raw));
            return None;
        }
        let bytes = std::slice::from_raw_parts(ptr.cast::<u8>(), len as usize);
        let text = wtf8_to_string(bytes);
        qjs::JS_FreeCString(raw, ptr);
        Some(text)
    }
}

/// QuickJS encodes a lone surrogate as its 3-byte generalised UTF-8 form (`ED A0..BF xx`);
/// each becomes one U+FFFD, as `String.prototype.toWellFormed` would.
fn wtf8_to_string(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => {
            let mut out = Vec::with_capacity(bytes.len());
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == 0xED && i + 2 < bytes.len() && (0xA0..=0xBF).contains(&bytes[i + 1])
                {
                    out.extend_from_slice("\u{FFFD}".as_bytes());
                    i += 3;
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            String::from_utf8_lossy(&out).into_owned()
        }
    }
}

/// `JSON.stringify(v)` by the engine's serialiser (not the script-replaceable global),
/// parsed. `Ok(None)` when there is no JSON (undefined, a function, a cycle, a throwing
/// `toJSON` or trap, a BigInt); `Err` when the serialiser raised an uncatchable error (an
/// interrupt), which the caller turns into the run's stop.
pub(crate) fn json(ctx: &Ctx<'_>, v: &Value<'_>) -> Result<Option<Json>, ()> {
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: the context is locked; every value created here is freed here.
    let text = unsafe {
        let undefined = qjs::JS_UNDEFINED;
        let result = qjs::JS_JSONStringify(raw, v.as_raw(), undefined, undefined);
        if qjs::JS_IsException(result) {
            let thrown = qjs::JS_GetException(raw);
            let uncatchable = qjs::JS_IsUncatchableError(thrown);
            qjs::JS_FreeValue(raw, thrown);
            return if uncatchable { Err(()) } else { Ok(None) };
        }
        let value = Value::from_raw(ctx.clone(), result);
        string_lossy(ctx, &value)
    };
    Ok(text.and_then(|t| serde_json::from_str(&well_formed_json(&t)).ok()))
}

/// JSON text with every `\uD800`–`\uDFFF` escape that is not half of a pair replaced by
/// `\uFFFD` (what `JSON.stringify` writes for a lone surrogate, and serde refuses).
pub(crate) fn well_formed_json(text: &str) -> Cow<'_, str> {
    if !text.contains("\\ud") && !text.contains("\\uD") {
        return Cow::Borrowed(text);
    }
    fn surrogate_at(b: &[u8], i: usize) -> Option<u16> {
        if i + 6 <= b.len() && b[i] == b'\\' && b[i + 1] == b'u' {
            let hex = std::str::from_utf8(&b[i + 2..i + 6]).ok()?;
            let unit = u16::from_str_radix(hex, 16).ok()?;
            (0xD800..=0xDFFF).contains(&unit).then_some(unit)
        } else {
            None
        }
    }
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut start = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        match surrogate_at(b, i) {
            Some(high) if (0xD800..=0xDBFF).contains(&high) => {
                if matches!(surrogate_at(b, i + 6), Some(low) if low >= 0xDC00) {
                    i += 12;
                } else {
                    out.push_str(&text[start..i]);
                    out.push_str("\\ufffd");
                    i += 6;
                    start = i;
                }
            }
            Some(_) => {
                out.push_str(&text[start..i]);
                out.push_str("\\ufffd");
                i += 6;
                start = i;
            }
            // Any other escape is two characters at least; skipping both keeps `\\ud800`
            // (an escaped backslash) intact.
            None => i += 2,
        }
    }
    out.push_str(&text[start..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogate_escapes_become_replacement_characters() {
        assert_eq!(well_formed_json(r#""a\ud800b""#), r#""a\ufffdb""#);
        assert_eq!(well_formed_json(r#""\udc00""#), r#""\ufffd""#);
        assert_eq!(well_formed_json(r#""\ud83d\ude00""#), r#""\ud83d\ude00""#);
        assert_eq!(well_formed_json(r#""\\ud800""#), r#""\\ud800""#);
        assert_eq!(well_formed_json(r#"{"\ud800":1}"#), r#"{"\ufffd":1}"#);
        let parsed: Json = serde_json::from_str(&well_formed_json(r#"{"\ud800x":"\udfff"}"#))
            .expect("well-formed");
        assert_eq!(parsed, serde_json::json!({"\u{FFFD}x": "\u{FFFD}"}));
    }

    #[test]
    fn generalised_utf8_surrogates_become_replacement_characters() {
        assert_eq!(wtf8_to_string(b"a\xED\xA0\x80b"), "a\u{FFFD}b");
        assert_eq!(wtf8_to_string("plain é".as_bytes()), "plain é");
    }
}
