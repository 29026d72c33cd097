//! `vm-system ops …`: daemon health and what it holds.

use super::{print, Api, Out, Outcome};

/// `vm-system ops …`
#[derive(clap::Subcommand)]
pub enum OpsCommand {
    /// Check the daemon is up.
    Health,
    /// Live sessions of the daemon.
    RuntimeSummary,
}

/// Runs one `ops` command.
pub fn run(api: &Api, out: &mut Out, command: OpsCommand) -> Outcome {
    match command {
        OpsCommand::Health => out.emit(&api.get("/health")?, print::pretty),
        OpsCommand::RuntimeSummary => out.emit(&api.get("/runtime/summary")?, print::pretty_sorted),
    }
    Ok(())
}
