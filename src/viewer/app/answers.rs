//! Applying the worker's answers to the data views read. Each [`Reply`] variant carries the
//! result of its own request, so every arm here handles exactly one kind of answer.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Instant;

use crate::error::{ErrorCode, StoreWarning};
use crate::model::{Experiment, LifecycleStage, Run, ViewType};

use super::super::cache::Entry;
use super::super::filter_bar;
use super::super::runs_model::RunSet;
use super::super::worker::{
    Answer, ExperimentList, Failure, Histories, OpenOutcome, Refreshed, Reply, Request, RunsPage,
    WriteOp, Written,
};
use super::{ANSWER_BUDGET, App, timings_enabled};

/// Most recent stores remembered.
const MAX_RECENT: usize = 10;
/// Runs the first view selects (the latest leaf runs), so that charts show at once.
pub(crate) const FIRST_VIEW_RUNS: usize = 10;

impl App {
    /// Applies worker answers until the time budget is spent (then asks for another frame).
    pub(super) fn receive_answers(&mut self, ctx: &egui::Context) {
        let start = Instant::now();
        while let Some(answer) = self.worker.try_recv() {
            self.apply_answer(answer);
            if start.elapsed() > ANSWER_BUDGET {
                ctx.request_repaint();
                break;
            }
        }
        self.handle_store_events();
    }

