//! Every line the client prints. Text lines follow the original vm-system CLI, so scripts
//! written against it keep working; `--output json` prints the API's JSON instead.
//! Write errors (a closed pipe) are ignored: there is no one left to tell.

use std::io::{self, IsTerminal, Write};

use serde_json::Value;

use super::{Failure, OutputFormat};

type W<'a> = &'a mut dyn Write;

/// Standard output in the chosen format.
pub struct Out {
    format: OutputFormat,
    stdout: io::StdoutLock<'static>,
}

impl Out {
    /// Standard output, held for the command's whole run.
    pub fn new(format: OutputFormat) -> Self {
        Out {
            format,
            stdout: io::stdout().lock(),
        }
    }

    /// Whether `--output json` was asked for.
    pub fn is_json(&self) -> bool {
        self.format == OutputFormat::Json
    }

    /// Prints `value` as one compact JSON document with `--output json`, else its text.
    pub fn emit(&mut self, value: &Value, text: impl FnOnce(W, &Value) -> io::Result<()>) {
        let _ = if self.is_json() {
            writeln!(self.stdout, "{value}")
        } else {
            text(&mut self.stdout, value)
        };
    }

    /// Prints text lines, whatever the format (used for live lines in text mode only).
    pub fn text(&mut self, text: impl FnOnce(W) -> io::Result<()>) {
        let _ = text(&mut self.stdout).and_then(|_| self.stdout.flush());
    }
}

// ---- helpers ----

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// A field that may be absent or `null`.
fn present<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|x| !x.is_null())
}

/// `2026-12-01T20:30:45.123Z` → `2026-12-01T20:30:45Z` (the original's RFC 3339 seconds).
fn seconds(ts: &str) -> String {
    match ts.find('.') {
        Some(dot) => {
            let rest = &ts[dot + 1..];
            let zone = rest.trim_start_matches(|c: char| c.is_ascii_digit());
            format!("{}{}", &ts[..dot], zone)
        }
        None => ts.to_string(),
    }
}

/// The `HH:MM:SS` part of a timestamp.
fn clock(ts: &str) -> &str {
    ts.split_once('T')
        .map(|(_, t)| t.get(..8).unwrap_or(t))
        .unwrap_or(ts)
}

/// At most `max` characters; longer text is cut to `max - 3` plus `...`.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() > max {
        let head: String = text.chars().take(max - 3).collect();
        format!("{head}...")
    } else {
        text.to_string()
    }
}

fn yes_no(v: &Value, key: &str) -> &'static str {
    if v.get(key).and_then(Value::as_bool).unwrap_or(false) {
        "yes"
    } else {
        "no"
    }
}

/// Two-space indented JSON (the original's `ops` and catalog output).
pub fn pretty(w: W, v: &Value) -> io::Result<()> {
    writeln!(
        w,
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    )
}

/// Indented JSON with object keys sorted (the original's `ops runtime-summary`).
pub fn pretty_sorted(w: W, v: &Value) -> io::Result<()> {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&map[k])))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    pretty(w, &sorted(v))
}

// ---- errors ----

/// The `Error: …` line on stderr (nothing for an execution that ended badly: its summary
/// already says so).
pub fn failure(failure: &Failure) {
    let mut e = io::stderr().lock();
    let _ = match failure {
        Failure::Api {
            status,
            code: Some(code),
            message,
        } => writeln!(
            e,
            "Error: api error (status={status}, code={code}): {}",
            message.as_deref().unwrap_or("")
        ),
        Failure::Api { status, .. } => writeln!(e, "Error: api error (status={status})"),
        Failure::Unreachable { url, reason } => writeln!(
            e,
            "Error: cannot reach the vm-system daemon at {url} ({reason}).\n\
             Start it with `vm-system serve` (in another terminal), or point --server-url / \
             VM_SYSTEM_SERVER_URL at a running daemon."
        ),
        Failure::Failed(message) | Failure::Usage(message) => writeln!(e, "Error: {message}"),
        Failure::Ended => Ok(()),
    };
}

// ---- templates ----

/// `template create`.
pub fn template_created(w: W, t: &Value) -> io::Result<()> {
    writeln!(w, "Created template: {} (ID: {})", s(t, "name"), s(t, "id"))
}

