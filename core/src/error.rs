//! The one error type of the crate, with the stable codes of the SPEC.

use std::fmt;

/// Stable error codes. The numbers are part of the C ABI: never renumber or reuse one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
#[non_exhaustive]
pub enum ErrorCode {
    /// Missing or invalid argument.
    Validation = 1,
    /// Unknown template id.
    TemplateNotFound = 2,
    /// Unknown session id.
    SessionNotFound = 3,
    /// Unknown execution id.
    ExecutionNotFound = 4,
    /// File missing in the worktree.
    FileNotFound = 5,
    /// Session not `ready`.
    SessionNotReady = 6,
    /// Another execution is running in the session.
    SessionBusy = 7,
    /// Absolute path, traversal, or symlink escape.
    InvalidPath = 8,
    /// `max_events` / `max_output_kb` reached.
    OutputLimitExceeded = 9,
    /// Unknown startup mode.
    StartupModeUnsupported = 10,
    /// Built-in or unknown module name.
    ModuleNotAllowed = 11,
    /// Session startup threw or could not load something.
    StartupFailed = 12,
    /// Anything else: a bug.
    Internal = 13,
    /// No instance has room for another live session.
    NoCapacity = 14,
    /// The store cannot be reached; a retried request may succeed.
    StoreUnavailable = 15,
}

impl ErrorCode {
    /// Every code, in numeric order.
    pub const ALL: [ErrorCode; 15] = [
        ErrorCode::Validation,
        ErrorCode::TemplateNotFound,
        ErrorCode::SessionNotFound,
        ErrorCode::ExecutionNotFound,
        ErrorCode::FileNotFound,
        ErrorCode::SessionNotReady,
        ErrorCode::SessionBusy,
        ErrorCode::InvalidPath,
        ErrorCode::OutputLimitExceeded,
        ErrorCode::StartupModeUnsupported,
        ErrorCode::ModuleNotAllowed,
        ErrorCode::StartupFailed,
        ErrorCode::Internal,
        ErrorCode::NoCapacity,
        ErrorCode::StoreUnavailable,
    ];

    /// The SPEC string, e.g. `"SESSION_BUSY"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Validation => "VALIDATION_ERROR",
            ErrorCode::TemplateNotFound => "TEMPLATE_NOT_FOUND",
            ErrorCode::SessionNotFound => "SESSION_NOT_FOUND",
            ErrorCode::ExecutionNotFound => "EXECUTION_NOT_FOUND",
            ErrorCode::FileNotFound => "FILE_NOT_FOUND",
            ErrorCode::SessionNotReady => "SESSION_NOT_READY",
            ErrorCode::SessionBusy => "SESSION_BUSY",
            ErrorCode::InvalidPath => "INVALID_PATH",
            ErrorCode::OutputLimitExceeded => "OUTPUT_LIMIT_EXCEEDED",
            ErrorCode::StartupModeUnsupported => "STARTUP_MODE_UNSUPPORTED",
            ErrorCode::ModuleNotAllowed => "MODULE_NOT_ALLOWED",
            ErrorCode::StartupFailed => "STARTUP_FAILED",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::NoCapacity => "NO_CAPACITY",
            ErrorCode::StoreUnavailable => "STORE_UNAVAILABLE",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every failure of the library. Match on [`Error::code`] for the stable code.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Missing or invalid argument; the message names it.
    #[error("{0}")]
    Validation(String),
    /// No template has this id.
    #[error("template {0} not found; list_templates() shows the existing ones")]
    TemplateNotFound(String),
    /// No session has this id.
    #[error("session {0} not found; list_sessions() shows the existing ones")]
    SessionNotFound(String),
    /// No execution has this id.
    #[error("execution {0} not found; list_executions(session_id) shows a session's executions")]
    ExecutionNotFound(String),
    /// The file does not exist in the worktree.
    #[error("{message}")]
    FileNotFound {
        /// What is missing.
        message: String,
        /// The session, when the failure happened while starting one.
        session_id: Option<String>,
    },
    /// The session is not `ready`.
    #[error("{message}")]
    SessionNotReady {
        /// What state the session is in and what to do.
        message: String,
        /// The session.
        session_id: String,
    },
    /// Another execution is running in the session.
    #[error(
        "session {session_id} is busy with another execution; retry when it ends or cancel it"
    )]
    SessionBusy {
        /// The busy session.
        session_id: String,
    },
    /// The path is absolute, traverses out of the worktree, or escapes through a symlink.
    #[error("{message}")]
    InvalidPath {
        /// Which path and why.
        message: String,
        /// The session, when the failure happened while starting one.
        session_id: Option<String>,
    },
    /// The execution reached `max_events` or `max_output_kb`.
    #[error("{message}")]
    OutputLimitExceeded {
        /// Which limit.
        message: String,
        /// The stopped execution; its events up to the limit are stored.
        execution_id: String,
    },
    /// The startup mode is not `eval` or `module`.
    #[error("startup mode {0:?} is not supported; use \"eval\" or \"module\"")]
    StartupModeUnsupported(String),
    /// The module name is a JavaScript built-in or not in the catalog.
    #[error("{0}")]
    ModuleNotAllowed(String),
    /// Starting the session failed; the session is `crashed`.
    #[error("{message}")]
    StartupFailed {
        /// What failed and where.
        message: String,
        /// The crashed session.
        session_id: String,
    },
    /// A bug or an unexpected failure of the host (storage, engine).
    #[error("internal error: {0}")]
    Internal(String),
    /// This instance (or, for placement, every instance) already holds as many live
    /// sessions as its capacity allows.
    #[error("{0}")]
    NoCapacity(String),
    /// The store cannot be reached (the database server is down or unreachable); a retried
    /// request may succeed once it is back.
    #[error("store unavailable: {0}")]
    StoreUnavailable(String),
}

