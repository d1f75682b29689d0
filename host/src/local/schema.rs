//! The store's SQLite schema.

use rusqlite::Connection;

/// Bumped when the schema changes incompatibly.
const SCHEMA_VERSION: i64 = 1;

pub(super) fn create(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS projects (
             project_hash TEXT PRIMARY KEY,
             title TEXT NOT NULL,
             description TEXT NOT NULL,
             ontology_hash TEXT NOT NULL,
             ontology_json TEXT NOT NULL,
             workflow_json TEXT NOT NULL,
             created_at TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS data_units (
             data_hash TEXT PRIMARY KEY,
             project_hash TEXT NOT NULL REFERENCES projects(project_hash),
             dataset_hash TEXT NOT NULL,
             title TEXT NOT NULL,
             data_type TEXT NOT NULL,
             mime_type TEXT NOT NULL,
             file TEXT NOT NULL,
             width INTEGER NOT NULL,
             height INTEGER NOT NULL,
             frames INTEGER NOT NULL,
             fps REAL,
             item_uuid TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS storage_items (
             uuid TEXT PRIMARY KEY,
             folder_uuid TEXT NOT NULL,
             name TEXT NOT NULL,
             item_type TEXT NOT NULL,
             mime_type TEXT,
             file TEXT,
             width INTEGER,
             height INTEGER,
             frames INTEGER,
             fps REAL,
             file_size INTEGER,
             client_metadata TEXT NOT NULL DEFAULT '{}',
             group_uuid TEXT,
             group_seq INTEGER,
             created_at TEXT NOT NULL);
         CREATE INDEX IF NOT EXISTS storage_children ON storage_items(group_uuid, group_seq);
         CREATE TABLE IF NOT EXISTS public_keys (
             key_hex TEXT PRIMARY KEY,
             comment TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS tasks (
             task_uuid TEXT PRIMARY KEY,
             project_hash TEXT NOT NULL REFERENCES projects(project_hash),
             data_hash TEXT NOT NULL REFERENCES data_units(data_hash),
             stage_uuid TEXT NOT NULL,
             status TEXT NOT NULL,
             branch_name TEXT NOT NULL,
             priority REAL,
             seq INTEGER NOT NULL,
             assignee TEXT,
             last_actioned_by TEXT,
             created_at TEXT,
             updated_at TEXT);
         CREATE INDEX IF NOT EXISTS tasks_by_stage ON tasks(project_hash, stage_uuid, seq);
         CREATE TABLE IF NOT EXISTS label_rows (
             project_hash TEXT NOT NULL REFERENCES projects(project_hash),
             data_hash TEXT NOT NULL REFERENCES data_units(data_hash),
             label_hash TEXT,
             row_json TEXT NOT NULL,
             PRIMARY KEY (project_hash, data_hash));
         CREATE TABLE IF NOT EXISTS label_branches (
             project_hash TEXT NOT NULL REFERENCES projects(project_hash),
             data_hash TEXT NOT NULL REFERENCES data_units(data_hash),
             branch_name TEXT NOT NULL,
             label_hash TEXT NOT NULL,
             row_json TEXT NOT NULL,
             PRIMARY KEY (project_hash, data_hash, branch_name));",
    )?;
    conn.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?1)",
        [SCHEMA_VERSION.to_string()],
    )?;
    Ok(())
}

/// Per connection, and idempotent: WAL commits without an fsync each
/// (`synchronous = NORMAL`: a crash keeps the store consistent and may lose
/// only the last commits), and the indexes that find a project's task by its
/// data (priorities) and a label row by its label hash (saves over HTTP),
/// and the last sequence number (moves): without them each lookup scanned
/// the project, quadratic over a run. A page cache of up to 64 MiB and reads
/// through a memory map (up to 256 MiB): with SQLite's default 2 MiB cache
/// the emulator re-read label-row pages from the kernel for every request.
pub(super) fn tune(conn: &Connection) -> rusqlite::Result<()> {
    tune_reader(conn)?;
    add_task_details(conn)?;
    // Label rows of branches other than `main` (stores made before had none).
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS label_branches (
             project_hash TEXT NOT NULL REFERENCES projects(project_hash),
             data_hash TEXT NOT NULL REFERENCES data_units(data_hash),
             branch_name TEXT NOT NULL,
             label_hash TEXT NOT NULL,
             row_json TEXT NOT NULL,
             PRIMARY KEY (project_hash, data_hash, branch_name));
         CREATE INDEX IF NOT EXISTS label_branches_by_hash ON label_branches(project_hash, label_hash);",
    )?;
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL;
         CREATE INDEX IF NOT EXISTS tasks_by_data ON tasks(project_hash, data_hash);
         CREATE INDEX IF NOT EXISTS label_rows_by_hash ON label_rows(project_hash, label_hash);
         CREATE INDEX IF NOT EXISTS tasks_by_seq ON tasks(seq);",
    )
}

/// Stores made before tasks carried who and when (assignee, last actioned
/// by, created and updated times) get those columns, empty: a column added,
/// nothing rewritten, so the schema version stays.
fn add_task_details(conn: &Connection) -> rusqlite::Result<()> {
    let mut st = conn.prepare("SELECT name FROM pragma_table_info('tasks')")?;
    let have: Vec<String> = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    for column in ["assignee", "last_actioned_by", "created_at", "updated_at"] {
        if !have.iter().any(|c| c == column) {
            conn.execute_batch(&format!("ALTER TABLE tasks ADD COLUMN {column} TEXT"))?;
        }
    }
    Ok(())
}

/// What any connection gets, the read-only one included: a statement
/// cache, the page cache and the memory map (see [`tune`]).
pub(super) fn tune_reader(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_prepared_statement_cache_capacity(64);
    conn.execute_batch(
        "PRAGMA cache_size = -65536;
         PRAGMA mmap_size = 268435456;",
    )
}

pub(super) fn check(conn: &Connection) -> Result<(), String> {
    let v: String = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .map_err(|e| format!("no schema version: {e}"))?;
    if v != SCHEMA_VERSION.to_string() {
        return Err(format!(
            "schema version {v}, this runner-host reads version {SCHEMA_VERSION}"
        ));
    }
    Ok(())
}
