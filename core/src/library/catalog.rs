//! The library catalog: which npm package file each library name loads, and its checksum.
//!
//! Every entry was fetched with `npm pack <package>@<version>`; `file` is the path inside the
//! tarball (under `package/`) of a UMD/minified build that, evaluated as a plain global script
//! in QuickJS (rquickjs 0.14, `Context::full`, no `window`/`self`/`module`/`exports`/`define`),
//! defines `global` on `globalThis`. Each was verified loading and running usage snippets (see
//! `tests/fixtures/library_usage.json`), in both strict and sloppy eval, alone and all six
//! loaded together into one context.

/// One installable library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogEntry {
    /// Catalog name, e.g. `lodash-4.17.21`.
    pub name: &'static str,
    /// npm package name.
    pub package: &'static str,
    /// Package version.
    pub version: &'static str,
    /// Path of the file inside the package tarball (under `package/`), e.g. `lodash.min.js`.
    pub file: &'static str,
    /// Global the file defines when evaluated as a script.
    pub global: &'static str,
    /// Hex SHA-256 of the file.
    pub sha256: &'static str,
    /// One-line description.
    pub description: &'static str,
}

/// Every library a template may enable.
pub const CATALOG: &[CatalogEntry] = &[
    CatalogEntry {
        name: "lodash-4.17.21",
        package: "lodash",
        version: "4.17.21",
        file: "lodash.min.js",
        global: "_",
        sha256: "a9705dfc47c0763380d851ab1801be6f76019f6b67e40e9b873f8b4a0603f7a9",
        description: "Lodash utility belt for arrays, objects, strings and functions (global `_`).",
    },
    CatalogEntry {
        name: "moment-2.29.4",
        package: "moment",
        version: "2.29.4",
        file: "min/moment.min.js",
        global: "moment",
        sha256: "f343aa319a17a3fc372ee6ad5af482b9bf6a298cb22652b4aa7502604821071f",
        description: "Moment.js date parsing, manipulation and formatting, English locale only (global `moment`).",
    },
    CatalogEntry {
        name: "axios-1.6.0",
        package: "axios",
        version: "1.6.0",
        file: "dist/axios.min.js",
        global: "axios",
        sha256: "1dc60b613493f242077201a552d894e8b6bbf844396e92206441a3772e19f8d5",
        description: "Axios HTTP client API (global `axios`); the sandbox has no network, so requests reject with ERR_NOT_SUPPORT unless a custom `adapter` is given.",
    },
    CatalogEntry {
        name: "ramda-0.29.0",
        package: "ramda",
        version: "0.29.0",
        file: "dist/ramda.min.js",
        global: "R",
        sha256: "e91c541907b48e76a332ac086fb7996bf778312379d610ce9b5136c59d1d1ca6",
        description: "Ramda functional programming library with auto-curried functions (global `R`).",
    },
    CatalogEntry {
        name: "dayjs-1.11.10",
        package: "dayjs",
        version: "1.11.10",
        file: "dayjs.min.js",
        global: "dayjs",
        sha256: "9cfdb93f38afcf2d076abecd66d32bfd3383cdf1967654ebc26a26605daf4173",
        description: "Day.js minimalist immutable date library, core only without plugins (global `dayjs`).",
    },
    CatalogEntry {
        name: "zustand-4.4.7",
        package: "zustand",
        version: "4.4.7",
        file: "umd/vanilla.production.js",
        global: "zustandVanilla",
        sha256: "0a78255d8985486c5c9258a38b653c9209dac464aa311901e3401f0262a8b19e",
        description: "Zustand vanilla (React-free) state store, `zustandVanilla.createStore` (global `zustandVanilla`).",
    },
];

/// Libraries of the original catalog that are not offered, with the reason.
///
/// Empty: all six SPEC libraries load and work in QuickJS. (axios loads and its non-network API
/// works; it stays because the SPEC names it, with its limitation in its description.)
pub const DROPPED: &[(&str, &str)] = &[];
