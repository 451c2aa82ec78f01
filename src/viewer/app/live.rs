//! Live refresh: the app follows the open store with a [`ChangeFeed`] (its own thread; file
//! events debounced, or polling) and turns each change into the narrowest worker request: a
//! metric history is extended from the cursor it holds ([`Request::Tail`]), a run is read again
//! ([`Request::LiveRuns`]), or the lists are reloaded.
//!
//! Opening a file store, the feed watches the root and the experiment folders only (new runs
//! and experiments are seen); the runs' folders are watched once the rows are in
//! ([`ChangeFeed::follow_runs`], running runs first), so that setting up thousands of watches
//! does not compete with reading the rows. Nothing is lost meanwhile: changes reported while
//! rows load are kept and applied once they are in, and when the feed says the runs are
//! watched, the running runs are read again and followed histories extended (what they logged
//! before their folders were watched).

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use crate::model::Run;
use crate::watch::{Change, ChangeFeed, FeedEvent};

use super::super::cache::Entry;
use super::super::runs_model::RunSet;
use super::super::worker::{Request, Series, TailAnswer};
use super::App;

/// The change feed following the store at `uri` (file events, SQLite's data version, or
/// polling a server).
pub(super) fn feed_for(uri: &str, wake: crate::watch::Waker) -> Option<ChangeFeed> {
    use crate::store::{StoreLocation, parse_tracking_uri};
    match parse_tracking_uri(uri) {
        Ok(StoreLocation::File(root)) => Some(ChangeFeed::file_store(&root, wake)),
        Ok(StoreLocation::Sqlite(path)) => Some(ChangeFeed::sqlite(&path, wake)),
        Ok(StoreLocation::Http(_)) => Some(ChangeFeed::polling(server_poll_interval(), wake)),
        Err(_) => None,
    }
}

/// The main store's change feed: like [`feed_for`], but a file store's runs are watched only
/// when the app names them ([`ChangeFeed::follow_runs`]).
fn staged_feed_for(uri: &str, wake: crate::watch::Waker) -> Option<ChangeFeed> {
    use crate::store::{StoreLocation, parse_tracking_uri};
    match parse_tracking_uri(uri) {
        Ok(StoreLocation::File(root)) => Some(ChangeFeed::file_store_with(
            &root,
            wake,
            crate::watch::FileFeedOptions {
                staged: true,
                ..Default::default()
            },
        )),
        _ => feed_for(uri, wake),
    }
}

/// Most live changes applied per frame (the rest wait for the next frame).
const MAX_LIVE_EVENTS_PER_FRAME: usize = 256;

impl App {
    /// Starts following the store at `uri` (its change feed runs on its own thread).
    pub(super) fn start_live(&mut self, uri: &str) {
        self.stop_live();
        self.live = staged_feed_for(uri, self.live_wake());
    }

    /// What a change feed calls to wake the UI.
    pub(super) fn live_wake(&self) -> crate::watch::Waker {
        let slot = Arc::clone(&self.live_waker);
        Arc::new(move || {
            if let Ok(slot) = slot.lock()
                && let Some(ctx) = slot.as_ref()
            {
                ctx.request_repaint();
            }
        })
    }

    pub(super) fn stop_live(&mut self) {
        self.live = None;
        self.live_mode = None;
        self.live_coverage = None;
        self.live_pending.clear();
        self.live_followed_search = None;
        self.tails_in_flight.clear();
        self.tails_again.clear();
    }

    /// Applies what the change feed reported since the last frame (never touches the disk: the
    /// reads are the worker's).
    pub(super) fn poll_live(&mut self) {
        let mut changes = self.poll_second_live();
        let mut failed = None;
        let mut now_following = false;
        for _ in 0..MAX_LIVE_EVENTS_PER_FRAME {
            let Some(feed) = &self.live else { break };
            match feed.try_next() {
                Some(FeedEvent::Mode(mode)) => self.live_mode = Some(mode),
                Some(FeedEvent::Changes(c)) => changes.extend(c),
                Some(FeedEvent::Failed(why)) => failed = Some(why),
                Some(FeedEvent::Following(coverage)) => {
                    if let Some(note) = &coverage.note
                        && self.live_coverage.as_ref().and_then(|c| c.note.as_ref()) != Some(note)
                    {
                        self.info(format!("live refresh: {note}"));
                    }
                    self.live_coverage = Some(coverage);
                    now_following = true;
                }
                None => break,
            }
        }
        if let Some(why) = failed {
            self.error(format!("live refresh: {why}"));
        }
        if !self.data.persisted.live_refresh || !matches!(self.store, Some(Entry::Ready(_))) {
            return;
        }
        if self.data.runs.loading {
            // Applied once the rows are in: a run read again now would be lost when the
            // search's rows replace the set.
            self.live_pending.extend(changes);
            return;
        }
        changes.append(&mut self.live_pending);
        if now_following {
            self.catch_up_after_following();
        }
        if !changes.is_empty() {
            self.apply_changes(changes);
        }
        self.follow_shown_runs();
    }

