//! [`VmSystem`]: the entry point. Holds the storage and the live sessions of this process,
//! and implements every operation of the SPEC on top of them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use serde_json::{json, Value as Json};

use crate::engine::{ActiveRun, Code, Engine, Outcome};
use crate::error::{Error, Result};
use crate::event::{EventType, SystemLevel};
use crate::execution::{Execution, ExecutionKind, ExecutionStatus, Metrics};
use crate::follow::{FollowItem, Follower};
use crate::library::{self, InstalledLibrary, LibraryInfo};
use crate::limits::StopReason;
use crate::membership::{self, DaemonInfo, Heartbeat, IdHistory, Location, Placement};
use crate::modules::{self, ModuleInfo};
use crate::owner;
use crate::paths;
use crate::routes::Routes;
use crate::run::{EventWatcher, RunContext};
use crate::session::{RuntimeSummary, Session, SessionStatus};
use crate::store::{NameTable, Owner, Registration, Store};
use crate::template::{
    require_non_empty, validate_capability, validate_engine, Capability, Settings, StartupFile,
    StartupMode, Template, TemplateDetail,
};
use crate::{timestamp, Event};

/// Options for [`VmSystem::open_with`].
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Folder of installed libraries; default `.vm-cache/libraries/` beside the database
    /// (in the working directory for an in-memory database or a PostgreSQL store).
    pub library_cache: Option<PathBuf>,
    /// The URL other daemons use to reach this instance. `None`: this instance is never
    /// chosen by another daemon's placement and never forwarded to.
    pub advertise_url: Option<String>,
    /// Most live (`starting` or `ready`) sessions this instance builds; `None`: unlimited.
    /// A `create_session` past it fails with `NO_CAPACITY`.
    pub capacity: Option<u32>,
    /// How long a member of a shared store may go without a heartbeat before it counts as
    /// dead (default [`DEFAULT_HEARTBEAT_TIMEOUT`]).
    pub heartbeat_timeout: Option<Duration>,
}

/// The heartbeat timeout when [`OpenOptions::heartbeat_timeout`] is `None`.
pub const DEFAULT_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(5);

/// What an instance says of itself as a member of its store.
#[derive(Debug, Clone)]
struct MemberOptions {
    advertise_url: Option<String>,
    capacity: Option<u32>,
    heartbeat_timeout: Duration,
}

impl MemberOptions {
    fn from(options: &OpenOptions) -> Result<Self> {
        if options.capacity == Some(0) {
            return Err(Error::validation(
                "capacity must be at least 1 (or None for unlimited)",
            ));
        }
        let heartbeat_timeout = options
            .heartbeat_timeout
            .unwrap_or(DEFAULT_HEARTBEAT_TIMEOUT);
        if heartbeat_timeout < Duration::from_secs(2) {
            return Err(Error::validation(format!(
                "heartbeat_timeout must be at least 2 s (heartbeats are 1 s apart), got {} ms",
                heartbeat_timeout.as_millis()
            )));
        }
        if let Some(url) = &options.advertise_url {
            if url.trim().is_empty() {
                return Err(Error::validation("advertise_url is empty"));
            }
        }
        Ok(MemberOptions {
            advertise_url: options.advertise_url.clone(),
            capacity: options.capacity,
            heartbeat_timeout,
        })
    }
}

/// A vm-system database and the live sessions this process runs on it.
///
/// Cheap to clone; clones share everything. `Send + Sync`: call it from any thread.
/// Dropping the last clone closes its live sessions.
#[derive(Clone)]
pub struct VmSystem {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<Store>,
    /// This process and the instance's first id (which `owner::is_alive` knows).
    owner: Owner,
    /// The member id: the first one, or a new one after this instance found itself reaped.
    ids: IdHistory,
    member: MemberOptions,
    /// When this instance opened (RFC 3339 UTC).
    started_at: String,
    /// On a shared store: the thread that renews this member's heartbeat and reaps.
    heartbeat: Mutex<Option<Heartbeat>>,
    /// Since when this member's heartbeats have succeeded without a break (`None` while
    /// the store is away). It reaps others only after a full timeout of its own
    /// heartbeats: after an outage of the store every member's heartbeat is old, and each
    /// must have had the time to renew it before anyone is judged dead.
    healthy_since: Mutex<Option<Instant>>,
    /// Where sessions live, as last seen (shared store only).
    routes: Routes,
    library_cache: PathBuf,
    /// The store's files, which no script may open.
    protected: Arc<paths::Protected>,
    sessions: RwLock<HashMap<String, Arc<LiveSession>>>,
    running: Mutex<HashMap<String, Arc<RunContext>>>,
}

/// A session whose runtime lives in this process.
struct LiveSession {
    worktree: PathBuf,
    settings: Settings,
    /// `None` until its startup files have run, and once closed. Locked for the length of
    /// an execution: `try_lock` failing means busy.
    engine: Mutex<Option<Engine>>,
    active: Arc<ActiveRun>,
    /// Set once its startup files have run: executions are accepted from then on.
    ready: AtomicBool,
    /// Set (under the `active` lock) when the session is closed. A close waits for the run
    /// to end only when that cannot deadlock (see `RunContext::can_be_waited_for`);
    /// otherwise the run sees the flag, ends `cancelled` and releases the runtime itself.
    closed: AtomicBool,
}

impl LiveSession {
    fn new(worktree: PathBuf, settings: Settings) -> Self {
        LiveSession {
            worktree,
            settings,
            engine: Mutex::new(None),
            active: Arc::default(),
            ready: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        }
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// The session lock for a run: `SESSION_BUSY` while another run holds it,
    /// `SESSION_NOT_READY` while starting or once closed.
    fn lock_for_run(
        &self,
        session_id: &str,
    ) -> Result<parking_lot::MutexGuard<'_, Option<Engine>>> {
        if !self.ready.load(Ordering::SeqCst) {
            return Err(Error::SessionNotReady {
                message: format!(
                    "session {session_id} is starting; run code once create_session has returned it"
                ),
                session_id: session_id.to_string(),
            });
        }
        let guard = self.engine.try_lock().ok_or_else(|| Error::SessionBusy {
            session_id: session_id.to_string(),
        })?;
        if guard.is_none() || self.is_closed() {
            return Err(Error::SessionNotReady {
                message: format!(
                    "session {session_id} is closed; create a new session to run code"
                ),
                session_id: session_id.to_string(),
            });
        }
        Ok(guard)
    }

    /// Gives the session lock back after a run; the runtime goes now if the session was
    /// closed during the run (from its own watcher, say).
    fn unlock_after_run(&self, mut guard: parking_lot::MutexGuard<'_, Option<Engine>>) {
        if self.is_closed() {
            drop(guard.take());
        }
        drop(guard);
    }
}

/// What one execution runs.
struct Job {
    kind: ExecutionKind,
    input: Option<String>,
    path: Option<String>,
    args: Json,
    env: Json,
    source: String,
    globals: bool,
    /// Evaluate as an ES module rather than a global script.
    module: bool,
}

impl Job {
    /// A REPL snippet: a global script whose source is its input.
    fn repl(input: &str) -> Job {
        Job {
            kind: ExecutionKind::Repl,
            input: Some(input.to_string()),
            path: None,
            args: json!({}),
            env: json!({}),
            source: input.to_string(),
            globals: false,
            module: false,
        }
    }
}