/// `template list`.
pub fn template_list(w: W, v: &Value) -> io::Result<()> {
    let items = list(v);
    if items.is_empty() {
        return writeln!(w, "No templates found");
    }
    writeln!(
        w,
        "{:<36} {:<20} {:<10} {:<10}",
        "ID", "Name", "Engine", "Active"
    )?;
    writeln!(w, "{}", "-".repeat(84))?;
    for t in items {
        let active = if t.get("is_active").and_then(Value::as_bool).unwrap_or(true) {
            "yes"
        } else {
            "no"
        };
        writeln!(
            w,
            "{:<36} {:<20} {:<10} {:<10}",
            s(t, "id"),
            s(t, "name"),
            s(t, "engine"),
            active
        )?;
    }
    Ok(())
}

/// `template get`: the detail `{template, settings, capabilities, startup_files}`.
pub fn template_detail(w: W, d: &Value) -> io::Result<()> {
    let t = d.get("template").unwrap_or(d);
    writeln!(w, "Template: {}", s(t, "name"))?;
    writeln!(w, "ID: {}", s(t, "id"))?;
    writeln!(w, "Engine: {}", s(t, "engine"))?;
    let active = t.get("is_active").and_then(Value::as_bool).unwrap_or(true);
    writeln!(w, "Active: {active}")?;
    writeln!(w, "Created: {}", seconds(s(t, "created_at")))?;
    writeln!(w, "Updated: {}", seconds(s(t, "updated_at")))?;
    if let Some(settings) = present(d, "settings") {
        writeln!(w, "\nSettings:")?;
        settings_lines(w, settings)?;
    }
    let caps = list(d.get("capabilities").unwrap_or(&Value::Null));
    if !caps.is_empty() {
        writeln!(w, "\nCapabilities:")?;
        for c in caps {
            let enabled = if c.get("enabled").and_then(Value::as_bool).unwrap_or(false) {
                "enabled"
            } else {
                "disabled"
            };
            let config = c.get("config").unwrap_or(&Value::Null);
            writeln!(
                w,
                "  [{enabled}] {}:{} (config: {config})",
                s(c, "kind"),
                s(c, "name")
            )?;
        }
    }
    let files = list(d.get("startup_files").unwrap_or(&Value::Null));
    if !files.is_empty() {
        writeln!(w, "\nStartup Files:")?;
        for f in files {
            let order = f.get("order_index").unwrap_or(&Value::Null);
            writeln!(w, "  [{order}] {} (mode: {})", s(f, "path"), s(f, "mode"))?;
        }
    }
    let names = |key: &str| {
        present(t, key)
            .or_else(|| present(d, key))
            .map(list)
            .unwrap_or(&[])
    };
    let modules = names("exposed_modules");
    let modules = if modules.is_empty() {
        names("modules")
    } else {
        modules
    };
    if !modules.is_empty() {
        writeln!(w, "\nExposed Modules:")?;
        for m in modules {
            writeln!(w, "  - {}", m.as_str().unwrap_or_default())?;
        }
    }
    let libraries = names("libraries");
    if !libraries.is_empty() {
        writeln!(w, "\nLoaded Libraries:")?;
        for l in libraries {
            writeln!(w, "  - {}", l.as_str().unwrap_or_default())?;
        }
    }
    Ok(())
}

fn settings_lines(w: W, settings: &Value) -> io::Result<()> {
    for (label, key) in [
        ("Limits", "limits"),
        ("Resolver", "resolver"),
        ("Runtime", "runtime"),
    ] {
        writeln!(
            w,
            "  {label}: {}",
            settings.get(key).unwrap_or(&Value::Null)
        )?;
    }
    Ok(())
}

/// `template settings`: the template's settings after the change (or as they are).
pub fn settings(w: W, template_id: &str, settings: &Value, changed: bool) -> io::Result<()> {
    if changed {
        writeln!(w, "Updated settings of template {template_id}")?;
    } else {
        writeln!(w, "Settings of template {template_id}")?;
    }
    settings_lines(w, settings)
}

/// `template delete` (the id as typed, like the original).
pub fn template_deleted(w: W, id: &str) -> io::Result<()> {
    writeln!(w, "Deleted template: {id}")
}

/// `template add-module`.
pub fn module_added(w: W, name: &str, id: &str) -> io::Result<()> {
    writeln!(w, "Added module: {name} to template {id}")
}

/// `template remove-module`.
pub fn module_removed(w: W, name: &str, id: &str) -> io::Result<()> {
    writeln!(w, "Removed module: {name} from template {id}")
}

/// `template add-library`.
pub fn library_added(w: W, name: &str, id: &str) -> io::Result<()> {
    writeln!(w, "Added library: {name} to template {id}")
}