    pub(super) fn apply_answer(&mut self, answer: Answer) {
        let Answer {
            generation, reply, ..
        } = answer;
        match reply {
            Reply::Skipped => {}
            Reply::Opened(Ok(OpenOutcome::Opened(opened))) => {
                if !opened.writable && !self.data.read_only {
                    self.data.read_only = true;
                    self.info("the store cannot be written here: opened read-only");
                }
                self.start_live(&opened.uri);
                let shown = match &opened.found_inside {
                    // The store found inside the chosen folder is what is open (and what the
                    // store is remembered by).
                    Some(_) => opened.uri,
                    None => self.store_request.clone().unwrap_or(opened.uri),
                };
                self.store_found_inside = opened.found_inside;
                if self.store_found_inside.is_some() {
                    self.store_request = Some(shown.clone());
                }
                self.store = Some(Entry::Ready(Arc::new(shown.clone())));
                self.remember_store(shown);
                self.request_experiments();
            }
            Reply::Opened(Ok(OpenOutcome::Choose { folder, candidates })) => {
                // Nothing was opened: ask which one.
                self.store = None;
                self.choose_store = Some((folder, candidates));
            }
            Reply::Opened(Err(f)) => self.store = Some(Entry::Failed(f.message)),
            Reply::Experiments(result) => {
                if generation != self.experiments_generation {
                    return;
                }
                match result {
                    Ok(ExperimentList {
                        experiments,
                        warnings,
                    }) => self.set_experiments(experiments, warnings),
                    Err(f) => self.data.experiments = Entry::Failed(f.message),
                }
            }
            Reply::Runs(result) => {
                if generation != self.data.runs.generation {
                    return;
                }
                match result {
                    Ok(page) => self.add_runs_page(page),
                    Err(f) => self.runs_failed(f),
                }
            }
            Reply::LatestActive(result) if self.second_latest == Some(generation) => {
                self.show_second_experiment(result.ok().flatten())
            }
            Reply::LatestActive(Ok(Some(id))) => {
                if self.auto_selected && !self.data.selected_experiments.contains(&id) {
                    self.data.selected_experiments = [id].into();
                    self.data.selection.clear();
                    self.preselect_runs = true;
                    self.request_runs();
                }
            }
            // The provisional pick stays.
            Reply::LatestActive(_) => {}
            Reply::RunCounts(Ok(counts)) => {
                self.data.run_counts.extend(counts);
                self.move_off_empty_experiment();
            }
            // Counts are a hint; the list works without them.
            Reply::RunCounts(Err(_)) => {}
            Reply::Refreshed(Ok(Refreshed { runs, errors })) => {
                self.patch_runs(runs);
                for (id, e) in errors {
                    self.error(format!("cannot read run {id} again: {e}"));
                }
            }
            Reply::Refreshed(Err(f)) => self.error(f.message),
            Reply::Histories {
                run_id,
                result: Ok(Histories { series, errors }),
            } => {
                for (k, s) in series {
                    self.data.histories.set_ready((run_id.clone(), k), s);
                }
                for (k, e) in errors {
                    self.data.histories.set_failed((run_id.clone(), k), e);
                }
                self.data.histories_version += 1;
            }
            Reply::Histories {
                run_id,
                result: Err(f),
            } => {
                let id = run_id.clone();
                self.data.histories.remove_where(|(r, _)| *r == id);
                self.error(format!(
                    "cannot read metric histories of {run_id}: {}",
                    f.message
                ));
            }
            Reply::Written(Ok(Written { op, errors })) => {
                for e in &errors {
                    self.error(e.clone());
                }
                self.after_write(op);
            }
            Reply::Written(Err(f)) => {
                self.error(format!("the change was not saved: {}", f.message));
                // Show the store's real state.
                self.refresh_runs(self.data.selection.iter().cloned().collect());
            }
            Reply::ArtifactList { root, path, result } => match result {
                Ok(entries) => self.data.artifact_lists.set_ready((root, path), entries),
                Err(f) => self.data.artifact_lists.set_failed((root, path), f.message),
            },
            Reply::ArtifactPreview { root, path, result } => match result {
                Ok(p) => self.data.artifact_previews.set_ready((root, path), p),
                Err(f) => self
                    .data
                    .artifact_previews
                    .set_failed((root, path), f.message),
            },
            Reply::Tails(Ok(tails)) => self.apply_tails(tails),
            Reply::Tails(Err(_)) => self.tails_in_flight.clear(),
            Reply::LiveRefreshed(Ok(Refreshed { runs, errors })) => {
                self.patch_runs(runs);
                // Runs that went away (or are being written): drop them; an event brings
                // them back.
                let gone: HashSet<String> = errors.into_iter().map(|(id, _)| id).collect();
                self.drop_runs(&gone);
            }
            // The next change reads them again.
            Reply::LiveRefreshed(Err(_)) => {}
            Reply::LocalCopy(Ok(path)) => {
                std::thread::Builder::new()
                    .name("mlscope-open".into())
                    .spawn(move || open_externally(&path))
                    .ok();
            }
            Reply::LocalCopy(Err(f)) => self.error(f.message),
            Reply::Saved(Ok(path)) => self.info(format!("saved {}", path.display())),
            Reply::Saved(Err(f)) => self.error(f.message),
        }
    }

    /// When the app picked an experiment that turns out empty, shows the newest one with runs.
    fn move_off_empty_experiment(&mut self) {
        if !self.auto_selected {
            return;
        }
        let d = &self.data;
        let empty = d
            .selected_experiments
            .iter()
            .all(|id| d.run_counts.get(id) == Some(&0));
        let Some(exps) = d.experiments.ready().cloned() else {
            return;
        };
        let all_counted = exps
            .iter()
            .all(|e| d.run_counts.contains_key(&e.experiment_id));
        if !empty || !all_counted {
            return;
        }
        self.auto_selected = false;
        let with_runs = exps.iter().find(|e| {
            e.lifecycle_stage == LifecycleStage::Active
                && d.run_counts.get(&e.experiment_id).is_some_and(|n| *n > 0)
        });
        if let Some(e) = with_runs {
            self.data.selected_experiments = [e.experiment_id.clone()].into();
            self.data.selection.clear();
            self.preselect_runs = true;
            self.request_runs();
        }
    }

