//! Session records.

use napi_derive::napi;

/// A session: a live runtime built from a template, bound to a worktree.
#[napi(object, use_nullable = true)]
pub struct Session {
    /// UUID.
    pub id: String,
    /// The template it was built from.
    pub template_id: String,
    /// Caller's workspace identifier.
    pub workspace_id: String,
    /// Caller's commit id.
    pub base_commit_oid: String,
    /// Absolute, canonical worktree directory.
    pub worktree_path: String,
    /// `starting`, `ready`, `crashed` or `closed`.
    #[napi(ts_type = "SessionStatus")]
    pub status: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// When it was closed (or found lost).
    pub closed_at: Option<String>,
    /// Why it crashed or was lost.
    pub last_error: Option<String>,
    /// The instance that holds (or held) its runtime (`VmSystem.daemonId` there).
    pub daemon_id: String,
}

impl From<vm_system::Session> for Session {
    fn from(s: vm_system::Session) -> Self {
        let vm_system::Session {
            id,
            template_id,
            workspace_id,
            base_commit_oid,
            worktree_path,
            status,
            created_at,
            closed_at,
            last_error,
            daemon_id,
        } = s;
        Session {
            id,
            template_id,
            workspace_id,
            base_commit_oid,
            worktree_path,
            status: status.as_str().to_string(),
            created_at,
            closed_at,
            last_error,
            daemon_id,
        }
    }
}

/// The live sessions of this process.
#[napi(object)]
pub struct RuntimeSummary {
    /// How many sessions hold a runtime in this process.
    pub active_sessions: u32,
    /// Their ids, sorted.
    pub active_session_ids: Vec<String>,
}

impl From<vm_system::RuntimeSummary> for RuntimeSummary {
    fn from(s: vm_system::RuntimeSummary) -> Self {
        let vm_system::RuntimeSummary {
            active_sessions,
            active_session_ids,
        } = s;
        RuntimeSummary {
            active_sessions: active_sessions as u32,
            active_session_ids,
        }
    }
}
