//! Quick start: a template with a startup file, a session on a worktree prepared here, a
//! REPL snippet and a file run, and their events — stored in `vm-system.db`.
//!
//! Run with `cargo run --example quickstart [database-path]`.

use vm_system::VmSystem;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "vm-system.db".into());
    let worktree = std::env::temp_dir().join("vm-system-quickstart");
    std::fs::create_dir_all(worktree.join("runtime"))?;
    std::fs::write(
        worktree.join("runtime/init.js"),
        "globalThis.greet = (name) => `hello, ${name}`;\n",
    )?;
    std::fs::write(
        worktree.join("report.js"),
        "console.log('args:', __ARGS__);\nconsole.warn('counter is', counter);\n({ total: counter * 2 })\n",
    )?;

    let vm = VmSystem::open(&db)?;
    let template = vm.create_template("quickstart", "quickjs")?;
    vm.add_startup_file(&template.id, "runtime/init.js", 10, "eval")?;
    let session = vm.create_session(
        &template.id,
        "ws-demo",
        "abc123",
        worktree.to_str().unwrap(),
    )?;
    println!("session {} is {}", session.id, session.status.as_str());

    let snippet = vm.repl(
        &session.id,
        "var counter = 21; console.log(greet('world')); counter",
    )?;
    let file = vm.run_file(
        &session.id,
        "report.js",
        &serde_json::json!({"day": "monday"}),
        &serde_json::json!({}),
    )?;
    for exec in [&snippet, &file] {
        println!(
            "execution {} ({}) -> {}",
            exec.id,
            exec.kind.as_str(),
            exec.status.as_str()
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
    vm.close_session(&session.id)?;
    println!("database: {db}");
    Ok(())
}
