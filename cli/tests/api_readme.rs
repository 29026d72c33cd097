//! The README's REST example (`curl` against the daemon), run as written.

mod common;

use std::path::Path;
use std::process::Command;

#[test]
fn readme_rest_example_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = &readme[readme.find("### The REST API").expect("README section")..];
    let block = section.split("```sh\n").nth(1).unwrap();
    let block = &block[..block.find("```").unwrap()];
    assert!(block.contains("127.0.0.1:3210"));
    let daemon = common::Daemon::start();
    let script = block.replace("127.0.0.1:3210", &daemon.addr);
    let worktree = daemon.worktree("readme", &[]);
    let out = Command::new("bash")
        .args(["-e", "-c", &script])
        .current_dir(&worktree)
        .output()
        .expect("bash and curl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(r#""json":42"#), "{text}");
    assert!(text.contains("event: console"), "{text}");
    assert!(text.contains("event: end"), "{text}");
    assert!(text.contains(r#""status":"closed""#), "{text}");
}