    fn set_experiments(&mut self, experiments: Vec<Experiment>, warnings: Vec<StoreWarning>) {
        self.experiment_warnings = warnings;
        let ids: BTreeSet<String> = experiments
            .iter()
            .map(|e| e.experiment_id.clone())
            .collect();
        self.data.selected_experiments.retain(|id| ids.contains(id));
        let first_load = self.data.selected_experiments.is_empty();
        let mut latest_active = None;
        if first_load {
            // The experiments shown last time in this store, else the newest active one other
            // than Default (search order is newest first), else Default.
            let remembered = self
                .store_request
                .as_ref()
                .and_then(|s| self.data.persisted.last_experiments.get(s))
                .map(|last| {
                    last.iter()
                        .filter(|id| ids.contains(*id))
                        .cloned()
                        .collect::<BTreeSet<String>>()
                })
                .unwrap_or_default();
            // Either way, the first view selects the latest runs so that charts show at once.
            self.preselect_runs = true;
            if !remembered.is_empty() {
                self.data.selected_experiments = remembered;
            } else {
                let active = |e: &&Experiment| e.lifecycle_stage == LifecycleStage::Active;
                let pick = experiments
                    .iter()
                    .filter(active)
                    .find(|e| e.experiment_id != crate::model::DEFAULT_EXPERIMENT_ID)
                    .or_else(|| experiments.iter().find(active));
                if let Some(e) = pick {
                    self.data
                        .selected_experiments
                        .insert(e.experiment_id.clone());
                    self.auto_selected = true;
                }
                // That pick shows rows at once; the worker then finds the experiment active
                // last (the newest run with metrics), and the view moves there unless the user
                // chose meanwhile.
                let active: Vec<String> = experiments
                    .iter()
                    .filter(active)
                    .map(|e| e.experiment_id.clone())
                    .collect();
                latest_active = Some(active);
            }
        }
        let others: Vec<String> = experiments
            .iter()
            .filter(|e| !self.data.run_counts.contains_key(&e.experiment_id))
            .map(|e| e.experiment_id.clone())
            .collect();
        self.select_in_second_store(&experiments);
        self.data.experiments = Entry::Ready(Arc::new(experiments));
        self.request_runs();
        // After the runs search, so that the worker never starts it first: it may read the
        // whole store, and the first rows should not wait for that.
        if let Some(experiment_ids) = latest_active {
            let g = self.next_generation();
            self.worker
                .send(g, Request::LatestActive { experiment_ids });
        }
        self.request_run_counts(others);
    }

