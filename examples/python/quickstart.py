"""vm-system quick start in Python.

Run it with the wheel installed: ``bash bindings-python/test.sh`` does, or
``pip install vm-system`` then ``python examples/python/quickstart.py``.

Creates a template with a startup file, prepares a worktree in a temporary directory,
opens a session on it, runs a REPL snippet and a file, and prints every event.
"""

import tempfile
from pathlib import Path

import vm_system


def show(event: vm_system.Event) -> None:
    print(f"  [{event.seq}] {event.type}: {event.payload}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        worktree = Path(tmp).resolve()
        (worktree / "runtime").mkdir()
        (worktree / "runtime" / "init.js").write_text(
            "function greet(name) { return `hello from ${name}`; }\n"
        )
        (worktree / "report.js").write_text(
            "console.log(greet(__ARGS__.name));\n"
            "({ files: __ARGS__.count, mode: __ENV__.MODE })\n"
        )

        with vm_system.VmSystem() as vm:  # in memory; VmSystem("state.db") for a file
            template = vm.create_template("quickstart")
            vm.update_settings(template.id, limits={"cpu_ms": 1000})
            vm.add_startup_file(template.id, "runtime/init.js")

            print("startup:")
            session = vm.create_session(template.id, "ws-1", "0000000", worktree, on_event=show)

            print("repl:")
            run = vm.repl(session.id, "console.log(greet('quickstart')); 6 * 7", on_event=show)
            print("  ->", run.status, run.value)

            print("run_file:")
            run = vm.run_file(session.id, "report.js", args={"name": "a file", "count": 2}, env={"MODE": "demo"})
            for event in vm.events(run.id):
                show(event)
            print("  ->", run.status, run.value, f"({run.metrics.duration_ms:.2f} ms)")

            try:
                vm.run_file(session.id, "../escape.js")
            except vm_system.InvalidPathError as err:
                print("refused:", err.code, err)

            vm.close_session(session.id)


if __name__ == "__main__":
    main()
