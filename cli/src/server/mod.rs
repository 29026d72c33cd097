//! The daemon: `vm-system serve`.

use std::process::ExitCode;

use crate::client::GlobalArgs;

/// Flags of `vm-system serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3210")]
    pub listen: String,
}

/// Runs the daemon until SIGINT/SIGTERM.
pub fn serve(_global: &GlobalArgs, _args: ServeArgs) -> ExitCode {
    eprintln!("vm-system serve: not built yet");
    ExitCode::from(1)
}
