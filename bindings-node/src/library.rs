//! Library catalog and cache records.

use napi_derive::napi;

/// A catalog library.
#[napi(object)]
pub struct LibraryInfo {
    /// Name used with `addLibrary`, e.g. `lodash-4.17.21`.
    pub name: String,
    /// npm package.
    pub package: String,
    /// Package version.
    pub version: String,
    /// File inside the package.
    pub file: String,
    /// Global the file defines.
    pub global: String,
    /// Hex SHA-256 of the file.
    pub sha256: String,
    /// What it is.
    pub description: String,
}

impl From<vm_system::LibraryInfo> for LibraryInfo {
    fn from(l: vm_system::LibraryInfo) -> Self {
        let vm_system::LibraryInfo {
            name,
            package,
            version,
            file,
            global,
            sha256,
            description,
        } = l;
        LibraryInfo {
            name,
            package,
            version,
            file,
            global,
            sha256,
            description,
        }
    }
}

/// A library present in the cache.
#[napi(object)]
pub struct InstalledLibrary {
    /// Catalog name.
    pub name: String,
    /// Where the file is.
    pub path: String,
    /// Its verified SHA-256.
    pub sha256: String,
    /// Size in bytes.
    pub size: i64,
}

impl From<vm_system::InstalledLibrary> for InstalledLibrary {
    fn from(l: vm_system::InstalledLibrary) -> Self {
        let vm_system::InstalledLibrary {
            name,
            path,
            sha256,
            size,
        } = l;
        InstalledLibrary {
            name,
            path,
            sha256,
            size: size as i64,
        }
    }
}
