//! `exec`: runs a program (no shell) in the worktree with a minimal environment, returning
//! its combined output; the program is killed when the execution is stopped.
//!
//! The program runs under a small supervisor process forked from the host: a child
//! subreaper (`PR_SET_CHILD_SUBREAPER`), so every process the program starts — even one
//! that calls `setsid` or double-forks — stays its descendant. When the program exits, or
//! the run stops, the supervisor kills and reaps all of them before it exits itself, so
//! nothing started by `exec.run` outlives the call, and the thread reading the output
//! ends with it. What `exec` cannot isolate by itself: the program runs as the host's
//! user, sees the host's filesystem and network, and can do whatever that user can.
//!
//! Opt-in OS isolation: with `{"isolation": "bwrap"}` in the config of the template's
//! `exec` module capability (`kind: "module", name: "exec"`), the program runs under
//! bubblewrap in new namespaces (user, mount, pid, network, ipc, uts, cgroup) with no
//! capabilities: it sees a read-only `/usr` (and `/bin`, `/lib*`), a few read-only files
//! of `/etc`, a private `/tmp`, `/proc` and `/dev`, and the worktree read-write — nothing
//! else of the host's filesystem, and no network. When bwrap is requested but missing or
//! cannot set up the sandbox, the call throws (`code: 'ERR_EXEC_ISOLATION'`); it never
//! runs the program unisolated.

use std::ffi::OsString;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rquickjs::function::Opt;
use rquickjs::{Ctx, IntoJs, Object, Value};
use serde_json::Value as Json;

use super::{add_function, host_call, string_arg, throw, type_error, Host};
use crate::event::{system_payload, EventType, SystemLevel};
use crate::run::ActiveRun;
use crate::run::RunContext;

/// `PATH` of the child: the system's usual binary folders.
const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Output kept per call; the rest is read and dropped.
const MAX_OUTPUT: usize = 16 << 20;

/// How much of the output an error message quotes.
const MESSAGE_OUTPUT: usize = 2000;

/// How `exec.run` isolates the programs it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Isolation {
    /// None beyond the worktree as working directory and a minimal environment.
    #[default]
    None,
    /// Each program runs under bubblewrap (`bwrap`): see the module's documentation.
    Bwrap,
}

/// The config keys of the `exec` module capability.
const CONFIG_KEYS: &[&str] = &["isolation"];

/// Reads the config of the `exec` module capability (`{"isolation": "none" | "bwrap"}`).
/// Unknown keys and values are refused: a typo must not silently leave programs
/// unisolated.
pub(crate) fn parse_config(config: &Json) -> Result<Isolation, String> {
    let Some(object) = config.as_object() else {
        return Err(format!(
            "the config of the exec module capability must be an object, got {config}"
        ));
    };
    if let Some(key) = object.keys().find(|k| !CONFIG_KEYS.contains(&k.as_str())) {
        return Err(format!(
            "the config of the exec module capability has an unknown key {key:?}; known keys: {}",
            CONFIG_KEYS.join(", ")
        ));
    }
    match object.get("isolation") {
        None => Ok(Isolation::None),
        Some(Json::String(s)) if s == "none" => Ok(Isolation::None),
        Some(Json::String(s)) if s == "bwrap" => Ok(Isolation::Bwrap),
        Some(other) => Err(format!(
            "exec isolation must be \"none\" or \"bwrap\", got {other}"
        )),
    }
}

struct Exec {
    worktree: PathBuf,
    /// The isolation the template asks for, or why its config is unusable.
    isolation: Result<Isolation, String>,
    active: Arc<ActiveRun>,
}

/// How a call ended.
enum Ended {
    Exited(ExitStatus, String),
    /// The execution was stopped (limit or cancel) and the program killed.
    Stopped,
    /// The sandbox could not start the program (bwrap's own message; the program never
    /// ran). `code` is `ENOENT`/`EACCES` when the program itself could not be executed
    /// inside the sandbox, `ERR_EXEC_ISOLATION` when the sandbox could not be set up.
    NotStarted {
        code: &'static str,
        message: String,
    },
}

/// Why a call could not start.
enum Failed {
    /// The program (or bwrap) could not be spawned.
    Spawn(std::io::Error),
    /// Isolation was requested and cannot be had: the program is not run.
    Isolation(String),
}

