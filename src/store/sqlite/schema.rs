//! MLflow's SQL schema: the DDL mlscope creates, the alembic revisions it knows, and the
//! inspection of an existing database (head, tables, optional columns).
//!
//! mlscope never migrates or alters a schema. It creates new databases at MLflow 3.17's head
//! ([`CREATE_HEAD`]) by executing the DDL that MLflow 3.17.2 itself produced, verbatim, and it
//! writes into existing databases only at the released heads listed in [`KNOWN_HEADS`].

use rusqlite::Connection;

/// The alembic revision of databases mlscope creates: the head of MLflow 3.17.0–3.17.2.
pub const CREATE_HEAD: &str = "dc11669786a5";

/// Complete DDL of an MLflow tracking database at [`CREATE_HEAD`], as `sqlite3 .schema` printed
/// it for a database created by MLflow 3.17.2 (65 tables, 152 indexes, 1 trigger).
pub const DDL_3_17: &str = include_str!("../../../assets/schema/mlflow-3.17-dc11669786a5.sql");

/// DDL at the MLflow 2.20–2.22 head (`0584bdc529eb`); used to test writes at an older head.
#[cfg(test)]
pub const DDL_2_22: &str = include_str!("../../../assets/schema/mlflow-2.22-0584bdc529eb.sql");

/// Name and description of the `workspaces` row MLflow's 3.10 migration inserts.
pub const DEFAULT_WORKSPACE: (&str, &str) = ("default", "Default workspace for legacy resources");

/// Released MLflow heads mlscope reads and writes: `(revision, MLflow versions)`.
///
/// The tracking tables mlscope writes (experiments, runs, metrics, latest_metrics, params, tags,
/// experiment_tags, datasets, inputs, input_tags) have the same write-relevant columns at all of
/// these heads, except `experiments.workspace` (3.10+, NOT NULL with default `'default'`) and
/// `inputs.step` (3.0+, default 0), which are detected per database.
pub const KNOWN_HEADS: &[(&str, &str)] = &[
    ("0584bdc529eb", "2.20-2.22"),
    ("bda7b8c39065", "3.0-3.1"),
    ("770bee3ae1dd", "3.2"),
    ("1a0cddfcaa16", "3.3"),
    ("71994744cf8e", "3.4"),
    ("bf29a5ff90ea", "3.5-3.7"),
    ("1bd49d398cd23", "3.8"),
    ("d3e4f5a6b7c8", "3.9"),
    ("1b5f0d9ad7c1", "3.10"),
    ("c3d6457b6d8a", "3.11"),
    ("7d34483879f0", "3.12"),
    ("da6fb0208061", "3.13"),
    ("b7e4c1a90f23", "3.14"),
    ("6f8d9c3b2a1e", "3.15"),
    ("b7e2c1a4d9f3", "3.16"),
    ("dc11669786a5", "3.17"),
];

/// MLflow 3.17's whole migration chain, oldest first (67 revisions). Used to tell a user whether
/// an unknown revision is an older MLflow schema or one newer than mlscope.
const MIGRATION_CHAIN: &[&str] = &[
    "451aebb31d03",
    "90e64c465722",
    "181f10493468",
    "df50e92ffc5e",
    "7ac759974ad8",
    "89d4b8295536",
    "2b4d017a5e9b",
    "cfd24bdc0731",
    "0a8213491aaa",
    "728d730b5ebd",
    "27a6a02d2cf1",
    "84291f40a231",
    "a8c4a736bde6",
    "39d1c3be5f05",
    "c48cb773bb87",
    "bd07f7e963c5",
    "0c779009ac13",
    "cc1f77228345",
    "97727af70f4d",
    "3500859a5d39",
    "7f2a7d5fae7d",
    "2d6e25af4d3e",
    "acf3f17fdcc7",
    "867495a8f9d4",
    "5b0e9adcef9c",
    "4465047574b1",
    "f5a4f2784254",
    "0584bdc529eb",
    "400f98739977",
    "6953534de441",
    "bda7b8c39065",
    "cbc13b556ace",
    "770bee3ae1dd",
    "a1b2c3d4e5f6",
    "de4033877273",
    "1a0cddfcaa16",
    "534353b11cbc",
    "71994744cf8e",
    "3da73c924c2f",
    "bf29a5ff90ea",
    "1bd49d398cd23",
    "b7c8d9e0f1a2",
    "5d2d30f0abce",
    "c9d4e5f6a7b8",
    "2c33131f4dae",
    "d3e4f5a6b7c8",
    "d0e1f2a3b4c5",
    "c8d9e0f1a2b3",
    "1b5f0d9ad7c1",
    "e1f2a3b4c5d6",
    "76601a5f987d",
    "c3d6457b6d8a",
    "a5b4c3d2e1f0",
    "ae8bbe7743c9",
    "7d34483879f0",
    "da6fb0208061",
    "89d3d66ed43f",
    "b7e4c1a90f23",
    "a8b9c0d1e2f3",
    "c1d2e3f4a5b6",
    "c3d9e7f1a2b4",
    "6f8d9c3b2a1e",
    "1971f2d9a75b",
    "17e22815139b",
    "b7e2c1a4d9f3",
    "75868b020152",
    "dc11669786a5",
];

