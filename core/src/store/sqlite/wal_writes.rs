//! WAL writes coalesced into one system call per commit.
//!
//! SQLite appends a commit to the WAL as two `pwrite`s per page (the 24-byte frame header,
//! then the page), and a recorded run's commit touches about eight pages: on this machine
//! those sixteen system calls were a quarter of a recorded run's time on a file. This VFS
//! wraps the default one and, for WAL files only, gathers contiguous appends in memory
//! and writes them with one `pwrite` as soon as the commit frame is complete, before
//! SQLite publishes the commit in the shared WAL index (which it does only after the
//! frames are written), so no reader in any process can see a frame that is not in the
//! file yet. Anything that looks at the file (a read, a sync, its size, a truncation, a
//! file control, closing it) and any write that is not contiguous first writes what is
//! gathered. A process killed with bytes gathered loses only a commit that was never
//! published, as a kill between SQLite's own writes would. Frames of a transaction that
//! was rolled back may still be gathered when it ends (SQLite writes a large transaction's
//! overflow to the WAL before its commit): they are dropped when the WAL write lock is
//! taken or released, never written later over frames another writer has committed since.
//! Database files, and every other call, go to the default VFS unchanged.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr;
use std::sync::{Mutex, OnceLock};

use rusqlite::ffi;

/// The name our connections open their database with.
const VFS_NAME: &CStr = c"vm-system-coalesced-wal";

/// The WAL's own header, at the start of the file; its page size is at bytes 8..12.
const WAL_HEADER: usize = 32;
/// Each frame's header; the database size after the commit (non-zero only in a commit
/// frame) is at bytes 4..8.
const FRAME_HEADER: usize = 24;
/// The most one write may carry: the default VFS masks a write's size to 17 bits (it
/// never writes more than a page itself), so larger gatherings go in pieces of this size,
/// and gathering stops here even before a commit (a large transaction).
const MAX_WRITE: usize = 1 << 16;

/// Registers the VFS once; its name, or `None` if the default VFS could not be found (the
/// connections then use the default VFS as it is).
pub(super) fn vfs_name() -> Option<&'static str> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        // SAFETY: the default VFS lives for the process; ours is a copy of it, leaked so it
        // also lives for the process, registered once.
        unsafe {
            let real = ffi::sqlite3_vfs_find(ptr::null());
            if real.is_null() {
                return false;
            }
            let mut vfs = *real;
            vfs.szOsFile = (FILE_SIZE + (*real).szOsFile as usize) as c_int;
            vfs.zName = VFS_NAME.as_ptr();
            vfs.pNext = ptr::null_mut();
            vfs.pAppData = real.cast();
            vfs.xOpen = Some(open);
            vfs.xDelete = Some(delete);
            vfs.xAccess = Some(access);
            vfs.xFullPathname = Some(full_pathname);
            ffi::sqlite3_vfs_register(Box::into_raw(Box::new(vfs)), 0) == ffi::SQLITE_OK
        }
    });
    ok.then(|| VFS_NAME.to_str().expect("the name is ASCII"))
}

/// Our file object: SQLite's base (which must come first), the default VFS's file object
/// (which follows ours in the same allocation) and, for a WAL file, the gathered bytes; a
/// database file points at its WAL's, to drop what a rolled-back transaction left.
#[repr(C)]
struct File {
    base: ffi::sqlite3_file,
    real: *mut ffi::sqlite3_file,
    wal: *mut Gathered,
    /// For a main database file: the gathered bytes of its connection's WAL, if open.
    its_wal: *mut Gathered,
}

/// The index of the WAL write lock among the shared-memory locks (`WAL_WRITE_LOCK`).
const WAL_WRITE_LOCK: c_int = 0;

/// Open main database files by the address of the name SQLite gave `xOpen`, so the WAL
/// opened for one (whose name `sqlite3_filename_database` maps back to that address) can
/// be linked to it.
static DATABASES: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());

/// `File`'s size rounded up so the default VFS's object after it is 8-byte aligned.
const FILE_SIZE: usize = std::mem::size_of::<File>().next_multiple_of(8);

/// Appends to a WAL not yet written.
struct Gathered {
    bytes: Vec<u8>,
    /// Offset of `bytes[0]` in the file.
    start: i64,
    /// Where the commit frame being gathered begins.
    commit_at: Option<i64>,
    /// The database's page size, read from the WAL header once.
    page_size: Option<i64>,
    /// The database file linked to this WAL (its `its_wal` points here), if any.
    database: *mut File,
}

