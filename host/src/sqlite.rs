//! The SQLite plumbing shared by the embedded store ([`crate::local`]) and
//! the failed-task record ([`crate::runner::FailedTasks`]): connections that
//! wait for another process's lock, a connection behind a mutex that a
//! panic cannot make unusable, and statements through the statement cache.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::Connection;

/// How long a connection waits for another process (an emulator, `local
/// status`, a second runner) to release the database's lock.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection to the database at `db`, waiting up to [`BUSY_TIMEOUT`]
/// for other processes' locks.
pub(crate) fn connect(db: &Path, flags: rusqlite::OpenFlags) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(db, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

/// One connection shared by a process's threads.
pub(crate) struct Shared(Mutex<Connection>);

impl Shared {
    pub(crate) fn new(conn: Connection) -> Shared {
        Shared(Mutex::new(conn))
    }

    /// The connection. A panic while holding it cannot leave SQLite
    /// inconsistent (every write is one transaction), so a poisoned lock is
    /// usable.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Statements through the connection's statement cache: the emulator runs
/// the same few statements for every row of every request, and parsing
/// each again cost a tenth of its time.
pub(crate) trait Cached {
    fn exec_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
    fn row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>;
}

impl Cached for Connection {
    fn exec_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::OpenFlags;

    #[test]
    fn a_connection_survives_a_panic_while_it_was_held() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
        let shared = std::sync::Arc::new(Shared::new(connect(&db, flags).unwrap()));
        shared
            .lock()
            .execute_batch("CREATE TABLE t (x INTEGER)")
            .unwrap();
        let s = shared.clone();
        let panicked = std::thread::spawn(move || {
            let _held = s.lock();
            panic!("a bug while holding the connection");
        })
        .join();
        assert!(panicked.is_err());
        let conn = shared.lock();
        conn.exec_cached("INSERT INTO t VALUES (?1)", [7]).unwrap();
        let x: i64 = conn
            .row_cached("SELECT x FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(x, 7);
    }

    #[test]
    fn a_connection_waits_for_another_processs_lock() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
        let conn = connect(&db, flags).unwrap();
        // SQLite's own record of the wait: a busy database is retried for
        // this long instead of failing at once with SQLITE_BUSY.
        let ms: i64 = conn
            .query_row("PRAGMA busy_timeout", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ms, BUSY_TIMEOUT.as_millis() as i64);
        assert_eq!(
            Connection::open(&db)
                .unwrap()
                .query_row("PRAGMA busy_timeout", [], |r| r.get::<_, i64>(0))
                .unwrap(),
            5000,
            "rusqlite's own default, which runner-host's other processes could outlast"
        );
    }
}
