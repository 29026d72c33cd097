//! `vm-system libs …`: the local library cache, through the core's installer (`npm pack`
//! or a local copy, checked against the catalog's SHA-256). Like the original, these
//! commands work on this machine's cache and need no daemon; `serve --library-cache`
//! (default the same `.vm-cache/libraries`) is where the daemon loads them from.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use vm_system::{LibraryInfo, OpenOptions, VmSystem};

use super::{print, Failure, Out, Outcome};

/// `vm-system libs [--library-cache DIR] …`
#[derive(clap::Args)]
pub struct LibsArgs {
    /// Folder of installed libraries (the daemon's `serve --library-cache`).
    #[arg(long, global = true, default_value = ".vm-cache/libraries")]
    library_cache: PathBuf,
    #[command(subcommand)]
    command: LibsCommand,
}

/// `vm-system libs …`
#[derive(clap::Subcommand)]
pub enum LibsCommand {
    /// Install catalog libraries into the cache (all of them unless names are given);
    /// those already installed and intact are kept.
    Download {
        /// Install from local files in this folder (`<name>.js`, or the package's file
        /// name such as `lodash.min.js`) instead of `npm pack`.
        #[arg(long)]
        from: Option<PathBuf>,
        /// Only these catalog names, e.g. `lodash-4.17.21`.
        names: Vec<String>,
    },
    /// The library catalog.
    List,
    /// What the cache holds.
    CacheInfo,
}

/// Runs one `libs` command.
pub fn run(out: &mut Out, args: LibsArgs) -> Outcome {
    match args.command {
        LibsCommand::Download { from, names } => {
            download(out, &args.library_cache, from.as_deref(), &names)
        }
        LibsCommand::List => {
            out.emit(&to_json(&vm_system::library::available()), print::catalog);
            Ok(())
        }
        LibsCommand::CacheInfo => {
            let vm = open(&args.library_cache)?;
            let mut installed = to_json(&vm.installed_libraries().map_err(core)?);
            for lib in installed.as_array_mut().into_iter().flatten() {
                let path = lib.get("path").and_then(Value::as_str).unwrap_or("");
                let modified = std::fs::metadata(path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_secs());
                lib["modified"] = Value::from(modified);
            }
            out.emit(&installed, print::cache_info);
            Ok(())
        }
    }
}

fn download(out: &mut Out, cache: &Path, from: Option<&Path>, names: &[String]) -> Outcome {
    let vm = open(cache)?;
    let catalog = vm.available_libraries();
    let wanted: Vec<&LibraryInfo> = if names.is_empty() {
        catalog.iter().collect()
    } else {
        names
            .iter()
            .map(|n| {
                catalog.iter().find(|l| &l.name == n).ok_or_else(|| {
                    let known: Vec<&str> = catalog.iter().map(|l| l.name.as_str()).collect();
                    Failure::Usage(format!(
                        "library {n:?} is not in the catalog; available: {}",
                        known.join(", ")
                    ))
                })
            })
            .collect::<Result<_, _>>()?
    };
    let present: HashSet<String> = vm
        .installed_libraries()
        .map_err(core)?
        .into_iter()
        .map(|l| l.name)
        .collect();
    if !out.is_json() {
        out.text(|w| print::download_heading(w, &cache.to_string_lossy()));
    }
    let progress = print::progress_wanted();
    let total = wanted.len();
    let mut failures = Vec::new();
    for (i, lib) in wanted.iter().enumerate() {
        let step = i + 1;
        if present.contains(&lib.name) {
            if progress {
                print::progress(step, total, &lib.name, "already installed");
            }
            continue;
        }
        let local = match from {
            Some(dir) => match local_copy(dir, lib) {
                Ok(path) => Some(path),
                Err(message) => {
                    if progress {
                        print::progress(step, total, &lib.name, &format!("failed: {message}"));
                    }
                    failures.push(message);
                    continue;
                }
            },
            None => None,
        };
        if progress {
            print::progress(step, total, &lib.name, "installing");
        }
        match vm.install_library(&lib.name, local.as_deref()) {
            Ok(done) => {
                if progress {
                    let state = format!("installed ({} bytes)", done.size);
                    print::progress(step, total, &lib.name, &state);
                }
            }
            Err(e) => {
                if progress {
                    print::progress(step, total, &lib.name, &format!("failed: {e}"));
                }
                failures.push(e.to_string());
            }
        }
    }
    let installed = to_json(&vm.installed_libraries().map_err(core)?);
    out.emit(&installed, print::download_done);
    match failures.first() {
        None => Ok(()),
        Some(first) => Err(Failure::Failed(format!(
            "failed to install {} of {total} libraries: {first}",
            failures.len()
        ))),
    }
}

/// The local file for `lib` in `dir`: `<name>.js` (a cache folder), the package file's
/// base name, or its path inside an unpacked package.
fn local_copy(dir: &Path, lib: &LibraryInfo) -> Result<PathBuf, String> {
    let base = Path::new(&lib.file)
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_default();
    let candidates = [
        dir.join(format!("{}.js", lib.name)),
        dir.join(&base),
        dir.join(&lib.file),
        dir.join("package").join(&lib.file),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            format!(
                "no local copy of {} in {} (looked for {}.js and {})",
                lib.name,
                dir.display(),
                lib.name,
                lib.file
            )
        })
}

fn open(cache: &Path) -> Result<VmSystem, Failure> {
    VmSystem::open_in_memory_with(OpenOptions {
        library_cache: Some(cache.to_path_buf()),
        ..OpenOptions::default()
    })
    .map_err(core)
}

fn core(e: vm_system::Error) -> Failure {
    Failure::Failed(e.to_string())
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}
