//! The second store: opening one next to the first (File → Open second store…, or
//! `--compare`), what the app does when it opens or fails, following its changes, closing it.
//! The routing of requests between the two stores' workers is [`Router`]'s; here the app only
//! reacts to it.
//!
//! [`Router`]: super::super::worker::router::Router

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::model::{Experiment, LifecycleStage};
use crate::watch::{Change, FeedEvent};

use super::super::runs_model::RunSet;
use super::super::worker::router::{StoreEvent, is_second, qualify, slot_name};
use super::App;

/// Most change events of the second store applied per frame.
const MAX_SECOND_EVENTS_PER_FRAME: usize = 256;

/// The "Open second store" window's state.
#[derive(Debug, Default)]
pub(super) struct OpenSecondWindow {
    /// Whether it is shown.
    pub(super) open: bool,
    /// The path or URI typed.
    pub(super) text: String,
}

impl App {
    /// Opens the store at `uri` as the second store (replacing the second store, if any).
    pub fn open_second_store(&mut self, uri: String) {
        self.close_second_store();
        self.worker.open_second(uri);
        self.data.second_store = self.worker.second().cloned();
    }

    /// Opens an already open store as the second store (tests, embedding).
    #[doc(hidden)]
    pub fn open_second_store_with(&mut self, store: Arc<dyn crate::store::TrackingStore>) {
        self.close_second_store();
        self.worker.open_second_store(store);
        self.data.second_store = self.worker.second().cloned();
    }

    /// Whether an experiment of the second store is shown.
    fn second_experiment_shown(&self) -> bool {
        self.data
            .selected_experiments
            .iter()
            .any(|id| is_second(id))
    }

    /// The second store, if one was opened (tests).
    #[doc(hidden)]
    pub fn second_store(&self) -> Option<&super::super::worker::router::SecondStore> {
        self.worker.second()
    }

    /// Closes the second store: its experiments, runs, histories and selection leave the views.
    pub fn close_second_store(&mut self) {
        if self.worker.second().is_none() {
            return;
        }
        self.worker.close_second();
        self.second_live = None;
        self.data.second_store = None;
        let second = is_second;
        let d = &mut self.data;
        d.selected_experiments.retain(|id| !second(id));
        d.selection.retain(|id| !second(id));
        d.hidden_from_charts.retain(|id| !second(id));
        d.run_counts.retain(|id, _| !second(id));
        if d.focus.as_deref().is_some_and(second) {
            d.focus = None;
        }
        d.histories.remove_where(|(run, _)| second(run));
        d.histories_version += 1;
        if let Some(set) = d.runs.entry.ready() {
            let runs = set
                .runs
                .iter()
                .filter(|r| !second(&r.info.run_id))
                .cloned()
                .collect();
            let version = set.version + 1;
            d.runs.entry = super::super::cache::Entry::Ready(Arc::new(RunSet::new(runs, version)));
        }
        self.tails_in_flight.retain(|(run, _)| !second(run));
        self.tails_again.retain(|(run, _)| !second(run));
        self.select_in_second = false;
        self.second_latest = None;
        self.preselect_second = false;
        self.request_experiments();
    }

    /// Applies what happened to the stores (the second one opened or failed, a read of one
    /// failed while the other answered).
    pub(super) fn handle_store_events(&mut self) {
        for event in self.worker.take_events() {
            match event {
                StoreEvent::SecondOpened(uri) => {
                    self.second_live = super::live::feed_for(&uri, self.live_wake());
                    self.select_in_second = true;
                    self.request_experiments();
                }
                StoreEvent::SecondFailed(why) => {
                    self.error(format!("the second store cannot be opened: {why}"))
                }
                StoreEvent::PartFailed { slot, message } => {
                    self.error(format!("{} store: {message}", slot_name(slot)))
                }
            }
        }
        if self.data.second_store.as_ref() != self.worker.second() {
            self.data.second_store = self.worker.second().cloned();
        }
    }