impl VmSystem {
    /// Opens (or creates) a database file, migrating its schema forward.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, OpenOptions::default())
    }

    /// Opens a database file with options.
    ///
    /// A `postgres://` or `postgresql://` URL opens a PostgreSQL store instead: the
    /// records live in that database, shared with every other instance that opens it
    /// (each one a member, see [`daemons`](Self::daemons)); the `database` module's files
    /// stay in the worktrees.
    pub fn open_with(path: impl AsRef<Path>, options: OpenOptions) -> Result<Self> {
        let path = path.as_ref();
        if path.as_os_str().is_empty() {
            return Err(Error::validation("database path is empty"));
        }
        if let Some(url) = path
            .to_str()
            .filter(|p| p.starts_with("postgres://") || p.starts_with("postgresql://"))
        {
            let member = MemberOptions::from(&options)?;
            let store = Store::open_postgres(url)?;
            let cache = options
                .library_cache
                .unwrap_or_else(|| PathBuf::from(".vm-cache/libraries"));
            let vm = Self::with_store(store, cache, paths::Protected::default(), member);
            vm.join_members()?;
            return Ok(vm);
        }
        // SQLite's name for a private in-memory database: give the caller exactly that.
        if path == Path::new(":memory:") {
            return Self::open_in_memory_with(options);
        }
        let member = MemberOptions::from(&options)?;
        let store = Store::open_file(path)?;
        let beside = path
            .parent()
            .unwrap_or(Path::new("."))
            .join(".vm-cache/libraries");
        let protected =
            paths::Protected::store(Some(&path.canonicalize().unwrap_or(path.to_path_buf())));
        Ok(Self::with_store(
            store,
            options.library_cache.unwrap_or(beside),
            protected,
            member,
        ))
    }

    /// Opens a private in-memory database (gone when the last clone is dropped).
    pub fn open_in_memory() -> Result<Self> {
        Self::open_in_memory_with(OpenOptions::default())
    }

    /// Opens an in-memory database with options.
    pub fn open_in_memory_with(options: OpenOptions) -> Result<Self> {
        let member = MemberOptions::from(&options)?;
        let store = Store::open_in_memory()?;
        let cache = options
            .library_cache
            .unwrap_or_else(|| PathBuf::from(".vm-cache/libraries"));
        Ok(Self::with_store(
            store,
            cache,
            paths::Protected::default(),
            member,
        ))
    }

    fn with_store(
        store: Store,
        library_cache: PathBuf,
        protected: paths::Protected,
        member: MemberOptions,
    ) -> Self {
        let owner = owner::register_instance();
        VmSystem {
            inner: Arc::new(Inner {
                store: Arc::new(store),
                ids: IdHistory::new(owner.instance.clone()),
                owner,
                member,
                started_at: timestamp::now(),
                heartbeat: Mutex::new(None),
                healthy_since: Mutex::new(None),
                routes: Routes::default(),
                library_cache,
                protected: Arc::new(protected),
                sessions: RwLock::default(),
                running: Mutex::default(),
            }),
        }
    }

    /// Closes every live session of this instance (also done on drop), and stops the
    /// startup files of sessions being created. Does nothing in a process forked after the
    /// open: the sessions belong to the parent.
    pub fn close(&self) {
        if !self.inner.forked() {
            self.inner.close_all(None);
        }
    }

    /// Closes every live session of this instance, recording `reason` as each one's
    /// `last_error` (e.g. "the daemon shut down"). Running executions are cancelled first
    /// and end `cancelled`, recorded, before this returns — except a run whose watcher is
    /// running (or that runs on the calling thread), which ends `cancelled` as soon as the
    /// watcher returns.
    pub fn shutdown(&self, reason: &str) {
        if !self.inner.forked() {
            self.inner.close_all(Some(reason));
        }
    }

    /// Fails with `VALIDATION_ERROR` when this handle was inherited through `fork()`: its
    /// database connections, runtimes and sessions belong to the parent process, so every
    /// call refuses and a child must open its own `VmSystem`. Bindings call it first.
    pub fn check_process(&self) -> Result<()> {
        self.usable()
    }

    fn usable(&self) -> Result<()> {
        if self.inner.forked() {
            return Err(Error::validation(format!(
                "this VmSystem was opened in process {} and this is process {} (a fork() child): \
                 an inherited handle cannot be used; open a new VmSystem in this process",
                self.inner.owner.pid,
                std::process::id()
            )));
        }
        Ok(())
    }

    /// The folder installed libraries are kept in.
    pub fn library_cache(&self) -> &Path {
        &self.inner.library_cache
    }

    // ---- membership and placement ----

    /// This instance's member id: the `daemon_id` of every session it builds. It changes
    /// only if this instance finds itself reaped by the other members of a shared store
    /// (it was paused past the heartbeat timeout): it then registers again under a new id.
    pub fn daemon_id(&self) -> &str {
        self.inner.ids.current()
    }

    /// The members of the store, oldest first, reaped ones excluded. On SQLite that is
    /// this instance alone.
    pub fn daemons(&self) -> Result<Vec<DaemonInfo>> {
        self.usable()?;
        if let Some(members) = self.inner.read_members()? {
            return Ok(members);
        }
        let now = timestamp::now();
        Ok(vec![DaemonInfo {
            id: self.daemon_id().to_string(),
            advertise_url: self.inner.member.advertise_url.clone(),
            started_at: self.inner.started_at.clone(),
            last_heartbeat: now,
            capacity: self.inner.member.capacity,
            live_sessions: self.inner.sessions.read().len() as u32,
            alive: true,
        }])
    }

    /// Where a new session should be built: among the alive members with free capacity
    /// that can be reached (this instance always; others only with an `advertise_url`),
    /// the one with the most free capacity (unlimited counts as most); ties go to this
    /// instance, then to the oldest member. `NO_CAPACITY` when every member is full.
    pub fn place_session(&self) -> Result<Placement> {
        let members = self.daemons()?;
        membership::place(&members, self.daemon_id()).ok_or_else(|| {
            Error::NoCapacity(format!(
                "no capacity: each of the {} live member(s) of this store that can be reached \
                 already holds as many live sessions as its capacity allows; close sessions \
                 or start a daemon with room",
                members.iter().filter(|m| m.alive).count()
            ))
        })
    }

    /// Which instance can act on a session's runtime: `Remote` when the session was built
    /// by another member that is alive and has an `advertise_url` (and, when the store is
    /// asked, is still live: `starting` or `ready`); otherwise `Local` (the core here
    /// answers: it runs the session, or says it is closed or not held here).
    /// `SESSION_NOT_FOUND` for an unknown id.
    ///
    /// A session whose owner this instance already knows, held by a member the last
    /// heartbeat saw alive, is located without asking the store (see
    /// [`locate_session_known`](Self::locate_session_known)); that owner answers for the
    /// session whatever its status.
    pub fn locate_session(&self, session_id: &str) -> Result<Location> {
        self.usable()?;
        if let Some(location) = self.locate_session_known(session_id) {
            return Ok(location);
        }
        let (session, owner) = self.inner.store.session(session_id)?;
        self.inner.remember_owner(session_id, &owner.instance);
        if !session.status.is_live() || self.is_me(&owner.instance) {
            return Ok(Location::Local);
        }
        Ok(self
            .remote_member(&owner.instance)?
            .map_or(Location::Local, Location::Remote))
    }

    /// [`locate_session`](Self::locate_session) from what this instance already knows,
    /// never waiting for the store: `Some` when the session's owner is known and is this
    /// instance or a member alive by the last heartbeat's list; `None` when only
    /// `locate_session` can say. Cheap enough to call where blocking is not allowed.
    pub fn locate_session_known(&self, session_id: &str) -> Option<Location> {
        self.usable().ok()?;
        let owner = self.inner.routes.owner(session_id)?;
        if self.is_me(&owner) {
            return Some(Location::Local);
        }
        self.inner
            .routes
            .live_member(&owner, self.inner.member.heartbeat_timeout)
            .map(Location::Remote)
    }

    /// [`locate_session`](Self::locate_session) of an execution's session.
    /// `EXECUTION_NOT_FOUND` for an unknown id.
    pub fn locate_execution(&self, execution_id: &str) -> Result<Location> {
        self.usable()?;
        let (exec, _) = self.inner.store.execution(execution_id)?;
        self.locate_session(&exec.session_id)
    }

    /// Ends what dead members left: for every member whose heartbeat is older than the
    /// timeout and not yet reaped, marks it reaped, closes its live sessions and ends its
    /// running executions, in one transaction, exactly once however many instances reap
    /// at the same moment. Returns the ids this call reaped (always none on SQLite, whose
    /// only member is this instance). The heartbeat does this every second.
    pub fn reap_dead_daemons(&self) -> Result<Vec<String>> {
        self.usable()?;
        match self.inner.store.shared() {
            Some(pg) => pg.reap(self.daemon_id(), self.inner.member.heartbeat_timeout),
            None => Ok(Vec::new()),
        }
    }

    /// On a shared store: registers this instance as a member and starts its heartbeat.
    fn join_members(&self) -> Result<()> {
        let Some(pg) = self.inner.store.shared() else {
            return Ok(());
        };
        pg.register(&self.inner.registration())?;
        *self.inner.healthy_since.lock() = Some(Instant::now());
        let inner = Arc::downgrade(&self.inner);
        let heartbeat = Heartbeat::start(move || match inner.upgrade() {
            Some(inner) => {
                inner.beat();
                true
            }
            None => false,
        })?;
        *self.inner.heartbeat.lock() = Some(heartbeat);
        Ok(())
    }

    /// Whether a stored owner id is this instance (its current member id).
    fn is_me(&self, instance: &str) -> bool {
        instance == self.daemon_id()
    }

    /// The member with this id when it is alive and reachable from another daemon.
    fn remote_member(&self, id: &str) -> Result<Option<DaemonInfo>> {
        Ok(self
            .daemons()?
            .into_iter()
            .find(|m| m.id == id && m.alive && m.advertise_url.is_some()))
    }

    // ---- templates ----

    /// Creates a template with the default settings. `engine` must be `quickjs`.
    pub fn create_template(&self, name: &str, engine: &str) -> Result<Template> {
        self.usable()?;
        require_non_empty("name", name)?;
        validate_engine(engine)?;
        let now = timestamp::now();
        let template = Template {
            id: new_id(),
            name: name.to_string(),
            engine: engine.to_string(),
            created_at: now.clone(),
            updated_at: now,
        };
        self.inner
            .store
            .insert_template(&template, &Settings::default())?;
        Ok(template)
    }

    /// A template with its settings, startup files, capabilities, modules and libraries.
    pub fn get_template(&self, template_id: &str) -> Result<TemplateDetail> {
        self.usable()?;
        let store = &self.inner.store;
        Ok(TemplateDetail {
            template: store.template(template_id)?,
            settings: store.settings(template_id)?,
            startup_files: store.startup_files(template_id)?,
            capabilities: store.capabilities(template_id)?,
            modules: store.names(NameTable::Modules, template_id)?,
            libraries: store.names(NameTable::Libraries, template_id)?,
        })
    }

    /// Every template, oldest first.
    pub fn list_templates(&self) -> Result<Vec<Template>> {
        self.usable()?;
        self.inner.store.list_templates()
    }

    /// Deletes a template and everything attached to it. Sessions built from it keep
    /// running and stay as history.
    pub fn delete_template(&self, template_id: &str) -> Result<()> {
        self.usable()?;
        self.inner.store.delete_template(template_id)
    }

    /// Applies a partial settings update, e.g. `{"limits": {"cpu_ms": 100}}`; every field is
    /// validated and nothing changes when one is wrong. Returns the new settings.
    pub fn update_settings(&self, template_id: &str, patch: &Json) -> Result<Settings> {
        self.usable()?;
        self.inner
            .store
            .update_settings(template_id, &timestamp::now(), |s| s.apply_patch(patch))
    }

    /// Adds a startup file (path relative to the future worktree; mode `eval` or `module`).
    pub fn add_startup_file(
        &self,
        template_id: &str,
        path: &str,
        order_index: i64,
        mode: &str,
    ) -> Result<StartupFile> {
        self.usable()?;
        let mode = StartupMode::parse(mode)?;
        let normal = paths::check_relative(path).map_err(|e| match e {
            paths::PathError::NotFound(_) => Error::validation("startup file path is required"),
            invalid => Error::from(invalid),
        })?;
        let file = StartupFile {
            path: normal.to_string_lossy().into_owned(),
            order_index,
            mode,
        };
        self.inner
            .store
            .add_startup_file(template_id, &file, &timestamp::now())?;
        Ok(file)
    }

    /// Startup files sorted by `order_index` (ties in insertion order).
    pub fn list_startup_files(&self, template_id: &str) -> Result<Vec<StartupFile>> {
        self.usable()?;
        self.inner.store.startup_files(template_id)
    }

    /// Removes the startup file with this path.
    pub fn remove_startup_file(&self, template_id: &str, path: &str) -> Result<()> {
        self.usable()?;
        let normal = paths::check_relative(path)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| path.to_string());
        self.inner
            .store
            .remove_startup_file(template_id, &normal, &timestamp::now())
    }

    /// Adds (or replaces) a capability record.
    pub fn add_capability(
        &self,
        template_id: &str,
        kind: &str,
        name: &str,
        enabled: bool,
        config: &Json,
    ) -> Result<Capability> {
        self.usable()?;
        validate_capability(kind, name, config)?;
        let cap = Capability {
            kind: kind.to_string(),
            name: name.to_string(),
            enabled,
            config: config.clone(),
        };
        self.inner
            .store
            .add_capability(template_id, &cap, &timestamp::now())?;
        Ok(cap)
    }

    /// Capabilities in insertion order.
    pub fn list_capabilities(&self, template_id: &str) -> Result<Vec<Capability>> {
        self.usable()?;
        self.inner.store.capabilities(template_id)
    }

    /// Enables a native module (`database`, `fs`, `exec`).
    pub fn add_module(&self, template_id: &str, name: &str) -> Result<()> {
        self.usable()?;
        modules::check_name(name)?;
        self.inner
            .store
            .add_name(NameTable::Modules, template_id, name, &timestamp::now())
    }

    /// Disables a native module.
    pub fn remove_module(&self, template_id: &str, name: &str) -> Result<()> {
        self.usable()?;
        self.inner
            .store
            .remove_name(NameTable::Modules, template_id, name, &timestamp::now())
    }

    /// The template's enabled modules, sorted.
    pub fn list_modules(&self, template_id: &str) -> Result<Vec<String>> {
        self.usable()?;
        self.inner.store.names(NameTable::Modules, template_id)
    }

    /// Every native module with its description and functions.
    pub fn available_modules(&self) -> Vec<ModuleInfo> {
        modules::available()
    }

    /// Enables a catalog library.
    pub fn add_library(&self, template_id: &str, name: &str) -> Result<()> {
        self.usable()?;
        library::check_name(name)?;
        self.inner
            .store
            .add_name(NameTable::Libraries, template_id, name, &timestamp::now())
    }

    /// Disables a library.
    pub fn remove_library(&self, template_id: &str, name: &str) -> Result<()> {
        self.usable()?;
        self.inner
            .store
            .remove_name(NameTable::Libraries, template_id, name, &timestamp::now())
    }

    /// The template's enabled libraries, sorted.
    pub fn list_libraries(&self, template_id: &str) -> Result<Vec<String>> {
        self.usable()?;
        self.inner.store.names(NameTable::Libraries, template_id)
    }

    /// The library catalog.
    pub fn available_libraries(&self) -> Vec<LibraryInfo> {
        library::available()
    }

    /// Installs a catalog library into the cache: from `from` (a local copy of the file)
    /// or else with `npm pack`. The file's SHA-256 must match the catalog.
    pub fn install_library(&self, name: &str, from: Option<&Path>) -> Result<InstalledLibrary> {
        self.usable()?;
        library::install(&self.inner.library_cache, name, from)
    }

    /// Libraries present (and intact) in the cache.
    pub fn installed_libraries(&self) -> Result<Vec<InstalledLibrary>> {
        self.usable()?;
        library::installed(&self.inner.library_cache)
    }

    // ---- sessions ----

    /// Creates a session: builds its runtime, loads libraries, runs the startup files.
    pub fn create_session(
        &self,
        template_id: &str,
        workspace_id: &str,
        base_commit_oid: &str,
        worktree_path: &str,
    ) -> Result<Session> {
        self.create_session_watched(
            template_id,
            workspace_id,
            base_commit_oid,
            worktree_path,
            None,
        )
    }

    /// [`create_session`](Self::create_session), with a watcher for the startup files' events.
    pub fn create_session_watched(
        &self,
        template_id: &str,
        workspace_id: &str,
        base_commit_oid: &str,
        worktree_path: &str,
        watcher: Option<EventWatcher>,
    ) -> Result<Session> {
        self.usable()?;
        require_non_empty("template_id", template_id)?;
        require_non_empty("workspace_id", workspace_id)?;
        require_non_empty("base_commit_oid", base_commit_oid)?;
        require_non_empty("worktree_path", worktree_path)?;
        let worktree = Path::new(worktree_path);
        if !worktree.is_absolute() {
            return Err(Error::validation(format!(
                "worktree_path {worktree_path:?} must be an absolute path"
            )));
        }
        if !worktree.is_dir() {
            return Err(Error::validation(format!(
                "worktree_path {worktree_path:?} is not an existing directory"
            )));
        }
        let worktree = worktree
            .canonicalize()
            .map_err(|e| Error::validation(format!("worktree_path {worktree_path:?}: {e}")))?;
        let detail = self.get_template(template_id)?;
        let session = Session {
            id: new_id(),
            template_id: template_id.to_string(),
            workspace_id: workspace_id.to_string(),
            base_commit_oid: base_commit_oid.to_string(),
            worktree_path: worktree.to_string_lossy().into_owned(),
            status: SessionStatus::Starting,
            created_at: timestamp::now(),
            closed_at: None,
            last_error: None,
            daemon_id: self.daemon_id().to_string(),
        };
        // Live (and so reachable by `close` and `close_session`) while its startup files
        // run; counted against the capacity from before its record exists, so concurrent
        // creates never pass it together.
        let live = Arc::new(LiveSession::new(worktree, detail.settings.clone()));
        {
            let mut sessions = self.inner.sessions.write();
            if let Some(capacity) = self.inner.member.capacity {
                if sessions.len() >= capacity as usize {
                    return Err(Error::NoCapacity(format!(
                        "no capacity: this instance already holds {} live session(s), its \
                         capacity; close one or create the session elsewhere",
                        sessions.len()
                    )));
                }
            }
            sessions.insert(session.id.clone(), live.clone());
        }
        let owner = Owner {
            instance: session.daemon_id.clone(),
            ..self.inner.owner.clone()
        };
        if let Err(e) = self.inner.store.insert_session(&session, &owner) {
            self.inner.sessions.write().remove(&session.id);
            return Err(e);
        }
        self.inner.remember_owner(&session.id, &owner.instance);
        let started = self
            .start(&session, &detail, &live, watcher)
            .and_then(|()| {
                self.inner
                    .store
                    .set_session_status(&session.id, SessionStatus::Ready, None, None)
            })
            .map(drop);
        if started.is_ok() {
            live.ready.store(true, Ordering::SeqCst);
        }
        if live.is_closed() {
            // Closed while starting: the close recorded it `closed` (a closed row never
            // comes back to `ready`); the runtime goes now.
            drop(live.engine.lock().take());
            return Err(Error::SessionNotReady {
                message: format!(
                    "session {} was closed while its startup files ran",
                    session.id
                ),
                session_id: session.id.clone(),
            });
        }
        match started {
            Ok(()) => self.get_session(&session.id),
            Err(error) => {
                self.inner.sessions.write().remove(&session.id);
                drop(live.engine.lock().take());
                let message = error.to_string();
                self.inner.store.set_session_status(
                    &session.id,
                    SessionStatus::Crashed,
                    Some(&message),
                    None,
                )?;
                Err(match error {
                    Error::InvalidPath { .. } | Error::FileNotFound { .. } => {
                        error.in_session(&session.id)
                    }
                    Error::StartupFailed { .. } => error,
                    other => Error::StartupFailed {
                        message: other.to_string(),
                        session_id: session.id.clone(),
                    },
                })
            }
        }
    }

    /// Builds the runtime of a registered session and runs its startup files; stops between
    /// files once the session is closed. The engine is in `live` once this returns `Ok`.
    fn start(
        &self,
        session: &Session,
        detail: &TemplateDetail,
        live: &LiveSession,
        mut watcher: Option<EventWatcher>,
    ) -> Result<()> {
        let failed = |message: String| Error::StartupFailed {
            message,
            session_id: session.id.clone(),
        };
        let host = modules::Host {
            worktree: live.worktree.clone(),
            modules: detail.modules.clone(),
            protected: self.inner.protected.clone(),
            exec_isolation: modules::exec_isolation(&detail.capabilities),
        };
        let engine = Engine::new(&detail.settings, &host, live.active.clone())
            .map_err(|e| failed(format!("runtime: {e}")))?;
        for name in &detail.libraries {
            let source = library::read_verified(&self.inner.library_cache, name).map_err(failed)?;
            engine
                .load_library(name, &source)
                .map_err(|e| failed(format!("library {name} failed to load: {e}")))?;
        }
        for file in &detail.startup_files {
            if live.is_closed() {
                return Err(failed("closed while starting".into()));
            }
            let resolved =
                paths::resolve_existing_file(&live.worktree, &file.path).map_err(|e| {
                    Error::from(e).with_message_prefix(&format!("startup file {:?}: ", file.path))
                })?;
            let source = read_source(&resolved, &file.path)?;
            let job = Job {
                kind: ExecutionKind::Startup,
                input: None,
                path: Some(file.path.clone()),
                args: json!({}),
                env: json!({}),
                source,
                globals: false,
                module: file.mode == StartupMode::Module,
            };
            let (result, back, run) = self.execute(&session.id, live, &engine, job, watcher, None);
            self.release(&run);
            watcher = back;
            let exec = match result {
                Ok(exec) => exec,
                Err(e) => {
                    return Err(failed(format!(
                        "startup file {:?} (order {}) failed: {e}",
                        file.path, file.order_index
                    )))
                }
            };
            if exec.status != ExecutionStatus::Ok {
                return Err(failed(format!(
                    "startup file {:?} (order {}) ended {}: {} (execution {})",
                    file.path,
                    file.order_index,
                    exec.status.as_str(),
                    exec.error.as_deref().unwrap_or("no detail"),
                    exec.id
                )));
            }
        }
        *live.engine.lock() = Some(engine);
        Ok(())
    }

    /// A session record. A session left `starting`/`ready` by a process that has exited
    /// reads as `closed`, with a `last_error` saying its runtime was lost.
    pub fn get_session(&self, session_id: &str) -> Result<Session> {
        self.usable()?;
        let (session, owner) = self.inner.store.session(session_id)?;
        self.reconcile(session, &owner)
    }

    /// Sessions, oldest first, optionally only those with `status`.
    pub fn list_sessions(&self, status: Option<SessionStatus>) -> Result<Vec<Session>> {
        self.usable()?;
        let rows = self.inner.store.sessions(None)?;
        let mut out = Vec::with_capacity(rows.len());
        // Each owner is asked about once (on a shared store, one query per member).
        let mut alive: HashMap<String, bool> = HashMap::new();
        for (session, owner) in rows {
            let known_alive = session.status.is_live()
                && *alive
                    .entry(owner.instance.clone())
                    .or_insert_with(|| self.owner_alive(&owner));
            let session = if known_alive {
                session
            } else {
                self.reconcile(session, &owner)?
            };
            if status.is_none_or(|s| s == session.status) {
                out.push(session);
            }
        }
        Ok(out)
    }

    fn reconcile(&self, session: Session, owner: &Owner) -> Result<Session> {
        if !session.status.is_live() || self.owner_alive(owner) {
            return Ok(session);
        }
        self.end_lost(&session.id, owner)?;
        let (fresh, _) = self.inner.store.session(&session.id)?;
        Ok(fresh)
    }

    /// Whether the instance that owns a session (this one, or another) still runs it.
    fn owner_alive(&self, owner: &Owner) -> bool {
        self.is_me(&owner.instance)
            || self
                .inner
                .store
                .owner_alive(owner, self.inner.member.heartbeat_timeout)
    }

    /// Ends the records of a session whose owner is gone. On SQLite: its session closed and
    /// its running executions ended, here. On a shared store the owner is a dead member:
    /// reaping ends all it left, once, whoever notices first.
    fn end_lost(&self, session_id: &str, owner: &Owner) -> Result<()> {
        if self.inner.store.is_shared() {
            self.inner.reap_if_healthy().map(drop)
        } else {
            mark_lost(&self.inner.store, session_id, owner)
        }
    }

    /// Closes a session: interrupts a running execution (it ends `cancelled`), discards the
    /// runtime and sets `closed_at`. A closed or crashed session is returned as is.
    pub fn close_session(&self, session_id: &str) -> Result<Session> {
        self.usable()?;
        let live = self.inner.sessions.write().remove(session_id);
        match live {
            Some(live) => self.inner.shut_down(session_id, &live, None)?,
            None => {
                let (session, owner) = self.inner.store.session(session_id)?;
                if session.status.is_live() && self.owner_alive(&owner) {
                    return Err(Error::SessionNotReady {
                        message: format!(
                            "session {session_id} is live in {}; close it there",
                            self.owner_description(&owner)
                        ),
                        session_id: session_id.to_string(),
                    });
                }
                if session.status.is_live() {
                    self.reconcile(session, &owner)?;
                }
            }
        }
        self.get_session(session_id)
    }

    /// The live sessions of this process.
    pub fn runtime_summary(&self) -> RuntimeSummary {
        if self.inner.forked() {
            return RuntimeSummary {
                active_sessions: 0,
                active_session_ids: Vec::new(),
            };
        }
        let mut ids: Vec<String> = self
            .inner
            .sessions
            .read()
            .iter()
            .filter(|(_, live)| live.ready.load(Ordering::SeqCst))
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        RuntimeSummary {
            active_sessions: ids.len(),
            active_session_ids: ids,
        }
    }

    // ---- executions ----

    /// Evaluates a snippet as a global script in the session; declarations persist.
    pub fn repl(&self, session_id: &str, input: &str) -> Result<Execution> {
        self.repl_watched(session_id, input, None)
    }

    /// [`repl`](Self::repl), with a watcher that receives each event as it happens.
    pub fn repl_watched(
        &self,
        session_id: &str,
        input: &str,
        watcher: Option<EventWatcher>,
    ) -> Result<Execution> {
        self.usable()?;
        let live = self.live(session_id)?;
        let job = Job::repl(input);
        self.execute_live(session_id, &live, job, watcher)
    }

    /// Runs a worktree file. `args` and `env` (JSON objects; `env` values strings) become
    /// `globalThis.__ARGS__` and `globalThis.__ENV__`.
    pub fn run_file(
        &self,
        session_id: &str,
        path: &str,
        args: &Json,
        env: &Json,
    ) -> Result<Execution> {
        self.run_file_watched(session_id, path, args, env, None)
    }

    /// [`run_file`](Self::run_file), with a watcher that receives each event as it happens.
    pub fn run_file_watched(
        &self,
        session_id: &str,
        path: &str,
        args: &Json,
        env: &Json,
        watcher: Option<EventWatcher>,
    ) -> Result<Execution> {
        self.usable()?;
        let (live, job) = self.run_file_job(session_id, path, args, env)?;
        self.execute_live(session_id, &live, job, watcher)
    }

    /// Checks a file run's arguments and path and reads the file.
    fn run_file_job(
        &self,
        session_id: &str,
        path: &str,
        args: &Json,
        env: &Json,
    ) -> Result<(Arc<LiveSession>, Job)> {
        let args = object_or_empty(args, "args")?;
        let env = object_or_empty(env, "env")?;
        if let Some((key, _)) = env
            .as_object()
            .into_iter()
            .flatten()
            .find(|(_, v)| !v.is_string())
        {
            return Err(Error::validation(format!("env.{key} must be a string")));
        }
        let live = self.live(session_id)?;
        let resolved = paths::resolve_existing_file(&live.worktree, path)?;
        let source = read_source(&resolved, path)?;
        let job = Job {
            kind: ExecutionKind::RunFile,
            input: None,
            path: Some(path.to_string()),
            args,
            env,
            source,
            globals: true,
            module: live.settings.runtime.esm,
        };
        Ok((live, job))
    }

    /// Starts a snippet without waiting for it: returns the `running` execution record at
    /// once (or the error a waiting call would give before running: not found, not ready,
    /// busy); the run goes on on a thread the library owns. Follow it with
    /// [`follow`](Self::follow), stop it with [`cancel_execution`](Self::cancel_execution).
    pub fn start_repl(&self, session_id: &str, input: &str) -> Result<Execution> {
        self.usable()?;
        let live = self.live(session_id)?;
        let job = Job::repl(input);
        self.start_live(session_id, live, job)
    }

    /// [`run_file`](Self::run_file) without waiting, as [`start_repl`](Self::start_repl):
    /// the path is checked and the file read before this returns.
    pub fn start_run_file(
        &self,
        session_id: &str,
        path: &str,
        args: &Json,
        env: &Json,
    ) -> Result<Execution> {
        self.usable()?;
        let (live, job) = self.run_file_job(session_id, path, args, env)?;
        self.start_live(session_id, live, job)
    }

    /// Follows an execution: its stored events with `seq > after_seq`, then each new event
    /// as it is recorded, then [`FollowItem::End`] with the final record. For an ended
    /// execution the replay and the end come at once. Any number of followers may follow
    /// one execution; one running in another process is followed by reading the database
    /// every few milliseconds.
    pub fn follow(&self, execution_id: &str, after_seq: u64) -> Result<Follower> {
        self.usable()?;
        if let Some(run) = self.running_context(execution_id) {
            return run.follow(after_seq);
        }
        let (exec, owner) = self.inner.store.execution(execution_id)?;
        if exec.status == ExecutionStatus::Running {
            // It may have started here between the two looks.
            if let Some(run) = self.running_context(execution_id) {
                return run.follow(after_seq);
            }
            if self.owner_alive(&owner) {
                return self.follow_elsewhere(execution_id, after_seq);
            }
            // Its process is gone: it ends as lost.
            self.end_lost(&exec.session_id, &owner)?;
            if self.inner.store.is_shared() {
                // Until a member reaps the dead owner, follow the record as it is.
                return self.follow_elsewhere(execution_id, after_seq);
            }
        }
        let (tx, follower) = Follower::channel();
        for event in self.inner.store.events(execution_id, after_seq)? {
            let _ = tx.send(FollowItem::Event(event));
        }
        let _ = tx.send(FollowItem::End(Box::new(
            self.inner.store.execution(execution_id)?.0,
        )));
        Ok(follower)
    }

    fn running_context(&self, execution_id: &str) -> Option<Arc<RunContext>> {
        self.inner.running.lock().get(execution_id).cloned()
    }

    /// Follows a run of another process by reading the database on a thread of its own,
    /// which stops when the run ends or the follower is dropped.
    fn follow_elsewhere(&self, execution_id: &str, after_seq: u64) -> Result<Follower> {
        let (tx, follower) = Follower::channel();
        let store = self.inner.store.clone();
        let id = execution_id.to_string();
        std::thread::Builder::new()
            .name("vm-system-follow".into())
            .spawn(move || {
                let mut last = after_seq;
                loop {
                    // Read the record first: events stored before an end are then all seen.
                    let Ok((exec, owner)) = store.execution(&id) else {
                        return;
                    };
                    // (On a shared store a dead member's records are ended by reaping.)
                    if exec.status == ExecutionStatus::Running
                        && !store.is_shared()
                        && !owner::is_alive(&owner)
                    {
                        // The process died under us: end the record as lost, then read it.
                        if mark_lost(&store, &exec.session_id, &owner).is_err() {
                            return;
                        }
                        continue;
                    }
                    let Ok(events) = store.events(&id, last) else {
                        return;
                    };
                    for event in events {
                        last = event.seq;
                        if tx.send(FollowItem::Event(event)).is_err() {
                            return;
                        }
                    }
                    if exec.status != ExecutionStatus::Running {
                        let _ = tx.send(FollowItem::End(Box::new(exec)));
                        return;
                    }
                    std::thread::sleep(FOLLOW_POLL_INTERVAL);
                }
            })
            .map_err(|e| Error::internal(format!("cannot start a follow thread: {e}")))?;
        Ok(follower)
    }

    fn live(&self, session_id: &str) -> Result<Arc<LiveSession>> {
        if let Some(live) = self.inner.sessions.read().get(session_id) {
            return Ok(live.clone());
        }
        let (session, owner) = self.inner.store.session(session_id)?;
        let session = self.reconcile(session, &owner)?;
        let message = if session.status == SessionStatus::Ready && !self.is_me(&owner.instance) {
            format!(
                "session {session_id} runs in {}; execute it there",
                self.owner_description(&owner)
            )
        } else {
            format!(
                "session {session_id} is {}; create a new session to run code",
                session.status.as_str()
            )
        };
        Err(Error::SessionNotReady {
            message,
            session_id: session_id.to_string(),
        })
    }

    fn execute_live(
        &self,
        session_id: &str,
        live: &LiveSession,
        job: Job,
        watcher: Option<EventWatcher>,
    ) -> Result<Execution> {
        let guard = live.lock_for_run(session_id)?;
        let Some(engine) = guard.as_ref() else {
            unreachable!("lock_for_run checked the engine");
        };
        let (result, _, run) = self.execute(session_id, live, engine, job, watcher, None);
        live.unlock_after_run(guard);
        self.release(&run);
        result
    }

    /// After a run's session lock is released: forget the run and give its followers the
    /// end, so a follower that acts on the end finds the session free.
    fn release(&self, run: &RunContext) {
        self.inner.running.lock().remove(&run.execution_id());
        run.release();
    }

    /// Starts a job on a thread of its own and returns as soon as its record exists (or
    /// the session turned out busy or closed). The run then goes on without the caller.
    fn start_live(&self, session_id: &str, live: Arc<LiveSession>, job: Job) -> Result<Execution> {
        let (started_tx, started_rx) = std::sync::mpsc::sync_channel(1);
        let system = self.clone();
        let session_id = session_id.to_string();
        std::thread::Builder::new()
            .name("vm-system-run".into())
            .stack_size(RUN_THREAD_STACK)
            .spawn(move || {
                // The session lock is taken on the thread that runs, so busy is decided
                // exactly as for a waiting call.
                let guard = match live.lock_for_run(&session_id) {
                    Ok(guard) => guard,
                    Err(e) => {
                        let _ = started_tx.send(Err(e));
                        return;
                    }
                };
                let Some(engine) = guard.as_ref() else {
                    unreachable!("lock_for_run checked the engine");
                };
                let (_, _, run) =
                    system.execute(&session_id, &live, engine, job, None, Some(started_tx));
                live.unlock_after_run(guard);
                system.release(&run);
            })
            .map_err(|e| Error::internal(format!("cannot start a run thread: {e}")))?;
        started_rx
            .recv()
            .map_err(|_| Error::internal("the run thread ended before its execution started"))?
    }

    /// Runs one job and records it; gives the watcher back for the next job. With
    /// `started`, the record is stored at once and sent there before the code runs. The
    /// caller [`release`](Self::release)s the run once the session lock is free.
    fn execute(
        &self,
        session_id: &str,
        live: &LiveSession,
        engine: &Engine,
        job: Job,
        watcher: Option<EventWatcher>,
        started: Option<std::sync::mpsc::SyncSender<Result<Execution>>>,
    ) -> (Result<Execution>, Option<EventWatcher>, Arc<RunContext>) {
        let exec = Execution {
            id: new_id(),
            session_id: session_id.to_string(),
            kind: job.kind,
            input: job.input.clone(),
            path: job.path.clone(),
            args: job.args.clone(),
            env: job.env.clone(),
            status: ExecutionStatus::Running,
            started_at: timestamp::now(),
            ended_at: None,
            result: None,
            error: None,
            metrics: Metrics::default(),
        };
        let id = exec.id.clone();
        let run = RunContext::start(
            self.inner.store.clone(),
            exec,
            live.settings.limits,
            watcher,
        );
        self.inner.running.lock().insert(id.clone(), run.clone());
        {
            // A close flips `closed` under this lock: it either sees this run and stops it,
            // or this sees the flag.
            let mut active = live.active.lock();
            *active = Some(run.clone());
            if live.is_closed() {
                run.guard.stop(StopReason::Cancelled);
            }
        }
        if let Some(started) = started {
            run.flush();
            let _ = started.send(self.inner.store.execution(&id).map(|(exec, _)| exec));
        }
        let (key, shown) = match (&job.input, &job.path) {
            (Some(text), _) => ("text", Some(text)),
            (None, path) => ("path", path.as_ref()),
        };
        let echo = match shown {
            Some(shown) => crate::event::input_echo_text(key, shown),
            None => json!({ key: null }).to_string(),
        };
        run.emit_text(EventType::InputEcho, echo, || json!({ key: shown }));
        let name = match job.kind {
            ExecutionKind::Repl => "<repl>".to_string(),
            _ => job.path.clone().unwrap_or_default(),
        };
        let outcome = if run.guard.stopped().is_some() {
            Outcome::Stopped(run.guard.stopped().unwrap_or(StopReason::Cancelled))
        } else {
            let globals = job.globals.then_some((&job.args, &job.env));
            let code = if job.module {
                Code::Module { path: &name }
            } else {
                Code::Script {
                    source: &job.source,
                    name: &name,
                }
            };
            engine.run(&run, code, globals)
        };
        *live.active.lock() = None;
        let result = finish(&run, outcome);
        let watcher = run.take_watcher();
        (result, watcher, run)
    }

    /// The id of the execution running in a session of this process right now, if any
    /// (for cancelling it, e.g. on Ctrl-C, while the call that started it still blocks).
    pub fn running_execution(&self, session_id: &str) -> Option<String> {
        if self.inner.forked() {
            return None;
        }
        let live = self.inner.sessions.read().get(session_id).cloned()?;
        let run = live.active.lock().clone()?;
        Some(run.execution_id())
    }

    /// An execution record.
    ///
    /// An execution left `running` by a process that has exited reads as `error`, its
    /// `error` saying the runtime was lost; its events stay readable.
    pub fn get_execution(&self, execution_id: &str) -> Result<Execution> {
        self.usable()?;
        self.flush_if_running(execution_id);
        let (exec, owner) = self.inner.store.execution(execution_id)?;
        if exec.status != ExecutionStatus::Running || self.owner_alive(&owner) {
            return Ok(exec);
        }
        self.end_lost(&exec.session_id, &owner)?;
        Ok(self.inner.store.execution(execution_id)?.0)
    }

    /// Commits what a running execution of this process has produced so far, so readers
    /// see it at once rather than at the next periodic flush.
    fn flush_if_running(&self, execution_id: &str) {
        let run = self.inner.running.lock().get(execution_id).cloned();
        if let Some(run) = run {
            run.flush();
        }
    }

    /// A session's executions, newest first, at most `limit` (1 to 10,000).
    pub fn list_executions(&self, session_id: &str, limit: u32) -> Result<Vec<Execution>> {
        self.usable()?;
        if !(1..=10_000).contains(&limit) {
            return Err(Error::validation(format!(
                "limit must be from 1 to 10000, got {limit}"
            )));
        }
        let (executions, owner) = self.inner.store.executions(session_id, limit)?;
        if executions
            .iter()
            .all(|e| e.status != ExecutionStatus::Running)
            || self.owner_alive(&owner)
        {
            return Ok(executions);
        }
        self.end_lost(session_id, &owner)?;
        Ok(self.inner.store.executions(session_id, limit)?.0)
    }

    /// Events with `seq > after_seq`, in order. Readable while the execution runs.
    pub fn events(&self, execution_id: &str, after_seq: u64) -> Result<Vec<Event>> {
        self.usable()?;
        self.flush_if_running(execution_id);
        self.inner.store.events(execution_id, after_seq)
    }

    /// Cancels a running execution from any thread; it ends `cancelled`. An execution that
    /// has already ended is left as it is.
    pub fn cancel_execution(&self, execution_id: &str) -> Result<()> {
        self.usable()?;
        if let Some(run) = self.inner.running.lock().get(execution_id) {
            run.guard.stop(StopReason::Cancelled);
            return Ok(());
        }
        let exec = self.get_execution(execution_id)?;
        if exec.status == ExecutionStatus::Running {
            return Err(Error::validation(format!(
                "execution {execution_id} is not running in this process; cancel it from the process that runs it"
            )));
        }
        Ok(())
    }
}

