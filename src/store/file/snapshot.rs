//! What makes listing a large store cheap: runs kept in memory and checked against the disk
//! before each use, and the result of a search kept for its next pages.
//!
//! * [`RunCache`]: each run read for a listing is kept, encoded as in the persistent index,
//!   with a digest of the stamps (size, modification time, inode) of every file the read
//!   looked at (params: their names; MLflow never changes a param file). The next listing lists
//!   the run's folders and
//!   compares stamps (a `stat` per file, no `open`/`read`); the run is read again when anything
//!   differs. Runs whose files were modified in the last [`RACY_SECONDS`] are not kept (a
//!   rewrite of the same size within the file system's timestamp granularity would look
//!   unchanged, as in git's "racy" index entries), nor are runs whose read produced warnings (so
//!   every listing reports them).
//! * [`Listings`]: a search keeps its filtered, ordered result; a request for exactly the next
//!   page (same query, the token this store just handed out, no write through this store since)
//!   is served from it instead of reading every run again. Pages after the first are thus a
//!   consistent view of the store as of the first page, like a database cursor; MLflow reads
//!   the store again for every page, which costs a full read per page. A first page (no token)
//!   always reads the store.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::StoreWarning;
use crate::model::{Run, ViewType};
use crate::store::file::paths::is_temp_name;
use crate::store::file::paths::{INPUTS_DIR, META_FILE, METRICS_DIR, PARAMS_DIR, TAGS_DIR};
use crate::store::index::{IndexEntry, IndexOptions, RunIndex, Writer, decode_run, encode_run};
use crate::store::{Page, RunQuery};

/// Files modified this recently are not trusted to show a later change in their stamp.
pub(crate) const RACY_SECONDS: u64 = 2;
/// Longest time a search's result serves its next pages.
const LISTING_MAX_AGE: Duration = Duration::from_secs(30);
/// Searches whose next pages are kept at once (the viewer pages one search while counting runs
/// with another).
const MAX_LISTINGS: usize = 4;

/// How a file or folder looked: enough to notice that it changed without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
    /// Status-change time (s, ns; Unix): changes on every write or `touch`, and cannot be set
    /// back, so it catches a same-size rewrite whose modification time was restored.
    changed: (i64, i64),
}

impl Stamp {
    fn of(meta: &fs::Metadata) -> Stamp {
        #[cfg(unix)]
        let (inode, changed) = {
            use std::os::unix::fs::MetadataExt;
            (meta.ino(), (meta.ctime(), meta.ctime_nsec()))
        };
        #[cfg(not(unix))]
        let (inode, changed) = (0, (0, 0));
        Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode,
            changed,
        }
    }

    /// The later of the modification and status-change times.
    fn latest_change(&self) -> Option<SystemTime> {
        let (secs, nanos) = self.changed;
        let changed = u64::try_from(secs)
            .ok()
            .map(|s| UNIX_EPOCH + Duration::new(s, nanos.clamp(0, 999_999_999) as u32));
        match (self.modified, changed) {
            (Some(m), Some(c)) => Some(m.max(c)),
            (m, c) => m.or(c),
        }
    }
}

/// The stamps of every file a run listing reads in one run folder, in a fixed order, kept as
/// a 128-bit digest of their encoding (the stamps themselves take ~3 KB a run; two different
/// sets of stamps giving the same digest is a 2^-128 chance, far below a disk's error rate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    digest: [u8; 16],
    /// Whether a file was modified within [`RACY_SECONDS`] of taking the fingerprint.
    racy: bool,
}