/// `template remove-library`.
pub fn library_removed(w: W, name: &str, id: &str) -> io::Result<()> {
    writeln!(w, "Removed library: {name} from template {id}")
}

/// `template list-modules` / `list-libraries`: one name a line, or `empty`.
pub fn names(w: W, v: &Value, empty: &str) -> io::Result<()> {
    let items = list(v);
    if items.is_empty() {
        return writeln!(w, "{empty}");
    }
    for n in items {
        writeln!(w, "{}", n.as_str().unwrap_or_default())?;
    }
    Ok(())
}

/// `template add-capability`.
pub fn capability_added(w: W, c: &Value, id: &str) -> io::Result<()> {
    writeln!(
        w,
        "Added capability: {}:{} to template {id}",
        s(c, "kind"),
        s(c, "name")
    )
}

/// `template list-capabilities`.
pub fn capability_list(w: W, v: &Value) -> io::Result<()> {
    let items = list(v);
    if items.is_empty() {
        return writeln!(w, "No capabilities found");
    }
    writeln!(
        w,
        "{:<10} {:<20} {:<10} {:<30}",
        "Kind", "Name", "Enabled", "Config"
    )?;
    writeln!(w, "{}", "-".repeat(80))?;
    for c in items {
        let config = cut(&c.get("config").unwrap_or(&Value::Null).to_string(), 30);
        writeln!(
            w,
            "{:<10} {:<20} {:<10} {:<30}",
            s(c, "kind"),
            s(c, "name"),
            yes_no(c, "enabled"),
            config
        )?;
    }
    Ok(())
}

/// `template add-startup`.
pub fn startup_added(w: W, f: &Value, id: &str) -> io::Result<()> {
    let order = f.get("order_index").unwrap_or(&Value::Null);
    writeln!(
        w,
        "Added startup file: {} (order: {order}) to template {id}",
        s(f, "path")
    )
}

/// `template remove-startup`.
pub fn startup_removed(w: W, path: &str, id: &str) -> io::Result<()> {
    writeln!(w, "Removed startup file: {path} from template {id}")
}

/// `template list-startup`.
pub fn startup_list(w: W, v: &Value) -> io::Result<()> {
    let items = list(v);
    if items.is_empty() {
        return writeln!(w, "No startup files found");
    }
    writeln!(w, "{:<5} {:<10} {:<50}", "Order", "Mode", "Path")?;
    writeln!(w, "{}", "-".repeat(70))?;
    for f in items {
        let order = f.get("order_index").unwrap_or(&Value::Null).to_string();
        writeln!(w, "{:<5} {:<10} {:<50}", order, s(f, "mode"), s(f, "path"))?;
    }
    Ok(())
}

// ---- sessions ----

/// `session create`.
pub fn session_created(w: W, v: &Value) -> io::Result<()> {
    writeln!(w, "Created session: {}", s(v, "id"))?;
    writeln!(w, "Status: {}", s(v, "status"))?;
    writeln!(w, "Template ID: {}", template_id(v))?;
    writeln!(w, "Workspace ID: {}", s(v, "workspace_id"))?;
    writeln!(w, "Base Commit: {}", s(v, "base_commit_oid"))?;
    writeln!(w, "Worktree Path: {}", s(v, "worktree_path"))
}

fn template_id(v: &Value) -> &str {
    match s(v, "template_id") {
        "" => s(v, "vm_id"),
        id => id,
    }
}

/// `session list`.
pub fn session_list(w: W, v: &Value) -> io::Result<()> {
    let items = list(v);
    if items.is_empty() {
        return writeln!(w, "No sessions found");
    }
    writeln!(
        w,
        "{:<36} {:<36} {:<10} {:<20}",
        "Session ID", "Template ID", "Status", "Created"
    )?;
    writeln!(w, "{}", "-".repeat(102))?;
    for x in items {
        writeln!(
            w,
            "{:<36} {:<36} {:<10} {:<20}",
            s(x, "id"),
            template_id(x),
            s(x, "status"),
            seconds(s(x, "created_at"))
        )?;
    }
    Ok(())
}