/// Ends what a vanished owner left: the session reads `closed` and its `running`
/// executions `error`, each saying the runtime was lost.
fn mark_lost(store: &Store, session_id: &str, owner: &Owner) -> Result<()> {
    let session_error = format!(
        "runtime lost: the process that owned this session (pid {}) exited or closed it",
        owner.pid
    );
    let execution_error = format!(
        "runtime lost: the process that ran this execution (pid {}) exited before it ended",
        owner.pid
    );
    store.mark_lost(
        session_id,
        &session_error,
        &execution_error,
        &timestamp::now(),
    )
}

/// Turns an engine outcome into the stored end of the execution.
fn finish(run: &RunContext, outcome: Outcome) -> Result<Execution> {
    let mut outcome = outcome;
    if let Outcome::Value(payload) = &outcome {
        if run.emit_ref(EventType::Value, payload) == crate::run::Recorded::Refused {
            outcome = Outcome::Stopped(run.guard.stopped().unwrap_or(StopReason::MaxOutput));
        }
    }
    if let Outcome::Exception(payload) = &outcome {
        if run.emit_ref(EventType::Exception, payload) == crate::run::Recorded::Refused {
            outcome = Outcome::Stopped(run.guard.stopped().unwrap_or(StopReason::MaxOutput));
        }
    }
    match outcome {
        Outcome::Value(payload) => run.finish(ExecutionStatus::Ok, Some(payload), None),
        Outcome::Exception(payload) => {
            let message = payload["message"]
                .as_str()
                .unwrap_or("exception")
                .to_string();
            run.finish(ExecutionStatus::Error, None, Some(message))
        }
        Outcome::Stopped(reason) => {
            let message = reason.describe(&run.limits);
            let (status, level) = match reason {
                StopReason::Cancelled => (ExecutionStatus::Cancelled, SystemLevel::Warn),
                StopReason::CpuTime | StopReason::WallTime => {
                    (ExecutionStatus::Timeout, SystemLevel::Error)
                }
                StopReason::MaxEvents | StopReason::MaxOutput => {
                    (ExecutionStatus::Error, SystemLevel::Error)
                }
            };
            run.system(level, &message);
            let exec = run.finish(status, None, Some(message.clone()))?;
            if matches!(reason, StopReason::MaxEvents | StopReason::MaxOutput) {
                return Err(Error::OutputLimitExceeded {
                    message,
                    execution_id: exec.id,
                });
            }
            Ok(exec)
        }
        Outcome::Failed(message) => {
            run.system(SystemLevel::Error, &format!("engine failure: {message}"));
            let exec = run.finish(ExecutionStatus::Error, None, Some(message.clone()))?;
            Err(Error::Internal(format!("execution {}: {message}", exec.id)))
        }
    }
}

