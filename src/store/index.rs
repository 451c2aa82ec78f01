//! A persistent index of a file store's runs, kept outside the store (issue 18).
//!
//! Listing an `mlruns` folder means reading ~40 small files per run; the index keeps what a
//! listing read (each run with its params, tags, latest metrics and inputs) together with a
//! digest of the stamps of the files it came from (size, modification time in ns, inode and
//! status-change time) and the run's start time (to order a listing newest first before any run
//! is decoded: listings take runs from the index a batch at a time). A later listing, in this process or another, `stat`s the files and uses a kept run
//! only when every stamp is the same; anything else is read again from the store. So the index
//! can make a listing faster, never different:
//!
//! * it lives in a SQLite file under the cache folder (`$MLSCOPE_INDEX_DIR`, else
//!   `$XDG_CACHE_HOME/mlscope/index`, else `~/.cache/mlscope/index`), named after a hash of the
//!   store's canonical path; nothing is ever written inside the store, and MLflow's writers
//!   (and ours) know nothing of it;
//! * each entry carries a checksum; an entry that does not decode or whose checksum differs is
//!   ignored (and overwritten by the next listing), a file that is not a readable index of the
//!   expected version is deleted and rebuilt, and any error of the index itself only turns the
//!   index off for that store: listings never fail because of it;
//! * the status-change time (`ctime`) catches an in-place rewrite of the same size whose
//!   modification time was set back; runs with a file changed in the last two seconds are not
//!   kept at all (git's "racy" rule), so a same-size rewrite within the timestamp granularity of
//!   the file system is read again. What no stamp catches: a param file rewritten in place (its
//!   name is checked, not its stamp, since MLflow never changes a param), and a change that
//!   restores size, mtime and inode while the clock was set back to give the same ctime.
//!
//! `MLSCOPE_NO_INDEX=1` turns it off (then every listing reads every run once per process).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags, params};

use crate::env;
use crate::model::{
    Dataset, DatasetInput, InputTag, LifecycleStage, Metric, Run, RunData, RunInfo, RunInputs,
    RunStatus,
};

/// Format of the index file; a file of another version is rebuilt.
const FORMAT_VERSION: &str = "mlscope-run-index-2";
/// Stores with fewer runs than this are not indexed by default (reading them is cheap, and
/// every store looked at once would otherwise leave a file in the cache).
pub const DEFAULT_MIN_RUNS: usize = 500;

/// Where and when a file store keeps its persistent run index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexOptions {
    /// Folder holding the index files (one per store).
    pub dir: PathBuf,
    /// Smallest number of runs read by one listing for the index to be written.
    pub min_runs: usize,
}

impl IndexOptions {
    /// The default: the cache folder of [`default_index_dir`] and [`DEFAULT_MIN_RUNS`]; `None`
    /// when `MLSCOPE_NO_INDEX` is set or no cache folder can be found.
    pub fn from_env() -> Option<IndexOptions> {
        if env::flag(env::MLSCOPE_NO_INDEX) {
            return None;
        }
        Some(IndexOptions {
            dir: default_index_dir()?,
            min_runs: DEFAULT_MIN_RUNS,
        })
    }
}

/// `$MLSCOPE_INDEX_DIR`, else `$XDG_CACHE_HOME/mlscope/index`, else `~/.cache/mlscope/index`
/// (`%LOCALAPPDATA%\mlscope\index` on Windows).
pub fn default_index_dir() -> Option<PathBuf> {
    if let Some(dir) = env::var(env::MLSCOPE_INDEX_DIR) {
        return Some(PathBuf::from(dir));
    }
    let base = env::var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| env::var("LOCALAPPDATA").map(PathBuf::from))
        .or_else(|| env::var("HOME").map(|h| Path::new(&h).join(".cache")))?;
    Some(base.join("mlscope").join("index"))
}

/// One kept run as stored: its folder relative to the store root, the encoded stamps and the
/// encoded run.
#[derive(Debug)]
pub(crate) struct IndexEntry {
    /// Run folder relative to the store root (`<experiment>/<run>`).
    pub(crate) dir: String,
    /// Encoded fingerprint (opaque here; `snapshot.rs` encodes it).
    pub(crate) fingerprint: Vec<u8>,
    /// Encoded run ([`encode_run`]).
    pub(crate) run: Vec<u8>,
    /// The run's start time, stored beside it so that a listing can order the kept runs
    /// newest first without decoding them (a hint for the order only: the run is what counts).
    pub(crate) start_time: Option<i64>,
}

