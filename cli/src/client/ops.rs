//! `vm-system ops …`: daemon health, what it holds, and the daemons sharing its store.

use super::{print, Api, Out, Outcome};

/// `vm-system ops …`
#[derive(clap::Subcommand)]
pub enum OpsCommand {
    /// Check the daemon is up.
    Health,
    /// Live sessions of the daemon.
    RuntimeSummary,
    /// The daemons sharing this daemon's store (one on a SQLite file): id, advertised URL,
    /// started, last heartbeat, capacity, live sessions, alive. `*` marks the one asked.
    Daemons,
}

/// Runs one `ops` command.
pub fn run(api: &Api, out: &mut Out, command: OpsCommand) -> Outcome {
    match command {
        OpsCommand::Health => out.emit(&api.get("/health")?, print::pretty),
        OpsCommand::RuntimeSummary => out.emit(&api.get("/runtime/summary")?, print::pretty_sorted),
        OpsCommand::Daemons => out.emit(&api.get("/daemons")?, print::daemons),
    }
    Ok(())
}
