//! `fs`: Node-style synchronous file functions confined to the session's worktree.

use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use rquickjs::function::Opt;
use rquickjs::{ArrayBuffer, Ctx, IntoJs, Object, TypedArray, Value};

use super::{add_function, host_call, string_arg, throw, type_error, Host};
use crate::engine::ActiveRun;
use crate::paths::{self, PathError};

struct Fs {
    worktree: PathBuf,
    active: Arc<ActiveRun>,
}

impl Fs {
    /// Starts a host call of `fs.<function>` on `path`: the run, and the path resolved
    /// inside the worktree (`"."` is the worktree itself).
    fn enter(
        &self,
        ctx: &Ctx<'_>,
        function: &str,
        path: &Value<'_>,
    ) -> rquickjs::Result<(String, PathBuf)> {
        let name = format!("fs.{function}");
        host_call(ctx, &self.active, &name)?;
        let path = string_arg(ctx, path, &name, "path")?;
        if !path.is_empty()
            && Path::new(&path)
                .components()
                .all(|c| c == Component::CurDir)
        {
            return Ok((path, self.worktree.clone()));
        }
        match paths::resolve_inside(&self.worktree, &path) {
            Ok(resolved) => Ok((path, resolved)),
            Err(PathError::Invalid(message)) => Err(throw(
                ctx,
                &format!("{name}: {message}; fs is confined to the session's worktree"),
                &[
                    ("code", "INVALID_PATH".into_js(ctx)?),
                    ("path", path.as_str().into_js(ctx)?),
                ],
            )),
            Err(PathError::NotFound(_)) => {
                Err(os_error(ctx, libc::ENOENT, syscall(function), &path))
            }
        }
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

fn write(
    ctx: &Ctx<'_>,
    function: &str,
    resolved: &Path,
    shown: &str,
    bytes: &[u8],
    append: bool,
) -> rquickjs::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true);
    if append {
        options.append(true);
    } else {
        options.write(true).truncate(true);
    }
    options
        .open(resolved)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| io_error(ctx, &e, syscall(function), shown))
}

/// Builds the `fs` module object.
pub(super) fn create<'js>(
    ctx: &Ctx<'js>,
    host: &Host,
    active: Arc<ActiveRun>,
) -> rquickjs::Result<Object<'js>> {
    let fs = Arc::new(Fs {
        worktree: host.worktree.clone(),
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
            let (shown, resolved) = this.enter(&ctx, "readFileSync", &path)?;
            let encoding = encoding_arg(&ctx, options.0)?;
            let bytes = std::fs::read(&resolved).map_err(|e| io_error(&ctx, &e, "open", &shown))?;
            decode(&ctx, bytes, &encoding)
        },
    )?;

    for (name, append) in [("writeFileSync", false), ("appendFileSync", true)] {
        let this = fs.clone();
        add_function(
            &module,
            name,
            move |ctx: Ctx<'js>, path: Value<'js>, data: Opt<Value<'js>>| -> rquickjs::Result<()> {
                let (shown, resolved) = this.enter(&ctx, name, &path)?;
                let data = data.0.unwrap_or_else(|| Value::new_undefined(ctx.clone()));
                let bytes = data_arg(&ctx, name, &data)?;
                write(&ctx, name, &resolved, &shown, &bytes, append)
            },
        )?;
    }

    let this = fs.clone();
    add_function(
        &module,
        "existsSync",
        move |ctx: Ctx<'js>, path: Value<'js>| -> rquickjs::Result<bool> {
            let (_, resolved) = this.enter(&ctx, "existsSync", &path)?;
            Ok(resolved.exists())
        },
    )?;

    let this = fs.clone();
    add_function(
        &module,
        "readdirSync",
        move |ctx: Ctx<'js>, path: Value<'js>| -> rquickjs::Result<Vec<String>> {
            let (shown, resolved) = this.enter(&ctx, "readdirSync", &path)?;
            let entries =
                std::fs::read_dir(&resolved).map_err(|e| io_error(&ctx, &e, "scandir", &shown))?;
            let mut names = Vec::new();
            for entry in entries {
                let entry = entry.map_err(|e| io_error(&ctx, &e, "scandir", &shown))?;
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
            names.sort();
            Ok(names)
        },
    )?;

    let this = fs.clone();
    add_function(
        &module,
        "mkdirSync",
        move |ctx: Ctx<'js>, path: Value<'js>, options: Opt<Value<'js>>| -> rquickjs::Result<()> {
            let (shown, resolved) = this.enter(&ctx, "mkdirSync", &path)?;
            let recursive = match options.0.as_ref().and_then(Value::as_object) {
                Some(o) => o.get::<_, Option<bool>>("recursive")?.unwrap_or(false),
                None => false,
            };
            let made = if recursive {
                std::fs::create_dir_all(&resolved)
            } else {
                std::fs::create_dir(&resolved)
            };
            made.map_err(|e| io_error(&ctx, &e, "mkdir", &shown))
        },
    )?;

    let this = fs.clone();
    add_function(
        &module,
        "statSync",
        move |ctx: Ctx<'js>, path: Value<'js>| -> rquickjs::Result<Object<'js>> {
            let (shown, resolved) = this.enter(&ctx, "statSync", &path)?;
            let meta =
                std::fs::metadata(&resolved).map_err(|e| io_error(&ctx, &e, "stat", &shown))?;
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
            let (shown, resolved) = this.enter(&ctx, "unlinkSync", &path)?;
            // Remove the entry itself (a link inside the worktree, not what it points to);
            // `enter` has checked that the whole path stays inside.
            let entry = match paths::check_relative(&shown) {
                Ok(normal) => match (normal.parent(), normal.file_name()) {
                    (Some(parent), Some(name)) if !parent.as_os_str().is_empty() => {
                        match paths::resolve_inside(&this.worktree, &parent.to_string_lossy()) {
                            Ok(dir) => dir.join(name),
                            Err(_) => resolved,
                        }
                    }
                    (_, Some(name)) => this.worktree.join(name),
                    _ => resolved,
                },
                Err(_) => resolved,
            };
            std::fs::remove_file(&entry).map_err(|e| io_error(&ctx, &e, "unlink", &shown))
        },
    )?;

    Ok(module)
}
