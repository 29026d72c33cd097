//! `fs`: Node-style synchronous file functions confined to the session's worktree.
//!
//! Every path is resolved and opened by the kernel below the worktree in one step
//! ([`Beneath`]), so a link swapped in by a concurrent process cannot lead outside. Only
//! regular files and directories are read or written (a FIFO or device would block or
//! never end), the host's own database files are refused by identity, and a file is
//! sized before it is read: one that cannot fit in the run's `mem_mb` is refused.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use rquickjs::function::Opt;
use rquickjs::{ArrayBuffer, Ctx, IntoJs, Object, TypedArray, Value};

use super::{add_function, host_call, string_arg, throw, type_error, Host};
use crate::paths::{self, Beneath, OpenError, PathError, Protected};
use crate::run::ActiveRun;

struct Fs {
    beneath: Beneath,
    protected: Arc<Protected>,
    active: Arc<ActiveRun>,
}

/// A call in progress: the path as given, its normalised relative form and the run's
/// memory limit in bytes.
struct Call {
    shown: String,
    relative: PathBuf,
    mem_bytes: u64,
}

impl Fs {
    /// Starts a host call of `fs.<function>` on `path`: checks the path lexically (`"."`
    /// is the worktree itself).
    fn enter(&self, ctx: &Ctx<'_>, function: &str, path: &Value<'_>) -> rquickjs::Result<Call> {
        let name = format!("fs.{function}");
        let run = host_call(ctx, &self.active, &name)?;
        let mem_bytes = run.limits.mem_mb.saturating_mul(1 << 20);
        let path = string_arg(ctx, path, &name, "path")?;
        if !path.is_empty()
            && Path::new(&path)
                .components()
                .all(|c| c == Component::CurDir)
        {
            return Ok(Call {
                shown: path,
                relative: PathBuf::from("."),
                mem_bytes,
            });
        }
        match paths::check_relative(&path) {
            Ok(relative) => Ok(Call {
                shown: path,
                relative,
                mem_bytes,
            }),
            Err(PathError::Invalid(message)) => Err(invalid_path(ctx, &name, &message, &path)),
            Err(PathError::NotFound(_)) => {
                Err(os_error(ctx, libc::ENOENT, syscall(function), &path))
            }
        }
    }

    /// Opens the call's path below the worktree.
    fn open(
        &self,
        ctx: &Ctx<'_>,
        function: &str,
        call: &Call,
        flags: libc::c_int,
    ) -> rquickjs::Result<OwnedFd> {
        self.beneath
            .open_inside(&call.shown, &call.relative, flags, 0o666)
            .map_err(|e| open_error(ctx, function, e, &call.shown))
    }

    /// Opens a file to read or write: a regular file that is not the host's database.
    fn open_file(
        &self,
        ctx: &Ctx<'_>,
        function: &str,
        call: &Call,
        flags: libc::c_int,
    ) -> rquickjs::Result<(std::fs::File, std::fs::Metadata)> {
        // O_NONBLOCK: opening a FIFO must not wait for its other end.
        let fd = match self.open(ctx, function, call, flags | libc::O_NONBLOCK) {
            Err(_) if is_special(&self.beneath, call) => {
                return Err(not_regular(ctx, function, &call.shown))
            }
            other => other?,
        };
        let file = std::fs::File::from(fd);
        let meta = file
            .metadata()
            .map_err(|e| io_error(ctx, &e, syscall(function), &call.shown))?;
        if meta.is_dir() {
            return Err(os_error(ctx, libc::EISDIR, "read", &call.shown));
        }
        if !meta.is_file() {
            return Err(not_regular(ctx, function, &call.shown));
        }
        if self.protected.holds(&meta) {
            return Err(throw(
                ctx,
                &format!(
                    "fs.{function}: '{}' is one of the host's own database files; scripts cannot open it",
                    call.shown
                ),
                &[
                    ("code", "EACCES".into_js(ctx)?),
                    ("path", call.shown.as_str().into_js(ctx)?),
                ],
            ));
        }
        // SAFETY: clears O_NONBLOCK on a descriptor we own (no effect on regular files, but
        // a later read or write should not see EAGAIN in any case).
        unsafe {
            let fl = libc::fcntl(file.as_raw_fd(), libc::F_GETFL);
            if fl >= 0 {
                libc::fcntl(file.as_raw_fd(), libc::F_SETFL, fl & !libc::O_NONBLOCK);
            }
        }
        Ok((file, meta))
    }
}

