//! A small pool of PostgreSQL connections, each with its prepared statements, and the one
//! place that decides what a failure means: the server gone (the connection is dropped, the
//! call retried on a new one for a bounded time, then `STORE_UNAVAILABLE`) or anything else.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use postgres::types::ToSql;
use postgres::{Client, GenericClient, NoTls, Row, Statement};

use crate::error::Error;

/// How long a call keeps retrying while the server cannot be reached (a restart takes
/// about a second) before it fails with `STORE_UNAVAILABLE`.
pub(super) const RETRY_FOR: Duration = Duration::from_secs(3);

/// Pause between two attempts while the server is away.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Idle connections kept for reuse (more are opened while many threads work at once).
const IDLE: usize = 8;

/// A failure inside a store call: of the database, or of the request itself (a record not
/// found, a value refused), which is returned as it is.
pub(super) enum Failure {
    Db(postgres::Error),
    Domain(Error),
}

impl From<postgres::Error> for Failure {
    fn from(e: postgres::Error) -> Self {
        Failure::Db(e)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Domain(e)
    }
}

pub(super) type Attempt<T> = std::result::Result<T, Failure>;

/// Whether an error means the server cannot be reached (rather than a refused statement).
pub(super) fn unreachable(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(state) = e.code() {
        let code = state.code();
        // 08: connection exception; 57P01-03: the server is shutting down or starting.
        return code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03");
    }
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        if inner.is::<std::io::Error>() {
            return true;
        }
        source = inner.source();
    }
    e.to_string().starts_with("error connecting")
}

/// The error a caller sees for a database failure.
pub(super) fn to_error(e: &postgres::Error) -> Error {
    if unreachable(e) {
        Error::StoreUnavailable(format!("PostgreSQL cannot be reached: {}", describe(e)))
    } else {
        Error::Internal(format!("storage: {}", describe(e)))
    }
}

/// The server's message (with its detail) when there is one, else the client's.
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_string(),
        },
        None => match std::error::Error::source(e) {
            Some(inner) => format!("{e}: {inner}"),
            None => e.to_string(),
        },
    }
}

/// One connection and the statements prepared on it.
pub(super) struct Conn {
    client: Client,
    statements: HashMap<&'static str, Statement>,
}

impl Conn {
    /// Runs `f` on the connection outside a transaction (each statement commits alone).
    pub fn auto<T>(&mut self, f: impl FnOnce(&mut Db<'_, Client>) -> Attempt<T>) -> Attempt<T> {
        f(&mut Db {
            client: &mut self.client,
            statements: &mut self.statements,
        })
    }

    /// Runs `f` in one transaction, committed when it returns `Ok`.
    pub fn transaction<T>(
        &mut self,
        f: impl FnOnce(&mut Db<'_, postgres::Transaction<'_>>) -> Attempt<T>,
    ) -> Attempt<T> {
        let mut tx = self.client.transaction()?;
        let out = f(&mut Db {
            client: &mut tx,
            statements: &mut self.statements,
        })?;
        tx.commit()?;
        Ok(out)
    }
}

/// A client (a connection or a transaction on it) with the connection's statement cache.
pub(super) struct Db<'a, C: GenericClient> {
    client: &'a mut C,
    statements: &'a mut HashMap<&'static str, Statement>,
}

impl<C: GenericClient> Db<'_, C> {
    fn statement(&mut self, sql: &'static str) -> Result<Statement, postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.statements.insert(sql, statement.clone());
        Ok(statement)
    }

    pub fn query(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, postgres::Error> {
        let statement = self.statement(sql)?;
        self.client.query(&statement, params)
    }

    pub fn query_opt(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, postgres::Error> {
        let statement = self.statement(sql)?;
        self.client.query_opt(&statement, params)
    }

    pub fn query_one(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, postgres::Error> {
        let statement = self.statement(sql)?;
        self.client.query_one(&statement, params)
    }

    pub fn execute(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        let statement = self.statement(sql)?;
        self.client.execute(&statement, params)
    }

    /// Runs SQL without parameters (several statements allowed), not prepared.
    pub fn batch(&mut self, sql: &str) -> Result<(), postgres::Error> {
        self.client.batch_execute(sql)
    }
}

/// Connections to one database, opened on demand and reused.
pub(super) struct Pool {
    config: postgres::Config,
    idle: Mutex<Vec<Conn>>,
}

impl Pool {
    pub fn new(url: &str) -> Result<Self, Error> {
        let mut config: postgres::Config = url.parse().map_err(|e| {
            Error::validation(format!(
                "cannot open the PostgreSQL store: the URL is not valid ({e}); expected \
                 postgres://user:password@host:port/database"
            ))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("vm-system");
        }
        Ok(Pool {
            config,
            idle: Mutex::new(Vec::new()),
        })
    }

    fn take(&self) -> Result<Conn, postgres::Error> {
        if let Some(conn) = self.idle.lock().pop() {
            return Ok(conn);
        }
        Ok(Conn {
            client: self.config.connect(NoTls)?,
            statements: HashMap::new(),
        })
    }

    fn give_back(&self, conn: Conn) {
        if conn.client.is_closed() {
            return;
        }
        let mut idle = self.idle.lock();
        if idle.len() < IDLE {
            idle.push(conn);
        }
    }

    /// Runs `f` on a connection. While the server cannot be reached, the connection is
    /// dropped and `f` runs again on a new one (each call's writes are one transaction, or
    /// idempotent, so a retry never writes twice), for up to [`RETRY_FOR`]; then
    /// `STORE_UNAVAILABLE`.
    pub fn run<T>(&self, mut f: impl FnMut(&mut Conn) -> Attempt<T>) -> Result<T, Error> {
        self.run_for(RETRY_FOR, &mut f)
    }

    /// [`run`](Self::run) with its own retry time (zero: one attempt).
    pub fn run_for<T>(
        &self,
        retry_for: Duration,
        mut f: impl FnMut(&mut Conn) -> Attempt<T>,
    ) -> Result<T, Error> {
        let deadline = Instant::now() + retry_for;
        let mut fresh = false;
        loop {
            let failure = match self.take() {
                Ok(mut conn) => match f(&mut conn) {
                    Ok(out) => {
                        self.give_back(conn);
                        return Ok(out);
                    }
                    Err(Failure::Domain(e)) => {
                        self.give_back(conn);
                        return Err(e);
                    }
                    Err(Failure::Db(e)) if !unreachable(&e) => {
                        // A refused statement rolled its transaction back; the connection
                        // stays usable.
                        self.give_back(conn);
                        return Err(to_error(&e));
                    }
                    // A broken connection is dropped here, not given back.
                    Err(Failure::Db(e)) => e,
                },
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(to_error(&failure));
            }
            // Idle connections opened before a restart are all broken: drop them, and
            // retry at once the first time (a live server answers a new connection).
            if !fresh {
                self.idle.lock().clear();
                fresh = true;
            } else {
                std::thread::sleep(RETRY_PAUSE);
            }
        }
    }
}
