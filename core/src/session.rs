//! Session records and their lifecycle states.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Where a session is in its life: `starting → ready | crashed`, `ready → closed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionStatus {
    /// Runtime being built, startup files running.
    Starting,
    /// Accepting executions.
    Ready,
    /// Startup failed; see `last_error`.
    Crashed,
    /// Closed by the user, or its runtime was lost.
    Closed,
}

impl SessionStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Starting => "starting",
            SessionStatus::Ready => "ready",
            SessionStatus::Crashed => "crashed",
            SessionStatus::Closed => "closed",
        }
    }

    /// Parses a status name; anything else is `VALIDATION_ERROR`.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "starting" => SessionStatus::Starting,
            "ready" => SessionStatus::Ready,
            "crashed" => SessionStatus::Crashed,
            "closed" => SessionStatus::Closed,
            other => {
                return Err(Error::validation(format!(
                    "session status {other:?} is not one of starting, ready, crashed, closed"
                )))
            }
        })
    }

    /// Whether a runtime is (supposed to be) alive.
    pub fn is_live(self) -> bool {
        matches!(self, SessionStatus::Starting | SessionStatus::Ready)
    }
}

/// A session record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// UUID.
    pub id: String,
    /// The template it was built from (which may since have been deleted).
    pub template_id: String,
    /// Caller's workspace identifier; stored, not interpreted.
    pub workspace_id: String,
    /// Caller's commit id; stored, not interpreted.
    pub base_commit_oid: String,
    /// Absolute, canonical worktree directory: the sandbox boundary for files.
    pub worktree_path: String,
    /// Lifecycle state.
    pub status: SessionStatus,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// When it was closed (or found lost).
    pub closed_at: Option<String>,
    /// Why it crashed or was lost.
    pub last_error: Option<String>,
    /// The instance that holds (or held) its runtime: [`VmSystem::daemon_id`] of the
    /// `VmSystem` that built it.
    ///
    /// [`VmSystem::daemon_id`]: crate::VmSystem::daemon_id
    pub daemon_id: String,
}

/// The live sessions of this process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeSummary {
    /// How many sessions hold a runtime in this process.
    pub active_sessions: usize,
    /// Their ids, sorted.
    pub active_session_ids: Vec<String>,
}