/// Tables every MLflow tracking database has (MLflow 1.x onwards).
pub const CORE_TABLES: &[&str] = &[
    "experiments",
    "runs",
    "metrics",
    "latest_metrics",
    "params",
    "tags",
    "experiment_tags",
];

/// What mlscope found in an existing database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaInfo {
    /// `alembic_version.version_num` (`None` when the table is empty).
    pub revision: Option<String>,
    /// `experiments.workspace` exists (MLflow 3.10+).
    pub has_workspace: bool,
    /// `experiments.creation_time` and `last_update_time` exist (MLflow 2.2+).
    pub has_experiment_times: bool,
    /// `runs.deleted_time` exists.
    pub has_deleted_time: bool,
    /// `datasets`, `inputs` and `input_tags` exist (MLflow 2.4+).
    pub has_inputs: bool,
    /// `inputs.step` exists (MLflow 3.0+).
    pub inputs_has_step: bool,
    /// `assessments` exists (MLflow 3.2+): assessments sourced from a run are removed with it.
    pub has_assessments: bool,
    /// Why writes are refused at this revision, if they are.
    pub write_refusal: Option<String>,
}

impl SchemaInfo {
    /// MLflow versions whose head is this revision, if it is a known head.
    pub fn mlflow_versions(&self) -> Option<&'static str> {
        let rev = self.revision.as_deref()?;
        KNOWN_HEADS
            .iter()
            .find(|(r, _)| *r == rev)
            .map(|(_, versions)| *versions)
    }
}

/// Whether the database has no tables at all (a new or zero-length file).
pub fn is_empty_database(conn: &Connection) -> rusqlite::Result<bool> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
        [],
        |r| r.get(0),
    )?;
    Ok(n == 0)
}

/// Creates MLflow's complete schema at [`CREATE_HEAD`] plus the rows MLflow's migrations insert
/// (`alembic_version`, the default workspace) and experiment `0`. Run inside a transaction.
pub fn create_schema(
    conn: &Connection,
    default_experiment_location: &str,
    now_ms: i64,
) -> rusqlite::Result<()> {
    conn.execute_batch(DDL_3_17)?;
    conn.execute(
        "INSERT INTO alembic_version (version_num) VALUES (?1)",
        [CREATE_HEAD],
    )?;
    conn.execute(
        "INSERT INTO workspaces (name, description) VALUES (?1, ?2)",
        [DEFAULT_WORKSPACE.0, DEFAULT_WORKSPACE.1],
    )?;
    conn.execute(
        "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, \
         creation_time, last_update_time, workspace) VALUES (0, 'Default', ?1, 'active', ?2, ?2, 'default')",
        rusqlite::params![default_experiment_location, now_ms],
    )?;
    Ok(())
}

fn table_names(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(names)
}