impl From<std::io::Error> for Failed {
    fn from(e: std::io::Error) -> Self {
        Failed::Spawn(e)
    }
}

/// The `bwrap` executable on the host's `PATH`.
fn find_bwrap() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("bwrap"))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// Read-only files of `/etc` a program may need (dynamic linking, users, time zone, the
/// Debian alternatives that `/usr/bin` links point to); the rest of `/etc` stays hidden.
const ETC: &[&str] = &[
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/localtime",
];

/// bubblewrap's arguments before the program: new namespaces, no capabilities, a
/// read-only minimal root, private `/tmp`, the worktree read-write, and the status
/// descriptor through which bwrap reports whether the program started.
fn sandbox_args(worktree: &Path, status_fd: RawFd) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "--unshare-all",
        "--unshare-user",
        "--cap-drop",
        "ALL",
        "--die-with-parent",
        "--new-session",
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    // /bin, /lib… are links into /usr on merged-/usr systems and directories elsewhere.
    for dir in ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"] {
        match std::fs::symlink_metadata(dir) {
            Ok(m) if m.file_type().is_symlink() => {
                if let Ok(target) = std::fs::read_link(dir) {
                    args.extend(["--symlink".into(), target.into_os_string(), dir.into()]);
                }
            }
            Ok(m) if m.is_dir() => args.extend(["--ro-bind".into(), dir.into(), dir.into()]),
            _ => {}
        }
    }
    for file in ETC {
        args.extend(["--ro-bind-try".into(), (*file).into(), (*file).into()]);
    }
    args.extend(
        ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
            .iter()
            .map(OsString::from),
    );
    // After /tmp, so a worktree below /tmp is bound over the private one.
    let worktree = worktree.as_os_str().to_os_string();
    args.extend([
        "--bind".into(),
        worktree.clone(),
        worktree.clone(),
        "--chdir".into(),
        worktree,
        "--json-status-fd".into(),
        status_fd.to_string().into(),
        "--".into(),
    ]);
    args
}

/// What bwrap wrote on its status descriptor (read once every process is gone).
fn read_status(reader: &mut std::fs::File) -> String {
    let mut text = String::new();
    let mut chunk = [0u8; 4096];
    // Non-blocking: should anything still hold the write end, stop at what is there.
    loop {
        match reader.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.push_str(&String::from_utf8_lossy(&chunk[..n])),
        }
    }
    text
}

