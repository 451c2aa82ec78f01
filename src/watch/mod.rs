//! Change feeds of stores for live views (feature `viewer`).
//!
//! A [`ChangeFeed`] runs on its own named thread and tells what changed in a store, as precisely
//! as it can:
//!
//! * an `mlruns` folder is watched with `notify` (inotify, FSEvents, ReadDirectoryChangesW);
//!   events are gathered for [`DEBOUNCE`] and mapped to the experiment, run or metric file they
//!   touch ([`Change`]); metric files are then read incrementally with
//!   [`FileStore::read_metric_since`](crate::store::FileStore::read_metric_since). On Linux the
//!   folders watched are chosen (one inotify watch per folder: see [`FileFeedOptions`]), within a
//!   budget, and a feed can start with the experiments only and follow runs when told
//!   ([`ChangeFeed::follow_runs`]);
//! * a SQLite database is checked with `PRAGMA data_version` every [`SQLITE_POLL`];
//! * a tracking server (`http(s)://`) has no change notification in MLflow's REST API: it is
//!   polled ([`ChangeFeed::polling`], every [`SERVER_POLL`] in the viewer);
//! * when events cannot be had (the watch fails to start, or the folder is on a network file
//!   system where events do not arrive), the feed falls back to polling: it sends
//!   [`Change::Everything`] every [`FALLBACK_POLL`], and says so with [`FeedEvent::Mode`].
//!
//! Dropping the feed stops its thread (within one poll interval).

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

mod files;

pub use files::{DEEP_RUNS, FileFeedOptions};

/// How long file events are gathered before they are reported.
pub const DEBOUNCE: Duration = Duration::from_millis(120);
/// How often a SQLite database is checked for commits.
pub const SQLITE_POLL: Duration = Duration::from_millis(500);
/// How often a store without events is re-read.
pub const FALLBACK_POLL: Duration = Duration::from_secs(2);
/// How often a tracking server is asked again (MLflow's UI: 30 s). Each poll re-lists the
/// experiments and the runs shown, and re-reads the histories of running runs on display.
pub const SERVER_POLL: Duration = Duration::from_secs(5);

/// What changed in a store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Change {
    /// Anything may have changed (polling, a SQLite commit, a deleted experiment, lost events).
    Everything,
    /// The list of experiments or one experiment's metadata or tags (new folders included).
    Experiment {
        /// The experiment.
        experiment_id: String,
    },
    /// A run's folder, metadata (status, end time, name), params or tags; or the run appeared or
    /// went away.
    Run {
        /// Its experiment.
        experiment_id: String,
        /// The run.
        run_id: String,
    },
    /// Lines were appended to (or the file replaced of) one metric of a run.
    Metric {
        /// Its experiment.
        experiment_id: String,
        /// The run.
        run_id: String,
        /// The metric key (`/` for nested keys).
        key: String,
    },
}

/// How a feed learns of changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedMode {
    /// File system events, debounced.
    Events,
    /// Polling at this interval.
    Polling(Duration),
}

/// A message of a feed.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedEvent {
    /// How the feed works (sent first, and again when it changes).
    Mode(FeedMode),
    /// Changes, deduplicated and sorted.
    Changes(Vec<Change>),
    /// The feed stopped working (the reason); the store is no longer followed.
    Failed(String),
    /// Which runs a file store's feed watches (sent once runs are watched: at the start, and
    /// after each [`ChangeFeed::follow_runs`]).
    Following(Coverage),
}

/// Which runs a file store's feed watches.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Coverage {
    /// Runs whose folder is watched (status, end time, name, deletion, new metrics or tags
    /// folders).
    pub runs_watched: usize,
    /// Of those, runs whose `metrics`, `params` and `tags` folders are watched too (every value
    /// logged is reported).
    pub runs_deep: usize,
    /// Runs asked for that are not watched: the watch budget or the system's limit was reached.
    pub runs_unwatched: usize,
    /// Why some folders are not watched (a limit), if any.
    pub note: Option<String>,
}

/// What the owner of a feed tells its thread.
enum Control {
    /// Watch these runs (experiment id, run id), the first ones deep (see [`FileFeedOptions`]).
    Follow(Vec<(String, String)>),
}

/// Called on the feed's thread after each message (a UI asks for a repaint here).
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// The sending side of a feed: each message wakes the receiver.
struct Outbox {
    tx: Sender<FeedEvent>,
    wake: Waker,
}

impl Outbox {
    /// Sends; false when the feed was dropped.
    fn send(&self, event: FeedEvent) -> bool {
        let ok = self.tx.send(event).is_ok();
        (self.wake)();
        ok
    }
}

/// A running change feed; drop it to stop.
#[derive(Debug)]
pub struct ChangeFeed {
    events: Receiver<FeedEvent>,
    /// Dropped with the feed, which stops its thread.
    control: Sender<Control>,
}