/// An open index file of one store.
#[derive(Debug)]
pub(crate) struct RunIndex {
    conn: Connection,
    /// The index file (deleted when found damaged, to be rebuilt).
    path: PathBuf,
}

impl RunIndex {
    /// Opens the index of the store at `root`, creating it when `create` (else `None` when
    /// there is none yet); a damaged file or one of another version is replaced. `None` when
    /// the index cannot be used.
    pub(crate) fn open(options: &IndexOptions, root: &Path, create: bool) -> Option<RunIndex> {
        let canonical = std::fs::canonicalize(root).ok()?;
        let key = canonical.to_string_lossy().into_owned();
        let digest = md5_hex(key.as_bytes());
        let path = options.dir.join(format!("{digest}.sqlite"));
        if !create && !path.exists() {
            return None;
        }
        std::fs::create_dir_all(&options.dir).ok()?;
        prune_once(&options.dir);
        let root_file = options.dir.join(format!("{digest}.root"));
        if let Some(index) = RunIndex::open_file(&path, &key) {
            let _ = std::fs::write(&root_file, key.as_bytes());
            return Some(index);
        }
        // Not an index we can read: start again.
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        let index = RunIndex::open_file(&path, &key)?;
        let _ = std::fs::write(&root_file, key.as_bytes());
        Some(index)
    }

    fn open_file(path: &Path, root_key: &str) -> Option<RunIndex> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ok()?;
        conn.busy_timeout(Duration::from_millis(2000)).ok()?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
             CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS runs (dir TEXT PRIMARY KEY, start_time INTEGER,
                 fingerprint BLOB NOT NULL, run BLOB NOT NULL, checksum INTEGER NOT NULL);
             CREATE INDEX IF NOT EXISTS runs_heads ON runs (start_time, dir);",
        )
        .ok()?;
        let stored = |key: &str| -> Option<String> {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .ok()
        };
        match (stored("version"), stored("root")) {
            (Some(v), Some(r)) if v == FORMAT_VERSION && r == root_key => {}
            (None, None) => {
                let empty: i64 = conn
                    .query_row("SELECT count(*) FROM runs", [], |r| r.get(0))
                    .ok()?;
                if empty != 0 {
                    return None;
                }
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('version', ?1), ('root', ?2)",
                    params![FORMAT_VERSION, root_key],
                )
                .ok()?;
            }
            _ => return None,
        }
        // No `PRAGMA quick_check` here: it reads the whole file (~0.1 s for 10,000 runs) before
        // the first batch. Damage shows as an error of a later statement instead, and then
        // the file is deleted ([`RunIndex::discard_if_damaged`]); damaged entries fail their
        // checksum.
        Some(RunIndex {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Deletes the index file after an error that says it is damaged, so that the next
    /// listing writes a new one; any other error (a lock held too long) leaves it.
    pub(crate) fn discard_if_damaged(self, error: &rusqlite::Error) {
        use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
        if matches!(
            error.sqlite_error_code(),
            Some(DatabaseCorrupt | NotADatabase)
        ) {
            let path = self.path.clone();
            drop(self);
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
    }

    /// Every kept run folder with its start time, without the runs themselves: what a listing
    /// needs to order the runs before reading any (an error when the index cannot be read). Read
    /// from the covering index `runs_heads` (~100 bytes a run), not the table's pages.
    pub(crate) fn heads(&self) -> rusqlite::Result<Vec<(String, Option<i64>)>> {
        let mut stmt = self.conn.prepare("SELECT dir, start_time FROM runs")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?))
        })?;
        rows.collect()
    }

    /// The entries of `dirs` whose checksum matches (missing, unreadable and damaged entries
    /// are left out: those runs are read from the store again and their entries replaced).
    pub(crate) fn entries(&self, dirs: &[String]) -> Vec<IndexEntry> {
        let Ok(mut stmt) = self.conn.prepare_cached(
            "SELECT start_time, fingerprint, run, checksum FROM runs WHERE dir = ?1",
        ) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(dirs.len());
        for dir in dirs {
            let row = stmt.query_row([dir], |r| {
                Ok((
                    r.get::<_, Option<i64>>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            });
            if let Ok((start_time, fingerprint, run, sum)) = row
                && checksum(&fingerprint, &run) == sum
            {
                out.push(IndexEntry {
                    dir: dir.clone(),
                    fingerprint,
                    run,
                    start_time,
                });
            }
        }
        out
    }

    /// Writes changed entries and forgets removed ones, in one transaction; an error leaves
    /// the index as it was (it is a cache: the next listing tries again).
    pub(crate) fn save(&mut self, changed: &[IndexEntry], removed: &[String]) -> bool {
        let Ok(tx) = self.conn.transaction() else {
            return false;
        };
        {
            let Ok(mut put) = tx.prepare_cached(
                "INSERT OR REPLACE INTO runs (dir, start_time, fingerprint, run, checksum) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            ) else {
                return false;
            };
            for e in changed {
                if put
                    .execute(params![
                        e.dir,
                        e.start_time,
                        e.fingerprint,
                        e.run,
                        checksum(&e.fingerprint, &e.run)
                    ])
                    .is_err()
                {
                    return false;
                }
            }
            let Ok(mut del) = tx.prepare_cached("DELETE FROM runs WHERE dir = ?1") else {
                return false;
            };
            for dir in removed {
                if del.execute([dir]).is_err() {
                    return false;
                }
            }
        }
        tx.commit().is_ok()
    }
}

/// Deletes, once per process, the index files of stores that no longer exist (each index has a
/// `.root` file beside it naming its store).
fn prune_once(dir: &Path) {
    static PRUNED: std::sync::Once = std::sync::Once::new();
    PRUNED.call_once(|| {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "root") {
                continue;
            }
            let Ok(root) = std::fs::read_to_string(&path) else {
                continue;
            };
            if Path::new(&root).exists() {
                continue;
            }
            let stem = path.with_extension("");
            for suffix in [
                ".sqlite",
                ".sqlite-wal",
                ".sqlite-shm",
                ".sqlite-journal",
                ".root",
            ] {
                let _ = std::fs::remove_file(format!("{}{suffix}", stem.display()));
            }
        }
    });
}

fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A 64-bit FNV-1a over both blobs, eight bytes at a time: catches a damaged entry (not an
/// attacker).
pub(crate) fn checksum(a: &[u8], b: &[u8]) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [a, b] {
        h = (h ^ part.len() as u64).wrapping_mul(0x100_0000_01b3);
        let mut chunks = part.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h ^ u64::from_le_bytes(w)).wrapping_mul(0x100_0000_01b3);
        }
        for &byte in chunks.remainder() {
            h = (h ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
        }
    }
    h as i64
}

/// A little binary writer for index entries.
#[derive(Default)]
pub(crate) struct Writer(pub(crate) Vec<u8>);

impl Writer {
    pub(crate) fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub(crate) fn len(&mut self, n: usize) {
        self.0.extend_from_slice(&(n as u32).to_le_bytes());
    }
    pub(crate) fn str(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
    fn opt_i64(&mut self, v: Option<i64>) {
        match v {
            Some(v) => {
                self.u8(1);
                self.i64(v);
            }
            None => self.u8(0),
        }
    }
    fn opt_str(&mut self, v: Option<&str>) {
        match v {
            Some(v) => {
                self.u8(1);
                self.str(v);
            }
            None => self.u8(0),
        }
    }
    /// A time as signed nanoseconds since the epoch (exact for any `SystemTime` of a file).
    pub(crate) fn time(&mut self, t: Option<SystemTime>) {
        let nanos: Option<i128> = t.map(|t| match t.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_nanos() as i128,
            Err(e) => -(e.duration().as_nanos() as i128),
        });
        match nanos {
            Some(n) => {
                self.u8(1);
                self.0.extend_from_slice(&n.to_le_bytes());
            }
            None => self.u8(0),
        }
    }
}