impl Fingerprint {
    /// Stamps `meta.yaml` and the files under `params/`, `tags/`, `metrics/` and `inputs/`.
    /// `None` when the folder cannot be looked at (the read that follows reports why).
    pub(crate) fn of_run(dir: &Path) -> Option<Fingerprint> {
        let now = SystemTime::now();
        let mut entries = Vec::with_capacity(48);
        let meta = fs::metadata(dir.join(META_FILE)).ok()?;
        entries.push((META_FILE.into(), Stamp::of(&meta)));
        for sub in [PARAMS_DIR, TAGS_DIR, METRICS_DIR, INPUTS_DIR] {
            // Params are written once (MLflow refuses to change one): their names are enough,
            // and skipping their `stat`s is half of the cost of a fingerprint.
            stamp_tree(&dir.join(sub), sub, sub != PARAMS_DIR, &mut entries)?;
        }
        let horizon = now.checked_sub(Duration::from_secs(RACY_SECONDS));
        let racy = entries
            .iter()
            .any(|(_, s)| match (s.latest_change(), horizon) {
                (Some(m), Some(h)) => m >= h,
                _ => true,
            });
        Some(Fingerprint {
            digest: digest_of(&entries),
            racy,
        })
    }
}

/// Adds the stamps of the files under `dir` (sorted by name, recursively; only their names
/// unless `stat_files`); a missing folder adds a marker, so that its creation is a change.
/// `None` on any other error.
fn stamp_tree(
    dir: &Path,
    name: &str,
    stat_files: bool,
    out: &mut Vec<(Box<str>, Stamp)>,
) -> Option<()> {
    let read = match fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            out.push((format!("{name}/-").into(), Stamp::of_missing()));
            return Some(());
        }
        Err(_) => return None,
    };
    let mut children = Vec::new();
    for entry in read {
        let entry = entry.ok()?;
        let file_name = entry.file_name();
        let child = file_name.to_string_lossy();
        if is_temp_name(&child) {
            continue;
        }
        let path = entry.path();
        let file_type = entry.file_type().ok()?;
        // Follow symlinks to files, as the read does; a link to a folder is not followed by
        // the read, so it is stamped as the link itself (and never walked: it may loop).
        let meta = if file_type.is_symlink() {
            match fs::metadata(&path) {
                Ok(target) if target.is_dir() => {
                    out.push((
                        format!("{name}/{child}").into(),
                        Stamp::of(&fs::symlink_metadata(&path).ok()?),
                    ));
                    continue;
                }
                Ok(target) => Some(target),
                Err(_) => return None,
            }
        } else if stat_files || file_type.is_dir() {
            Some(entry.metadata().ok()?)
        } else {
            None
        };
        children.push((format!("{name}/{child}"), path, meta));
    }
    children.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, path, meta) in children {
        match meta {
            Some(meta) if meta.is_dir() => stamp_tree(&path, &key, stat_files, out)?,
            Some(meta) if stat_files => out.push((key.into(), Stamp::of(&meta))),
            _ => out.push((key.into(), Stamp::of_missing())),
        }
    }
    Some(())
}

impl Stamp {
    /// A folder that is not there, or a file known by name only (an old time: never too fresh
    /// to trust).
    fn of_missing() -> Stamp {
        Stamp {
            len: u64::MAX,
            modified: Some(SystemTime::UNIX_EPOCH),
            inode: 0,
            changed: (0, 0),
        }
    }
}

/// The MD5 digest of the stamps' encoding (names, sizes, times, inodes, in order).
fn digest_of(entries: &[(Box<str>, Stamp)]) -> [u8; 16] {
    use md5::{Digest, Md5};
    let mut w = Writer(Vec::with_capacity(entries.len() * 72));
    w.len(entries.len());
    for (name, stamp) in entries {
        w.str(name);
        w.u64(stamp.len);
        w.time(stamp.modified);
        w.u64(stamp.inode);
        w.i64(stamp.changed.0);
        w.i64(stamp.changed.1);
    }
    Md5::digest(&w.0).into()
}

impl Fingerprint {
    /// The digest as bytes for the persistent index (a fingerprint is only kept when not racy).
    fn encode(&self) -> Vec<u8> {
        self.digest.to_vec()
    }

