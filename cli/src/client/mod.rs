//! The CLI's client commands: each turns a command line into REST calls and prints the
//! answer (text by `print.rs`, or the API's JSON with `--output json`).
//!
//! Exit status, for every client command:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the API answered with an error (`Error: api error (status=N, code=C): message` on stderr), the daemon could not be reached, or a local step failed (`libs download`) |
//! | 2 | a usage error: a bad flag or argument (clap's convention), or a flag value that is not valid JSON |
//! | 3 | an execution that `exec repl`, `exec run-file` or `exec events --follow` waited for ended `error`, `timeout` or `cancelled` (its events are still printed) |

mod api;
mod exec;
mod libs;
mod ops;
mod print;
mod session;
mod template;

use std::process::ExitCode;

pub use api::Api;
pub use print::Out;

/// Text of the exit-status table, shown under `--help`.
pub const EXIT_STATUS_HELP: &str = "\
Exit status:
  0  success
  1  API error (`Error: api error (status=N, code=C): message` on stderr), daemon
     unreachable, or a local failure (`libs download`)
  2  usage error (bad flag, argument, or JSON flag value)
  3  the execution waited for ended error, timeout or cancelled (events still printed)";

/// Flags accepted before or after any subcommand.
#[derive(clap::Args)]
pub struct GlobalArgs {
    /// The daemon's URL (client commands).
    #[arg(
        long,
        global = true,
        env = "VM_SYSTEM_SERVER_URL",
        default_value = "http://127.0.0.1:3210"
    )]
    pub server_url: String,
    /// Database file (used by `serve`; accepted and ignored by client commands).
    #[arg(
        long,
        global = true,
        env = "VM_SYSTEM_DB",
        default_value = "vm-system.db"
    )]
    pub db: String,
    /// Bearer token: `serve` requires it of every API request; client commands send it.
    #[arg(long, global = true, env = "VM_SYSTEM_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// What client commands print: `text` (the lines scripts of the original parse) or
    /// `json` (the API's JSON, one document).
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// The `--output` choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Human- and script-readable lines.
    Text,
    /// The API's JSON.
    Json,
}

/// The client command groups.
#[derive(clap::Subcommand)]
pub enum ClientCommand {
    /// Templates: what a runtime may do (settings, startup files, modules, libraries).
    #[command(subcommand)]
    Template(template::TemplateCommand),
    /// Sessions: live runtimes built from a template, bound to a worktree.
    #[command(subcommand)]
    Session(session::SessionCommand),
    /// Executions: run code in a session, read its events, cancel it.
    #[command(subcommand)]
    Exec(exec::ExecCommand),
    /// The local library cache: install catalog libraries, list them.
    Libs(libs::LibsArgs),
    /// Daemon health and runtime summary.
    #[command(subcommand)]
    Ops(ops::OpsCommand),
}

/// Why a client command did not succeed; each maps to one exit status.
#[derive(Debug)]
pub enum Failure {
    /// The API answered with an error status (exit 1).
    Api {
        /// HTTP status.
        status: u16,
        /// The envelope's `error.code`, when the body was an envelope.
        code: Option<String>,
        /// The envelope's `error.message`.
        message: Option<String>,
    },
    /// No daemon answered at the URL (exit 1).
    Unreachable {
        /// The daemon URL tried.
        url: String,
        /// What the transport said.
        reason: String,
    },
    /// Any other failure: transport, a bad answer, a local step (exit 1).
    Failed(String),
    /// A flag value the command cannot use (exit 2).
    Usage(String),
    /// The execution waited for ended `error`, `timeout` or `cancelled` (exit 3); its
    /// lines are already printed.
    Ended,
}

impl Failure {
    /// The process exit status of this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Api { .. } | Failure::Unreachable { .. } | Failure::Failed(_) => 1,
            Failure::Usage(_) => 2,
            Failure::Ended => 3,
        }
    }
}

/// What a command returns.
pub type Outcome = Result<(), Failure>;

/// Runs one client command.
pub fn run(global: &GlobalArgs, command: ClientCommand) -> ExitCode {
    let api = Api::new(global);
    let mut out = Out::new(global.output);
    let outcome = match command {
        ClientCommand::Template(c) => template::run(&api, &mut out, c),
        ClientCommand::Session(c) => session::run(&api, &mut out, c),
        ClientCommand::Exec(c) => exec::run(&api, &mut out, c),
        ClientCommand::Libs(c) => libs::run(&mut out, c),
        ClientCommand::Ops(c) => ops::run(&api, &mut out, c),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            print::failure(&failure);
            ExitCode::from(failure.exit_code())
        }
    }
}