/// `session get`.
pub fn session_detail(w: W, v: &Value) -> io::Result<()> {
    writeln!(w, "Session ID: {}", s(v, "id"))?;
    writeln!(w, "Template ID: {}", template_id(v))?;
    writeln!(w, "Workspace ID: {}", s(v, "workspace_id"))?;
    writeln!(w, "Base Commit: {}", s(v, "base_commit_oid"))?;
    writeln!(w, "Worktree Path: {}", s(v, "worktree_path"))?;
    writeln!(w, "Status: {}", s(v, "status"))?;
    writeln!(w, "Created: {}", seconds(s(v, "created_at")))?;
    if let Some(closed) = present(v, "closed_at").and_then(Value::as_str) {
        writeln!(w, "Closed: {}", seconds(closed))?;
    }
    if let Some(error) = present(v, "last_error").and_then(Value::as_str) {
        writeln!(w, "Last Error: {error}")?;
    }
    Ok(())
}

/// `session close` (the id as typed).
pub fn session_closed(w: W, id: &str) -> io::Result<()> {
    writeln!(w, "Closed session: {id}")
}

// ---- executions ----

/// First line of `exec repl` / `exec run-file`, as soon as the execution exists (its id
/// is what `exec cancel` takes).
pub fn execution_started(w: W, e: &Value) -> io::Result<()> {
    writeln!(w, "Execution ID: {}", s(e, "id"))
}

/// The heading printed before the first live event.
pub fn events_heading(w: W) -> io::Result<()> {
    writeln!(w, "\nEvents:")
}

/// One event: `[<seq>] <type>: <compact payload JSON>`.
pub fn event_line(w: W, e: &Value) -> io::Result<()> {
    let seq = e.get("seq").unwrap_or(&Value::Null);
    let payload = e.get("payload").unwrap_or(&Value::Null);
    writeln!(w, "[{seq}] {}: {payload}", s(e, "type"))
}

/// The closing lines of `exec repl` / `exec run-file`: status, then the result (REPL
/// only, like the original) and the error when set. `blank` puts a blank line first
/// (after events).
pub fn execution_summary(w: W, e: &Value, with_result: bool, blank: bool) -> io::Result<()> {
    if blank {
        writeln!(w)?;
    }
    writeln!(w, "Status: {}", s(e, "status"))?;
    if with_result {
        if let Some(result) = present(e, "result") {
            writeln!(w, "Result: {result}")?;
        }
    }
    if let Some(error) = present(e, "error") {
        writeln!(w, "Error: {error}")?;
    }
    Ok(())
}

/// `exec list`.
pub fn execution_list(w: W, v: &Value) -> io::Result<()> {
    let items = list(v);
    if items.is_empty() {
        return writeln!(w, "No executions found");
    }
    writeln!(
        w,
        "{:<36} {:<10} {:<10} {:<20}",
        "Execution ID", "Kind", "Status", "Started"
    )?;
    writeln!(w, "{}", "-".repeat(80))?;
    for x in items {
        writeln!(
            w,
            "{:<36} {:<10} {:<10} {:<20}",
            s(x, "id"),
            s(x, "kind"),
            s(x, "status"),
            seconds(s(x, "started_at"))
        )?;
    }
    Ok(())
}

/// `exec get`.
pub fn execution_detail(w: W, v: &Value) -> io::Result<()> {
    writeln!(w, "Execution ID: {}", s(v, "id"))?;
    writeln!(w, "Session ID: {}", s(v, "session_id"))?;
    writeln!(w, "Kind: {}", s(v, "kind"))?;
    writeln!(w, "Status: {}", s(v, "status"))?;
    writeln!(w, "Started: {}", seconds(s(v, "started_at")))?;
    if let Some(ended) = present(v, "ended_at").and_then(Value::as_str) {
        writeln!(w, "Ended: {}", seconds(ended))?;
    }
    if let Some(input) = present(v, "input").and_then(Value::as_str) {
        if !input.is_empty() {
            writeln!(w, "Input: {input}")?;
        }
    }
    if let Some(path) = present(v, "path").and_then(Value::as_str) {
        if !path.is_empty() {
            writeln!(w, "Path: {path}")?;
        }
    }
    if let Some(result) = present(v, "result") {
        writeln!(w, "Result: {result}")?;
    }
    if let Some(error) = present(v, "error") {
        writeln!(w, "Error: {error}")?;
    }
    Ok(())
}

/// `exec events`: the table heading.
pub fn events_table_heading(w: W) -> io::Result<()> {
    writeln!(w, "{:<5} {:<20} {:<15} Payload", "Seq", "Timestamp", "Type")?;
    writeln!(w, "{}", "-".repeat(80))
}