    /// [`Self::encode`]'s bytes back; `None` for anything else.
    fn decode(bytes: &[u8]) -> Option<Fingerprint> {
        Some(Fingerprint {
            digest: bytes.try_into().ok()?,
            racy: false,
        })
    }
}

/// A run kept by a [`RunCache`]: encoded as in the persistent index (~1.5 KB for a run of
/// 20 params, 10 metrics and 5 tags, against ~6 KB as a `Run`; the viewer holds its own `Run`s,
/// so the cache should not hold a second full copy) and decoded for each listing that uses it.
#[derive(Debug)]
struct Kept {
    fingerprint: Fingerprint,
    start_time: Option<i64>,
    run: Arc<[u8]>,
    /// Taken from the persistent index unchanged: the index still holds it, so it is let go
    /// again once used ([`RunCache::get`]).
    from_index: bool,
}

/// Runs read for listings, by run folder, with the fingerprint taken before each was read;
/// optionally backed by the persistent index of `store::index`.
#[derive(Debug, Default)]
pub(crate) struct RunCache {
    runs: Mutex<HashMap<PathBuf, Kept>>,
    /// Runs the persistent index holds that were not taken from it yet, with their start times
    /// (to order a listing newest first): a listing takes each batch of runs from the index
    /// just before it needs them ([`RunCache::take_from_index`]), so its first batch does not
    /// wait for the whole index to be read and decoded.
    unloaded: Mutex<HashMap<PathBuf, Option<i64>>>,
    persisted: Mutex<Persisted>,
    /// Runs served from a kept copy so far (tests check that the index is really used).
    reused: std::sync::atomic::AtomicU64,
}

/// The persistent side of a [`RunCache`].
#[derive(Debug, Default)]
struct Persisted {
    options: Option<IndexOptions>,
    /// Opened and loaded on first use; `None` after that when the index cannot be used.
    index: Option<RunIndex>,
    loaded: bool,
    /// Run folders put or forgotten since the last save.
    changed: HashSet<PathBuf>,
    removed: HashSet<PathBuf>,
}

impl RunCache {
    /// Backs this cache with the persistent index described by `options` (`None`: off).
    pub(crate) fn set_index(&self, options: Option<IndexOptions>) {
        if let Ok(mut p) = self.persisted.lock() {
            *p = Persisted {
                options,
                ..Persisted::default()
            };
        }
    }

    /// Opens the persistent index of the store at `root`, once, and notes which runs it holds
    /// (with their start times); the runs themselves are taken from it as listings need them.
    pub(crate) fn load_index(&self, root: &Path) {
        let Ok(mut p) = self.persisted.lock() else {
            return;
        };
        if p.loaded {
            return;
        }
        p.loaded = true;
        let Some(options) = p.options.clone() else {
            return;
        };
        let Some(index) = RunIndex::open(&options, root, false) else {
            return;
        };
        let heads = match index.heads() {
            Ok(heads) => heads,
            Err(e) => {
                index.discard_if_damaged(&e);
                return;
            }
        };
        p.index = Some(index);
        drop(p);
        let read = self.runs.lock().map(|runs| {
            heads
                .into_iter()
                .map(|(dir, start)| (root.join(dir), start))
                .filter(|(dir, _)| !runs.contains_key(dir))
                .collect::<Vec<_>>()
        });
        if let (Ok(heads), Ok(mut unloaded)) = (read, self.unloaded.lock()) {
            // A run read by this process already is newer than the index's.
            unloaded.extend(heads);
        }
    }

