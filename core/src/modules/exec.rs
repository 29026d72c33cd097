//! `exec`: runs a program (no shell) in the worktree with a minimal environment, returning
//! its combined output; the program is killed when the execution is stopped.

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use rquickjs::function::Opt;
use rquickjs::{Ctx, IntoJs, Object, Value};

use super::{add_function, host_call, string_arg, throw, type_error, Host};
use crate::run::ActiveRun;
use crate::event::{system_payload, EventType, SystemLevel};
use crate::run::RunContext;

/// `PATH` of the child: the system's usual binary folders.
const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Output kept per call; the rest is read and dropped.
const MAX_OUTPUT: usize = 16 << 20;

/// How much of the output an error message quotes.
const MESSAGE_OUTPUT: usize = 2000;

struct Exec {
    worktree: PathBuf,
    active: Arc<ActiveRun>,
}

/// How a call ended.
enum Ended {
    Exited(ExitStatus, String),
    /// The execution was stopped (limit or cancel) and the program killed.
    Stopped,
}

/// A pipe whose write end serves as both stdout and stderr, so the output interleaves as
/// the program wrote it.
fn pipe() -> std::io::Result<(std::fs::File, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 writes two descriptors into the array, which we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors are fresh and owned by nobody else.
    unsafe {
        Ok((
            std::fs::File::from_raw_fd(fds[0]),
            OwnedFd::from_raw_fd(fds[1]),
        ))
    }
}

