//! The library's records as the API serves them: the same fields, plus what the original
//! program's web UI reads (`vm_id` beside `template_id`, a template's `is_active`,
//! `exposed_modules` and `libraries`, the template detail shape, `error.message`).

use serde::Serialize;
use serde_json::{json, Map, Value};
use vm_system::{Capability, Execution, Session, Settings, StartupFile, Template, TemplateDetail};

fn object(value: impl Serialize) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// Puts `vm_id` and `template_id` first, then the record's own fields.
fn owned_by(template_id: &str, record: Map<String, Value>) -> Value {
    let mut out = Map::new();
    out.insert("vm_id".into(), json!(template_id));
    out.insert("template_id".into(), json!(template_id));
    out.extend(record);
    Value::Object(out)
}

/// A template with its module and library names.
pub fn template(t: &Template, modules: &[String], libraries: &[String]) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "engine": t.engine,
        "is_active": true,
        "exposed_modules": modules,
        "libraries": libraries,
        "created_at": t.created_at,
        "updated_at": t.updated_at,
    })
}

/// Settings, marked with their template.
pub fn settings(template_id: &str, s: &Settings) -> Value {
    owned_by(template_id, object(s))
}

/// A capability record.
pub fn capability(template_id: &str, c: &Capability) -> Value {
    owned_by(template_id, object(c))
}

/// A startup file record.
pub fn startup_file(template_id: &str, f: &StartupFile) -> Value {
    owned_by(template_id, object(f))
}

/// `GET /templates/{id}`: the original's detail shape.
pub fn template_detail(d: &TemplateDetail) -> Value {
    let id = &d.template.id;
    json!({
        "template": template(&d.template, &d.modules, &d.libraries),
        "settings": settings(id, &d.settings),
        "capabilities": d.capabilities.iter().map(|c| capability(id, c)).collect::<Vec<_>>(),
        "startup_files": d.startup_files.iter().map(|f| startup_file(id, f)).collect::<Vec<_>>(),
        "modules": d.modules,
        "libraries": d.libraries,
    })
}

/// A session record with `vm_id`.
pub fn session(s: &Session) -> Value {
    let mut map = object(s);
    map.insert("vm_id".into(), json!(s.template_id));
    Value::Object(map)
}

/// An execution record; `error` is `{"message": …}` as the original's clients read it.
pub fn execution(e: &Execution) -> Value {
    let mut map = object(e);
    if let Some(message) = &e.error {
        map.insert("error".into(), json!({ "message": message }));
    }
    Value::Object(map)
}

/// A list of records.
pub fn list<T>(items: &[T], view: impl Fn(&T) -> Value) -> Value {
    Value::Array(items.iter().map(view).collect())
}
