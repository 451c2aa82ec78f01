//! The change feed of an `mlruns` folder: which folders are watched, and how file events become
//! [`Change`]s.
//!
//! Linux's inotify watches one folder per watch, not a tree: `notify`'s recursive mode walks the
//! store and adds a watch per folder (50,000 at 10,000 runs, 500,000 at 100,000: seconds of CPU,
//! tens of MB, and more than many systems' `fs.inotify.max_user_watches`). So on Linux the feed
//! chooses its folders, each watched alone:
//!
//! * the root (experiments created, deleted, moved to or from `.trash`);
//! * each experiment folder (runs created or removed, its `meta.yaml`), with its `tags` and
//!   `datasets` trees;
//! * each followed run's folder (`meta.yaml`: status, end time, name, deletion; new `metrics`,
//!   `params` or `tags` folders);
//! * for the first [`FileFeedOptions::deep_runs`] followed runs (the caller puts running runs
//!   first, then the newest) and for every run created while the feed runs: the run's `metrics`,
//!   `params` and `tags` trees ("deep" runs: every value logged is reported). `artifacts` never.
//!
//! All watches together stay within a budget (half the system's limit by default); runs past it
//! are not watched and [`FeedEvent::Following`] says how many. When even the root or the
//! experiments cannot be watched, the feed polls ([`FALLBACK_POLL`]) and says why.
//!
//! Elsewhere (FSEvents, ReadDirectoryChangesW watch whole trees natively) the root is watched
//! recursively, as before.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use notify::Watcher;

use super::{
    Change, Control, Coverage, DEBOUNCE, FALLBACK_POLL, FeedEvent, FeedMode, Outbox,
    changes_content, classify_event, is_network_mount, poll_forever,
};

/// Runs whose `metrics`, `params` and `tags` folders are watched besides their own folder (the
/// first ones followed; runs created while the feed runs come on top, within the budget).
pub const DEEP_RUNS: usize = 2_000;

/// Watch budget when the system's limit cannot be read.
const DEFAULT_WATCH_BUDGET: usize = 4_096;

/// How a file store's feed chooses what to watch (Linux; elsewhere the root is watched whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFeedOptions {
    /// Watch the root and the experiments only at first; runs are watched when
    /// [`ChangeFeed::follow_runs`](super::ChangeFeed::follow_runs) names them (the viewer does
    /// once its rows are in, so that setting up watches does not compete with reading them).
    /// Otherwise every run found is watched before [`FeedEvent::Mode`] is sent.
    pub staged: bool,
    /// Most folders watched; `None`: half of `fs.inotify.max_user_watches` (the rest is left to
    /// other programs).
    pub watch_budget: Option<usize>,
    /// Most followed runs watched deep (see the module's documentation).
    pub deep_runs: usize,
}

impl Default for FileFeedOptions {
    fn default() -> Self {
        FileFeedOptions {
            staged: false,
            watch_budget: None,
            deep_runs: DEEP_RUNS,
        }
    }
}

/// How long the feed waits for events before it looks at what it was told.
const IDLE_WAIT: Duration = Duration::from_millis(200);

