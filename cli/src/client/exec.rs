//! `vm-system exec …`: run code in a session and watch its events as they happen, read
//! past executions, cancel a running one.

use std::time::Duration;

use serde_json::{json, Value};

use super::api::segment;
use super::{print, Api, Failure, Out, Outcome};

/// `vm-system exec …`
#[derive(clap::Subcommand)]
pub enum ExecCommand {
    /// Run a snippet in the session (state persists between runs); events print as they
    /// happen, then the status and result.
    Repl {
        /// Session id.
        session_id: String,
        /// JavaScript to run (`-` reads it from standard input).
        code: String,
    },
    /// Run a file of the session's worktree; events print as they happen.
    RunFile {
        /// Session id.
        session_id: String,
        /// Path relative to the worktree.
        path: String,
        /// JSON object given to the script as `__ARGS__`.
        #[arg(long, default_value = "{}")]
        args: String,
        /// JSON object of environment values given to the script.
        #[arg(long, default_value = "{}")]
        env: String,
    },
    /// List a session's executions, newest first.
    List {
        /// Session id.
        session_id: String,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Show an execution.
    Get {
        /// Execution id.
        execution_id: String,
    },
    /// Show an execution's events after a seq; `--follow` waits for new ones until the
    /// execution ends.
    Events {
        /// Execution id.
        execution_id: String,
        /// Only events with a greater seq.
        #[arg(long, default_value_t = 0)]
        after_seq: u64,
        /// Keep printing events as they happen until the execution ends (exit status 3
        /// when it ends error, timeout or cancelled).
        #[arg(long)]
        follow: bool,
    },
    /// Cancel a running execution (it ends `cancelled`).
    Cancel {
        /// Execution id.
        execution_id: String,
    },
}

/// Runs one `exec` command.
pub fn run(api: &Api, out: &mut Out, command: ExecCommand) -> Outcome {
    match command {
        ExecCommand::Repl { session_id, code } => {
            let code = if code == "-" {
                std::io::read_to_string(std::io::stdin())
                    .map_err(|e| Failure::Usage(format!("cannot read the code from stdin: {e}")))?
            } else {
                code
            };
            let body = json!({ "session_id": session_id, "input": code, "wait": false });
            execute(api, out, "/executions/repl", &body, true)
        }
        ExecCommand::RunFile {
            session_id,
            path,
            args,
            env,
        } => {
            let args: Value = serde_json::from_str(&args)
                .map_err(|e| Failure::Usage(format!("invalid args JSON: {e}")))?;
            let env: Value = serde_json::from_str(&env)
                .map_err(|e| Failure::Usage(format!("invalid env JSON: {e}")))?;
            let body = json!({
                "session_id": session_id, "path": path, "args": args, "env": env, "wait": false,
            });
            execute(api, out, "/executions/run-file", &body, false)
        }
        ExecCommand::List { session_id, limit } => {
            let path = format!(
                "/executions?session_id={}&limit={limit}",
                segment(&session_id)
            );
            out.emit(&api.get(&path)?, print::execution_list);
            Ok(())
        }
        ExecCommand::Get { execution_id } => {
            out.emit(
                &api.get(&format!("/executions/{}", segment(&execution_id)))?,
                print::execution_detail,
            );
            Ok(())
        }
        ExecCommand::Events {
            execution_id,
            after_seq,
            follow: false,
        } => {
            let path = format!(
                "/executions/{}/events?after_seq={after_seq}",
                segment(&execution_id)
            );
            out.emit(&api.get(&path)?, print::events_table);
            Ok(())
        }
        ExecCommand::Events {
            execution_id,
            after_seq,
            follow: true,
        } => {
            let json = out.is_json();
            if !json {
                out.text(print::events_table_heading);
            }
            let last = watch(api, &execution_id, after_seq, |event| {
                if json {
                    out.emit(event, |_, _| Ok(()));
                } else {
                    out.text(|w| print::events_table_row(w, event));
                }
            })?;
            if !json {
                out.text(|w| print::follow_ended(w, &last));
            }
            ended(&last)
        }
        ExecCommand::Cancel { execution_id } => {
            let v = api.post(
                &format!("/executions/{}/cancel", segment(&execution_id)),
                &json!({}),
            )?;
            out.emit(&v, |w, v| print::cancelled(w, &execution_id, v));
            Ok(())
        }
    }
}

/// Starts an execution without waiting, prints its events live from the stream, then
/// its summary (or, with `--output json`, the final execution record).
fn execute(api: &Api, out: &mut Out, path: &str, body: &Value, with_result: bool) -> Outcome {
    let started = api.post(path, body)?;
    let json = out.is_json();
    if !json {
        out.text(|w| print::execution_started(w, &started));
    }
    let mut any = false;
    let mut show = |event: &Value| {
        if !json {
            out.text(|w| {
                if !any {
                    print::events_heading(w)?;
                }
                print::event_line(w, event)
            });
            any = true;
        }
    };
    let id = started.get("id").and_then(Value::as_str).unwrap_or("");
    let last = if status(&started) == "running" {
        watch(api, id, 0, &mut show)?
    } else {
        // The daemon ran it to the end before answering: read the events it recorded.
        let events = api.get(&format!("/executions/{}/events?after_seq=0", segment(id)))?;
        events.as_array().into_iter().flatten().for_each(&mut show);
        started
    };
    if json {
        out.emit(&last, |_, _| Ok(()));
    } else {
        out.text(|w| print::execution_summary(w, &last, with_result, any));
    }
    ended(&last)
}

fn status(execution: &Value) -> &str {
    execution
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Exit status 3 for an execution that did not end `ok`.
fn ended(execution: &Value) -> Outcome {
    match status(execution) {
        "error" | "timeout" | "cancelled" => Err(Failure::Ended),
        _ => Ok(()),
    }
}

/// Follows the event stream of an execution from `after`, calling `on_event` for each
/// event in seq order, and returns the final execution record (the stream's `end`).
/// A stream that breaks is resumed after the last seq seen.
fn watch(
    api: &Api,
    id: &str,
    mut after: u64,
    mut on_event: impl FnMut(&Value),
) -> Result<Value, Failure> {
    let base = format!("/executions/{}/events/stream", segment(id));
    let mut retries = 0u32;
    loop {
        let mut stream = api.stream(&format!("{base}?after_seq={after}"), after)?;
        while let Ok(Some(event)) = stream.next_event() {
            retries = 0;
            let data: Value = serde_json::from_str(&event.data).map_err(|e| {
                Failure::Failed(format!(
                    "the event stream of execution {id} sent data that is not JSON ({e})"
                ))
            })?;
            if event.event == "end" {
                return Ok(data);
            }
            let seq = data.get("seq").and_then(Value::as_u64).unwrap_or(0);
            if seq > after {
                after = seq;
                on_event(&data);
            }
        }
        retries += 1;
        if retries > 5 {
            return Err(Failure::Failed(format!(
                "the event stream of execution {id} kept closing before the execution ended; \
                 `vm-system exec events {id} --after-seq {after} --follow` resumes it"
            )));
        }
        std::thread::sleep(Duration::from_millis(100 * u64::from(retries)));
    }
}