    /// Decodes the runs of `dirs` that the persistent index holds and this cache does not
    /// have yet (damaged entries are left out: those runs are read from the store).
    pub(crate) fn take_from_index(&self, root: &Path, dirs: &[&Path]) {
        let wanted: Vec<&Path> = match self.unloaded.lock() {
            Ok(mut unloaded) if !unloaded.is_empty() => dirs
                .iter()
                .copied()
                .filter(|d| unloaded.remove(*d).is_some())
                .collect(),
            _ => return,
        };
        if wanted.is_empty() {
            return;
        }
        let relative: Vec<String> = wanted
            .iter()
            .filter_map(|d| d.strip_prefix(root).ok())
            .map(|d| d.to_string_lossy().into_owned())
            .collect();
        let entries = match self.persisted.lock() {
            Ok(p) => match &p.index {
                Some(index) => index.entries(&relative),
                None => return,
            },
            Err(_) => return,
        };
        if let Ok(mut runs) = self.runs.lock() {
            for e in entries {
                // Decoded when used: an entry that does not decode is then read again.
                let Some(fingerprint) = Fingerprint::decode(&e.fingerprint) else {
                    continue;
                };
                runs.entry(root.join(&e.dir)).or_insert(Kept {
                    fingerprint,
                    start_time: e.start_time,
                    run: e.run.into(),
                    from_index: true,
                });
            }
        }
    }

    /// Writes what changed since the last save to the persistent index, when the store has at
    /// least the index's minimum number of runs.
    ///
    /// Once the index holds every kept run, the kept copies are let go (only their start times
    /// stay, to order listings): the next listing takes them from the index again, batch by
    /// batch, as a new process would. A process that lists a large store once (the viewer)
    /// would otherwise keep a second, encoded copy of every run (~1.4 KB a run: 14 MB at
    /// 10,000 runs, 140 MB at 100,000) for listings that may never come.
    pub(crate) fn save_index(&self, root: &Path) {
        let Ok(mut p) = self.persisted.lock() else {
            return;
        };
        if p.changed.is_empty() && p.removed.is_empty() {
            if p.index.is_some() {
                drop(p);
                self.let_go_of_indexed_runs();
            }
            return;
        }
        let Some(options) = p.options.clone() else {
            return;
        };
        let not_taken = self.unloaded.lock().map_or(0, |u| u.len());
        let Ok(runs) = self.runs.lock() else {
            return;
        };
        if runs.len() + not_taken < options.min_runs {
            return;
        }
        if p.index.is_none() {
            p.index = RunIndex::open(&options, root, true);
        }
        let relative = |dir: &Path| {
            dir.strip_prefix(root)
                .ok()
                .map(|d| d.to_string_lossy().into_owned())
        };
        let changed: Vec<&PathBuf> = p.changed.iter().collect();
        let entries: Vec<IndexEntry> = changed
            .iter()
            .filter_map(|dir| {
                let kept = runs.get(*dir)?;
                Some(IndexEntry {
                    dir: relative(dir)?,
                    fingerprint: kept.fingerprint.encode(),
                    run: kept.run.to_vec(),
                    start_time: kept.start_time,
                })
            })
            .collect();
        let removed: Vec<String> = p
            .removed
            .iter()
            .filter(|d| !runs.contains_key(*d))
            .filter_map(|d| relative(d))
            .collect();
        drop(runs);
        let Some(index) = p.index.as_mut() else {
            return;
        };
        if index.save(&entries, &removed) {
            p.changed.clear();
            p.removed.clear();
            drop(p);
            self.let_go_of_indexed_runs();
        }
    }

    /// Moves every kept run back to the index's side ([`Self::take_from_index`] decodes it
    /// again when a listing needs it), keeping its start time; only when the index holds them
    /// all (nothing changed since the last save).
    fn let_go_of_indexed_runs(&self) {
        let Ok(p) = self.persisted.lock() else {
            return;
        };
        if p.index.is_none() || !p.changed.is_empty() {
            return;
        }
        let (Ok(mut runs), Ok(mut unloaded)) = (self.runs.lock(), self.unloaded.lock()) else {
            return;
        };
        unloaded.extend(runs.drain().map(|(dir, kept)| (dir, kept.start_time)));
        runs.shrink_to_fit();
    }

    fn note(&self, dir: &Path, kept: bool) {
        if let Ok(mut p) = self.persisted.lock()
            && p.options.is_some()
        {
            if kept {
                p.removed.remove(dir);
                p.changed.insert(dir.to_path_buf());
            } else {
                p.changed.remove(dir);
                p.removed.insert(dir.to_path_buf());
            }
        }
    }