/// Kills the program and everything it started (its own process group).
fn kill_group(child: &mut Child) {
    // SAFETY: signals the process group the child leads (it was spawned with its own).
    unsafe {
        libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Exec {
    fn run(
        &self,
        run: &RunContext,
        program: &str,
        args: &[String],
        env: &[(String, String)],
    ) -> std::io::Result<Ended> {
        let (mut reader, writer) = pipe()?;
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(&self.worktree)
            .env_clear()
            .env("PATH", PATH)
            .env("HOME", &self.worktree)
            .env("LANG", "C.UTF-8")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::from(writer.try_clone()?))
            .stderr(Stdio::from(writer))
            .process_group(0);
        let spawned = command.spawn();
        // Drop our copies of the write end, or the reader never sees the end of the output.
        drop(command);
        let mut child = spawned?;

        let (sender, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut truncated = false;
            let mut chunk = [0u8; 8192];
            loop {
                match reader.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => {
                        let room = MAX_OUTPUT.saturating_sub(kept.len());
                        truncated |= n > room;
                        kept.extend_from_slice(&chunk[..n.min(room)]);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let mut text = String::from_utf8_lossy(&kept).into_owned();
            if truncated {
                text.push_str("\n[output truncated at 16 MiB]");
            }
            let _ = sender.send(text);
        });

        let tick = Duration::from_millis(5);
        let status = loop {
            if run.guard.check().is_some() {
                kill_group(&mut child);
                return Ok(Ended::Stopped);
            }
            match child.try_wait()? {
                Some(status) => break status,
                None => std::thread::sleep(
                    tick.min(run.guard.wall_remaining())
                        .max(Duration::from_micros(200)),
                ),
            }
        };
        // Programs it left running in the background may still hold the output open.
        loop {
            match output.recv_timeout(tick) {
                Ok(text) => return Ok(Ended::Exited(status, text)),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Ok(Ended::Exited(status, String::new()))
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if run.guard.check().is_some() {
                        kill_group(&mut child);
                        return Ok(Ended::Stopped);
                    }
                }
            }
        }
    }
}

/// The run's environment: the string properties of `globalThis.__ENV__` now.
fn run_env(ctx: &Ctx<'_>) -> rquickjs::Result<Vec<(String, String)>> {
    let env: Value = ctx.globals().get("__ENV__")?;
    let Some(object) = env.as_object() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for prop in object.props::<String, Value>() {
        let (key, value) = prop?;
        if let Some(s) = value.as_string() {
            out.push((key, s.to_string()?));
        }
    }
    Ok(out)
}

fn args_arg(ctx: &Ctx<'_>, args: Option<Value<'_>>) -> rquickjs::Result<Vec<String>> {
    let Some(args) = args.filter(|a| !a.is_undefined() && !a.is_null()) else {
        return Ok(Vec::new());
    };
    let Some(array) = args.as_array() else {
        return Err(type_error(
            ctx,
            &format!(
                "exec.run: the \"args\" argument must be an array of strings, got {}",
                args.type_name()
            ),
        ));
    };
    let mut out = Vec::with_capacity(array.len());
    for (i, item) in array.iter::<Value>().enumerate() {
        let item = item?;
        if let Some(s) = item.as_string() {
            out.push(s.to_string()?);
        } else if let Some(n) = item.as_number() {
            out.push(n.to_string());
        } else {
            return Err(type_error(
                ctx,
                &format!(
                    "exec.run: args[{i}] must be a string, got {}",
                    item.type_name()
                ),
            ));
        }
    }
    Ok(out)
}

/// `cmd ["a","b"]`, as shown in messages and events.
fn shown(program: &str, args: &[String]) -> String {
    if args.is_empty() {
        program.to_string()
    } else {
        format!(
            "{program} {}",
            serde_json::to_string(args).unwrap_or_default()
        )
    }
}

fn clipped(text: &str) -> &str {
    let text = text.trim_end();
    match text.char_indices().nth(MESSAGE_OUTPUT) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// Builds the `exec` module object.
pub(super) fn create<'js>(
    ctx: &Ctx<'js>,
    host: &Host,
    active: Arc<ActiveRun>,
) -> rquickjs::Result<Object<'js>> {
    let exec = Arc::new(Exec {
        worktree: host.worktree.clone(),
        active,
    });
    let module = Object::new(ctx.clone())?;
    add_function(
        &module,
        "run",
        move |ctx: Ctx<'js>,
              program: Value<'js>,
              args: Opt<Value<'js>>|
              -> rquickjs::Result<String> {
            let run = host_call(&ctx, &exec.active, "exec.run")?;
            let program = string_arg(&ctx, &program, "exec.run", "cmd")?;
            if program.is_empty() {
                return Err(type_error(&ctx, "exec.run: the command is empty"));
            }
            let args = args_arg(&ctx, args.0)?;
            let env = run_env(&ctx)?;
            let what = shown(&program, &args);
            let note = |level: SystemLevel, message: &str| {
                run.emit(EventType::System, system_payload(level, message));
            };
            run.flush();
            match exec.run(&run, &program, &args, &env) {
                Err(e) => {
                    let message = format!("exec.run: cannot run {what}: {e}");
                    note(SystemLevel::Warn, &message);
                    let code = match e.raw_os_error() {
                        Some(libc::ENOENT) => "ENOENT",
                        Some(libc::EACCES) => "EACCES",
                        _ => "EIO",
                    };
                    Err(throw(&ctx, &message, &[("code", code.into_js(&ctx)?)]))
                }
                Ok(Ended::Stopped) => {
                    let message = format!("exec.run: {what} was killed: the execution was stopped");
                    // Once stopped, the run refuses new output; this note is its own.
                    run.system(SystemLevel::Warn, &message);
                    Err(throw(&ctx, &message, &[]))
                }
                Ok(Ended::Exited(status, output)) => match status.code() {
                    Some(0) => {
                        note(
                            SystemLevel::Info,
                            &format!("exec.run: {what} exited with code 0"),
                        );
                        Ok(output)
                    }
                    code => {
                        let ending = match code {
                            Some(code) => format!("exited with code {code}"),
                            None => {
                                format!("was killed by signal {}", status.signal().unwrap_or(0))
                            }
                        };
                        note(SystemLevel::Warn, &format!("exec.run: {what} {ending}"));
                        let mut message = format!("exec.run: {what} {ending}");
                        let quoted = clipped(&output);
                        if !quoted.is_empty() {
                            message.push_str(":\n");
                            message.push_str(quoted);
                        }
                        let exit_code = match code {
                            Some(code) => code.into_js(&ctx)?,
                            None => Value::new_null(ctx.clone()),
                        };
                        Err(throw(
                            &ctx,
                            &message,
                            &[("exitCode", exit_code), ("output", output.into_js(&ctx)?)],
                        ))
                    }
                },
            }
        },
    )?;
    Ok(module)
}