fn read_source(resolved: &Path, shown: &str) -> Result<String> {
    let bytes = std::fs::read(resolved).map_err(|e| Error::FileNotFound {
        message: format!("cannot read {shown:?}: {e}"),
        session_id: None,
    })?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::validation(format!("{shown:?} is not UTF-8 text")))?;
    Ok(text)
}

fn object_or_empty(value: &Json, what: &str) -> Result<Json> {
    match value {
        Json::Null => Ok(json!({})),
        Json::Object(_) => Ok(value.clone()),
        other => Err(Error::validation(format!(
            "{what} must be an object, got {other}"
        ))),
    }
}

impl Inner {
    /// Whether this is a fork() child's copy of a handle opened in its parent.
    fn forked(&self) -> bool {
        self.owner.pid != crate::id::process_id()
    }

    fn shut_down(&self, session_id: &str, live: &LiveSession, reason: Option<&str>) -> Result<()> {
        // Stop whatever runs, then wait for the session lock so the run's end is recorded
        // before this returns — unless waiting could deadlock: a watcher (user code) may be
        // running, possibly on this very thread; that run ends `cancelled` as soon as the
        // watcher returns and releases the runtime itself (`unlock_after_run`).
        let engine = loop {
            let run = {
                let active = live.active.lock();
                live.closed.store(true, Ordering::SeqCst);
                active.clone()
            };
            if let Some(run) = &run {
                run.guard.stop(StopReason::Cancelled);
                if !run.can_be_waited_for() {
                    break None;
                }
            }
            if let Some(mut guard) = live
                .engine
                .try_lock_for(std::time::Duration::from_millis(5))
            {
                break guard.take();
            }
        };
        drop(engine);
        let now = timestamp::now();
        self.store
            .set_session_status(session_id, SessionStatus::Closed, reason, Some(&now))?;
        Ok(())
    }

