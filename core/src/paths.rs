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

/// The host's own database files (the `VmSystem`'s store: the file and its `-wal`,
/// `-shm` and `-journal`), which no script may open. Matched by identity (device and
/// inode, looked up afresh at each check since SQLite recreates its side files), so a
/// hard link or another name for the same file is refused too.
#[derive(Debug, Clone, Default)]
pub(crate) struct Protected {
    files: Vec<PathBuf>,
}

impl Protected {
    /// Protects the database at `path` and its side files (nothing for an in-memory store).
    pub fn store(path: Option<&Path>) -> Self {
        let Some(path) = path else {
            return Protected::default();
        };
        let mut files = vec![path.to_path_buf()];
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            files.push(PathBuf::from(name));
        }
        Protected { files }
    }

    /// Whether the file `meta` describes is one of the protected files.
    pub fn holds(&self, meta: &std::fs::Metadata) -> bool {
        use std::os::unix::fs::MetadataExt;
        self.files.iter().any(|f| {
            std::fs::metadata(f).is_ok_and(|m| m.dev() == meta.dev() && m.ino() == meta.ino())
        })
    }
}

/// A worktree opened as a directory: every path below it is resolved and opened in one
/// step by the kernel (`openat2` with `RESOLVE_BENEATH`), so no `..`, absolute symlink or
/// link swapped in by a concurrent process can lead outside between a check and the use.
#[derive(Debug)]
pub(crate) struct Beneath {
    root: std::os::fd::OwnedFd,
    worktree: PathBuf,
}

/// Why [`Beneath::open_inside`] failed.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// The path leads outside the worktree.
    Outside(String),
    /// The system call failed (`ENOENT`, `EISDIR`, ...).
    Io(std::io::Error),
}

impl Beneath {
    /// Opens the (canonical) worktree.
    pub fn open(worktree: &Path) -> std::io::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(worktree)?;
        Ok(Beneath {
            root: dir.into(),
            worktree: worktree.to_path_buf(),
        })
    }

    /// Opens `path` (as the script gave it; `relative` is its normalised form) like
    /// [`Beneath::open_at`]. The kernel refuses absolute symlinks under `RESOLVE_BENEATH`,
    /// even those pointing inside the worktree: such a path is resolved once more through
    /// the links and opened again below the worktree, so the final open is always checked.
    pub fn open_inside(
        &self,
        path: &str,
        relative: &Path,
        flags: libc::c_int,
        mode: libc::mode_t,
    ) -> Result<std::os::fd::OwnedFd, OpenError> {
        let outside = || OpenError::Outside(format!("path {path:?} resolves outside the worktree"));
        match self.open_at(relative, flags, mode) {
            Ok(fd) => Ok(fd),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EXDEV) | Some(libc::ELOOP)) => {
                let resolved = match resolve_inside(&self.worktree, path) {
                    Ok(resolved) => resolved,
                    Err(PathError::Invalid(message)) => return Err(OpenError::Outside(message)),
                    Err(PathError::NotFound(_)) => return Err(OpenError::Io(e)),
                };
                let inner = resolved
                    .strip_prefix(&self.worktree)
                    .map_err(|_| outside())?;
                let inner = if inner.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    inner
                };
                match self.open_at(inner, flags, mode) {
                    Err(e) if e.raw_os_error() == Some(libc::EXDEV) => Err(outside()),
                    other => other.map_err(OpenError::Io),
                }
            }
            Err(e) => Err(OpenError::Io(e)),
        }
    }

    /// [`Beneath::parent_of`] with the resolution of [`Beneath::open_inside`].
    pub fn parent_inside(
        &self,
        relative: &Path,
    ) -> Result<(std::os::fd::OwnedFd, std::ffi::CString), OpenError> {
        use std::os::unix::ffi::OsStrExt;
        let name = relative
            .file_name()
            .and_then(|n| std::ffi::CString::new(n.as_bytes()).ok())
            .ok_or_else(|| OpenError::Io(std::io::Error::from_raw_os_error(libc::EINVAL)))?;
        let parent = match relative.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => {
                return Ok((
                    self.open_at(Path::new("."), libc::O_PATH | libc::O_DIRECTORY, 0)
                        .map_err(OpenError::Io)?,
                    name,
                ))
            }
        };
        let shown = parent.to_string_lossy();
        let dir = self.open_inside(&shown, parent, libc::O_PATH | libc::O_DIRECTORY, 0)?;
        Ok((dir, name))
    }

    /// Opens `relative` (already checked by [`check_relative`], or `"."`) below the
    /// worktree with `flags` (`O_CLOEXEC` and `O_NOCTTY` are added). A path that would
    /// resolve outside fails with `EXDEV`; a magic link (`/proc/self/...`) with `ELOOP`.
    pub fn open_at(
        &self,
        relative: &Path,
        flags: libc::c_int,
        mode: libc::mode_t,
    ) -> std::io::Result<std::os::fd::OwnedFd> {
        use std::os::fd::{AsRawFd, FromRawFd};
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::CString::new(relative.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: `open_how` is plain data; all-zero is its empty value.
        let mut how: libc::open_how = unsafe { std::mem::zeroed() };
        // openat2 refuses any flag but O_CLOEXEC, O_DIRECTORY and O_NOFOLLOW with O_PATH.
        let extra = if flags & libc::O_PATH != 0 {
            libc::O_CLOEXEC
        } else {
            libc::O_CLOEXEC | libc::O_NOCTTY
        };
        how.flags = (flags | extra) as u64;
        if flags & libc::O_CREAT != 0 {
            how.mode = mode as u64;
        }
        how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;
        loop {
            // SAFETY: openat2 reads `how` (of the size passed) and the NUL-terminated name.
            let fd = unsafe {
                libc::syscall(
                    libc::SYS_openat2,
                    self.root.as_raw_fd(),
                    name.as_ptr(),
                    &how as *const libc::open_how,
                    std::mem::size_of::<libc::open_how>(),
                )
            };
            if fd >= 0 {
                // SAFETY: a fresh descriptor that nothing else owns.
                return Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as libc::c_int) });
            }
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) | Some(libc::EAGAIN) => continue,
                _ => return Err(e),
            }
        }
    }
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