/// Whether the call's path names something other than a regular file or directory (a
/// FIFO with no reader makes a non-blocking open for writing fail with `ENXIO`).
fn is_special(beneath: &Beneath, call: &Call) -> bool {
    beneath
        .open_inside(&call.shown, &call.relative, libc::O_PATH, 0)
        .ok()
        .and_then(|fd| std::fs::File::from(fd).metadata().ok())
        .is_some_and(|m| !m.is_file() && !m.is_dir())
}

fn not_regular(ctx: &Ctx<'_>, function: &str, shown: &str) -> rquickjs::Error {
    let props = (|| {
        Ok::<_, rquickjs::Error>([
            ("code", "EINVAL".into_js(ctx)?),
            ("path", shown.into_js(ctx)?),
        ])
    })();
    match props {
        Ok(props) => throw(
            ctx,
            &format!("fs.{function}: '{shown}' is not a regular file (a FIFO, socket or device); fs reads and writes regular files and directories only"),
            &props,
        ),
        Err(e) => e,
    }
}

fn invalid_path(ctx: &Ctx<'_>, name: &str, message: &str, path: &str) -> rquickjs::Error {
    let props = (|| {
        Ok::<_, rquickjs::Error>([
            ("code", "INVALID_PATH".into_js(ctx)?),
            ("path", path.into_js(ctx)?),
        ])
    })();
    match props {
        Ok(props) => throw(
            ctx,
            &format!("{name}: {message}; fs is confined to the session's worktree"),
            &props,
        ),
        Err(e) => e,
    }
}

fn open_error(ctx: &Ctx<'_>, function: &str, e: OpenError, shown: &str) -> rquickjs::Error {
    match e {
        OpenError::Outside(message) => {
            invalid_path(ctx, &format!("fs.{function}"), &message, shown)
        }
        OpenError::Io(e) => io_error(ctx, &e, syscall(function), shown),
    }
}

/// The system call Node names in its error messages for each function.
fn syscall(function: &str) -> &'static str {
    match function {
        "readFileSync" | "writeFileSync" | "appendFileSync" => "open",
        "readdirSync" => "scandir",
        "mkdirSync" => "mkdir",
        "statSync" => "stat",
        "unlinkSync" => "unlink",
        _ => "access",
    }
}

/// Node's error for a failed system call: `ENOENT: no such file or directory, open 'a.txt'`
/// with `code`, `errno`, `syscall` and `path`.
fn os_error(ctx: &Ctx<'_>, errno: i32, syscall: &str, path: &str) -> rquickjs::Error {
    let (code, text) = match errno {
        libc::ENOENT => ("ENOENT", "no such file or directory"),
        libc::EEXIST => ("EEXIST", "file already exists"),
        libc::ENOTDIR => ("ENOTDIR", "not a directory"),
        libc::EISDIR => ("EISDIR", "illegal operation on a directory"),
        libc::EACCES => ("EACCES", "permission denied"),
        libc::EPERM => ("EPERM", "operation not permitted"),
        libc::ENOTEMPTY => ("ENOTEMPTY", "directory not empty"),
        libc::ENOSPC => ("ENOSPC", "no space left on device"),
        libc::ELOOP => ("ELOOP", "too many symbolic links encountered"),
        libc::ENAMETOOLONG => ("ENAMETOOLONG", "name too long"),
        _ => ("EIO", "i/o error"),
    };
    let props = (|| {
        Ok::<_, rquickjs::Error>([
            ("code", code.into_js(ctx)?),
            ("errno", (-errno).into_js(ctx)?),
            ("syscall", syscall.into_js(ctx)?),
            ("path", path.into_js(ctx)?),
        ])
    })();
    match props {
        Ok(props) => throw(ctx, &format!("{code}: {text}, {syscall} '{path}'"), &props),
        Err(e) => e,
    }
}

fn io_error(ctx: &Ctx<'_>, e: &std::io::Error, syscall: &str, path: &str) -> rquickjs::Error {
    os_error(ctx, e.raw_os_error().unwrap_or(libc::EIO), syscall, path)
}