    /// The run kept for `dir` if its files still look the same.
    ///
    /// A run taken unchanged from the persistent index is let go once used (the index still
    /// holds it; only its start time stays): a listing of a large store does not hold a second,
    /// encoded copy of every run it hands over while it runs.
    pub(crate) fn get(&self, dir: &Path, now: &Fingerprint) -> Option<Run> {
        let bytes = {
            let mut runs = self.runs.lock().ok()?;
            let kept = runs.get(dir)?;
            if kept.fingerprint != *now {
                return None;
            }
            let bytes = Arc::clone(&kept.run);
            if kept.from_index
                && let Ok(mut unloaded) = self.unloaded.lock()
                && let Some(kept) = runs.remove(dir)
            {
                unloaded.insert(dir.to_path_buf(), kept.start_time);
            }
            bytes
        };
        // Decoded outside the lock: listings decode on several threads.
        let run = decode_run(&bytes)?;
        self.reused
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(run)
    }

    /// The start time of each kept run (`None`: not kept), without checking its files.
    pub(crate) fn start_times(&self, dirs: &[&Path]) -> Vec<Option<Option<i64>>> {
        let (Ok(runs), Ok(unloaded)) = (self.runs.lock(), self.unloaded.lock()) else {
            return vec![None; dirs.len()];
        };
        dirs.iter()
            .map(|d| {
                runs.get(*d)
                    .map(|k| k.start_time)
                    .or_else(|| unloaded.get(*d).copied())
            })
            .collect()
    }

    /// How many runs are kept decoded-ready in memory (not only in the index).
    #[cfg(test)]
    pub(crate) fn kept_in_memory(&self) -> usize {
        self.runs.lock().map_or(0, |r| r.len())
    }