    /// What this instance registers as a member of a shared store.
    fn registration(&self) -> Registration<'_> {
        Registration {
            id: self.ids.current(),
            advertise_url: self.member.advertise_url.as_deref(),
            capacity: self.member.capacity,
        }
    }

    /// One heartbeat of a member of a shared store: renews it, writes the final records
    /// kept while the store was away, and reaps dead members. A member that finds itself
    /// reaped stops its sessions and registers again under a new id.
    fn beat(&self) {
        let Some(pg) = self.store.shared() else {
            return;
        };
        if self.forked() {
            return;
        }
        match pg.heartbeat(self.ids.current()) {
            Ok(true) => {
                self.healthy_since.lock().get_or_insert_with(Instant::now);
            }
            Ok(false) => {
                self.fence();
                return;
            }
            Err(_) => {
                *self.healthy_since.lock() = None;
                return;
            }
        }
        pg.write_deferred();
        let _ = self.reap_if_healthy();
        // Fresh routes for the next second (see `routes`).
        let _ = self.read_members();
    }

    /// Keeps a session's owner in the routes (a shared store's: on SQLite every session
    /// is this instance's).
    fn remember_owner(&self, session_id: &str, owner: &str) {
        if self.store.shared().is_some() {
            self.routes.remember_owner(session_id, owner);
        }
    }

    /// The members of a shared store, kept as this instance's routes too; `None` on
    /// SQLite.
    fn read_members(&self) -> Result<Option<Vec<DaemonInfo>>> {
        let Some(aged) = self.store.members(self.member.heartbeat_timeout)? else {
            return Ok(None);
        };
        let members = aged.iter().map(|(m, _)| m.clone()).collect();
        self.routes.set_members(aged);
        Ok(Some(members))
    }

    /// Reaps dead members, once this member's own heartbeats have run a full timeout
    /// without a break (see `healthy_since`).
    fn reap_if_healthy(&self) -> Result<Vec<String>> {
        let Some(pg) = self.store.shared() else {
            return Ok(Vec::new());
        };
        let timeout = self.member.heartbeat_timeout;
        let healthy = self
            .healthy_since
            .lock()
            .is_some_and(|since| since.elapsed() >= timeout);
        if !healthy {
            return Ok(Vec::new());
        }
        pg.reap(self.ids.current(), timeout)
    }

    /// This member was reaped (paused past the timeout, or cut off from the store): the
    /// others have closed its sessions and ended its runs in the store. Its runtimes stop
    /// here, their records are left as the reaper wrote them (a close writes only to a
    /// session still live, which a reaped member's are not; a run's last flush writes only
    /// over a record still `running`), and it registers again under a new id, so no
    /// session ever has two owners.
    fn fence(&self) {
        let old = self.ids.current().to_string();
        let reason = format!(
            "daemon {old} found itself reaped (no heartbeat within the timeout); its sessions were closed"
        );
        self.close_all(Some(&reason));
        self.ids.replace(uuid::Uuid::new_v4().to_string());
        *self.healthy_since.lock() = None;
        if let Some(pg) = self.store.shared() {
            // On failure the next heartbeat finds no row and comes back here.
            let _ = pg.register(&self.registration());
        }
    }

    fn close_all(&self, reason: Option<&str>) {
        let sessions: Vec<(String, Arc<LiveSession>)> = self.sessions.write().drain().collect();
        // Stop every run first, so the sessions' runs wind down together rather than one
        // after the other.
        for live in sessions.iter().map(|(_, live)| live) {
            let run = live.active.lock().clone();
            if let Some(run) = run {
                run.guard.stop(StopReason::Cancelled);
            }
        }
        for (id, live) in sessions {
            let _ = self.shut_down(&id, &live, reason);
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.forked() {
            // A fork() child's copy of the parent's handle: its connections, runtimes and
            // threads are the parent's (closing a connection could checkpoint or delete the
            // parent's WAL; a runtime may have been locked by a parent thread at the fork).
            // Touch nothing, free nothing: the child's copy of the memory goes with it.
            std::mem::forget(self.store.clone());
            std::mem::forget(std::mem::take(self.sessions.get_mut()));
            std::mem::forget(std::mem::take(self.running.get_mut()));
            std::mem::forget(self.heartbeat.get_mut().take());
            return;
        }
        // The heartbeat stops first (it must not reap or fence while the sessions close).
        drop(self.heartbeat.get_mut().take());
        self.close_all(None);
        if let Some(pg) = self.store.shared() {
            // A clean leave: nobody will reap this member (its sessions are closed).
            let _ = pg.leave(self.ids.current());
        }
        owner::unregister_instance(&self.owner);
    }
}

impl VmSystem {
    /// Who holds a session's runtime, as an error message says it.
    fn owner_description(&self, owner: &Owner) -> String {
        if self.inner.store.is_shared() {
            format!("daemon {}", owner.instance)
        } else if owner.pid == std::process::id() {
            "another VmSystem handle of this process (each handle runs only its own sessions)"
                .to_string()
        } else {
            format!("another process (pid {})", owner.pid)
        }
    }
}

/// Stack of a library-owned run thread: room for the JavaScript stack limit and host frames.
const RUN_THREAD_STACK: usize = 8 << 20;

/// How often a follower of another process's run reads the database.
const FOLLOW_POLL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(10);

use crate::id::new_id;
