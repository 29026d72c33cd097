//! Templates, their settings and sub-resources, and the catalogs.

mod common;

use common::*;
use serde_json::{json, Value};

#[test]
fn create_list_get_delete() {
    let daemon = Daemon::start();
    let h = &daemon.http;
    assert_eq!(h.get("/templates").body, "[]");
    let r = h.post("/templates", r#"{"name":"first"}"#);
    assert_eq!(r.status, 201);
    let t = &r.json;
    assert_eq!(t["name"], "first");
    assert_eq!(t["engine"], "quickjs");
    assert_eq!(t["is_active"], true);
    assert_eq!(t["exposed_modules"], json!([]));
    assert_eq!(t["libraries"], json!([]));
    assert!(t["created_at"].is_string() && t["updated_at"].is_string());
    let first = t["id"].as_str().unwrap().to_string();
    // `goja` (the original's engine) is an alias: the template runs on quickjs.
    let r = h.post("/templates", r#"{"name":"second","engine":"goja"}"#);
    assert_eq!(
        (r.status, r.json["engine"].as_str()),
        (201, Some("quickjs"))
    );
    let second = r.json["id"].as_str().unwrap().to_string();
    h.post("/templates", r#"{"name":"x","engine":"v8"}"#)
        .assert_error(400, "VALIDATION_ERROR");
    // Newest first.
    let list = h.get("/templates");
    let ids: Vec<&str> = list
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second.as_str(), first.as_str()]);

    let d = h.get(&format!("/templates/{first}"));
    assert_eq!(d.status, 200);
    assert_eq!(d.json["template"]["id"], first.as_str());
    assert_eq!(d.json["settings"]["vm_id"], first.as_str());
    assert_eq!(d.json["settings"]["limits"]["cpu_ms"], 5000);
    assert_eq!(d.json["capabilities"], json!([]));
    assert_eq!(d.json["startup_files"], json!([]));
    // Upper-case ids are the same id.
    assert_eq!(
        h.get(&format!("/templates/{}", first.to_uppercase()))
            .status,
        200
    );

    let r = h.delete(&format!("/templates/{first}"));
    assert_eq!(r.status, 200);
    assert_eq!(r.json, json!({"status": "ok", "template_id": first}));
    let r = h.get(&format!("/templates/{first}"));
    r.assert_error(404, "TEMPLATE_NOT_FOUND");
    assert_eq!(r.json["error"]["details"]["template_id"], first.as_str());
    h.delete(&format!("/templates/{first}"))
        .assert_error(404, "TEMPLATE_NOT_FOUND");
    h.get("/templates/not-a-uuid")
        .assert_error(400, "VALIDATION_ERROR");
    h.delete("/templates/not-a-uuid")
        .assert_error(400, "VALIDATION_ERROR");
}

#[test]
fn bodies_are_strict() {
    let daemon = Daemon::start();
    let h = &daemon.http;
    let r = h.post("/templates", r#"{"name":"a","extra":1}"#);
    r.assert_error(400, "INVALID_REQUEST");
    assert_eq!(r.json["error"]["details"]["field"], "extra");
    assert!(r.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("extra"));
    let r = h.post("/templates", r#"{"name":7}"#);
    r.assert_error(400, "INVALID_REQUEST");
    assert_eq!(r.json["error"]["details"]["field"], "name");
    h.post("/templates", r#"{"name":"a""#)
        .assert_error(400, "INVALID_REQUEST");
    h.post("/templates", r#"{"name":"a"} trailing"#)
        .assert_error(400, "INVALID_REQUEST");
    h.post("/templates", "")
        .assert_error(400, "INVALID_REQUEST");
    h.post("/templates", "null")
        .assert_error(400, "INVALID_REQUEST");
    h.post("/templates", "[]")
        .assert_error(400, "INVALID_REQUEST");
    // Keys are case-sensitive.
    h.post("/templates", r#"{"NAME":"a"}"#)
        .assert_error(400, "INVALID_REQUEST");
    let r = h.post("/templates", "{}");
    r.assert_error(400, "VALIDATION_ERROR");
    assert!(r.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("name"));
    h.post("/templates", r#"{"name":""}"#)
        .assert_error(400, "VALIDATION_ERROR");
    // A GET that says it sends JSON and sends nothing is fine.
    let r = h.request(
        "GET",
        "/templates",
        None,
        &[("Content-Type", "application/json")],
    );
    assert_eq!(r.status, 200);
}

#[test]
fn settings_are_read_and_patched_partially_with_validation() {
    let daemon = Daemon::start();
    let h = &daemon.http;
    let t = daemon.template("s");
    let r = h.get(&format!("/templates/{t}/settings"));
    assert_eq!(r.status, 200);
    assert_eq!(r.json["vm_id"], t.as_str());
    let r = h.patch(
        &format!("/templates/{t}/settings"),
        r#"{"limits":{"cpu_ms":250},"runtime":{"esm":true}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json["limits"]["cpu_ms"], 250);
    assert_eq!(r.json["limits"]["wall_ms"], 30000);
    assert_eq!(r.json["runtime"]["esm"], true);
    assert_eq!(r.json["template_id"], t.as_str());
    let r = h.patch(
        &format!("/templates/{t}/settings"),
        r#"{"limits":{"wall_ms":0}}"#,
    );
    r.assert_error(400, "VALIDATION_ERROR");
    assert!(r.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("wall_ms"));
    assert_eq!(r.json["error"]["details"]["template_id"], t.as_str());
    h.patch(
        &format!("/templates/{t}/settings"),
        r#"{"limits":{"nope":1}}"#,
    )
    .assert_error(400, "VALIDATION_ERROR");
    h.patch(&format!("/templates/{t}/settings"), "[1]")
        .assert_error(400, "INVALID_REQUEST");
    // Nothing changed by the rejected patches.
    let d = h.get(&format!("/templates/{t}"));
    assert_eq!(d.json["settings"]["limits"]["wall_ms"], 30000);
    assert_eq!(d.json["settings"]["limits"]["cpu_ms"], 250);
    let unknown = "00000000-0000-4000-8000-000000000000";
    h.patch(&format!("/templates/{unknown}/settings"), "{}")
        .assert_error(404, "TEMPLATE_NOT_FOUND");
}

#[test]
fn capabilities_modules_libraries() {
    let daemon = Daemon::start();
    let h = &daemon.http;
    let t = daemon.template("subs");
    let caps = format!("/templates/{t}/capabilities");
    let r = h.post(
        &caps,
        r#"{"kind":"module","name":"fs","config":{"root":"."}}"#,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json["vm_id"], t.as_str());
    assert_eq!(r.json["enabled"], true);
    assert_eq!(r.json["config"], json!({"root": "."}));
    h.post(&caps, r#"{"kind":"module"}"#)
        .assert_error(400, "VALIDATION_ERROR");
    h.post(&caps, r#"{"kind":"weird","name":"x"}"#)
        .assert_error(400, "VALIDATION_ERROR");
    h.post(&caps, r#"{"kind":"module","name":"x","enabled":"yes"}"#)
        .assert_error(400, "INVALID_REQUEST");
    let list = h.get(&caps);
    assert_eq!(list.json.as_array().unwrap().len(), 1);

    let modules = format!("/templates/{t}/modules");
    let r = h.post(&modules, r#"{"name":"database"}"#);
    assert_eq!(r.status, 201);
    assert_eq!(r.json, json!({"name": "database", "template_id": t}));
    let r = h.post(&modules, r#"{"name":"console"}"#);
    r.assert_error(422, "MODULE_NOT_ALLOWED");
    assert_eq!(r.json["error"]["details"]["template_id"], t.as_str());
    h.post(&modules, r#"{"name":"nope"}"#)
        .assert_error(422, "MODULE_NOT_ALLOWED");
    assert_eq!(h.get(&modules).json, json!(["database"]));
    let r = h.delete(&format!("{modules}/database"));
    assert_eq!(
        r.json,
        json!({"name": "database", "status": "ok", "template_id": t})
    );
    assert_eq!(h.get(&modules).json, json!([]));
    h.delete(&format!("{modules}/database"))
        .assert_error(400, "VALIDATION_ERROR");

    let libs = format!("/templates/{t}/libraries");
    assert_eq!(h.post(&libs, r#"{"name":"lodash-4.17.21"}"#).status, 201);
    h.post(&libs, r#"{"name":"../../etc/passwd"}"#)
        .assert_error(400, "VALIDATION_ERROR");
    assert_eq!(h.get(&libs).json, json!(["lodash-4.17.21"]));
    let d = h.get(&format!("/templates/{t}"));
    assert_eq!(d.json["template"]["libraries"], json!(["lodash-4.17.21"]));
    assert_eq!(h.delete(&format!("{libs}/lodash-4.17.21")).status, 200);

    let unknown = "00000000-0000-4000-8000-000000000000";
    for path in ["capabilities", "modules", "libraries", "startup-files"] {
        h.get(&format!("/templates/{unknown}/{path}"))
            .assert_error(404, "TEMPLATE_NOT_FOUND");
        h.get(&format!("/templates/bad/{path}"))
            .assert_error(400, "VALIDATION_ERROR");
    }
    h.post(&format!("/templates/{unknown}/modules"), r#"{"name":"fs"}"#)
        .assert_error(404, "TEMPLATE_NOT_FOUND");
}

#[test]
fn startup_files_add_list_remove() {
    let daemon = Daemon::start();
    let h = &daemon.http;
    let t = daemon.template("startup");
    let files = format!("/templates/{t}/startup-files");
    let r = h.post(&files, r#"{"path":"./runtime//b.js","order_index":20}"#);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json["path"], "runtime/b.js");
    assert_eq!(r.json["mode"], "eval");
    assert_eq!(r.json["vm_id"], t.as_str());
    assert_eq!(
        h.post(
            &files,
            r#"{"path":"runtime/a.js","order_index":10,"mode":"module"}"#
        )
        .status,
        201
    );
    let r = h.post(&files, r#"{"path":"x.js","mode":"import"}"#);
    r.assert_error(422, "STARTUP_MODE_UNSUPPORTED");
    assert_eq!(r.json["error"]["details"]["template_id"], t.as_str());
    h.post(&files, r#"{"path":"../escape.js"}"#)
        .assert_error(422, "INVALID_PATH");
    h.post(&files, r#"{"path":"/etc/passwd"}"#)
        .assert_error(422, "INVALID_PATH");
    h.post(&files, r#"{"path":"x.js","order_index":"1"}"#)
        .assert_error(400, "INVALID_REQUEST");
    let list = h.get(&files);
    let paths: Vec<&str> = list
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["runtime/a.js", "runtime/b.js"]);
    let r = h.delete(&format!("{files}/runtime/b.js"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json["path"], "runtime/b.js");
    assert_eq!(h.get(&files).json.as_array().unwrap().len(), 1);
    h.delete(&format!("{files}/runtime/b.js"))
        .assert_error(400, "VALIDATION_ERROR");
}

#[test]
fn catalogs_of_modules_and_libraries() {
    let daemon = Daemon::start();
    let h = &daemon.http;
    let modules = h.get("/modules");
    assert_eq!(modules.status, 200);
    let names: Vec<&str> = modules
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    for m in ["database", "exec", "fs"] {
        assert!(names.contains(&m), "{names:?}");
    }
    let libs = h.get("/libraries");
    assert_eq!(libs.status, 200);
    let all = libs.json.as_array().unwrap();
    assert_eq!(all.len(), 6);
    assert!(all.iter().all(|l| l["installed"] == Value::Bool(false)));
    // A library file put in the cache shows as installed.
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../core/tests/fixtures/libraries/lodash-4.17.21.js"
    );
    std::fs::create_dir_all(daemon.dir.join("libraries")).unwrap();
    std::fs::copy(fixture, daemon.dir.join("libraries/lodash-4.17.21.js")).unwrap();
    let libs = h.get("/libraries");
    let lodash = libs
        .json
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "lodash-4.17.21")
        .unwrap()
        .clone();
    assert_eq!(lodash["installed"], true, "{lodash}");
    h.post("/libraries/not-a-library/install", "")
        .assert_error(400, "VALIDATION_ERROR");
}