    /// Runs served from a kept copy (not read from the store) so far.
    pub(crate) fn reused(&self) -> u64 {
        self.reused.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Keeps `run`, read after taking `fingerprint`, unless its files are too fresh to trust.
    pub(crate) fn put(&self, dir: PathBuf, fingerprint: Fingerprint, run: &Run) {
        let kept = !fingerprint.racy;
        if let Ok(mut unloaded) = self.unloaded.lock() {
            unloaded.remove(&dir);
        }
        if let Ok(mut runs) = self.runs.lock() {
            if kept {
                let kept = Kept {
                    fingerprint,
                    start_time: run.info.start_time,
                    run: encode_run(run).into(),
                    from_index: false,
                };
                runs.insert(dir.clone(), kept);
            } else {
                runs.remove(&dir);
            }
        }
        self.note(&dir, kept);
    }

    /// Forgets the runs of `experiment` (a folder) that are not in `present`.
    pub(crate) fn retain_in(&self, experiment: &Path, present: &std::collections::HashSet<&Path>) {
        let mut gone = Vec::new();
        if let Ok(mut runs) = self.runs.lock() {
            runs.retain(|dir, _| {
                let keep = dir.parent() != Some(experiment) || present.contains(dir.as_path());
                if !keep {
                    gone.push(dir.clone());
                }
                keep
            });
        }
        if let Ok(mut unloaded) = self.unloaded.lock() {
            unloaded.retain(|dir, _| {
                let keep = dir.parent() != Some(experiment) || present.contains(dir.as_path());
                if !keep {
                    gone.push(dir.clone());
                }
                keep
            });
        }
        for dir in gone {
            self.note(&dir, false);
        }
    }

    /// Forgets everything (after an experiment folder moved).
    pub(crate) fn clear(&self) {
        let mut gone = Vec::new();
        if let Ok(mut runs) = self.runs.lock() {
            gone.extend(runs.drain().map(|(dir, _)| dir));
        }
        if let Ok(mut unloaded) = self.unloaded.lock() {
            gone.extend(unloaded.drain().map(|(dir, _)| dir));
        }
        for dir in gone {
            self.note(&dir, false);
        }
    }
}

/// What a listing searched for: everything of a [`RunQuery`] but the page token.
#[derive(Debug, Clone, PartialEq)]
struct ListingKey {
    experiment_ids: Vec<String>,
    filter: String,
    view_type: ViewType,
    max_results: usize,
    order_by: Vec<String>,
}

impl ListingKey {
    fn of(query: &RunQuery) -> ListingKey {
        ListingKey {
            experiment_ids: query.experiment_ids.clone(),
            filter: query.filter.clone(),
            view_type: query.view_type,
            max_results: query.max_results,
            order_by: query.order_by.clone(),
        }
    }
}

/// A search's filtered and ordered result, waiting for its next page.
#[derive(Debug)]
struct Listing {
    key: ListingKey,
    /// The token handed out with the last page served.
    next_token: String,
    /// Offset that token stands for.
    next_offset: usize,
    /// The runs from offset `first` on (those of pages not served yet), encoded as in the
    /// persistent index: a search whose first page is small (the viewer's "newest runs" look)
    /// does not keep a second full copy of the store in memory.
    runs: Vec<Vec<u8>>,
    /// Offset of `runs[0]`.
    first: usize,
    /// Offset past the last run.
    len: usize,
    warnings: Vec<StoreWarning>,
    /// The store's write counter when the first page was read.
    writes: u64,
    created: Instant,
}

/// Results of recent searches, serving their next pages.
#[derive(Debug, Default)]
pub(crate) struct Listings {
    listings: Mutex<Vec<Listing>>,
}

impl Listings {
    /// The page `query` asks for, when it is the next page of a kept search and nothing was
    /// written through this store since its first page.
    pub(crate) fn next_page(
        &self,
        query: &RunQuery,
        offset: usize,
        writes: u64,
    ) -> Option<Page<Run>> {
        let token = query.page_token.as_deref()?;
        let key = ListingKey::of(query);
        let mut listings = self.listings.lock().ok()?;
        listings.retain(|l| l.writes == writes && l.created.elapsed() < LISTING_MAX_AGE);
        let i = listings
            .iter()
            .position(|l| l.key == key && l.next_token == token && l.next_offset == offset)?;
        let l = &listings[i];
        let end = offset.saturating_add(query.max_results).min(l.len);
        let items = l
            .runs
            .get(offset.checked_sub(l.first)?..end.checked_sub(l.first)?)
            .unwrap_or_default()
            .iter()
            .map(|bytes| decode_run(bytes))
            .collect::<Option<Vec<Run>>>()?;
        let warnings = l.warnings.clone();
        let next_page_token = if end < l.len {
            let t = crate::search::encode_page_token(end);
            listings[i].next_token = t.clone();
            listings[i].next_offset = end;
            Some(t)
        } else {
            listings.remove(i);
            None
        };
        Some(Page {
            items,
            next_page_token,
            warnings,
        })
    }

    /// Keeps a search's result after its page at `offset` was served with `token` (the runs
    /// from `next_offset` on).
    pub(crate) fn keep(
        &self,
        query: &RunQuery,
        runs: Vec<Run>,
        warnings: Vec<StoreWarning>,
        token: &str,
        next_offset: usize,
        writes: u64,
    ) {
        let len = runs.len();
        let runs: Vec<Vec<u8>> = runs
            .get(next_offset..)
            .unwrap_or_default()
            .iter()
            .map(encode_run)
            .collect();
        let Ok(mut listings) = self.listings.lock() else {
            return;
        };
        let key = ListingKey::of(query);
        listings.retain(|l| l.key != key);
        if listings.len() >= MAX_LISTINGS {
            listings.remove(0);
        }
        listings.push(Listing {
            key,
            next_token: token.to_string(),
            next_offset,
            runs,
            first: next_offset,
            len,
            warnings,
            writes,
            created: Instant::now(),
        });
    }
}