impl Default for Gathered {
    fn default() -> Self {
        Gathered {
            bytes: Vec::new(),
            start: 0,
            commit_at: None,
            page_size: None,
            database: ptr::null_mut(),
        }
    }
}

#[cfg(test)]
thread_local! {
    /// System calls that wrote gathered bytes on this thread.
    static GATHERED_WRITES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

impl Gathered {
    fn end(&self) -> i64 {
        self.start + self.bytes.len() as i64
    }
}

unsafe fn real_vfs(vfs: *mut ffi::sqlite3_vfs) -> *mut ffi::sqlite3_vfs {
    unsafe { (*vfs).pAppData.cast() }
}

unsafe extern "C" fn open(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    unsafe {
        let f = file.cast::<File>();
        let real = file.cast::<u8>().add(FILE_SIZE).cast::<ffi::sqlite3_file>();
        (*f).base.pMethods = ptr::null();
        (*f).real = real;
        (*f).wal = ptr::null_mut();
        (*f).its_wal = ptr::null_mut();
        (*real).pMethods = ptr::null();
        let inner = real_vfs(vfs);
        let rc = match (*inner).xOpen {
            Some(x) => x(inner, name, real, flags, out_flags),
            None => ffi::SQLITE_CANTOPEN,
        };
        // SQLite closes a file whose `pMethods` is set even when the open failed.
        if !(*real).pMethods.is_null() {
            (*f).base.pMethods = &METHODS;
            if rc == ffi::SQLITE_OK && flags & ffi::SQLITE_OPEN_WAL != 0 {
                let wal: *mut Gathered = Box::into_raw(Box::default());
                (*f).wal = wal;
                let database = ffi::sqlite3_filename_database(name) as usize;
                let databases = DATABASES.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(&(_, db)) = databases.iter().find(|(n, _)| *n == database) {
                    let db = db as *mut File;
                    (*db).its_wal = wal;
                    (*wal).database = db;
                }
            } else if rc == ffi::SQLITE_OK
                && flags & ffi::SQLITE_OPEN_MAIN_DB != 0
                && !name.is_null()
            {
                DATABASES
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((name as usize, f as usize));
            }
        }
        rc
    }
}

unsafe extern "C" fn delete(vfs: *mut ffi::sqlite3_vfs, name: *const c_char, sync: c_int) -> c_int {
    unsafe {
        let inner = real_vfs(vfs);
        (*inner)
            .xDelete
            .map_or(ffi::SQLITE_IOERR_DELETE, |x| x(inner, name, sync))
    }
}

unsafe extern "C" fn access(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    flags: c_int,
    out: *mut c_int,
) -> c_int {
    unsafe {
        let inner = real_vfs(vfs);
        (*inner)
            .xAccess
            .map_or(ffi::SQLITE_IOERR_ACCESS, |x| x(inner, name, flags, out))
    }
}

unsafe extern "C" fn full_pathname(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    size: c_int,
    out: *mut c_char,
) -> c_int {
    unsafe {
        let inner = real_vfs(vfs);
        (*inner)
            .xFullPathname
            .map_or(ffi::SQLITE_CANTOPEN, |x| x(inner, name, size, out))
    }
}

/// The default VFS's file object and its methods.
unsafe fn real(
    file: *mut ffi::sqlite3_file,
) -> (*mut ffi::sqlite3_file, &'static ffi::sqlite3_io_methods) {
    unsafe {
        let real = (*file.cast::<File>()).real;
        (real, &*(*real).pMethods)
    }
}

/// Writes what is gathered (if anything) with one system call.
unsafe fn write_gathered(file: *mut ffi::sqlite3_file) -> c_int {
    unsafe {
        let wal = (*file.cast::<File>()).wal;
        if wal.is_null() || (*wal).bytes.is_empty() {
            return ffi::SQLITE_OK;
        }
        let g = &mut *wal;
        let (real, methods) = real(file);
        let Some(x) = methods.xWrite else {
            return ffi::SQLITE_IOERR_WRITE;
        };
        let mut rc = ffi::SQLITE_OK;
        let mut offset = g.start;
        for piece in g.bytes.chunks(MAX_WRITE) {
            rc = x(real, piece.as_ptr().cast(), piece.len() as c_int, offset);
            #[cfg(test)]
            GATHERED_WRITES.with(|n| n.set(n.get() + 1));
            if rc != ffi::SQLITE_OK {
                break;
            }
            offset += piece.len() as i64;
        }
        g.bytes.clear();
        g.commit_at = None;
        rc
    }
}

/// The database's page size, from the WAL header (gathered, or in the file).
unsafe fn page_size(file: *mut ffi::sqlite3_file, g: &mut Gathered) -> Option<i64> {
    if g.page_size.is_none() {
        let mut header = [0u8; WAL_HEADER];
        if g.start == 0 && g.bytes.len() >= WAL_HEADER {
            header.copy_from_slice(&g.bytes[..WAL_HEADER]);
        } else {
            let (real, methods) = unsafe { real(file) };
            let rc = methods.xRead.map_or(ffi::SQLITE_IOERR_READ, |x| unsafe {
                x(real, header.as_mut_ptr().cast(), WAL_HEADER as c_int, 0)
            });
            if rc != ffi::SQLITE_OK {
                return None;
            }
        }
        let size = u32::from_be_bytes([header[8], header[9], header[10], header[11]]);
        // A page size of 65536 is stored as 1.
        g.page_size = match size {
            1 => Some(65536),
            512..=32768 if size.is_power_of_two() => Some(i64::from(size)),
            _ => None,
        };
    }
    g.page_size
}

unsafe extern "C" fn write(
    file: *mut ffi::sqlite3_file,
    data: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    unsafe {
        let wal = (*file.cast::<File>()).wal;
        if wal.is_null() {
            let (real, methods) = real(file);
            return methods
                .xWrite
                .map_or(ffi::SQLITE_IOERR_WRITE, |x| x(real, data, amount, offset));
        }
        if !(*wal).bytes.is_empty() && offset != (*wal).end() {
            let rc = write_gathered(file);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
        }
        let g = &mut *wal;
        if g.bytes.is_empty() {
            g.start = offset;
        }
        let bytes = std::slice::from_raw_parts(data.cast::<u8>(), amount as usize);
        g.bytes.extend_from_slice(bytes);
        if bytes.len() == FRAME_HEADER && bytes[4..8] != [0, 0, 0, 0] {
            g.commit_at = Some(offset);
        }
        let complete = match g.commit_at {
            // Unknown page size: write at once rather than guess.
            Some(at) => {
                page_size(file, g).is_none_or(|page| g.end() >= at + FRAME_HEADER as i64 + page)
            }
            None => false,
        };
        if complete || g.bytes.len() >= MAX_WRITE {
            return write_gathered(file);
        }
        ffi::SQLITE_OK
    }
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    unsafe {
        let written = write_gathered(file);
        let (real, methods) = real(file);
        let rc = methods.xClose.map_or(ffi::SQLITE_OK, |x| x(real));
        let f = file.cast::<File>();
        if !(*f).wal.is_null() {
            let wal = Box::from_raw((*f).wal);
            if !wal.database.is_null() {
                (*wal.database).its_wal = ptr::null_mut();
            }
            (*f).wal = ptr::null_mut();
        }
        if !(*f).its_wal.is_null() {
            (*(*f).its_wal).database = ptr::null_mut();
            (*f).its_wal = ptr::null_mut();
        }
        DATABASES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|&(_, db)| db != f as usize);
        if written != ffi::SQLITE_OK {
            written
        } else {
            rc
        }
    }
}