    /// When the second store's experiments first arrive, shows one of them next to the shown
    /// ones: the one named like a shown experiment of the first store (Default aside: it is
    /// often empty where runs go to named experiments), else the one it logged to last (asked
    /// of its worker, see [`Self::show_second_experiment`]). Its latest runs are then selected
    /// too, so that the charts compare the two stores at once.
    pub(super) fn select_in_second_store(&mut self, experiments: &[Experiment]) {
        if !self.select_in_second {
            return;
        }
        let second: Vec<&Experiment> = experiments
            .iter()
            .filter(|e| is_second(&e.experiment_id))
            .filter(|e| e.lifecycle_stage == LifecycleStage::Active)
            .collect();
        if second.is_empty() {
            return;
        }
        self.select_in_second = false;
        if self.second_experiment_shown() {
            return;
        }
        let default_id = qualify(crate::model::DEFAULT_EXPERIMENT_ID);
        let shown_names: BTreeSet<&str> = experiments
            .iter()
            .filter(|e| self.data.selected_experiments.contains(&e.experiment_id))
            .map(|e| e.name.as_str())
            .collect();
        let same_name = second
            .iter()
            .find(|e| e.experiment_id != default_id && shown_names.contains(e.name.as_str()));
        if let Some(e) = same_name {
            self.data
                .selected_experiments
                .insert(e.experiment_id.clone());
            self.preselect_second = true;
            return;
        }
        let g = self.next_generation();
        self.second_latest = Some(g);
        let experiment_ids = second.iter().map(|e| e.experiment_id.clone()).collect();
        self.worker.send(
            g,
            super::super::worker::Request::LatestActive { experiment_ids },
        );
    }

    /// The second store's experiment logged to last, asked for by
    /// [`Self::select_in_second_store`]: shown next to the others (unless the user chose
    /// meanwhile).
    pub(super) fn show_second_experiment(&mut self, id: Option<String>) {
        self.second_latest = None;
        let Some(id) = id else { return };
        if self.second_experiment_shown() {
            return;
        }
        self.data.selected_experiments.insert(id);
        self.preselect_second = true;
        self.request_runs();
    }

    /// Once a search with the second store's runs is done: selects its latest leaf runs
    /// (after the first store's), once.
    pub(super) fn preselect_second_runs(&mut self) {
        if !std::mem::take(&mut self.preselect_second) {
            return;
        }
        let Some(set) = self.data.runs.entry.ready() else {
            return;
        };
        let second: Vec<_> = set
            .runs
            .iter()
            .filter(|r| is_second(&r.info.run_id))
            .cloned()
            .collect();
        let only_second = RunSet::new(second, 0);
        let latest =
            super::answers::latest_leaf_runs(&only_second, super::answers::FIRST_VIEW_RUNS);
        self.data.selection.extend(latest);
    }

    /// The second store's changes since the last frame, with its ids as the app holds them.
    pub(super) fn poll_second_live(&mut self) -> BTreeSet<Change> {
        let mut changes = BTreeSet::new();
        let Some(feed) = &self.second_live else {
            return changes;
        };
        let mut failed = None;
        for _ in 0..MAX_SECOND_EVENTS_PER_FRAME {
            match feed.try_next() {
                Some(FeedEvent::Changes(c)) => changes.extend(c.into_iter().map(qualify_change)),
                Some(FeedEvent::Failed(why)) => failed = Some(why),
                Some(FeedEvent::Mode(_) | FeedEvent::Following(_)) => {}
                None => break,
            }
        }
        if let Some(why) = failed {
            self.error(format!("live refresh of the second store: {why}"));
        }
        changes
    }