/// bwrap's own error lines in the output (`bwrap: …`).
fn bwrap_message(output: &str) -> String {
    let lines: Vec<&str> = output
        .lines()
        .filter(|l| l.starts_with("bwrap: "))
        .collect();
    if lines.is_empty() {
        clipped(output).to_string()
    } else {
        lines.join("; ")
    }
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

/// Longest wait for the supervisor to clean up after a stop before it is killed outright.
const SUPERVISOR_GRACE: Duration = Duration::from_secs(2);

/// Longest wait for the end of the output once every process is gone.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

/// Set in the supervisor by SIGTERM: the host asks it to kill everything and exit.
static SUPERVISOR_STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop(_: libc::c_int) {
    SUPERVISOR_STOP.store(true, Ordering::SeqCst);
}

/// Stops the program: asks the supervisor to kill every descendant and waits for it,
/// then kills its process group outright should it not have exited in time.
fn stop_supervisor(child: &mut Child) {
    // SAFETY: signals the supervisor, our own child.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let until = Instant::now() + SUPERVISOR_GRACE;
    while Instant::now() < until {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    // SAFETY: signals the process group the supervisor leads.
    unsafe {
        libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Writes the decimal digits of `n` after `prefix` into `buf` (NUL-terminated), without
/// allocating: the supervisor runs between fork and exec of a threaded process.
fn path_with_pid(buf: &mut [u8; 64], prefix: &[u8], n: u32, suffix: &[u8]) {
    let mut digits = [0u8; 10];
    let mut len = 0;
    let mut v = n;
    loop {
        digits[len] = b'0' + (v % 10) as u8;
        len += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let mut at = 0;
    for &b in prefix {
        buf[at] = b;
        at += 1;
    }
    for i in (0..len).rev() {
        buf[at] = digits[i];
        at += 1;
    }
    for &b in suffix {
        buf[at] = b;
        at += 1;
    }
    buf[at] = 0;
}

/// In the supervisor: kills every remaining descendant and reaps them all. Orphans are
/// reparented to the supervisor (a subreaper), so killing its children round after round
/// reaches every one. Only async-signal-safe calls.
fn kill_descendants(program_group: libc::pid_t) {
    // SAFETY: plain system calls on our own children and buffers on the stack.
    unsafe {
        libc::kill(-program_group, libc::SIGKILL);
        let mut path = [0u8; 64];
        let me = libc::getpid() as u32;
        path_with_pid(&mut path, b"/proc/self/task/", me, b"/children");
        loop {
            let fd = libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC);
            if fd >= 0 {
                let mut buf = [0u8; 4096];
                loop {
                    let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
                    if n <= 0 {
                        break;
                    }
                    let mut pid: libc::pid_t = 0;
                    for &b in &buf[..n as usize] {
                        if b.is_ascii_digit() {
                            pid = pid * 10 + (b - b'0') as libc::pid_t;
                        } else {
                            if pid > 0 {
                                libc::kill(pid, libc::SIGKILL);
                            }
                            pid = 0;
                        }
                    }
                    if pid > 0 {
                        libc::kill(pid, libc::SIGKILL);
                    }
                }
                libc::close(fd);
            }
            let mut status = 0;
            let reaped = libc::waitpid(-1, &mut status, 0);
            if reaped < 0 && *libc::__errno_location() == libc::ECHILD {
                return;
            }
        }
    }
}

/// Runs in the forked child before `exec`: makes it the supervisor. Forks the program's
/// process (which returns to exec the program), then waits, kills what is left and exits
/// like the program did. Never returns in the supervisor.
fn supervise() -> std::io::Result<()> {
    // SAFETY: between fork and exec only async-signal-safe calls are made: prctl, sigaction,
    // fork, setpgid, close_range, waitpid, kill, open/read/close and _exit.
    unsafe {
        if libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let host = libc::getppid();
        // If the host dies, so does the supervisor (and, through it, the program).
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        if libc::getppid() != host {
            libc::_exit(137);
        }
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_stop as *const () as usize;
        libc::sigemptyset(&mut action.sa_mask);
        // No SA_RESTART: waitpid returns EINTR when the host asks to stop.
        libc::sigaction(libc::SIGTERM, &action, std::ptr::null_mut());
        let program = libc::fork();
        if program < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if program == 0 {
            // The program's process: its own group, killed if the supervisor dies.
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            libc::setpgid(0, 0);
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            return Ok(());
        }
        // Hold nothing of the host: not the output pipe (its end is the program's), not
        // the pipe through which the host learns whether exec succeeded.
        libc::close_range(0, u32::MAX, 0);
        let mut program_status: Option<libc::c_int> = None;
        loop {
            if SUPERVISOR_STOP.load(Ordering::SeqCst) {
                break;
            }
            let mut status = 0;
            let reaped = libc::waitpid(-1, &mut status, 0);
            if reaped == program {
                program_status = Some(status);
                break;
            }
            if reaped < 0 && *libc::__errno_location() == libc::ECHILD {
                break;
            }
        }
        kill_descendants(program);
        match program_status {
            Some(status) if libc::WIFEXITED(status) => libc::_exit(libc::WEXITSTATUS(status)),
            Some(status) if libc::WIFSIGNALED(status) => {
                let signal = libc::WTERMSIG(status);
                libc::signal(signal, libc::SIG_DFL);
                libc::kill(libc::getpid(), signal);
                libc::_exit(128 + signal)
            }
            _ => libc::_exit(137),
        }
    }
}

impl Exec {
    fn run(
        &self,
        run: &RunContext,
        program: &str,
        args: &[String],
        env: &[(String, String)],
    ) -> Result<Ended, Failed> {
        let isolation = self.isolation.clone().map_err(Failed::Isolation)?;
        let (mut reader, writer) = pipe()?;
        // bwrap reports on this pipe whether the program started and how it exited; its
        // write end is moved above the standard descriptors, which the child's set-up
        // overwrites.
        let mut status_pipe: Option<(std::fs::File, OwnedFd)> = None;
        let mut command = match isolation {
            Isolation::None => Command::new(program),
            Isolation::Bwrap => {
                let Some(bwrap) = find_bwrap() else {
                    return Err(Failed::Isolation(
                        "isolation \"bwrap\" is configured but bwrap is not installed (not found on the host's PATH); install bubblewrap (apt-get install bubblewrap) or change the exec capability's isolation".into(),
                    ));
                };
                let (status_reader, status_writer) = pipe()?;
                // SAFETY: duplicates a descriptor we own into a new one we then own.
                let high =
                    unsafe { libc::fcntl(status_writer.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 10) };
                if high < 0 {
                    return Err(std::io::Error::last_os_error().into());
                }
                // SAFETY: `high` is fresh and owned by nobody else.
                let status_writer = unsafe { OwnedFd::from_raw_fd(high) };
                // SAFETY: sets a flag on our own descriptor.
                unsafe {
                    libc::fcntl(status_reader.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK);
                }
                let mut command = Command::new(bwrap);
                command
                    .args(sandbox_args(&self.worktree, high))
                    .arg(program);
                status_pipe = Some((status_reader, status_writer));
                command
            }
        };
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
        let status_fd = status_pipe.as_ref().map(|(_, w)| w.as_raw_fd());
        // SAFETY: `supervise` only makes async-signal-safe calls (see there), and so
        // does fcntl.
        unsafe {
            command.pre_exec(move || {
                supervise()?;
                // In the program's process: bwrap inherits the status descriptor.
                if let Some(fd) = status_fd {
                    if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let spawned = command.spawn();
        // Drop our copies of the write ends, or the readers never see the end.
        drop(command);
        let mut status_reader = status_pipe.map(|(reader, _)| reader);
        let mut child = spawned?;

        let (sender, output) = mpsc::channel();
        let reader_thread = std::thread::spawn(move || {
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
                stop_supervisor(&mut child);
                break None;
            }
            match child.try_wait()? {
                Some(status) => break Some(status),
                None => std::thread::sleep(
                    tick.min(run.guard.wall_remaining())
                        .max(Duration::from_micros(200)),
                ),
            }
        };
        // The supervisor has killed every process the program started, so the output is
        // at its end: the reader finishes and is joined (bounded, should a process the
        // supervisor could not kill still hold the pipe).
        let text = output.recv_timeout(OUTPUT_GRACE).ok();
        if text.is_some() {
            let _ = reader_thread.join();
        }
        match status {
            None => Ok(Ended::Stopped),
            Some(status) => {
                let text = text.unwrap_or_default();
                // Under bwrap, a status without `exit-code` means the program never ran:
                // bwrap could not set up the sandbox or execute the program in it.
                if let Some(reader) = status_reader.as_mut() {
                    if !read_status(reader).contains("\"exit-code\"") {
                        let message = bwrap_message(&text);
                        let code = if !message.contains("bwrap: execvp") {
                            "ERR_EXEC_ISOLATION"
                        } else if message.contains("Permission denied") {
                            "EACCES"
                        } else {
                            "ENOENT"
                        };
                        return Ok(Ended::NotStarted { code, message });
                    }
                }
                Ok(Ended::Exited(status, text))
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
        isolation: host.exec_isolation.clone(),
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
                Err(Failed::Isolation(reason)) => {
                    let message = format!("exec.run: cannot run {what}: {reason}");
                    note(SystemLevel::Warn, &message);
                    Err(throw(
                        &ctx,
                        &message,
                        &[("code", "ERR_EXEC_ISOLATION".into_js(&ctx)?)],
                    ))
                }
                Ok(Ended::NotStarted { code, message }) => {
                    let message = if code == "ERR_EXEC_ISOLATION" {
                        format!(
                            "exec.run: the bwrap sandbox could not be set up for {what}: {message}"
                        )
                    } else {
                        format!("exec.run: cannot run {what} in the bwrap sandbox: {message}")
                    };
                    note(SystemLevel::Warn, &message);
                    Err(throw(&ctx, &message, &[("code", code.into_js(&ctx)?)]))
                }
                Err(Failed::Spawn(e)) => {
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