/// The bytes to write: a string (as UTF-8), a `Uint8Array` or an `ArrayBuffer`.
fn data_arg(ctx: &Ctx<'_>, function: &str, data: &Value<'_>) -> rquickjs::Result<Vec<u8>> {
    if let Some(s) = data.as_string() {
        return Ok(s.to_string()?.into_bytes());
    }
    if let Ok(array) = TypedArray::<u8>::from_value(data.clone()) {
        // SAFETY: the bytes are copied before any JavaScript runs again.
        return Ok(unsafe { array.as_bytes() }
            .map(<[u8]>::to_vec)
            .unwrap_or_default());
    }
    if let Some(buffer) = ArrayBuffer::from_value(data.clone()) {
        // SAFETY: as above.
        return Ok(unsafe { buffer.as_bytes() }
            .map(<[u8]>::to_vec)
            .unwrap_or_default());
    }
    Err(type_error(
        ctx,
        &format!(
            "fs.{function}: the \"data\" argument must be a string, Uint8Array or ArrayBuffer, got {}",
            data.type_name()
        ),
    ))
}

/// The encoding of `readFileSync`: from a string or `{encoding}`; default `utf8`.
fn encoding_arg(ctx: &Ctx<'_>, options: Option<Value<'_>>) -> rquickjs::Result<String> {
    let value = match options {
        Some(v) if v.is_object() => v
            .as_object()
            .map(|o| o.get::<_, Value>("encoding"))
            .transpose()?,
        other => other,
    };
    match value {
        None => Ok("utf8".into()),
        Some(v) if v.is_undefined() || v.is_null() => Ok("utf8".into()),
        Some(v) => Ok(string_arg(ctx, &v, "fs.readFileSync", "encoding")?.to_ascii_lowercase()),
    }
}

fn decode(ctx: &Ctx<'_>, bytes: Vec<u8>, encoding: &str) -> rquickjs::Result<String> {
    Ok(match encoding {
        "utf8" | "utf-8" => match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        },
        "latin1" | "binary" => bytes.iter().map(|&b| b as char).collect(),
        "hex" => bytes.iter().map(|b| format!("{b:02x}")).collect(),
        "base64" => base64(&bytes),
        other => {
            return Err(type_error(
                ctx,
                &format!(
                    "fs.readFileSync: unknown encoding '{other}'; use utf8, latin1, hex or base64"
                ),
            ))
        }
    })
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// How many bytes of JavaScript string `size` bytes of file become in `encoding`, at most.
fn decoded_size(size: u64, encoding: &str) -> u64 {
    match encoding {
        "hex" => size.saturating_mul(2),
        "base64" => size.div_ceil(3).saturating_mul(4),
        _ => size,
    }
}

/// Reads a whole file of `expected` bytes, refusing more than `limit` (it may grow while
/// being read).
fn read_capped(
    ctx: &Ctx<'_>,
    file: std::fs::File,
    expected: u64,
    limit: u64,
    shown: &str,
) -> rquickjs::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(expected.min(limit) as usize);
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(ctx, &e, "read", shown))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(ctx, shown, bytes.len() as u64, limit));
    }
    Ok(bytes)
}

fn too_large(ctx: &Ctx<'_>, shown: &str, size: u64, limit: u64) -> rquickjs::Error {
    let props = (|| {
        Ok::<_, rquickjs::Error>([
            ("code", "ERR_FS_FILE_TOO_LARGE".into_js(ctx)?),
            ("path", shown.into_js(ctx)?),
        ])
    })();
    match props {
        Ok(props) => throw(
            ctx,
            &format!(
                "fs.readFileSync: '{shown}' ({size} bytes once decoded) does not fit in the execution's memory limit (mem_mb, {limit} bytes)"
            ),
            &props,
        ),
        Err(e) => e,
    }
}