impl ChangeFeed {
    /// Follows the `mlruns` folder at `root` and every run in it (the watches are set up on the
    /// feed's thread, before it sends [`FeedEvent::Mode`]).
    pub fn file_store(root: &Path, wake: Waker) -> ChangeFeed {
        Self::file_store_with(root, wake, FileFeedOptions::default())
    }

    /// Follows the `mlruns` folder at `root` as `options` say.
    pub fn file_store_with(root: &Path, wake: Waker, options: FileFeedOptions) -> ChangeFeed {
        let root = root.to_path_buf();
        Self::spawn("mlscope-watch-files", wake, move |tx, control| {
            files::run_file_feed(&root, &options, &tx, &control)
        })
    }

    /// Asks a file store's feed to watch these runs (experiment id, run id), most wanted first:
    /// running runs, then the newest. Runs already watched stay; other feeds ignore it. The
    /// feed answers with [`FeedEvent::Following`] once the watches are in place.
    pub fn follow_runs(&self, runs: Vec<(String, String)>) {
        let _ = self.control.send(Control::Follow(runs));
    }

    /// Follows the SQLite database at `path`.
    pub fn sqlite(path: &Path, wake: Waker) -> ChangeFeed {
        let path = path.to_path_buf();
        Self::spawn("mlscope-watch-sqlite", wake, move |tx, stop| {
            run_sqlite_feed(&path, &tx, &stop)
        })
    }

    /// Reports [`Change::Everything`] every `interval` (a store that cannot say what changed,
    /// such as a tracking server).
    pub fn polling(interval: Duration, wake: Waker) -> ChangeFeed {
        Self::spawn("mlscope-watch-poll", wake, move |tx, stop| {
            poll_forever(&tx, &stop, interval)
        })
    }

    fn spawn(
        name: &str,
        wake: Waker,
        body: impl FnOnce(Outbox, Receiver<Control>) + Send + 'static,
    ) -> ChangeFeed {
        let (tx, events) = std::sync::mpsc::channel();
        let (control, stop_rx) = std::sync::mpsc::channel();
        let failed = tx.clone();
        let outbox = Outbox { tx, wake };
        if let Err(e) = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || body(outbox, stop_rx))
        {
            let _ = failed.send(FeedEvent::Failed(format!(
                "cannot start the watch thread: {e}"
            )));
        }
        ChangeFeed { events, control }
    }

    /// The next message, if one is waiting (never blocks).
    pub fn try_next(&self) -> Option<FeedEvent> {
        self.events.try_recv().ok()
    }

    /// The next message, waiting at most `timeout`.
    pub fn next_timeout(&self, timeout: Duration) -> Option<FeedEvent> {
        self.events.recv_timeout(timeout).ok()
    }
}

/// Whether the feed was dropped during `wait` (a polling feed has no runs to follow: it ignores
/// what it is told).
fn stopped(control: &Receiver<Control>, wait: Duration) -> bool {
    let until = Instant::now() + wait;
    loop {
        match control.recv_timeout(until.saturating_duration_since(Instant::now())) {
            Ok(_) => continue,
            Err(RecvTimeoutError::Timeout) => return false,
            Err(RecvTimeoutError::Disconnected) => return true,
        }
    }
}

fn poll_forever(tx: &Outbox, stop: &Receiver<Control>, interval: Duration) {
    tx.send(FeedEvent::Mode(FeedMode::Polling(interval)));
    while !stopped(stop, interval) {
        if !tx.send(FeedEvent::Changes(vec![Change::Everything])) {
            return;
        }
    }
}

fn run_sqlite_feed(path: &Path, tx: &Outbox, stop: &Receiver<Control>) {
    let mut check = match crate::store::sqlite::SqliteChangeCheck::open(path) {
        Ok(c) => c,
        Err(_) => {
            poll_forever(tx, stop, FALLBACK_POLL);
            return;
        }
    };
    tx.send(FeedEvent::Mode(FeedMode::Polling(SQLITE_POLL)));
    while !stopped(stop, SQLITE_POLL) {
        // A failed check (database locked for a moment) counts as a change: re-read to be sure.
        let changed = check.changed().unwrap_or(true);
        if changed && !tx.send(FeedEvent::Changes(vec![Change::Everything])) {
            return;
        }
    }
}

/// Whether an event can change what a view shows. Opening, reading and closing a file without
/// writing are reported too (inotify's `IN_OPEN`, `IN_ACCESS`, `IN_CLOSE_NOWRITE`): the viewer's
/// own reads would otherwise trigger more reads, for ever. Metadata-only changes (`IN_ATTRIB`:
/// permissions, owners, times set by `touch` or by `rsync` after it wrote a file) are left out
/// too: what a view shows comes from contents and names, whose changes have events of their own.
fn changes_content(kind: &notify::EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(_)) => false,
        _ => true,
    }
}

/// [`classify`] for an event path that may spell the root as given or canonically.
fn classify_event(root: &Path, canonical_root: Option<&Path>, path: &Path) -> Option<Change> {
    classify(root, path).or_else(|| canonical_root.and_then(|c| classify(c, path)))
}

