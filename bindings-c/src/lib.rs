//! # vmsystem — the C ABI of vm-system
//!
//! `libvmsystem.so` / `libvmsystem.a` with the header `include/vmsystem.h`, generated from
//! this crate by cbindgen. Every function is a thin wrapper: check the pointers, call
//! [`vm_system::VmSystem`], hand the result back as JSON text.
//!
//! * An opaque, thread-safe handle [`vms_t`](system::vms_t) (`vms_open`, `vms_free`).
//! * A fallible function returns an owned [`vms_error_t`](error::vms_error_t), NULL on
//!   success, whose [`vms_status`](error::vms_status) mirrors the core's `ErrorCode`.
//! * Records and lists come back as JSON text through `char **out`, freed with
//!   `vms_string_free`; out-parameters are untouched on failure.
//! * Every exported body runs inside a panic boundary ([`args::guard`]); a panic becomes
//!   `VMS_INTERNAL`.
//!
//! Layers, each importing only those below it: `ffi` (raw pointers, the panic guard of
//! infallible functions) → `error` (status codes, `vms_error_t`) → `args` (arguments,
//! out-parameters, the guard of fallible functions) → `system` (the handle) → the
//! operations, which mirror the core's modules: `template.rs`, `modules.rs`, `library.rs`,
//! `event.rs` (the callback as a core watcher) → `session.rs`, `execution.rs`.

// Names follow the C API (`vms_t`, `VMS_OK`), not Rust's conventions.
#![allow(non_camel_case_types)]
// Every function's pointer contract is in its doc comment and in the header preamble;
// a `# Safety` section on each of them would repeat it.
#![allow(clippy::missing_safety_doc)]

// Declared in the order the header lists them (blank lines keep rustfmt from sorting).
pub mod system;

pub mod error;

pub mod ffi;

pub mod args;

pub mod template;

pub mod modules;

pub mod library;

pub mod session;

pub mod execution;

pub mod event;

pub use error::{vms_error_t, vms_status};
pub use event::vms_event_cb;
pub use system::vms_t;