/// `exec events`: one row (the time as `HH:MM:SS`, the payload cut to 50 characters).
pub fn events_table_row(w: W, e: &Value) -> io::Result<()> {
    let seq = e.get("seq").unwrap_or(&Value::Null).to_string();
    let payload = cut(&e.get("payload").unwrap_or(&Value::Null).to_string(), 50);
    writeln!(
        w,
        "{:<5} {:<20} {:<15} {payload}",
        seq,
        clock(s(e, "ts")),
        s(e, "type")
    )
}

/// `exec events` with nothing to show.
pub fn no_events(w: W) -> io::Result<()> {
    writeln!(w, "No events found")
}

/// `exec events`: the whole table.
pub fn events_table(w: W, v: &Value) -> io::Result<()> {
    let items = list(v);
    if items.is_empty() {
        return no_events(w);
    }
    events_table_heading(w)?;
    for e in items {
        events_table_row(w, e)?;
    }
    Ok(())
}

/// The last line of `exec events --follow`: how the execution ended.
pub fn follow_ended(w: W, e: &Value) -> io::Result<()> {
    writeln!(w, "Execution {} ended: {}", s(e, "id"), s(e, "status"))
}

/// `exec cancel`.
pub fn cancelled(w: W, id: &str, e: &Value) -> io::Result<()> {
    writeln!(w, "Cancelled execution: {id}")?;
    if !s(e, "status").is_empty() {
        writeln!(w, "Status: {}", s(e, "status"))?;
    }
    Ok(())
}

// ---- libraries (local cache) ----

/// Whether progress lines go to stderr (only on a terminal: logs and pipes stay clean).
pub fn progress_wanted() -> bool {
    io::stderr().is_terminal()
}

/// One progress line of `libs download` on stderr.
pub fn progress(step: usize, total: usize, name: &str, state: &str) {
    let _ = writeln!(io::stderr().lock(), "[{step}/{total}] {name}: {state}");
}

/// `libs download`: the heading.
pub fn download_heading(w: W, cache: &str) -> io::Result<()> {
    writeln!(w, "Downloading libraries to: {cache}")
}

/// `libs download`: what the cache holds afterwards (`InstalledLibrary` records).
pub fn download_done(w: W, installed: &Value) -> io::Result<()> {
    writeln!(w, "\nCache info:")?;
    for l in list(installed) {
        let size = l.get("size").unwrap_or(&Value::Null);
        writeln!(w, "  {}: {size} bytes ({})", s(l, "name"), s(l, "path"))?;
    }
    Ok(())
}

/// `libs list`: the catalog (`LibraryInfo` records).
pub fn catalog(w: W, v: &Value) -> io::Result<()> {
    let items = list(v);
    writeln!(w, "Available libraries ({}):\n", items.len())?;
    for l in items {
        writeln!(
            w,
            "  {} - {} v{}",
            s(l, "name"),
            s(l, "package"),
            s(l, "version")
        )?;
        writeln!(w, "    {}", s(l, "description"))?;
        writeln!(
            w,
            "    Source: npm:{}@{} ({})",
            s(l, "package"),
            s(l, "version"),
            s(l, "file")
        )?;
        writeln!(w, "    Global: {}\n", s(l, "global"))?;
    }
    Ok(())
}

/// `libs cache-info`: installed libraries, each with `modified` (seconds since the epoch)
/// added by the command.
pub fn cache_info(w: W, v: &Value) -> io::Result<()> {
    let items = list(v);
    if items.is_empty() {
        return writeln!(
            w,
            "No libraries cached. Run 'vm-system libs download' first."
        );
    }
    writeln!(w, "Cached libraries ({}):\n", items.len())?;
    let mut total = 0u64;
    for l in items {
        let size = l.get("size").and_then(Value::as_u64).unwrap_or(0);
        total += size;
        writeln!(w, "  {}", s(l, "name"))?;
        writeln!(w, "    Path: {}", s(l, "path"))?;
        writeln!(w, "    Size: {size} bytes")?;
        let modified = l.get("modified").and_then(Value::as_i64).unwrap_or(0);
        writeln!(w, "    Modified: {}\n", date_time(modified))?;
    }
    writeln!(
        w,
        "Total cache size: {total} bytes ({:.2} KB)",
        total as f64 / 1024.0
    )
}

// ---- daemons ----