/// Builds the `fs` module object.
pub(super) fn create<'js>(
    ctx: &Ctx<'js>,
    host: &Host,
    active: Arc<ActiveRun>,
) -> rquickjs::Result<Object<'js>> {
    let beneath = Beneath::open(&host.worktree).map_err(|e| {
        rquickjs::Error::new_from_js_message(
            "worktree",
            "fs",
            format!("cannot open the worktree: {e}"),
        )
    })?;
    let fs = Arc::new(Fs {
        beneath,
        protected: host.protected.clone(),
        active,
    });
    let module = Object::new(ctx.clone())?;

    let this = fs.clone();
    add_function(
        &module,
        "readFileSync",
        move |ctx: Ctx<'js>,
              path: Value<'js>,
              options: Opt<Value<'js>>|
              -> rquickjs::Result<String> {
            let call = this.enter(&ctx, "readFileSync", &path)?;
            let encoding = encoding_arg(&ctx, options.0)?;
            let (file, meta) = this.open_file(&ctx, "readFileSync", &call, libc::O_RDONLY)?;
            // Sized before reading: nothing that cannot fit in mem_mb is read into the host.
            let limit = call.mem_bytes;
            let decoded = decoded_size(meta.len(), &encoding);
            if decoded > limit {
                return Err(too_large(&ctx, &call.shown, decoded, limit));
            }
            let bytes = read_capped(&ctx, file, meta.len(), limit, &call.shown)?;
            decode(&ctx, bytes, &encoding)
        },
    )?;

    for (name, append) in [("writeFileSync", false), ("appendFileSync", true)] {
        let this = fs.clone();
        add_function(
            &module,
            name,
            move |ctx: Ctx<'js>, path: Value<'js>, data: Opt<Value<'js>>| -> rquickjs::Result<()> {
                let call = this.enter(&ctx, name, &path)?;
                let data = data.0.unwrap_or_else(|| Value::new_undefined(ctx.clone()));
                let bytes = data_arg(&ctx, name, &data)?;
                // No O_TRUNC: the file is checked before anything in it changes.
                let flags =
                    libc::O_WRONLY | libc::O_CREAT | if append { libc::O_APPEND } else { 0 };
                let (mut file, _) = this.open_file(&ctx, name, &call, flags)?;
                if !append {
                    file.set_len(0)
                        .map_err(|e| io_error(&ctx, &e, "open", &call.shown))?;
                }
                file.write_all(&bytes)
                    .map_err(|e| io_error(&ctx, &e, "write", &call.shown))
            },
        )?;
    }

    let this = fs.clone();
    add_function(
        &module,
        "existsSync",
        move |ctx: Ctx<'js>, path: Value<'js>| -> rquickjs::Result<bool> {
            let call = this.enter(&ctx, "existsSync", &path)?;
            match this
                .beneath
                .open_inside(&call.shown, &call.relative, libc::O_PATH, 0)
            {
                Ok(_) => Ok(true),
                Err(OpenError::Io(_)) => Ok(false),
                Err(e) => Err(open_error(&ctx, "existsSync", e, &call.shown)),
            }
        },
    )?;

    let this = fs.clone();
    add_function(
        &module,
        "readdirSync",
        move |ctx: Ctx<'js>, path: Value<'js>| -> rquickjs::Result<Vec<String>> {
            let call = this.enter(&ctx, "readdirSync", &path)?;
            let dir = this.open(
                &ctx,
                "readdirSync",
                &call,
                libc::O_RDONLY | libc::O_DIRECTORY,
            )?;
            let mut names =
                list_dir(dir).map_err(|e| io_error(&ctx, &e, "scandir", &call.shown))?;
            names.sort();
            Ok(names)
        },
    )?;

    let this = fs.clone();
    add_function(
        &module,
        "mkdirSync",
        move |ctx: Ctx<'js>, path: Value<'js>, options: Opt<Value<'js>>| -> rquickjs::Result<()> {
            let call = this.enter(&ctx, "mkdirSync", &path)?;
            let recursive = match options.0.as_ref().and_then(Value::as_object) {
                Some(o) => o.get::<_, Option<bool>>("recursive")?.unwrap_or(false),
                None => false,
            };
            let fail = |e: OpenError| open_error(&ctx, "mkdirSync", e, &call.shown);
            if !recursive {
                let (dir, name) = this.beneath.parent_inside(&call.relative).map_err(fail)?;
                return mkdir_at(&dir, &name).map_err(|e| io_error(&ctx, &e, "mkdir", &call.shown));
            }
            // Each level is created in its parent, opened below the worktree.
            let mut prefix = PathBuf::new();
            for component in call.relative.components() {
                prefix.push(component);
                let (dir, name) = this.beneath.parent_inside(&prefix).map_err(fail)?;
                match mkdir_at(&dir, &name) {
                    Ok(()) => {}
                    Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                        let shown = prefix.to_string_lossy();
                        let fd = this
                            .beneath
                            .open_inside(&shown, &prefix, libc::O_PATH, 0)
                            .map_err(fail)?;
                        let meta = std::fs::File::from(fd)
                            .metadata()
                            .map_err(|e| io_error(&ctx, &e, "mkdir", &call.shown))?;
                        if !meta.is_dir() {
                            return Err(os_error(&ctx, libc::EEXIST, "mkdir", &call.shown));
                        }
                    }
                    Err(e) => return Err(io_error(&ctx, &e, "mkdir", &call.shown)),
                }
            }
            Ok(())
        },
    )?;

    let this = fs.clone();
    add_function(
        &module,
        "statSync",
        move |ctx: Ctx<'js>, path: Value<'js>| -> rquickjs::Result<Object<'js>> {
            let call = this.enter(&ctx, "statSync", &path)?;
            let fd = this.open(&ctx, "statSync", &call, libc::O_PATH)?;
            let meta = std::fs::File::from(fd)
                .metadata()
                .map_err(|e| io_error(&ctx, &e, "stat", &call.shown))?;
            let stat = Object::new(ctx.clone())?;
            stat.set("size", meta.len() as f64)?;
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs_f64() * 1000.0)
                .unwrap_or(0.0);
            stat.set("mtimeMs", mtime)?;
            let (is_file, is_dir) = (meta.is_file(), meta.is_dir());
            add_function(&stat, "isFile", move || is_file)?;
            add_function(&stat, "isDirectory", move || is_dir)?;
            Ok(stat)
        },
    )?;

    let this = fs;
    add_function(
        &module,
        "unlinkSync",
        move |ctx: Ctx<'js>, path: Value<'js>| -> rquickjs::Result<()> {
            let call = this.enter(&ctx, "unlinkSync", &path)?;
            // Removes the entry itself (a link, not what it points to), in its parent
            // opened below the worktree.
            let (dir, name) = this
                .beneath
                .parent_inside(&call.relative)
                .map_err(|e| open_error(&ctx, "unlinkSync", e, &call.shown))?;
            if let Ok(meta) = stat_at(&dir, &name) {
                if this.protected.holds(&meta) {
                    return Err(throw(
                        &ctx,
                        &format!("fs.unlinkSync: '{}' is one of the host's own database files; scripts cannot remove it", call.shown),
                        &[("code", "EACCES".into_js(&ctx)?)],
                    ));
                }
            }
            unlink_at(&dir, &name).map_err(|e| io_error(&ctx, &e, "unlink", &call.shown))
        },
    )?;

    Ok(module)
}