/// Writes what is gathered, then calls the default VFS's method.
macro_rules! after_writing {
    ($file:ident, $method:ident, $missing:expr, |$real:ident, $x:ident| $call:expr) => {
        unsafe {
            let rc = write_gathered($file);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
            let ($real, methods) = real($file);
            match methods.$method {
                Some($x) => $call,
                None => $missing,
            }
        }
    };
}

/// Calls the default VFS's method.
macro_rules! forward {
    ($file:ident, $method:ident, $missing:expr, |$real:ident, $x:ident| $call:expr) => {
        unsafe {
            let ($real, methods) = real($file);
            match methods.$method {
                Some($x) if methods.iVersion >= min_version(stringify!($method)) => $call,
                _ => $missing,
            }
        }
    };
}

/// The `iVersion` of `sqlite3_io_methods` that has `method`.
const fn min_version(method: &str) -> c_int {
    match method.as_bytes() {
        [b'x', b'S', b'h', b'm', ..] => 2,
        b"xFetch" | b"xUnfetch" => 3,
        _ => 1,
    }
}

unsafe extern "C" fn read(
    file: *mut ffi::sqlite3_file,
    out: *mut c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    after_writing!(file, xRead, ffi::SQLITE_IOERR_READ, |real, x| x(
        real, out, amount, offset
    ))
}