/// Maps a path under the store's root to what it changes (`None`: nothing a view shows).
pub fn classify(root: &Path, path: &Path) -> Option<Change> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Vec<&str> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect();
    let Some(&first) = parts.first() else {
        return Some(Change::Everything);
    };
    if first == ".trash" {
        // An experiment moved in or out of the trash.
        return Some(Change::Everything);
    }
    if first.starts_with('.') {
        return None;
    }
    let experiment_id = first.to_string();
    let Some(&second) = parts.get(1) else {
        return Some(Change::Experiment { experiment_id });
    };
    if second.starts_with('.') {
        // A temporary file or folder (renamed into place later, which is reported then).
        return None;
    }
    if matches!(second, "meta.yaml" | "tags" | "datasets") {
        return Some(Change::Experiment { experiment_id });
    }
    let run_id = second.to_string();
    let run = || Change::Run {
        experiment_id: experiment_id.clone(),
        run_id: run_id.clone(),
    };
    match parts.get(2) {
        Some(&"metrics") if parts.len() > 3 => {
            let key = parts[3..].join("/");
            // Temporary files of atomic writes are not metrics.
            if parts.last().is_some_and(|p| p.starts_with('.')) {
                return None;
            }
            Some(Change::Metric {
                experiment_id: experiment_id.clone(),
                run_id: run_id.clone(),
                key,
            })
        }
        Some(&"artifacts") => None,
        _ => Some(run()),
    }
}

/// Whether `path` is on a network file system, where change events of other machines do not
/// arrive (Linux: from `/proc/self/mounts`; elsewhere: never assumed).
fn is_network_mount(path: &Path) -> bool {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else {
        return false;
    };
    let path: PathBuf = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut best: Option<(usize, &str)> = None;
    for line in mounts.lines() {
        let mut fields = line.split_whitespace();
        let (Some(_), Some(point), Some(kind)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let point = point.replace("\\040", " ");
        if path.starts_with(&point) && best.is_none_or(|(len, _)| point.len() > len) {
            best = Some((point.len(), kind));
        }
    }
    best.is_some_and(|(_, kind)| {
        matches!(
            kind,
            "nfs" | "nfs4" | "cifs" | "smbfs" | "smb3" | "fuse.sshfs" | "9p" | "afs" | "ceph"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_not_changes() {
        use notify::event::{AccessKind, AccessMode, CreateKind, EventKind, ModifyKind};
        assert!(!changes_content(&EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(!changes_content(&EventKind::Access(AccessKind::Read)));
        assert!(!changes_content(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(changes_content(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(changes_content(&EventKind::Modify(ModifyKind::Any)));
        assert!(changes_content(&EventKind::Modify(ModifyKind::Data(
            notify::event::DataChange::Any
        ))));
        assert!(!changes_content(&EventKind::Modify(ModifyKind::Metadata(
            notify::event::MetadataKind::AccessTime
        ))));
        assert!(changes_content(&EventKind::Create(CreateKind::File)));
    }

    #[test]
    fn polling_feed_says_its_interval_then_reports_everything() {
        let feed = ChangeFeed::polling(Duration::from_millis(20), Arc::new(|| {}));
        let wait = Duration::from_secs(10);
        assert_eq!(
            feed.next_timeout(wait),
            Some(FeedEvent::Mode(FeedMode::Polling(Duration::from_millis(
                20
            ))))
        );
        for _ in 0..2 {
            assert_eq!(
                feed.next_timeout(wait),
                Some(FeedEvent::Changes(vec![Change::Everything]))
            );
        }
    }

    #[test]
    fn events_with_the_canonical_root_are_classified() {
        // FSEvents on macOS: the store opened as /var/…/mlruns, events under /private/var/….
        let root = Path::new("/var/folders/x/mlruns");
        let canonical = Path::new("/private/var/folders/x/mlruns");
        let event = canonical.join("1/meta.yaml");
        assert_eq!(classify(root, &event), None);
        assert!(classify_event(root, Some(canonical), &event).is_some());
        assert!(classify_event(root, None, &root.join("1/meta.yaml")).is_some());
    }

    #[test]
    fn paths_map_to_what_they_change() {
        let root = Path::new("/s");
        let c = |p: &str| classify(root, Path::new(p));
        assert_eq!(c("/s/.trash/3"), Some(Change::Everything));
        assert_eq!(
            c("/s/1/meta.yaml"),
            Some(Change::Experiment {
                experiment_id: "1".into()
            })
        );
        assert_eq!(
            c("/s/1/abc/meta.yaml"),
            Some(Change::Run {
                experiment_id: "1".into(),
                run_id: "abc".into()
            })
        );
        assert_eq!(
            c("/s/1/abc/metrics/train/loss"),
            Some(Change::Metric {
                experiment_id: "1".into(),
                run_id: "abc".into(),
                key: "train/loss".into()
            })
        );
        assert_eq!(c("/s/1/abc/artifacts/model.pkl"), None);
        assert_eq!(c("/elsewhere/x"), None);
    }
}