    /// Once a search's rows are in, asks the feed to watch their folders (running runs first,
    /// then the store's order: newest first). Runs of a second store are its own feed's.
    fn follow_shown_runs(&mut self) {
        let search = self.data.runs.generation;
        if self.live.is_none() || self.live_followed_search == Some(search) {
            return;
        }
        let Some(set) = self.run_set().cloned() else {
            return;
        };
        self.live_followed_search = Some(search);
        // Only a file store's feed watches runs (the others poll).
        let file_store = match &self.store {
            Some(Entry::Ready(uri)) => matches!(
                crate::store::parse_tracking_uri(uri),
                Ok(crate::store::StoreLocation::File(_))
            ),
            _ => false,
        };
        if !file_store {
            return;
        }
        let own = set
            .runs
            .iter()
            .filter(|r| !super::super::worker::router::is_second(&r.info.run_id));
        let running = crate::model::RunStatus::Running;
        let mut runs: Vec<(String, String)> = own
            .clone()
            .filter(|r| r.info.status == running)
            .chain(own.filter(|r| r.info.status != running))
            .map(|r| (r.info.experiment_id.clone(), r.info.run_id.clone()))
            .collect();
        runs.dedup();
        if let Some(feed) = &self.live {
            feed.follow_runs(runs);
        }
    }

    /// The feed now watches the runs' folders: what running runs logged before that (while the
    /// rows loaded) is read now; followed histories are extended.
    fn catch_up_after_following(&mut self) {
        let Some(set) = self.run_set().cloned() else {
            return;
        };
        let running: Vec<String> = set
            .runs
            .iter()
            .filter(|r| r.info.status == crate::model::RunStatus::Running)
            .filter(|r| !super::super::worker::router::is_second(&r.info.run_id))
            // The ones watched deep (running runs come first): a store where thousands of
            // crashed runs stay "running" is not read again whole.
            .take(crate::watch::DEEP_RUNS)
            .map(|r| r.info.run_id.clone())
            .collect();
        if !running.is_empty() {
            let g = self.next_generation();
            self.worker.send(g, Request::LiveRuns { run_ids: running });
        }
        let tails: Vec<(String, String)> = self
            .data
            .histories
            .iter()
            .filter_map(|(k, entry)| match entry {
                Entry::Ready(s) if s.offset.is_some() => Some(k.clone()),
                _ => None,
            })
            .collect();
        self.request_tails(tails);
    }

    /// Turns changes into the narrowest reads: a metric's new lines, a run read again, the
    /// experiments and runs listed again.
    pub fn apply_changes(&mut self, changes: BTreeSet<Change>) {
        let set = self.run_set().cloned();
        let known = |id: &str| set.as_ref().is_some_and(|s| s.index.contains_key(id));
        let mut relist = false;
        let mut reread: BTreeSet<String> = BTreeSet::new();
        let mut tails: Vec<(String, String)> = Vec::new();
        for change in changes {
            match change {
                Change::Everything | Change::Experiment { .. } => relist = true,
                Change::Run {
                    experiment_id,
                    run_id,
                } => {
                    if !self.data.selected_experiments.contains(&experiment_id) {
                        continue;
                    }
                    if known(&run_id) || self.data.filter.applied.trim().is_empty() {
                        reread.insert(run_id);
                    } else {
                        // A new run under a filter: the store decides whether it matches.
                        relist = true;
                    }
                }
                Change::Metric {
                    experiment_id,
                    run_id,
                    key,
                } => {
                    let followed = matches!(
                        self.data.histories.get(&(run_id.clone(), key.clone())),
                        Some(Entry::Ready(s)) if s.offset.is_some()
                    );
                    if followed {
                        tails.push((run_id, key));
                    } else if self.data.selected_experiments.contains(&experiment_id) {
                        // The table's latest value (a run's first metric line also lands here).
                        reread.insert(run_id);
                    }
                }
            }
        }
        if relist {
            self.request_experiments();
            // Every followed history: read what was appended; the others of running runs again.
            let mut stale = Vec::new();
            for ((run, key), entry) in self.data.histories.iter() {
                match entry {
                    Entry::Ready(s) if s.offset.is_some() => tails.push((run.clone(), key.clone())),
                    Entry::Ready(_)
                        if set.as_ref().is_some_and(|set| {
                            set.index.get(run).is_some_and(|&i| {
                                set.runs[i].info.status == crate::model::RunStatus::Running
                            })
                        }) =>
                    {
                        stale.push((run.clone(), key.clone()))
                    }
                    _ => {}
                }
            }
            if !stale.is_empty() {
                self.data.histories.remove_where(|k| stale.contains(k));
                self.data.histories_version += 1;
            }
        }
        if !reread.is_empty() {
            let g = self.next_generation();
            self.worker.send(
                g,
                Request::LiveRuns {
                    run_ids: reread.into_iter().collect(),
                },
            );
        }
        self.request_tails(tails);
    }

