//! # vm-system
//!
//! Runs JavaScript in managed, sandboxed QuickJS runtimes and records every run in SQLite.
//!
//! * A **template** says what a runtime may do: limits, startup files, native modules,
//!   libraries, resolver and runtime settings.
//! * A **session** is a live runtime built from a template, bound to a worktree; state
//!   persists across runs.
//! * An **execution** is one run (a REPL snippet, a file, a startup file) with a numbered,
//!   persisted stream of events.
//!
//! ```
//! use vm_system::VmSystem;
//!
//! let vm = VmSystem::open_in_memory()?;
//! let template = vm.create_template("demo", "quickjs")?;
//! let dir = std::env::temp_dir();
//! let session = vm.create_session(&template.id, "ws", "abc123", dir.to_str().unwrap())?;
//! let exec = vm.repl(&session.id, "console.log('hi'); 40 + 2")?;
//! assert_eq!(exec.value(), Some(&serde_json::json!(42)));
//! for event in vm.events(&exec.id, 0)? {
//!     println!("{} {} {}", event.seq, event.event_type.as_str(), event.payload);
//! }
//! # Ok::<(), vm_system::Error>(())
//! ```

mod engine;
mod error;
mod event;
mod execution;
mod follow;
mod id;
pub mod library;
mod limits;
mod membership;
pub mod modules;
mod owner;
mod paths;
mod routes;
mod run;
mod session;
mod store;
mod system;
mod template;
mod timestamp;

pub use error::{Error, ErrorCode, Result};
pub use event::{Event, EventType, CONSOLE_LEVELS};
pub use execution::{Execution, ExecutionKind, ExecutionStatus, Metrics};
pub use follow::{FollowItem, FollowPoll, Follower};
pub use library::{InstalledLibrary, LibraryInfo};
pub use limits::with_interrupt_check;
pub use membership::{DaemonInfo, Location, Placement};
pub use modules::ModuleInfo;
pub use run::EventWatcher;
pub use session::{RuntimeSummary, Session, SessionStatus};
pub use system::{OpenOptions, VmSystem, DEFAULT_HEARTBEAT_TIMEOUT};
pub use template::{
    Capability, Limits, Resolver, RuntimeSettings, Settings, StartupFile, StartupMode, Template,
    TemplateDetail, UnhandledRejections, CAPABILITY_KINDS, ENGINE_QUICKJS,
};

#[cfg(test)]
mod tests {
    #[test]
    fn vm_system_is_send_and_sync() {
        fn shareable<T: Send + Sync + Clone>() {}
        shareable::<crate::VmSystem>();
    }
}

/// The README's Rust quick start, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
