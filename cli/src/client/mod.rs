//! The CLI's client commands: each turns a command line into REST calls and prints the
//! answer (text by `print.rs`, or the API's JSON with `--output json`).

use std::process::ExitCode;

/// Flags accepted before or after any subcommand.
#[derive(clap::Args)]
pub struct GlobalArgs {
    /// The daemon's URL.
    #[arg(long, global = true, env = "VM_SYSTEM_SERVER_URL", default_value = "http://127.0.0.1:3210")]
    pub server_url: String,
    /// Database file (used by `serve`; accepted and ignored by client commands).
    #[arg(long, global = true, env = "VM_SYSTEM_DB", default_value = "vm-system.db")]
    pub db: String,
}

/// The client command groups.
#[derive(clap::Subcommand)]
pub enum ClientCommand {
    /// Daemon health and runtime summary.
    #[command(subcommand)]
    Ops(OpsCommand),
}

/// `vm-system ops …`
#[derive(clap::Subcommand)]
pub enum OpsCommand {
    /// Check the daemon is up.
    Health,
}

/// Runs one client command.
pub fn run(_global: &GlobalArgs, _command: ClientCommand) -> ExitCode {
    eprintln!("vm-system client: not built yet");
    ExitCode::from(1)
}