    fn add_runs_page(&mut self, page: RunsPage) {
        let RunsPage {
            runs,
            warnings,
            done,
            ordered,
            progress,
        } = page;
        // A new version for each set built from this search's pages, so that the rows (memoised
        // on it) follow the set while pages arrive.
        let version = self.next_generation();
        let d = &mut self.data;
        d.filter.error = None;
        let first_page = std::mem::take(&mut d.runs.awaiting_first_page);
        if first_page {
            // The previous search's warnings stay shown until the new ones are known.
            d.runs.warnings.clear();
        }
        d.runs.warnings.extend(warnings);
        d.runs.progress = progress.or(if done { None } else { d.runs.progress });
        let arrived = runs.len();
        d.runs.partial.extend(runs.into_iter().map(Arc::new));
        let first = !matches!(d.runs.entry, Entry::Ready(_)) || done;
        let shown = d.runs.entry.ready().map_or(0, |s| s.runs.len());
        // Streamed batches (unordered, growing): the first one, then each time the rows have
        // doubled, so a 100,000-run store rebuilds the set ~10 times, not per batch.
        let streamed = !ordered && arrived > 0 && (first_page || d.runs.partial.len() >= 2 * shown);
        if first || d.runs.partial.len() % 5_000 < 50 || done || streamed {
            if !ordered {
                // The store's order (newest first), as paging would have given.
                crate::search::order_by::sort_runs_by(&mut d.runs.partial, &[]);
            }
            // Pinned runs the filter leaves out stay (they were loaded before).
            let runs = super::super::runs_model::keep_pinned(
                d.runs.partial.clone(),
                d.runs.entry.ready().map(|s| s.as_ref()),
                &d.persisted.pinned_runs,
                &d.selected_experiments,
            );
            let set = RunSet::new(runs, version);
            // Selected runs not read yet may come in a later page (of another store, when
            // two are open): the selection keeps them until the search is done.
            if done {
                let visible: HashSet<&String> = set.index.keys().collect();
                d.selection.retain(|id| visible.contains(id));
                if d.focus.as_ref().is_some_and(|f| !visible.contains(f)) {
                    d.focus = None;
                }
            }
            d.runs.entry = Entry::Ready(Arc::new(set));
            if d.runs.time_to_first_rows.is_none()
                && let Some(t) = self.perf.opened_at
            {
                let elapsed = t.elapsed();
                d.runs.time_to_first_rows = Some(elapsed);
                if timings_enabled() {
                    eprintln!(
                        "mlscope-viewer: first rows after {:.1} ms ({} runs)",
                        elapsed.as_secs_f64() * 1e3,
                        d.runs.partial.len()
                    );
                }
            }
        }
        if done
            && std::mem::take(&mut self.preselect_runs)
            && d.selection.is_empty()
            && let Some(set) = d.runs.entry.ready()
        {
            let latest = latest_leaf_runs(set, FIRST_VIEW_RUNS);
            d.focus = latest.first().cloned();
            d.selection = latest.into_iter().collect();
        }
        if done {
            self.preselect_second_runs();
        }
        let d = &mut self.data;
        if done {
            d.runs.loading = false;
            if timings_enabled() {
                eprintln!(
                    "mlscope-viewer: all rows after {:.1} ms ({} runs; search took {:.1} ms)",
                    self.perf
                        .opened_at
                        .map_or(f64::NAN, |t| t.elapsed().as_secs_f64() * 1e3),
                    d.runs.partial.len(),
                    d.runs.started.elapsed().as_secs_f64() * 1e3
                );
            }
            let applied = &d.filter.applied;
            if !applied.trim().is_empty() && d.filter.history.last() != Some(applied) {
                d.filter.history.push(applied.clone());
            }
            // Counts of the shown experiments come for free.
            if d.filter.run_view == ViewType::ActiveOnly && d.filter.applied.trim().is_empty() {
                let mut counts: BTreeMap<String, usize> = d
                    .selected_experiments
                    .iter()
                    .map(|id| (id.clone(), 0))
                    .collect();
                for r in &d.runs.partial {
                    *counts.entry(r.info.experiment_id.clone()).or_default() += 1;
                }
                d.run_counts.extend(counts);
                self.move_off_empty_experiment();
            }
            self.data.runs.partial.clear();
        }
    }

    fn runs_failed(&mut self, f: Failure) {
        let d = &mut self.data;
        d.runs.loading = false;
        d.runs.partial.clear();
        if f.code == ErrorCode::InvalidParameterValue && !d.filter.applied.trim().is_empty() {
            // Keep the last good rows; say what is wrong with the filter.
            d.filter.error = Some(filter_bar::error_from_message(&f.message));
            if !matches!(d.runs.entry, Entry::Ready(_)) {
                d.runs.entry = Entry::Ready(Arc::new(RunSet::default()));
            }
        } else {
            d.runs.entry = Entry::Failed(f.message);
        }
    }