fn column_names(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
    let names = stmt
        .query_map([table], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(names)
}

/// Why a database cannot be used at all.
#[derive(Debug)]
pub enum InspectError {
    /// A SQLite error (not a database, I/O…).
    Sqlite(rusqlite::Error),
    /// The database is not an MLflow tracking database; the message says why.
    NotMlflow(String),
}

impl From<rusqlite::Error> for InspectError {
    fn from(e: rusqlite::Error) -> Self {
        InspectError::Sqlite(e)
    }
}

/// Inspects an existing MLflow database: its revision, optional tables and columns, and
/// whether mlscope may write to it. Reads only.
pub fn inspect(conn: &Connection) -> Result<SchemaInfo, InspectError> {
    let tables = table_names(conn)?;
    let has = |t: &str| tables.iter().any(|n| n == t);
    let missing: Vec<&str> = CORE_TABLES.iter().copied().filter(|t| !has(t)).collect();
    if !has("alembic_version") || !missing.is_empty() {
        let mut what = Vec::new();
        if !has("alembic_version") {
            what.push("alembic_version".to_string());
        }
        what.extend(missing.iter().map(|t| t.to_string()));
        return Err(InspectError::NotMlflow(format!(
            "not an MLflow tracking database: table(s) {} missing ({} table(s) present)",
            what.join(", "),
            tables.len()
        )));
    }
    let revisions: Vec<String> = {
        let mut stmt = conn.prepare("SELECT version_num FROM alembic_version")?;
        stmt.query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?
    };
    let revision = match revisions.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    };
    let exp_cols = column_names(conn, "experiments")?;
    let run_cols = column_names(conn, "runs")?;
    let has_inputs = has("datasets") && has("inputs") && has("input_tags");
    let inputs_has_step = has_inputs && column_names(conn, "inputs")?.iter().any(|c| c == "step");
    let mut info = SchemaInfo {
        has_workspace: exp_cols.iter().any(|c| c == "workspace"),
        has_experiment_times: exp_cols.iter().any(|c| c == "creation_time")
            && exp_cols.iter().any(|c| c == "last_update_time"),
        has_deleted_time: run_cols.iter().any(|c| c == "deleted_time"),
        has_inputs,
        inputs_has_step,
        has_assessments: has("assessments"),
        revision,
        write_refusal: None,
    };
    info.write_refusal = write_refusal(&info, &revisions);
    Ok(info)
}

fn write_refusal(info: &SchemaInfo, revisions: &[String]) -> Option<String> {
    let rev = match revisions {
        [] => {
            return Some(
                "its alembic_version table is empty (MLflow itself refuses such a database: \
                 'found version None'); restore it from a backup or let MLflow recreate it"
                    .to_string(),
            );
        }
        [one] => one.as_str(),
        many => {
            return Some(format!(
                "its alembic_version table holds {} revisions ({}) instead of one",
                many.len(),
                many.join(", ")
            ));
        }
    };
    if info.mlflow_versions().is_some() {
        // Every known head has these; a database lacking them was altered by hand.
        if !info.has_experiment_times || !info.has_deleted_time || !info.has_inputs {
            return Some(format!(
                "it claims alembic revision {rev} but lacks columns or tables that revision has"
            ));
        }
        return None;
    }
    let known = KNOWN_HEADS
        .iter()
        .map(|(r, v)| format!("{r} (MLflow {v})"))
        .collect::<Vec<_>>()
        .join(", ");
    Some(match MIGRATION_CHAIN.iter().position(|r| *r == rev) {
        Some(pos) if pos < MIGRATION_CHAIN.len() - 1 => format!(
            "it is at alembic revision {rev}, an older or intermediate MLflow schema that mlscope \
             does not write to; upgrade it with MLflow 2.20 or later (take a backup, then \
             `mlflow db upgrade <database_uri>`) to one of the heads mlscope writes: {known}"
        ),
        _ => format!(
            "it is at alembic revision {rev}, which mlscope does not know (probably written by an \
             MLflow newer than 3.17); mlscope reads it but does not write to it. Use a newer \
             mlscope, or the MLflow version that created it. Heads mlscope writes: {known}"
        ),
    })
}
