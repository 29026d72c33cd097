//! The ETL walkthrough of the reference documentation: a template with the `database`
//! module and a startup file that opens a SQLite database in the worktree and defines `db`;
//! a session; two pipeline steps run as files; a REPL query; every execution and its events.
//!
//! Run with `cargo run --example etl [database-path]` (default: an in-memory database).
//! The worktree is prepared in a temporary folder from `core/tests/fixtures/etl/`.

use serde_json::json;
use vm_system::VmSystem;

const FILES: &[(&str, &str)] = &[
    (
        "runtime/setup-db.js",
        include_str!("../../core/tests/fixtures/etl/runtime/setup-db.js"),
    ),
    (
        "transforms/normalize.js",
        include_str!("../../core/tests/fixtures/etl/transforms/normalize.js"),
    ),
    (
        "transforms/export.js",
        include_str!("../../core/tests/fixtures/etl/transforms/export.js"),
    ),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let worktree = std::env::temp_dir().join(format!("vm-system-etl-{}", std::process::id()));
    for (path, text) in FILES {
        let file = worktree.join(path);
        std::fs::create_dir_all(file.parent().unwrap_or(&worktree))?;
        std::fs::write(file, text)?;
    }
    let vm = match std::env::args().nth(1) {
        Some(path) => VmSystem::open(path)?,
        None => VmSystem::open_in_memory()?,
    };

    // 1. Define the runtime: what capabilities does it need?
    let template = vm.create_template("etl-runner", "quickjs")?;
    vm.add_module(&template.id, "database")?;
    vm.add_startup_file(&template.id, "runtime/setup-db.js", 10, "eval")?;

    // 2. A session bound to the workspace.
    let session = vm.create_session(
        &template.id,
        "etl-ws",
        "abc123",
        worktree.to_str().ok_or("worktree path is not UTF-8")?,
    )?;
    println!(
        "session {} is {} (worktree {})",
        session.id,
        session.status.as_str(),
        worktree.display()
    );

    // 3. Run code: each execution builds on the state left by the previous one.
    vm.repl(&session.id, r#"db.query("SELECT count(*) FROM users")"#)?;
    vm.run_file(
        &session.id,
        "transforms/normalize.js",
        &json!({}),
        &json!({}),
    )?;
    vm.run_file(&session.id, "transforms/export.js", &json!({}), &json!({}))?;
    vm.repl(
        &session.id,
        r#"db.query("SELECT count(*) AS n FROM users")"#,
    )?;

    // 4. Look at what happened, oldest first.
    let mut executions = vm.list_executions(&session.id, 50)?;
    executions.reverse();
    for exec in &executions {
        let what = exec.path.as_deref().or(exec.input.as_deref()).unwrap_or("");
        println!(
            "\n{} {} -> {} ({} host calls)",
            exec.kind.as_str(),
            what,
            exec.status.as_str(),
            exec.metrics.host_calls
        );
        for event in vm.events(&exec.id, 0)? {
            println!(
                "  seq {}  {:<10}  {}",
                event.seq,
                event.event_type.as_str(),
                event.payload
            );
        }
    }

    // 5. Done: close the session to free the runtime.
    let closed = vm.close_session(&session.id)?;
    println!("\nsession {} is {}", closed.id, closed.status.as_str());
    std::fs::remove_dir_all(&worktree)?;
    Ok(())
}