unsafe extern "C" fn truncate(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    after_writing!(file, xTruncate, ffi::SQLITE_IOERR_TRUNCATE, |real, x| x(
        real, size
    ))
}

unsafe extern "C" fn sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    after_writing!(file, xSync, ffi::SQLITE_IOERR_FSYNC, |real, x| x(
        real, flags
    ))
}

unsafe extern "C" fn file_size(file: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    after_writing!(file, xFileSize, ffi::SQLITE_IOERR_FSTAT, |real, x| x(
        real, size
    ))
}

unsafe extern "C" fn file_control(
    file: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    after_writing!(file, xFileControl, ffi::SQLITE_NOTFOUND, |real, x| x(
        real, op, arg
    ))
}

unsafe extern "C" fn lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    forward!(file, xLock, ffi::SQLITE_IOERR_LOCK, |real, x| x(
        real, level
    ))
}

unsafe extern "C" fn unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    forward!(file, xUnlock, ffi::SQLITE_IOERR_UNLOCK, |real, x| x(
        real, level
    ))
}

unsafe extern "C" fn check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    forward!(
        file,
        xCheckReservedLock,
        ffi::SQLITE_IOERR_CHECKRESERVEDLOCK,
        |real, x| x(real, out)
    )
}

unsafe extern "C" fn sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    forward!(file, xSectorSize, 4096, |real, x| x(real))
}

unsafe extern "C" fn device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    forward!(file, xDeviceCharacteristics, 0, |real, x| x(real))
}

unsafe extern "C" fn shm_map(
    file: *mut ffi::sqlite3_file,
    page: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    forward!(file, xShmMap, ffi::SQLITE_IOERR_SHMMAP, |real, x| x(
        real, page, size, extend, out
    ))
}

/// Drops gathered frames when the WAL write lock is taken or released: a transaction's
/// commit frame has been written by then, so what is left belongs to one that was rolled
/// back.
unsafe fn drop_leftovers(file: *mut ffi::sqlite3_file, offset: c_int, flags: c_int) {
    if offset == WAL_WRITE_LOCK && flags & ffi::SQLITE_SHM_EXCLUSIVE != 0 {
        unsafe {
            let wal = (*file.cast::<File>()).its_wal;
            if !wal.is_null() {
                (*wal).bytes.clear();
                (*wal).commit_at = None;
            }
        }
    }
}

unsafe extern "C" fn shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    unsafe { drop_leftovers(file, offset, flags) };
    forward!(file, xShmLock, ffi::SQLITE_IOERR_SHMLOCK, |real, x| x(
        real, offset, n, flags
    ))
}

unsafe extern "C" fn shm_barrier(file: *mut ffi::sqlite3_file) {
    forward!(file, xShmBarrier, (), |real, x| x(real))
}

unsafe extern "C" fn shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    forward!(file, xShmUnmap, ffi::SQLITE_OK, |real, x| x(real, delete))
}

unsafe extern "C" fn fetch(
    file: *mut ffi::sqlite3_file,
    offset: i64,
    amount: c_int,
    out: *mut *mut c_void,
) -> c_int {
    // Without the method, "no mapping": SQLite reads instead.
    forward!(
        file,
        xFetch,
        {
            *out = ptr::null_mut();
            ffi::SQLITE_OK
        },
        |real, x| x(real, offset, amount, out)
    )
}

unsafe extern "C" fn unfetch(
    file: *mut ffi::sqlite3_file,
    offset: i64,
    page: *mut c_void,
) -> c_int {
    forward!(file, xUnfetch, ffi::SQLITE_OK, |real, x| x(
        real, offset, page
    ))
}

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: Some(shm_map),
    xShmLock: Some(shm_lock),
    xShmBarrier: Some(shm_barrier),
    xShmUnmap: Some(shm_unmap),
    xFetch: Some(fetch),
    xUnfetch: Some(unfetch),
};

#[cfg(test)]
mod tests {
    use rusqlite::{Connection, OpenFlags};

    use super::*;

    fn ours(path: &std::path::Path) -> Connection {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
        let conn = Connection::open_with_flags_and_vfs(path, flags, vfs_name().unwrap()).unwrap();
        conn.pragma_update(None, "page_size", 1024).unwrap();
        conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
            .unwrap();
        conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        conn
    }