    /// Asks the worker for what was appended to these followed histories.
    fn request_tails(&mut self, tails: Vec<(String, String)>) {
        let mut items = Vec::new();
        for k in tails {
            if self.tails_in_flight.contains(&k) {
                self.tails_again.insert(k);
                continue;
            }
            if let Some(Entry::Ready(s)) = self.data.histories.get(&k)
                && let Some(offset) = s.offset
            {
                self.tails_in_flight.insert(k.clone());
                items.push((k.0, k.1, offset));
            }
        }
        if !items.is_empty() {
            let g = self.next_generation();
            self.worker.send(g, Request::Tail { items });
        }
    }

    /// Appends new points to the histories (each exactly once: only when read from the offset
    /// held) and moves the runs' latest values.
    pub(super) fn apply_tails(&mut self, tails: Vec<TailAnswer>) {
        let mut latest: Vec<(String, crate::model::Metric)> = Vec::new();
        for t in tails {
            let k = (t.run_id.clone(), t.key.clone());
            self.tails_in_flight.remove(&k);
            let Ok(tail) = t.result else {
                // The run or file went away: read it whole when a chart asks again.
                self.data.histories.remove_where(|x| *x == k);
                continue;
            };
            let Some(held) = self.data.histories.ready_mut(&k) else {
                continue;
            };
            if held.offset != Some(t.from) {
                continue;
            }
            if tail.metrics.is_empty() && !tail.restarted && tail.next_offset == t.from {
                continue;
            }
            let s = Arc::make_mut(held);
            if tail.restarted {
                *s = Series::default();
            }
            s.extend(&tail.metrics);
            s.offset = Some(tail.next_offset);
            if let Some(newest) =
                tail.metrics
                    .iter()
                    .fold(None::<&crate::model::Metric>, |best, m| match best {
                        Some(b) if !m.is_newer_than(b) => Some(b),
                        _ => Some(m),
                    })
            {
                latest.push((t.run_id.clone(), newest.clone()));
            }
            self.data.histories_version += 1;
        }
        self.patch_latest(latest);
        let again: Vec<_> = self.tails_again.drain().collect();
        self.request_tails(again);
    }

    /// Moves the latest values of runs' metrics forward (the table's columns).
    fn patch_latest(&mut self, latest: Vec<(String, crate::model::Metric)>) {
        let Some(set) = self.run_set().cloned() else {
            return;
        };
        let mut fresh = Vec::new();
        for (run_id, m) in latest {
            let Some(&i) = set.index.get(&run_id) else {
                continue;
            };
            let mut run = (*set.runs[i]).clone();
            let newer = run
                .data
                .metrics
                .get(&m.key)
                .is_none_or(|cur| m.is_newer_than(cur));
            if newer {
                run.data.metrics.insert(m.key.clone(), m);
                fresh.push(run);
            }
        }
        if !fresh.is_empty() {
            self.patch_runs(fresh);
        }
    }

    /// Removes runs from the shown set.
    pub(super) fn drop_runs(&mut self, gone: &HashSet<String>) {
        let Some(set) = self.run_set() else { return };
        if gone.is_empty() || !gone.iter().any(|id| set.index.contains_key(id)) {
            return;
        }
        let runs: Vec<Arc<Run>> = set
            .runs
            .iter()
            .filter(|r| !gone.contains(&r.info.run_id))
            .cloned()
            .collect();
        let g = self.next_generation();
        let new = RunSet::new(runs, g);
        self.data.selection.retain(|id| new.index.contains_key(id));
        if self
            .data
            .focus
            .as_ref()
            .is_some_and(|f| !new.index.contains_key(f))
        {
            self.data.focus = None;
        }
        self.data.runs.entry = Entry::Ready(Arc::new(new));
    }
}

/// The status bar's live-refresh label and hover, saying which runs are not watched (a limit was
/// reached) or that the feed polls because of one.
pub(super) fn with_coverage(
    text: String,
    hover: &str,
    coverage: Option<&crate::watch::Coverage>,
) -> (String, String) {
    let Some(c) = coverage else {
        return (text, hover.to_string());
    };
    let mut hover = hover.to_string();
    let mut text = text;
    if c.runs_unwatched > 0 {
        text = format!(
            "{text} ({} runs followed, {} not)",
            c.runs_watched, c.runs_unwatched
        );
    }
    if let Some(note) = &c.note {
        hover = format!("{hover}\n\n{note}");
        if c.runs_unwatched > 0 {
            hover.push_str(
                ": the runs not followed (the oldest) change in the table when the runs are listed again",
            );
        }
    }
    (text, hover)
}

/// How often a tracking server is polled: `MLSCOPE_SERVER_POLL_SECS` (at least 1 s), else
/// [`crate::watch::SERVER_POLL`].
fn server_poll_interval() -> Duration {
    std::env::var("MLSCOPE_SERVER_POLL_SECS")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 1.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(crate::watch::SERVER_POLL)
}