    /// The "Open second store" window: a path or URI typed, or picked with the file dialogs.
    pub(super) fn open_second_window_ui(&mut self, ctx: &egui::Context) {
        if !self.open_second_window.open {
            return;
        }
        let mut open = true;
        let mut chosen = None;
        egui::Window::new("Open a second store")
            .anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 120.0))
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .show(ctx, |ui| {
                ui.label(
                    "Its experiments are listed under their own header; runs of both stores \
                     can be selected, charted, grouped and compared together.",
                );
                ui.horizontal(|ui| {
                    ui.label("Path or URI:");
                    let edit = ui.add(
                        egui::TextEdit::singleline(&mut self.open_second_window.text)
                            .hint_text("./mlruns, mlflow.db, http://host:5000")
                            .desired_width(320.0),
                    );
                    if edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                        chosen = Some(self.open_second_window.text.clone());
                    }
                });
                ui.horizontal(|ui| {
                    if ui.button("Open").clicked() {
                        chosen = Some(self.open_second_window.text.clone());
                    }
                    if ui.button("Pick folder…").clicked() {
                        self.spawn_second_dialog(ctx, false);
                    }
                    if ui.button("Pick database…").clicked() {
                        self.spawn_second_dialog(ctx, true);
                    }
                });
            });
        if let Some(uri) = chosen.filter(|u| !u.trim().is_empty()) {
            self.open_second_window.open = false;
            self.open_second_store(uri.trim().to_string());
        } else if !open {
            self.open_second_window.open = false;
        }
    }
}

/// A second-store change with its ids as the app holds them.
fn qualify_change(change: Change) -> Change {
    match change {
        Change::Everything => Change::Everything,
        Change::Experiment { experiment_id } => Change::Experiment {
            experiment_id: qualify(&experiment_id),
        },
        Change::Run {
            experiment_id,
            run_id,
        } => Change::Run {
            experiment_id: qualify(&experiment_id),
            run_id: qualify(&run_id),
        },
        Change::Metric {
            experiment_id,
            run_id,
            key,
        } => Change::Metric {
            experiment_id: qualify(&experiment_id),
            run_id: qualify(&run_id),
            key,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Run, RunData, RunInfo, RunInputs, RunStatus};
    use crate::store::FileStore;

    use super::super::super::worker::router::answer_for_tests;
    use super::super::super::worker::{Reply, RunsPage};

    fn run(id: &str, experiment_id: &str) -> Run {
        Run {
            info: RunInfo {
                run_id: id.into(),
                run_name: id.into(),
                experiment_id: experiment_id.into(),
                user_id: "u".into(),
                status: RunStatus::Finished,
                start_time: Some(1),
                end_time: Some(2),
                artifact_uri: String::new(),
                lifecycle_stage: LifecycleStage::Active,
            },
            data: RunData::default(),
            inputs: RunInputs::default(),
        }
    }

    fn page(runs: Vec<Run>, done: bool) -> Reply {
        Reply::Runs(Ok(RunsPage {
            runs,
            warnings: Vec::new(),
            done,
            ordered: false,
            progress: None,
        }))
    }

    #[test]
    fn a_second_store_page_arriving_first_keeps_the_first_stores_selection() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(FileStore::open(&dir.path().join("mlruns")).unwrap());
        let mut app = App::new_with_store(store, true);
        app.data.selected_experiments = ["1".to_string(), qualify("1")].into();
        app.request_runs();
        let g = app.data.runs.generation;
        app.data.selection = ["a".to_string()].into();
        // The second store answers first: the first store's selected run is not read yet.
        app.apply_answer(answer_for_tests(
            g,
            page(vec![run(&qualify("x"), &qualify("1"))], false),
        ));
        assert!(app.data.selection.contains("a"), "{:?}", app.data.selection);
        app.apply_answer(answer_for_tests(
            g,
            page(vec![run("a", "1"), run("b", "1")], true),
        ));
        assert_eq!(app.data.selection, ["a".to_string()].into());
        // A search that is done without the run drops it from the selection.
        app.request_runs();
        let g = app.data.runs.generation;
        app.apply_answer(answer_for_tests(g, page(vec![run("b", "1")], true)));
        assert!(app.data.selection.is_empty());
    }
}