    /// A connection through the default VFS, as another process would read.
    fn plain(path: &std::path::Path) -> Connection {
        Connection::open(path).unwrap()
    }

    /// Ours, with a page cache so small that a large transaction spills frames to the WAL
    /// before it ends, on a table of blobs.
    fn spilling(path: &std::path::Path) -> Connection {
        let conn = ours(path);
        conn.pragma_update(None, "cache_size", 16).unwrap();
        conn.execute_batch("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)")
            .unwrap();
        conn
    }

    fn insert_blobs(conn: &Connection, rows: usize, bytes: i64) {
        for _ in 0..rows {
            conn.execute("INSERT INTO t (v) VALUES (randomblob(?1))", [bytes])
                .unwrap();
        }
    }

    fn count(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    fn writes() -> u64 {
        GATHERED_WRITES.with(|n| n.get())
    }

    fn integrity(conn: &Connection) -> String {
        conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn each_commit_is_one_write_and_visible_at_once_to_another_connection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let writer = ours(&path);
        writer
            .execute_batch(
                "CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT); CREATE INDEX t_v ON t(v);",
            )
            .unwrap();
        let reader = plain(&path);
        for i in 0..200 {
            let before = writes();
            // About four pages of rows and index entries per commit.
            writer
                .execute(
                    "INSERT INTO t (v) VALUES (?1)",
                    [format!("{i}-{}", "x".repeat(1500))],
                )
                .unwrap();
            assert_eq!(
                writes() - before,
                1,
                "commit {i}: {} writes",
                writes() - before
            );
            assert_eq!(count(&reader), i + 1, "commit {i} was not readable at once");
        }
        assert_eq!(integrity(&reader), "ok");
        // A restart: SQLite syncs the new WAL header before the first frame, so the next
        // commit writes the header, then its frames.
        writer
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        let before = writes();
        writer
            .execute("INSERT INTO t (v) VALUES ('after')", [])
            .unwrap();
        assert_eq!(writes() - before, 2);
        assert_eq!(count(&reader), 201);
        drop(writer);
        // Reopened through the default VFS alone: everything is in the files.
        let again = plain(&path);
        assert_eq!(count(&again), 201);
        assert_eq!(integrity(&again), "ok");
    }

    #[test]
    fn a_large_transaction_is_written_in_parts_and_a_rolled_back_one_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.db");
        let writer = spilling(&path);
        let reader = plain(&path);
        let before = writes();
        writer.execute_batch("BEGIN").unwrap();
        insert_blobs(&writer, 3000, 1000);
        assert_eq!(count(&reader), 0, "uncommitted rows were visible");
        writer.execute_batch("COMMIT").unwrap();
        assert!(
            writes() - before >= 3,
            "3 MB took {} writes",
            writes() - before
        );
        assert_eq!(count(&reader), 3000);

        writer.execute_batch("BEGIN").unwrap();
        insert_blobs(&writer, 3000, 1000);
        writer.execute_batch("ROLLBACK").unwrap();
        assert_eq!(count(&reader), 3000);
        writer
            .execute("INSERT INTO t (v) VALUES (x'00')", [])
            .unwrap();
        assert_eq!(count(&reader), 3001);
        assert_eq!(integrity(&reader), "ok");
        drop(writer);
        drop(reader);
        let again = plain(&path);
        assert_eq!(count(&again), 3001);
        assert_eq!(integrity(&again), "ok");
    }

    #[test]
    fn what_a_rolled_back_transaction_left_gathered_is_never_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("residue.db");
        let ours = spilling(&path);
        // A transaction large enough to spill frames to the WAL, rolled back: its last
        // frames (less than one write's worth) stay gathered, never committed.
        ours.execute_batch("BEGIN").unwrap();
        insert_blobs(&ours, 500, 900);
        ours.execute_batch("ROLLBACK").unwrap();
        // Another writer (another process, say) appends where those frames were, and
        // past them.
        let other = plain(&path);
        insert_blobs(&other, 1000, 900);
        // Our next commit must not write the old frames over the other writer's.
        ours.execute("INSERT INTO t (v) VALUES (x'01')", [])
            .unwrap();
        drop(ours);
        drop(other);
        let again = plain(&path);
        assert_eq!(integrity(&again), "ok");
        assert_eq!(count(&again), 1001);
    }
}