pub(super) fn run_file_feed(
    root: &Path,
    options: &FileFeedOptions,
    tx: &Outbox,
    control: &Receiver<Control>,
) {
    if is_network_mount(root) {
        poll_forever(tx, control, FALLBACK_POLL);
        return;
    }
    if !Plan::per_folder() {
        run_whole_tree_feed(root, tx, control);
        return;
    }
    let (raw_tx, raw_rx) = std::sync::mpsc::channel::<notify::Result<notify::Event>>();
    let watcher = notify::recommended_watcher(move |result: notify::Result<notify::Event>| {
        // Reads (the viewer's own among them) are dropped here, before they cost anything more.
        if let Ok(event) = &result
            && !event.need_rescan()
            && !changes_content(&event.kind)
        {
            return;
        }
        let _ = raw_tx.send(result);
    });
    let Ok(watcher) = watcher else {
        poll_forever(tx, control, FALLBACK_POLL);
        return;
    };
    let mut plan = Plan::new(root, watcher, options);
    if let Err(why) = plan.start() {
        drop(plan);
        tx.send(FeedEvent::Following(Coverage {
            note: Some(format!("{why}: polling instead")),
            ..Coverage::default()
        }));
        poll_forever(tx, control, FALLBACK_POLL);
        return;
    }
    if !options.staged {
        let runs = plan.runs_on_disk();
        plan.follow(runs);
    }
    tx.send(FeedEvent::Mode(FeedMode::Events));
    if !options.staged {
        tx.send(FeedEvent::Following(plan.coverage()));
    }
    // macOS's FSEvents reports canonical paths (`/private/var/…` for a root under `/var/…`),
    // Windows may report `\\?\` forms: events are matched against both spellings of the root.
    let canonical_root = std::fs::canonicalize(root).ok().filter(|c| c != root);
    loop {
        loop {
            match control.try_recv() {
                Ok(Control::Follow(runs)) => {
                    plan.follow(runs);
                    tx.send(FeedEvent::Following(plan.coverage()));
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
        let first = match raw_rx.recv_timeout(IDLE_WAIT) {
            Ok(first) => first,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => {
                tx.send(FeedEvent::Failed("the file watch stopped".into()));
                poll_forever(tx, control, FALLBACK_POLL);
                return;
            }
        };
        // Gather what comes within the debounce interval into one message.
        let mut batch = vec![first];
        let until = Instant::now() + DEBOUNCE;
        while let Ok(more) = raw_rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
            batch.push(more);
        }
        let had_limit = plan.limit.is_some();
        let mut changes = BTreeSet::new();
        for result in batch {
            match result {
                Ok(event) => {
                    if event.need_rescan() {
                        changes.insert(Change::Everything);
                    }
                    if !changes_content(&event.kind) {
                        continue;
                    }
                    plan.track(&event);
                    for path in &event.paths {
                        if let Some(change) = classify_event(root, canonical_root.as_deref(), path)
                        {
                            changes.insert(change);
                        }
                    }
                }
                // Lost events (queue overflow, a watch removed): re-read everything.
                Err(_) => {
                    changes.insert(Change::Everything);
                }
            }
        }
        if !had_limit && plan.limit.is_some() {
            tx.send(FeedEvent::Following(plan.coverage()));
        }
        if !changes.is_empty() && !tx.send(FeedEvent::Changes(changes.into_iter().collect())) {
            return;
        }
    }
}

/// The feed where one watch covers the whole root (FSEvents, ReadDirectoryChangesW): every run
/// is followed from the start, through `notify-debouncer-full` as before the per-folder plan
/// (its file-id cache is what makes Wine's emulation of Windows report appends to metric files;
/// `tests/live_refresh.rs` under Wine in CI).
fn run_whole_tree_feed(root: &Path, tx: &Outbox, control: &Receiver<Control>) {
    use notify_debouncer_full::{DebounceEventResult, new_debouncer};
    let (raw_tx, raw_rx) = std::sync::mpsc::channel::<DebounceEventResult>();
    let debouncer = new_debouncer(DEBOUNCE, None, move |result: DebounceEventResult| {
        let _ = raw_tx.send(result);
    });
    let Ok(mut debouncer) = debouncer else {
        poll_forever(tx, control, FALLBACK_POLL);
        return;
    };
    if debouncer
        .watch(root, notify::RecursiveMode::Recursive)
        .is_err()
    {
        drop(debouncer);
        poll_forever(tx, control, FALLBACK_POLL);
        return;
    }
    tx.send(FeedEvent::Mode(FeedMode::Events));
    let mut runs_asked = 0;
    let canonical_root = std::fs::canonicalize(root).ok().filter(|c| c != root);
    loop {
        loop {
            match control.try_recv() {
                Ok(Control::Follow(runs)) => {
                    runs_asked = runs_asked.max(runs.len());
                    tx.send(FeedEvent::Following(Coverage {
                        runs_watched: runs_asked,
                        runs_deep: runs_asked,
                        ..Coverage::default()
                    }));
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
        let result = match raw_rx.recv_timeout(IDLE_WAIT) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => {
                tx.send(FeedEvent::Failed("the file watch stopped".into()));
                poll_forever(tx, control, FALLBACK_POLL);
                return;
            }
        };
        let mut changes = BTreeSet::new();
        match result {
            Ok(events) => {
                for event in events {
                    if event.need_rescan() {
                        changes.insert(Change::Everything);
                    }
                    if !changes_content(&event.kind) {
                        continue;
                    }
                    for path in &event.paths {
                        if let Some(change) = classify_event(root, canonical_root.as_deref(), path)
                        {
                            changes.insert(change);
                        }
                    }
                }
            }
            // Lost events (queue overflow, a watch removed): re-read everything.
            Err(_) => {
                changes.insert(Change::Everything);
            }
        }
        if !changes.is_empty() && !tx.send(FeedEvent::Changes(changes.into_iter().collect())) {
            return;
        }
    }
}

/// Why a folder was not watched.
enum Refused {
    /// The budget or the system's limit is reached (the reason is in [`Plan::limit`]).
    Limit,
}

/// The folders a feed watches, and how it extends them.
struct Plan {
    root: PathBuf,
    watcher: notify::RecommendedWatcher,
    /// Folders watched (Linux).
    watched: HashSet<PathBuf>,
    /// Run folders watched.
    runs: HashSet<PathBuf>,
    /// Run folders whose trees are watched too.
    deep: HashSet<PathBuf>,
    /// Runs of the last follow that are not watched.
    unwatched: usize,
    /// Runs asked for where the root is watched whole (every run then is).
    runs_asked_whole: usize,
    budget: usize,
    deep_runs: usize,
    staged: bool,
    /// Why watching stopped (a limit), once it did.
    limit: Option<String>,
}

impl Plan {
    fn new(root: &Path, watcher: notify::RecommendedWatcher, options: &FileFeedOptions) -> Plan {
        Plan {
            root: root.to_path_buf(),
            watcher,
            watched: HashSet::new(),
            runs: HashSet::new(),
            deep: HashSet::new(),
            unwatched: 0,
            runs_asked_whole: 0,
            budget: options.watch_budget.unwrap_or_else(system_watch_budget),
            deep_runs: options.deep_runs,
            staged: options.staged,
            limit: None,
        }
    }

    /// Whether folders are chosen one by one (inotify); elsewhere the root is watched whole.
    fn per_folder() -> bool {
        cfg!(any(target_os = "linux", target_os = "android"))
    }

    /// Watches the root and the experiments (and their tags and datasets).
    fn start(&mut self) -> Result<(), String> {
        if !Self::per_folder() {
            return self
                .watcher
                .watch(&self.root, notify::RecursiveMode::Recursive)
                .map_err(|e| format!("cannot watch {}: {e}", self.root.display()));
        }
        let root = self.root.clone();
        if !matches!(self.add(&root), Ok(true)) {
            return Err(self
                .limit
                .clone()
                .unwrap_or_else(|| format!("cannot watch {}", root.display())));
        }
        for experiment in subfolders(&root) {
            if self.add_experiment(&experiment).is_err() {
                return Err(self
                    .limit
                    .clone()
                    .unwrap_or_else(|| "cannot watch the experiments".into()));
            }
        }
        Ok(())
    }

    fn add_experiment(&mut self, dir: &Path) -> Result<(), Refused> {
        self.add(dir)?;
        for part in ["tags", "datasets"] {
            let sub = dir.join(part);
            if sub.is_dir() {
                self.add_tree(&sub)?;
            }
        }
        Ok(())
    }

    /// Every run folder of every experiment, the most recently changed first (folder mtime:
    /// new runs and runs given new metrics or tags folders).
    fn runs_on_disk(&self) -> Vec<(String, String)> {
        let mut found = Vec::new();
        for experiment in subfolders(&self.root) {
            let Some(experiment_id) = file_name(&experiment) else {
                continue;
            };
            for run in subfolders(&experiment) {
                let Some(run_id) = file_name(&run) else {
                    continue;
                };
                if matches!(run_id.as_str(), "tags" | "datasets") {
                    continue;
                }
                let modified = std::fs::metadata(&run).and_then(|m| m.modified()).ok();
                found.push((std::cmp::Reverse(modified), experiment_id.clone(), run_id));
            }
        }
        found.sort();
        found.into_iter().map(|(_, e, r)| (e, r)).collect()
    }

    /// Watches these runs' folders, the first ones deep (until [`FileFeedOptions::deep_runs`]
    /// runs are).
    fn follow(&mut self, runs: Vec<(String, String)>) {
        self.unwatched = 0;
        if !Self::per_folder() {
            self.runs_whole_tree(runs.len());
            return;
        }
        for (experiment_id, run_id) in runs {
            if self.limit.is_some() {
                self.unwatched += 1;
                continue;
            }
            let dir = self.root.join(&experiment_id).join(&run_id);
            let deep = self.deep.len() < self.deep_runs;
            if self.runs.contains(&dir) && (!deep || self.deep.contains(&dir)) {
                continue;
            }
            if self.add_run(&dir, deep).is_err() {
                self.unwatched += 1;
            }
        }
    }

    /// Counts for a recursive watch of the whole root: every run is watched deep.
    fn runs_whole_tree(&mut self, asked: usize) {
        self.runs_asked_whole = self.runs_asked_whole.max(asked);
    }

    fn add_run(&mut self, dir: &Path, deep: bool) -> Result<(), Refused> {
        if !self.add(dir)? {
            return Ok(());
        }
        self.runs.insert(dir.to_path_buf());
        if deep {
            for sub in subfolders(dir) {
                if file_name(&sub).is_some_and(|n| n != "artifacts") {
                    self.add_tree(&sub)?;
                }
            }
            self.deep.insert(dir.to_path_buf());
        }
        Ok(())
    }

    /// Watches `dir` and every folder under it.
    fn add_tree(&mut self, dir: &Path) -> Result<(), Refused> {
        if !self.add(dir)? {
            return Ok(());
        }
        for sub in subfolders(dir) {
            self.add_tree(&sub)?;
        }
        Ok(())
    }

    /// Watches one folder: `Ok(false)` when it is gone (or is not a folder), an error at a limit.
    fn add(&mut self, dir: &Path) -> Result<bool, Refused> {
        if self.limit.is_some() {
            return Err(Refused::Limit);
        }
        if self.watched.len() >= self.budget {
            self.limit = Some(format!(
                "the watch budget of {} folders is reached",
                self.budget
            ));
            return Err(Refused::Limit);
        }
        match self.watcher.watch(dir, notify::RecursiveMode::NonRecursive) {
            Ok(()) => {
                self.watched.insert(dir.to_path_buf());
                Ok(true)
            }
            Err(e) if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) => {
                self.limit = Some(format!(
                    "the system's limit of file watches (fs.inotify.max_user_watches) is \
                     reached after {} folders",
                    self.watched.len()
                ));
                Err(Refused::Limit)
            }
            Err(_) => Ok(false),
        }
    }

    /// Keeps the watches in step with an event: new folders of experiments, runs and deep runs
    /// are watched (a new run deep), removed ones forgotten (a folder made again under the same
    /// name is a new folder to watch).
    fn track(&mut self, event: &notify::Event) {
        use notify::EventKind;
        use notify::event::{ModifyKind, RenameMode};
        if !Self::per_folder() {
            return;
        }
        match event.kind {
            EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(RenameMode::From)) => {
                for path in &event.paths {
                    self.forget(path);
                }
            }
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => {
                if let Some(from) = event.paths.first() {
                    self.forget(from);
                }
                if let Some(to) = event.paths.get(1) {
                    self.appeared(to);
                }
            }
            EventKind::Create(_)
            | EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Any)) => {
                for path in &event.paths {
                    self.appeared(path);
                }
            }
            _ => {}
        }
    }

    fn forget(&mut self, path: &Path) {
        if !self.watched.contains(path) {
            return;
        }
        self.watched.retain(|p| !p.starts_with(path));
        self.runs.retain(|p| !p.starts_with(path));
        self.deep.retain(|p| !p.starts_with(path));
    }

    /// A path was created or moved in: watches it if it is a folder the plan follows.
    fn appeared(&mut self, path: &Path) {
        if !path.is_dir() {
            return;
        }
        let Ok(rel) = path.strip_prefix(&self.root) else {
            return;
        };
        let parts: Vec<&str> = rel.iter().filter_map(|p| p.to_str()).collect();
        if parts.iter().any(|p| p.starts_with('.')) {
            return;
        }
        // Errors are limits, already noted in `self.limit` for the coverage.
        let _ = match parts.as_slice() {
            [] => Ok(()),
            [_experiment] => self.new_experiment(path),
            [_, "tags" | "datasets", ..] => self.add_tree(path),
            // A new run: it is being logged to, so it is watched deep.
            [_, _run] => self.add_run(path, true),
            [_, _, "artifacts", ..] => Ok(()),
            [experiment, run, ..] => {
                let run_dir = self.root.join(experiment).join(run);
                if self.deep.contains(&run_dir) {
                    self.add_tree(path)
                } else {
                    Ok(())
                }
            }
        };
    }

    /// A new experiment folder (or one restored from the trash, runs and all).
    fn new_experiment(&mut self, dir: &Path) -> Result<(), Refused> {
        self.add_experiment(dir)?;
        if !self.staged {
            let Some(experiment_id) = file_name(dir) else {
                return Ok(());
            };
            let runs = subfolders(dir)
                .iter()
                .filter_map(|r| file_name(r))
                .filter(|r| !matches!(r.as_str(), "tags" | "datasets"))
                .map(|r| (experiment_id.clone(), r))
                .collect();
            let before = self.unwatched;
            self.follow(runs);
            self.unwatched += before;
        }
        Ok(())
    }

    fn coverage(&self) -> Coverage {
        if !Self::per_folder() {
            return Coverage {
                runs_watched: self.runs_asked_whole,
                runs_deep: self.runs_asked_whole,
                ..Coverage::default()
            };
        }
        Coverage {
            runs_watched: self.runs.len(),
            runs_deep: self.deep.len(),
            runs_unwatched: self.unwatched,
            note: self.limit.clone(),
        }
    }
}

/// The folders directly in `dir` whose names do not start with a dot (`.trash`, temporary
/// folders), sorted by name.
fn subfolders(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter(|e| {
            e.file_type()
                .is_ok_and(|t| t.is_dir() || (t.is_symlink() && e.path().is_dir()))
        })
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

fn file_name(path: &Path) -> Option<String> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
}

/// Half of `fs.inotify.max_user_watches` (the rest is left to other programs: editors, sync
/// tools), or [`DEFAULT_WATCH_BUDGET`] when it cannot be read.
fn system_watch_budget() -> usize {
    std::fs::read_to_string("/proc/sys/fs/inotify/max_user_watches")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .map_or(DEFAULT_WATCH_BUDGET, |max| (max / 2).max(64))
}