/// `ops daemons`: one row per member of the store; `*` marks the daemon that answered.
pub fn daemons(w: W, v: &Value) -> io::Result<()> {
    let members = v.get("daemons").map(list).unwrap_or(&[]);
    let me = s(v, "self");
    writeln!(
        w,
        "  {:<36} {:<28} {:<20} {:<20} {:>8} {:>5} {:<5}",
        "Daemon ID", "URL", "Started", "Last Heartbeat", "Capacity", "Live", "Alive"
    )?;
    writeln!(w, "{}", "-".repeat(130))?;
    for d in members {
        let mark = if !me.is_empty() && s(d, "id") == me {
            "*"
        } else {
            " "
        };
        let url = match s(d, "advertise_url") {
            "" => "-",
            url => url,
        };
        let capacity = match d.get("capacity").and_then(Value::as_u64) {
            Some(n) => n.to_string(),
            None => "unlimited".into(),
        };
        let live = d.get("live_sessions").and_then(Value::as_u64).unwrap_or(0);
        let alive = if d.get("alive").and_then(Value::as_bool) == Some(true) {
            "yes"
        } else {
            "no"
        };
        writeln!(
            w,
            "{mark} {:<36} {:<28} {:<20} {:<20} {:>8} {:>5} {:<5}",
            s(d, "id"),
            url,
            seconds(s(d, "started_at")),
            seconds(s(d, "last_heartbeat")),
            capacity,
            live,
            alive
        )?;
    }
    writeln!(w, "{} daemon(s); * answered this request", members.len())
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of seconds since the Unix epoch.
fn date_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_lose_their_fraction() {
        assert_eq!(seconds("2026-12-01T20:30:45.123Z"), "2026-12-01T20:30:45Z");
        assert_eq!(seconds("2026-12-01T20:30:45Z"), "2026-12-01T20:30:45Z");
        assert_eq!(
            seconds("2026-12-01T20:30:45.1+02:00"),
            "2026-12-01T20:30:45+02:00"
        );
        assert_eq!(clock("2026-12-01T20:30:45.123Z"), "20:30:45");
    }

    #[test]
    fn long_text_is_cut() {
        assert_eq!(cut("abcdef", 6), "abcdef");
        assert_eq!(cut("abcdefg", 6), "abc...");
        assert_eq!(cut("ééééééé", 6), "ééé...");
    }

    #[test]
    fn daemons_are_a_table_with_this_daemon_marked() {
        let v = serde_json::json!({
            "self": "b",
            "daemons": [
                {"id": "a", "advertise_url": "http://127.0.0.1:1", "started_at": "2026-12-01T20:30:45.123Z",
                 "last_heartbeat": "2026-12-01T20:31:00.5Z", "capacity": 2, "live_sessions": 1, "alive": false},
                {"id": "b", "advertise_url": null, "started_at": "2026-12-01T20:30:46Z",
                 "last_heartbeat": "2026-12-01T20:31:01Z", "capacity": null, "live_sessions": 0, "alive": true},
            ],
        });
        let mut buf = Vec::new();
        daemons(&mut buf, &v).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(lines[0].contains("Daemon ID") && lines[0].contains("Alive"));
        let a: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(
            a,
            [
                "a",
                "http://127.0.0.1:1",
                "2026-12-01T20:30:45Z",
                "2026-12-01T20:31:00Z",
                "2",
                "1",
                "no"
            ]
        );
        let b: Vec<&str> = lines[3].split_whitespace().collect();
        assert_eq!(
            b,
            [
                "*",
                "b",
                "-",
                "2026-12-01T20:30:46Z",
                "2026-12-01T20:31:01Z",
                "unlimited",
                "0",
                "yes"
            ]
        );
        assert_eq!(lines[4], "2 daemon(s); * answered this request");
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(date_time(0), "1970-01-01 00:00:00");
        assert_eq!(date_time(1_700_000_000), "2023-11-14 22:13:20");
        assert_eq!(date_time(951_782_400), "2000-02-29 00:00:00");
    }

    #[test]
    fn event_lines_match_the_original() {
        let mut buf = Vec::new();
        let e = serde_json::json!({"seq": 2, "type": "console", "payload": {"level": "log", "text": "hi"}});
        event_line(&mut buf, &e).unwrap();
        events_table_row(&mut buf, &serde_json::json!({"seq": 12, "ts": "2026-12-01T20:30:45.123Z", "type": "value", "payload": {"type":"number","preview":"42","json":42}})).unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "[2] console: {\"level\":\"log\",\"text\":\"hi\"}\n\
             12    20:30:45             value           {\"type\":\"number\",\"preview\":\"42\",\"json\":42}\n"
        );
    }
}