/// Reads what [`Writer`] wrote; every read is bounds-checked (`None` at the first problem).
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    pub(crate) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    pub(crate) fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    pub(crate) fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    pub(crate) fn len(&mut self) -> Option<usize> {
        let n = u32::from_le_bytes(self.take(4)?.try_into().ok()?) as usize;
        // A count can never exceed the bytes left (every item takes at least one byte).
        (n <= self.0.len()).then_some(n)
    }
    pub(crate) fn str(&mut self) -> Option<String> {
        let n = self.len()?;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
    fn opt_i64(&mut self) -> Option<Option<i64>> {
        match self.u8()? {
            0 => Some(None),
            1 => Some(Some(self.i64()?)),
            _ => None,
        }
    }
    fn opt_str(&mut self) -> Option<Option<String>> {
        match self.u8()? {
            0 => Some(None),
            1 => Some(Some(self.str()?)),
            _ => None,
        }
    }
    #[cfg(test)]
    pub(crate) fn time(&mut self) -> Option<Option<SystemTime>> {
        match self.u8()? {
            0 => Some(None),
            1 => {
                let n = i128::from_le_bytes(self.take(16)?.try_into().ok()?);
                let abs = n.unsigned_abs();
                let secs = u64::try_from(abs / 1_000_000_000).ok()?;
                let d = Duration::new(secs, (abs % 1_000_000_000) as u32);
                Some(Some(if n >= 0 {
                    UNIX_EPOCH.checked_add(d)?
                } else {
                    UNIX_EPOCH.checked_sub(d)?
                }))
            }
            _ => None,
        }
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Encodes a run exactly (floats by their bits).
pub(crate) fn encode_run(run: &Run) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(2048));
    let i = &run.info;
    for s in [&i.run_id, &i.run_name, &i.experiment_id, &i.user_id] {
        w.str(s);
    }
    w.str(i.status.as_str());
    w.opt_i64(i.start_time);
    w.opt_i64(i.end_time);
    w.str(&i.artifact_uri);
    w.str(i.lifecycle_stage.as_str());
    w.len(run.data.metrics.len());
    for (k, m) in &run.data.metrics {
        w.str(k);
        w.str(&m.key);
        w.u64(m.value.to_bits());
        w.i64(m.timestamp);
        w.i64(m.step);
    }
    for map in [&run.data.params, &run.data.tags] {
        w.len(map.len());
        for (k, v) in map {
            w.str(k);
            w.str(v);
        }
    }
    w.len(run.inputs.dataset_inputs.len());
    for d in &run.inputs.dataset_inputs {
        let ds = &d.dataset;
        for s in [&ds.name, &ds.digest, &ds.source_type, &ds.source] {
            w.str(s);
        }
        w.opt_str(ds.schema.as_deref());
        w.opt_str(ds.profile.as_deref());
        w.len(d.tags.len());
        for t in &d.tags {
            w.str(&t.key);
            w.str(&t.value);
        }
    }
    w.len(run.inputs.model_inputs.len());
    for m in &run.inputs.model_inputs {
        w.str(m);
    }
    w.0
}

