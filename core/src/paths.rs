//! Confining paths to a session's worktree: lexical checks first, then every existing
//! component resolved, so neither `..` nor a symlink can lead outside.

use std::path::{Component, Path, PathBuf};

use crate::error::Error;

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PathError {
    /// Absolute, traversing or escaping through a symlink: `INVALID_PATH`.
    Invalid(String),
    /// Missing, empty or not a file: `FILE_NOT_FOUND`.
    NotFound(String),
}

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathError::Invalid(m) | PathError::NotFound(m) => f.write_str(m),
        }
    }
}

impl From<PathError> for Error {
    fn from(e: PathError) -> Self {
        match e {
            PathError::Invalid(message) => Error::InvalidPath {
                message,
                session_id: None,
            },
            PathError::NotFound(message) => Error::FileNotFound {
                message,
                session_id: None,
            },
        }
    }
}

/// Checks that `path` is relative and never climbs above its starting point.
/// Returns the normalised relative path.
pub(crate) fn check_relative(path: &str) -> Result<PathBuf, PathError> {
    if path.is_empty() {
        return Err(PathError::NotFound("path is empty".into()));
    }
    if path.contains('\0') {
        return Err(PathError::Invalid(format!(
            "path {path:?} contains a NUL byte"
        )));
    }
    let p = Path::new(path);
    if p.is_absolute() || path.starts_with('\\') {
        return Err(PathError::Invalid(format!(
            "path {path:?} is absolute; give a path relative to the worktree"
        )));
    }
    let mut normal = PathBuf::new();
    for component in p.components() {
        match component {
            Component::Normal(c) => normal.push(c),
            Component::CurDir => {}
            Component::ParentDir => {
                if !normal.pop() {
                    return Err(PathError::Invalid(format!(
                        "path {path:?} leaves the worktree through '..'"
                    )));
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(PathError::Invalid(format!("path {path:?} is absolute")))
            }
        }
    }
    if path.split(['/', '\\']).any(|c| c == "..") {
        return Err(PathError::Invalid(format!(
            "path {path:?} uses '..'; give a path inside the worktree without traversal"
        )));
    }
    if normal.as_os_str().is_empty() {
        return Err(PathError::NotFound(format!("path {path:?} names no file")));
    }
    Ok(normal)
}

/// Resolves `path` to an existing regular file inside `worktree` (which must be canonical).
pub(crate) fn resolve_existing_file(worktree: &Path, path: &str) -> Result<PathBuf, PathError> {
    let resolved = resolve_inside(worktree, path)?;
    match std::fs::metadata(&resolved) {
        Ok(m) if m.is_file() => Ok(resolved),
        Ok(_) => Err(PathError::NotFound(format!("{path:?} is not a file"))),
        Err(_) => Err(PathError::NotFound(format!(
            "file {path:?} not found in the worktree"
        ))),
    }
}

/// Resolves `path` inside `worktree` (canonical), following symlinks of every existing
/// component; the part that does not exist yet is appended as is. Fails when any
/// existing component resolves outside the worktree.
pub(crate) fn resolve_inside(worktree: &Path, path: &str) -> Result<PathBuf, PathError> {
    let relative = check_relative(path)?;
    let mut current = worktree.to_path_buf();
    let mut components = relative.components().peekable();
    while let Some(component) = components.next() {
        let next = current.join(component);
        match std::fs::symlink_metadata(&next) {
            Ok(_) => {
                let canonical = next.canonicalize().map_err(|_| {
                    PathError::Invalid(format!(
                        "path {path:?} goes through a link that cannot be resolved"
                    ))
                })?;
                if !canonical.starts_with(worktree) {
                    return Err(PathError::Invalid(format!(
                        "path {path:?} resolves outside the worktree through a symlink"
                    )));
                }
                current = canonical;
            }
            Err(_) => {
                current = next;
                for rest in components.by_ref() {
                    current.push(rest);
                }
                break;
            }
        }
    }
    Ok(current)
}

/// Makes the absolute `path` relative to `worktree` when it lies inside it.
pub(crate) fn relative_to(worktree: &Path, path: &Path) -> Option<String> {
    path.strip_prefix(worktree)
        .ok()
        .map(|p| p.to_string_lossy().replace('\\', "/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join("src/a.js"), "1").unwrap();
        (dir, root)
    }

    #[test]
    fn lexical_checks() {
        assert!(matches!(
            check_relative("/etc/passwd"),
            Err(PathError::Invalid(_))
        ));
        assert!(matches!(
            check_relative("../x.js"),
            Err(PathError::Invalid(_))
        ));
        assert!(matches!(
            check_relative("a/../../x.js"),
            Err(PathError::Invalid(_))
        ));
        assert!(matches!(
            check_relative("a/../x.js"),
            Err(PathError::Invalid(_))
        ));
        assert!(matches!(check_relative(""), Err(PathError::NotFound(_))));
        assert!(matches!(check_relative("."), Err(PathError::NotFound(_))));
        assert_eq!(
            check_relative("./src//a.js").unwrap(),
            PathBuf::from("src/a.js")
        );
    }

    #[test]
    fn resolves_files_and_refuses_escapes() {
        let (_d, root) = tree();
        assert_eq!(
            resolve_existing_file(&root, "src/a.js").unwrap(),
            root.join("src/a.js")
        );
        assert!(matches!(
            resolve_existing_file(&root, "src/b.js"),
            Err(PathError::NotFound(_))
        ));
        assert!(matches!(
            resolve_existing_file(&root, "src"),
            Err(PathError::NotFound(_))
        ));
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.js"), "1").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("link")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.js"), root.join("s.js")).unwrap();
        assert!(matches!(
            resolve_existing_file(&root, "link/secret.js"),
            Err(PathError::Invalid(_))
        ));
        assert!(matches!(
            resolve_existing_file(&root, "s.js"),
            Err(PathError::Invalid(_))
        ));
        assert!(matches!(
            resolve_inside(&root, "link/new.txt"),
            Err(PathError::Invalid(_))
        ));
        std::os::unix::fs::symlink(root.join("src/a.js"), root.join("inner.js")).unwrap();
        assert_eq!(
            resolve_existing_file(&root, "inner.js").unwrap(),
            root.join("src/a.js")
        );
    }
}
