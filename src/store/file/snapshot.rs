//! What makes listing a large store cheap: parsed runs kept in memory and checked against the
//! disk before each use, and the result of a search kept for its next pages.
//!
//! * [`RunCache`]: each run read for a listing is kept with the stamps (size, modification
//!   time, inode) of every file the read looked at (params: their names; MLflow never changes
//!   a param file). The next listing lists the run's folders and
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

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::error::StoreWarning;
use crate::model::{Run, ViewType};
use crate::store::file::paths::is_temp_name;
use crate::store::file::paths::{INPUTS_DIR, META_FILE, METRICS_DIR, PARAMS_DIR, TAGS_DIR};
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
}

impl Stamp {
    fn of(meta: &fs::Metadata) -> Stamp {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode,
        }
    }
}

/// The stamps of every file a run listing reads in one run folder, in a fixed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    entries: Vec<(Box<str>, Stamp)>,
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
        let racy = entries.iter().any(|(_, s)| match (s.modified, horizon) {
            (Some(m), Some(h)) => m >= h,
            _ => true,
        });
        Some(Fingerprint { entries, racy })
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
        }
    }
}

/// Runs read for listings, by run folder, with the fingerprint taken before each was read.
#[derive(Debug, Default)]
pub(crate) struct RunCache {
    runs: Mutex<HashMap<PathBuf, (Fingerprint, Arc<Run>)>>,
}

impl RunCache {
    /// The run kept for `dir` if its files still look the same.
    pub(crate) fn get(&self, dir: &Path, now: &Fingerprint) -> Option<Arc<Run>> {
        let runs = self.runs.lock().ok()?;
        let (kept, run) = runs.get(dir)?;
        (kept == now).then(|| run.clone())
    }

    /// Keeps `run`, read after taking `fingerprint`, unless its files are too fresh to trust.
    pub(crate) fn put(&self, dir: PathBuf, fingerprint: Fingerprint, run: Arc<Run>) {
        if let Ok(mut runs) = self.runs.lock() {
            if fingerprint.racy {
                runs.remove(&dir);
            } else {
                runs.insert(dir, (fingerprint, run));
            }
        }
    }

    /// Forgets the runs of `experiment` (a folder) that are not in `present`.
    pub(crate) fn retain_in(&self, experiment: &Path, present: &std::collections::HashSet<&Path>) {
        if let Ok(mut runs) = self.runs.lock() {
            runs.retain(|dir, _| {
                dir.parent() != Some(experiment) || present.contains(dir.as_path())
            });
        }
    }

    /// Forgets everything (after an experiment folder moved).
    pub(crate) fn clear(&self) {
        if let Ok(mut runs) = self.runs.lock() {
            runs.clear();
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
    runs: Vec<Run>,
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
        let end = offset
            .saturating_add(query.max_results)
            .min(listings[i].runs.len());
        let items = listings[i]
            .runs
            .get(offset..end)
            .unwrap_or_default()
            .to_vec();
        let warnings = listings[i].warnings.clone();
        let next_page_token = if end < listings[i].runs.len() {
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

    /// Keeps a search's whole result after its page at `offset` was served with `token`.
    pub(crate) fn keep(
        &self,
        query: &RunQuery,
        runs: Vec<Run>,
        warnings: Vec<StoreWarning>,
        token: &str,
        next_offset: usize,
        writes: u64,
    ) {
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
            warnings,
            writes,
            created: Instant::now(),
        });
    }
}