/// Decodes [`encode_run`]'s bytes; `None` for anything else.
pub(crate) fn decode_run(bytes: &[u8]) -> Option<Run> {
    let mut r = Reader(bytes);
    let info = RunInfo {
        run_id: r.str()?,
        run_name: r.str()?,
        experiment_id: r.str()?,
        user_id: r.str()?,
        status: r.str()?.parse::<RunStatus>().ok()?,
        start_time: r.opt_i64()?,
        end_time: r.opt_i64()?,
        artifact_uri: r.str()?,
        lifecycle_stage: r.str()?.parse::<LifecycleStage>().ok()?,
    };
    // Each map is built from all its entries at once (`collect`): its B-tree nodes come out
    // full, where inserting one entry after another leaves them about half full (20 params:
    // 2.0 KB instead of 2.6 KB a run; a viewer holds every run of a store decoded).
    let mut metrics = Vec::new();
    for _ in 0..r.len()? {
        let k = r.str()?;
        let metric = Metric {
            key: r.str()?,
            value: f64::from_bits(r.u64()?),
            timestamp: r.i64()?,
            step: r.i64()?,
        };
        metrics.push((k, metric));
    }
    let mut maps = [Vec::new(), Vec::new()];
    for map in &mut maps {
        for _ in 0..r.len()? {
            let k = r.str()?;
            map.push((k, r.str()?));
        }
    }
    let [params, tags] = maps;
    let data = RunData {
        metrics: metrics.into_iter().collect(),
        params: params.into_iter().collect(),
        tags: tags.into_iter().collect(),
    };
    let mut inputs = RunInputs::default();
    for _ in 0..r.len()? {
        let dataset = Dataset {
            name: r.str()?,
            digest: r.str()?,
            source_type: r.str()?,
            source: r.str()?,
            schema: r.opt_str()?,
            profile: r.opt_str()?,
        };
        let mut tags = Vec::new();
        for _ in 0..r.len()? {
            tags.push(InputTag {
                key: r.str()?,
                value: r.str()?,
            });
        }
        inputs.dataset_inputs.push(DatasetInput { dataset, tags });
    }
    for _ in 0..r.len()? {
        inputs.model_inputs.push(r.str()?);
    }
    r.is_empty().then_some(Run { info, data, inputs })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Run {
        let mut data = RunData::default();
        data.metrics.insert(
            "loss".into(),
            Metric::new("loss", f64::NAN, 1_700_000_000_123, -3),
        );
        data.metrics
            .insert("acc".into(), Metric::new("acc", -0.0, 5, 7));
        data.params.insert("lr".into(), "0.1".into());
        data.tags
            .insert("mlflow.runName".into(), "ünïcode run".into());
        Run {
            info: RunInfo {
                run_id: "abc".into(),
                run_name: "ünïcode run".into(),
                experiment_id: "1".into(),
                user_id: "me".into(),
                status: RunStatus::Failed,
                start_time: Some(-5),
                end_time: None,
                artifact_uri: "file:///x".into(),
                lifecycle_stage: LifecycleStage::Deleted,
            },
            data,
            inputs: RunInputs {
                dataset_inputs: vec![DatasetInput {
                    dataset: Dataset {
                        name: "d".into(),
                        digest: "123".into(),
                        source_type: "local".into(),
                        source: "{}".into(),
                        schema: None,
                        profile: Some("p".into()),
                    },
                    tags: vec![InputTag {
                        key: "mlflow.data.context".into(),
                        value: "train".into(),
                    }],
                }],
                model_inputs: vec!["m-1".into()],
            },
        }
    }

    #[test]
    fn runs_round_trip_exactly() {
        let run = sample();
        let bytes = encode_run(&run);
        let back = decode_run(&bytes).expect("decodes");
        assert_eq!(back.info, run.info);
        assert_eq!(back.data.params, run.data.params);
        assert_eq!(back.data.tags, run.data.tags);
        assert_eq!(back.inputs, run.inputs);
        for (k, m) in &run.data.metrics {
            let b = &back.data.metrics[k];
            assert_eq!(b.value.to_bits(), m.value.to_bits());
            assert_eq!((&b.key, b.timestamp, b.step), (&m.key, m.timestamp, m.step));
        }
    }

    #[test]
    fn truncated_or_extended_bytes_do_not_decode() {
        let bytes = encode_run(&sample());
        for cut in 0..bytes.len() {
            assert!(decode_run(&bytes[..cut]).is_none(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_run(&longer).is_none());
    }

    #[test]
    fn times_round_trip_before_and_after_the_epoch() {
        for t in [
            UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789),
            UNIX_EPOCH - Duration::new(5, 1),
            UNIX_EPOCH,
        ] {
            let mut w = Writer::default();
            w.time(Some(t));
            w.time(None);
            let mut r = Reader(&w.0);
            assert_eq!(r.time(), Some(Some(t)));
            assert_eq!(r.time(), Some(None));
            assert!(r.is_empty());
        }
    }

    #[test]
    fn the_checksum_sees_a_changed_byte() {
        let run = encode_run(&sample());
        let sum = checksum(b"fp", &run);
        let mut damaged = run.clone();
        damaged[10] ^= 1;
        assert_ne!(checksum(b"fp", &damaged), sum);
        assert_ne!(checksum(b"fq", &run), sum);
    }
}