impl Error {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Validation(_) => ErrorCode::Validation,
            Error::TemplateNotFound(_) => ErrorCode::TemplateNotFound,
            Error::SessionNotFound(_) => ErrorCode::SessionNotFound,
            Error::ExecutionNotFound(_) => ErrorCode::ExecutionNotFound,
            Error::FileNotFound { .. } => ErrorCode::FileNotFound,
            Error::SessionNotReady { .. } => ErrorCode::SessionNotReady,
            Error::SessionBusy { .. } => ErrorCode::SessionBusy,
            Error::InvalidPath { .. } => ErrorCode::InvalidPath,
            Error::OutputLimitExceeded { .. } => ErrorCode::OutputLimitExceeded,
            Error::StartupModeUnsupported(_) => ErrorCode::StartupModeUnsupported,
            Error::ModuleNotAllowed(_) => ErrorCode::ModuleNotAllowed,
            Error::StartupFailed { .. } => ErrorCode::StartupFailed,
            Error::Internal(_) => ErrorCode::Internal,
            Error::NoCapacity(_) => ErrorCode::NoCapacity,
            Error::StoreUnavailable(_) => ErrorCode::StoreUnavailable,
        }
    }

    /// The session this error is about, where the SPEC says it carries one.
    pub fn session_id(&self) -> Option<&str> {
        match self {
            Error::FileNotFound { session_id, .. } | Error::InvalidPath { session_id, .. } => {
                session_id.as_deref()
            }
            Error::SessionNotReady { session_id, .. }
            | Error::SessionBusy { session_id }
            | Error::StartupFailed { session_id, .. } => Some(session_id),
            _ => None,
        }
    }

    /// The execution this error is about, where the SPEC says it carries one.
    pub fn execution_id(&self) -> Option<&str> {
        match self {
            Error::OutputLimitExceeded { execution_id, .. } => Some(execution_id),
            _ => None,
        }
    }

    pub(crate) fn validation(message: impl Into<String>) -> Self {
        Error::Validation(message.into())
    }

    pub(crate) fn internal(message: impl fmt::Display) -> Self {
        Error::Internal(message.to_string())
    }

    /// Prefixes the human message of a path error (to say which file it was about).
    pub(crate) fn with_message_prefix(self, prefix: &str) -> Self {
        match self {
            Error::FileNotFound {
                message,
                session_id,
            } => Error::FileNotFound {
                message: format!("{prefix}{message}"),
                session_id,
            },
            Error::InvalidPath {
                message,
                session_id,
            } => Error::InvalidPath {
                message: format!("{prefix}{message}"),
                session_id,
            },
            other => other,
        }
    }

    /// Attach a session id to a path error raised while starting that session.
    pub(crate) fn in_session(self, id: &str) -> Self {
        match self {
            Error::FileNotFound { message, .. } => Error::FileNotFound {
                message,
                session_id: Some(id.to_string()),
            },
            Error::InvalidPath { message, .. } => Error::InvalidPath {
                message,
                session_id: Some(id.to_string()),
            },
            other => other,
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Internal(format!("storage: {e}"))
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
