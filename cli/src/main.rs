//! `vm-system`: the daemon (`serve`) and the CLI that drives it over the REST API.
//! The command tree lives here; `server/` and `client/` do the work; neither holds rules
//! of its own (those live in the `vm-system` core crate).

mod client;
mod server;

use clap::{Parser, Subcommand};

/// Runs JavaScript in managed, sandboxed QuickJS runtimes and records every run.
#[derive(Parser)]
#[command(name = "vm-system", version, about, after_help = client::EXIT_STATUS_HELP)]
struct Cli {
    #[command(flatten)]
    global: client::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: sessions in memory, records in the database, REST API and web console.
    Serve(server::ServeArgs),
    #[command(flatten)]
    Client(client::ClientCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => server::serve(&cli.global, args),
        Command::Client(command) => client::run(&cli.global, command),
    }
}
