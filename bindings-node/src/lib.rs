//! Node binding of vm-system: a thin napi layer over the `vm_system` core.
//!
//! Records cross as plain objects with camelCase keys; JSON contents defined by the SPEC
//! (event payloads, settings groups, args, env, capability config) keep their keys.
//! Every failure is a JavaScript `Error` whose `code` is the SPEC code (see `error.rs`).

mod args;
mod error;
mod event;
mod execution;
mod library;
mod lifecycle;
mod literal;
mod modules;
mod run;
mod session;
mod system;
mod task;
mod template;