    /// Replaces runs by fresh reads of them (and adds new ones where no filter decides).
    pub(super) fn patch_runs(&mut self, fresh: Vec<Run>) {
        // A run not listed yet joins only where no filter decides what is listed: an answer
        // to a read asked before the filter changed must not bring back runs it excludes.
        let unfiltered = self.data.filter.applied.trim().is_empty();
        let view = self.data.filter.run_view;
        let Some(set) = self.run_set() else { return };
        let mut runs: Vec<Arc<Run>> = set.runs.clone();
        let mut changed = false;
        let mut recount = std::collections::BTreeSet::new();
        for run in fresh {
            let keep = run.info.lifecycle_stage.matches(view)
                && unfiltered
                && self
                    .data
                    .selected_experiments
                    .contains(&run.info.experiment_id);
            match set.index.get(&run.info.run_id) {
                Some(&i) => {
                    runs[i] = Arc::new(run);
                    changed = true;
                }
                None if keep => {
                    // Its place in the store's order (newest first), not the bottom; the
                    // sidebar's count of its experiment is read again.
                    let at = runs
                        .iter()
                        .position(|r| r.info.start_time < run.info.start_time)
                        .unwrap_or(runs.len());
                    recount.insert(run.info.experiment_id.clone());
                    runs.insert(at, Arc::new(run));
                    changed = true;
                }
                None => {}
            }
        }
        runs.retain(|r| {
            let stays = r.info.lifecycle_stage.matches(view);
            if !stays {
                recount.insert(r.info.experiment_id.clone());
            }
            stays
        });
        let changed = changed || runs.len() != set.runs.len();
        self.request_run_counts(recount.into_iter().collect());
        if changed {
            let g = self.next_generation();
            let new = RunSet::new(runs, g);
            self.data.selection.retain(|id| new.index.contains_key(id));
            self.data.runs.entry = Entry::Ready(Arc::new(new));
        }
    }

    fn after_write(&mut self, op: WriteOp) {
        match &op {
            WriteOp::DeleteRuns { run_ids } => {
                let n = run_ids.len();
                // Restoring is the undo of a soft delete.
                self.info_with_undo(
                    format!(
                        "deleted {n} run{} (also restorable later from the Deleted view)",
                        if n == 1 { "" } else { "s" }
                    ),
                    WriteOp::RestoreRuns {
                        run_ids: run_ids.clone(),
                    },
                );
                self.data.run_counts.clear();
            }
            WriteOp::RestoreRuns { run_ids } => {
                let n = run_ids.len();
                self.info(format!("restored {n} run{}", if n == 1 { "" } else { "s" }));
                self.data.run_counts.clear();
            }
            WriteOp::TagRuns { key, changes } => {
                if let Some(undo) = op.undo_of_tags() {
                    self.info_with_undo(
                        super::super::runs_table::describe_tag_runs(key, changes),
                        undo,
                    );
                }
            }
            _ => {}
        }
        self.refresh_runs(op.run_ids());
        if self.data.run_counts.is_empty()
            && let Some(exps) = self.data.experiments.ready()
        {
            let ids = exps.iter().map(|e| e.experiment_id.clone()).collect();
            self.request_run_counts(ids);
        }
    }

    fn remember_store(&mut self, uri: String) {
        let recent = &mut self.data.persisted.recent_stores;
        recent.retain(|u| *u != uri);
        recent.insert(0, uri);
        recent.truncate(MAX_RECENT);
    }
}

fn open_externally(path: &std::path::Path) {
    let program = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(target_os = "windows") {
        "explorer"
    } else {
        "xdg-open"
    };
    let _ = std::process::Command::new(program).arg(path).spawn();
}

/// The ids of the `n` newest runs of `set` that have no children (leaf runs: the trials of a
/// sweep, not its parent), newest first.
pub(crate) fn latest_leaf_runs(set: &RunSet, n: usize) -> Vec<String> {
    let mut leaves: Vec<&Arc<Run>> = set
        .runs
        .iter()
        .filter(|r| {
            set.children
                .get(&r.info.run_id)
                .is_none_or(|c| c.is_empty())
        })
        .collect();
    leaves.sort_by_key(|r| std::cmp::Reverse(r.info.start_time.unwrap_or(i64::MIN)));
    leaves
        .into_iter()
        .take(n)
        .map(|r| r.info.run_id.clone())
        .collect()
}
