//! `vm-system session …`: live runtimes.

use serde_json::json;

use super::api::segment;
use super::{print, Api, Failure, Out, Outcome};

/// `vm-system session …`
#[derive(clap::Subcommand)]
pub enum SessionCommand {
    /// Create a session: builds the runtime, loads libraries, runs the startup files.
    Create {
        /// Template id.
        #[arg(long)]
        template_id: String,
        /// Your own workspace label (stored, not interpreted).
        #[arg(long)]
        workspace_id: String,
        /// The git commit the worktree is at (stored, not interpreted).
        #[arg(long)]
        base_commit: String,
        /// Directory the session's files resolve in (a relative path is made absolute
        /// against this command's working directory).
        #[arg(long)]
        worktree_path: String,
    },
    /// List sessions, newest first.
    List {
        /// Only sessions in this status: starting, ready, crashed or closed.
        #[arg(long)]
        status: Option<String>,
    },
    /// Show a session.
    Get {
        /// Session id.
        session_id: String,
    },
    /// Close a session (ends its running execution, frees its runtime).
    Close {
        /// Session id.
        session_id: String,
    },
}

/// Runs one `session` command.
pub fn run(api: &Api, out: &mut Out, command: SessionCommand) -> Outcome {
    match command {
        SessionCommand::Create {
            template_id,
            workspace_id,
            base_commit,
            worktree_path,
        } => {
            // The daemon resolves paths in its own directory; the user means theirs.
            let worktree = if worktree_path.is_empty() {
                worktree_path
            } else {
                std::path::absolute(&worktree_path)
                    .map_err(|e| Failure::Usage(format!("--worktree-path {worktree_path}: {e}")))?
                    .to_string_lossy()
                    .into_owned()
            };
            let body = json!({
                "template_id": template_id,
                "workspace_id": workspace_id,
                "base_commit_oid": base_commit,
                "worktree_path": worktree,
            });
            out.emit(&api.post("/sessions", &body)?, print::session_created);
        }
        SessionCommand::List { status } => {
            let path = match status.as_deref() {
                Some(s) if !s.is_empty() => format!("/sessions?status={}", segment(s)),
                _ => "/sessions".to_string(),
            };
            out.emit(&api.get(&path)?, print::session_list);
        }
        SessionCommand::Get { session_id } => out.emit(
            &api.get(&format!("/sessions/{}", segment(&session_id)))?,
            print::session_detail,
        ),
        SessionCommand::Close { session_id } => {
            let v = api.post(
                &format!("/sessions/{}/close", segment(&session_id)),
                &json!({}),
            )?;
            out.emit(&v, |w, _| print::session_closed(w, &session_id));
        }
    }
    Ok(())
}