fn cvt(rc: libc::c_int) -> std::io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn mkdir_at(dir: &OwnedFd, name: &std::ffi::CStr) -> std::io::Result<()> {
    // SAFETY: a valid directory descriptor and a NUL-terminated name.
    cvt(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o777) })
}

fn unlink_at(dir: &OwnedFd, name: &std::ffi::CStr) -> std::io::Result<()> {
    // SAFETY: as above; unlinkat never follows the last component.
    cvt(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) })
}

/// The entry itself (not what a link points to), as metadata.
fn stat_at(dir: &OwnedFd, name: &std::ffi::CStr) -> std::io::Result<std::fs::Metadata> {
    use std::os::fd::FromRawFd;
    // SAFETY: O_PATH|O_NOFOLLOW opens the entry itself, even a symlink, without touching
    // what it points to; the descriptor is owned by the File below.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fresh descriptor.
    unsafe { std::fs::File::from_raw_fd(fd) }.metadata()
}

/// The names in an open directory (without `.` and `..`).
fn list_dir(dir: OwnedFd) -> std::io::Result<Vec<String>> {
    use std::os::fd::IntoRawFd;
    // SAFETY: fdopendir takes ownership of the descriptor; closedir releases both.
    unsafe {
        let raw = dir.into_raw_fd();
        let stream = libc::fdopendir(raw);
        if stream.is_null() {
            let e = std::io::Error::last_os_error();
            libc::close(raw);
            return Err(e);
        }
        let mut names = Vec::new();
        loop {
            *libc::__errno_location() = 0;
            let entry = libc::readdir(stream);
            if entry.is_null() {
                let errno = *libc::__errno_location();
                libc::closedir(stream);
                if errno != 0 {
                    return Err(std::io::Error::from_raw_os_error(errno));
                }
                return Ok(names);
            }
            let name = std::ffi::CStr::from_ptr((*entry).d_name.as_ptr());
            let bytes = name.to_bytes();
            if bytes != b"." && bytes != b".." {
                names.push(String::from_utf8_lossy(bytes).into_owned());
            }
        }
    }
}
