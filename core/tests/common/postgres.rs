//! A private PostgreSQL cluster for tests: `initdb` into a temporary directory, a loopback
//! port, torn down when dropped. Used by the core's tests and, through `#[path]`, by the
//! program's (`cli/tests`).
//!
//! Where PostgreSQL is not installed the tests that need it skip with a message saying how to
//! install it, unless `VM_SYSTEM_REQUIRE_POSTGRES=1` (set by `make test`, so CI never skips).
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// A running private cluster. Dropping it stops the server and removes its directory.
pub struct PgCluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

const INSTALL_HINT: &str = "PostgreSQL is not installed: these tests need its server \
    binaries (Debian/Ubuntu: `sudo apt-get install postgresql`; or set VM_SYSTEM_PG_BIN to \
    the directory holding initdb and pg_ctl)";

impl PgCluster {
    /// Starts a cluster, or returns `None` (after printing why) where PostgreSQL is missing
    /// and `VM_SYSTEM_REQUIRE_POSTGRES` is not set.
    pub fn start_or_skip() -> Option<PgCluster> {
        match find_bin() {
            Some(bin) => Some(PgCluster::start_with(bin)),
            None if std::env::var_os("VM_SYSTEM_REQUIRE_POSTGRES").is_some() => {
                panic!("VM_SYSTEM_REQUIRE_POSTGRES is set but {INSTALL_HINT}")
            }
            None => {
                eprintln!("skipped: {INSTALL_HINT}");
                None
            }
        }
    }

    fn start_with(bin: PathBuf) -> PgCluster {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "vm-system-pg-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the cluster directory");
        if as_root() {
            // initdb refuses to run as root: the cluster belongs to the `postgres` user.
            let status = Command::new("chown")
                .arg("postgres:")
                .arg(&dir)
                .status()
                .expect("run chown");
            assert!(status.success(), "chown postgres {}", dir.display());
        }
        let cluster = PgCluster {
            bin,
            dir,
            port: free_port(),
        };
        let data = cluster.data_dir();
        cluster.run_tool(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        // In the configuration file rather than on the command line, so that a benchmark
        // can turn it on (`ALTER SYSTEM`, a reload) for durable commits.
        let conf = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).expect("read postgresql.conf");
        text.push_str("\nfsync = off\n");
        std::fs::write(&conf, text).expect("write postgresql.conf");
        cluster.pg_ctl("start");
        cluster.watch_this_process();
        cluster
    }

    /// One cluster for the whole test binary, started on first use (`None` where
    /// PostgreSQL is missing, as [`start_or_skip`](Self::start_or_skip)). Statics are
    /// never dropped: it is stopped and removed when the process exits (an `atexit`
    /// handler), and by its watchdog if the process is killed.
    pub fn shared() -> Option<&'static PgCluster> {
        static SHARED: OnceLock<Option<PgCluster>> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                let cluster = PgCluster::start_or_skip()?;
                extern "C" fn stop_shared() {
                    if let Some(Some(cluster)) = SHARED.get() {
                        cluster.stop_and_remove();
                    }
                }
                // SAFETY: registering a plain function with no preconditions.
                unsafe { libc_atexit(stop_shared) };
                Some(cluster)
            })
            .as_ref()
    }

    /// A process that stops this cluster once the test process is gone, however it went
    /// (a panic that aborts, a SIGKILL): no cluster outlives its tests.
    fn watch_this_process(&self) {
        let stop = self.stop_command().join(" ");
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            dir = self.dir.display()
        );
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
    }

    /// The command line that stops the server at once.
    fn stop_command(&self) -> Vec<String> {
        let data = self.data_dir();
        let program = self.bin.join("pg_ctl");
        let mut command = Vec::new();
        if as_root() {
            command.extend(["runuser", "-u", "postgres", "--"].map(String::from));
        }
        command.push(program.display().to_string());
        command.extend(["stop", "-D"].map(String::from));
        command.push(data.display().to_string());
        command.extend(["-m", "immediate", "-w"].map(String::from));
        command
    }

    fn stop_and_remove(&self) {
        let command = self.stop_command();
        let _ = Command::new(&command[0])
            .args(&command[1..])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// The superuser URL of database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates an empty database and returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""));
        self.url(name)
    }

    /// A new empty database with a unique name.
    pub fn fresh_database(&self) -> String {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        self.create_database(&format!("t{}", SEQ.fetch_add(1, Ordering::Relaxed)))
    }

    /// Runs one SQL command with psql and returns its unaligned, tuples-only output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let port = self.port.to_string();
        let out = self.run_tool(
            "psql",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-d",
                db,
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-c",
                sql,
            ],
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Stops the server (fast: connections are cut) and starts it again on the same port.
    pub fn restart(&self) {
        self.pg_ctl("stop");
        self.pg_ctl("start");
    }

    /// Stops the server, leaving the data directory for a later `start`.
    pub fn stop(&self) {
        self.pg_ctl("stop");
    }

    /// Starts a stopped server again.
    pub fn start(&self) {
        self.pg_ctl("start");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn pg_ctl(&self, action: &str) {
        let data = self.data_dir();
        let log = self.dir.join("server.log");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
            self.port,
            self.dir.display()
        );
        let mut args = vec![
            action,
            "-D",
            data.to_str().unwrap(),
            "-w",
            "-t",
            "30",
            "-m",
            "fast",
        ];
        if action == "start" {
            args.extend(["-l", log.to_str().unwrap(), "-o", &options]);
        }
        self.run_tool("pg_ctl", &args);
    }

    /// Runs one of the cluster's programs (as `postgres` when we are root); panics with its
    /// output on failure.
    fn run_tool(&self, tool: &str, args: &[&str]) -> Output {
        let program = self.bin.join(tool);
        let mut command = if as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let out = command
            .args(args)
            .current_dir(&self.dir)
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.stop_and_remove();
    }
}

/// The directory with `initdb` and `pg_ctl`: `VM_SYSTEM_PG_BIN`, else Debian's
/// `/usr/lib/postgresql/<newest>/bin`, else wherever `initdb` is on PATH.
fn find_bin() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("VM_SYSTEM_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let debian = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(debian)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|d| d.join("initdb").exists() && d.join("pg_ctl").exists())
    })
}

fn as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc_geteuid() == 0 }
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
    #[link_name = "atexit"]
    fn libc_atexit(f: extern "C" fn()) -> i32;
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
