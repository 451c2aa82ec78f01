//! UI tests of the desktop viewer, driving the real app with egui_kittest (no display needed).
//!
//! Each test opens a store written through mlscope's own API: the file store in a temporary
//! folder when this build has a working one, else an in-memory store (defined below) with a tiny
//! filter grammar, so that the viewer's paths are exercised either way.

#![cfg(feature = "viewer")]

mod support_viewer;

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use mlscope::model::{LifecycleStage, tags};
use mlscope::viewer::App;
use mlscope::viewer::testing::{Command, SelectMode, Tab};
use mlscope::{
    CreateRun, DatasetInput, Error, Experiment, ExperimentQuery, Metric, Page, Param, Result, Run,
    RunData, RunInfo, RunInputs, RunQuery, RunStatus, RunTag, TrackingStore, ViewType,
};
use support_viewer::harness;

// ----- an in-memory store ----------------------------------------------------------------------

#[derive(Default)]
struct MemInner {
    artifact_root: String,
    experiments: Vec<Experiment>,
    runs: Vec<Run>,
    histories: BTreeMap<(String, String), Vec<Metric>>,
    next_run: u64,
}

/// A small in-memory [`TrackingStore`] for tests. Filters: `params.K = 'V'` and
/// `metrics.K > N` / `< N`; anything else is an `INVALID_PARAMETER_VALUE` with a position.
#[derive(Default)]
struct MemStore(Mutex<MemInner>);

fn not_found(what: &str) -> Error {
    Error::NotFound(what.to_string())
}

type RunPredicate = Box<dyn Fn(&Run) -> bool>;

fn mini_filter(filter: &str) -> Result<RunPredicate> {
    let f = filter.trim();
    if f.is_empty() {
        return Ok(Box::new(|_| true));
    }
    let err = |pos: usize, what: &str| {
        Error::InvalidParameter(format!("invalid filter at position {pos}: {what}"))
    };
    let (lhs, op, rhs) = ["<=", ">=", "=", "<", ">"]
        .iter()
        .find_map(|op| f.split_once(op).map(|(l, r)| (l.trim(), *op, r.trim())))
        .ok_or_else(|| err(f.len(), "expected a comparison"))?;
    if let Some(key) = lhs.strip_prefix("params.") {
        let value = rhs
            .strip_prefix('\'')
            .and_then(|r| r.strip_suffix('\''))
            .ok_or_else(|| err(f.find(rhs).unwrap_or(0), "expected a quoted string"))?
            .to_string();
        let key = key.to_string();
        return Ok(Box::new(move |r: &Run| {
            r.data.params.get(&key) == Some(&value)
        }));
    }
    if let Some(key) = lhs.strip_prefix("metrics.") {
        let n: f64 = rhs
            .parse()
            .map_err(|_| err(f.find(rhs).unwrap_or(0), "expected a number"))?;
        let key = key.to_string();
        let op = op.to_string();
        return Ok(Box::new(move |r: &Run| {
            r.data.metrics.get(&key).is_some_and(|m| match op.as_str() {
                ">" => m.value > n,
                "<" => m.value < n,
                ">=" => m.value >= n,
                "<=" => m.value <= n,
                _ => m.value == n,
            })
        }));
    }
    Err(err(0, "expected metrics., params., tags. or attributes."))
}

impl TrackingStore for MemStore {
    fn tracking_uri(&self) -> String {
        "memory:".into()
    }
    fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<String> {
        let mut s = self.0.lock().unwrap();
        let id = s.experiments.len().to_string();
        let n = s.experiments.len() as i64;
        s.experiments.push(Experiment {
            experiment_id: id.clone(),
            name: name.into(),
            artifact_location: artifact_location.unwrap_or("").into(),
            lifecycle_stage: LifecycleStage::Active,
            tags: tags.iter().cloned().collect(),
            creation_time: Some(1_700_000_000_000 + n),
            last_update_time: None,
        });
        Ok(id)
    }
    fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        let s = self.0.lock().unwrap();
        s.experiments
            .iter()
            .find(|e| e.experiment_id == experiment_id)
            .cloned()
            .ok_or_else(|| not_found(experiment_id))
    }
    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        let s = self.0.lock().unwrap();
        Ok(s.experiments.iter().find(|e| e.name == name).cloned())
    }
    fn search_experiments(&self, query: &ExperimentQuery) -> Result<Page<Experiment>> {
        let s = self.0.lock().unwrap();
        let mut items: Vec<Experiment> = s
            .experiments
            .iter()
            .filter(|e| e.lifecycle_stage.matches(query.view_type))
            .cloned()
            .collect();
        items.reverse();
        Ok(Page::complete(items))
    }
    fn rename_experiment(&self, _: &str, _: &str) -> Result<()> {
        Ok(())
    }
    fn delete_experiment(&self, _: &str) -> Result<()> {
        Ok(())
    }
    fn restore_experiment(&self, _: &str) -> Result<()> {
        Ok(())
    }
    fn set_experiment_tag(&self, _: &str, _: &str, _: &str) -> Result<()> {
        Ok(())
    }
    fn delete_experiment_tag(&self, _: &str, _: &str) -> Result<()> {
        Ok(())
    }
    fn create_run(&self, request: CreateRun) -> Result<Run> {
        let mut s = self.0.lock().unwrap();
        s.next_run += 1;
        let run_id = format!("{:032x}", s.next_run * 7919);
        let name = request
            .run_name
            .unwrap_or_else(|| format!("run-{}", s.next_run));
        let mut data = RunData::default();
        for t in request.tags {
            data.tags.insert(t.key, t.value);
        }
        data.tags.insert(tags::RUN_NAME.into(), name.clone());
        let run = Run {
            info: RunInfo {
                run_id: run_id.clone(),
                run_name: name,
                experiment_id: request.experiment_id,
                user_id: request.user_id,
                status: RunStatus::Running,
                start_time: Some(
                    request.start_time.unwrap_or(1_700_000_000_000) + s.next_run as i64,
                ),
                end_time: None,
                artifact_uri: format!("{}/{run_id}/artifacts", s.artifact_root),
                lifecycle_stage: LifecycleStage::Active,
            },
            data,
            inputs: RunInputs::default(),
        };
        s.runs.push(run.clone());
        Ok(run)
    }
    fn get_run(&self, run_id: &str) -> Result<Run> {
        let s = self.0.lock().unwrap();
        s.runs
            .iter()
            .find(|r| r.info.run_id == run_id)
            .cloned()
            .ok_or_else(|| not_found(run_id))
    }
    fn update_run_info(
        &self,
        run_id: &str,
        status: Option<RunStatus>,
        end_time: Option<i64>,
        run_name: Option<&str>,
    ) -> Result<RunInfo> {
        let mut s = self.0.lock().unwrap();
        let r = s
            .runs
            .iter_mut()
            .find(|r| r.info.run_id == run_id)
            .ok_or_else(|| not_found(run_id))?;
        if let Some(st) = status {
            r.info.status = st;
        }
        if end_time.is_some() {
            r.info.end_time = end_time;
        }
        if let Some(n) = run_name {
            r.info.run_name = n.into();
            r.data.tags.insert(tags::RUN_NAME.into(), n.into());
        }
        Ok(r.info.clone())
    }
    fn delete_run(&self, run_id: &str) -> Result<()> {
        let mut s = self.0.lock().unwrap();
        let r = s
            .runs
            .iter_mut()
            .find(|r| r.info.run_id == run_id)
            .ok_or_else(|| not_found(run_id))?;
        r.info.lifecycle_stage = LifecycleStage::Deleted;
        Ok(())
    }
    fn restore_run(&self, run_id: &str) -> Result<()> {
        let mut s = self.0.lock().unwrap();
        let r = s
            .runs
            .iter_mut()
            .find(|r| r.info.run_id == run_id)
            .ok_or_else(|| not_found(run_id))?;
        r.info.lifecycle_stage = LifecycleStage::Active;
        Ok(())
    }
    fn search_runs(&self, query: &RunQuery) -> Result<Page<Run>> {
        let keep = mini_filter(&query.filter)?;
        let s = self.0.lock().unwrap();
        let mut items: Vec<Run> = s
            .runs
            .iter()
            .filter(|r| query.experiment_ids.contains(&r.info.experiment_id))
            .filter(|r| r.info.lifecycle_stage.matches(query.view_type))
            .filter(|r| keep(r))
            .cloned()
            .collect();
        items.sort_by_key(|r| std::cmp::Reverse(r.info.start_time));
        Ok(Page::complete(items))
    }
    fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[RunTag],
    ) -> Result<()> {
        let mut s = self.0.lock().unwrap();
        for m in metrics {
            s.histories
                .entry((run_id.to_string(), m.key.clone()))
                .or_default()
                .push(m.clone());
        }
        let r = s
            .runs
            .iter_mut()
            .find(|r| r.info.run_id == run_id)
            .ok_or_else(|| not_found(run_id))?;
        for m in metrics {
            let newer = r
                .data
                .metrics
                .get(&m.key)
                .is_none_or(|cur| m.is_newer_than(cur));
            if newer {
                r.data.metrics.insert(m.key.clone(), m.clone());
            }
        }
        for p in params {
            r.data.params.insert(p.key.clone(), p.value.clone());
        }
        for t in tags {
            r.data.tags.insert(t.key.clone(), t.value.clone());
        }
        Ok(())
    }
    fn get_metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>> {
        let s = self.0.lock().unwrap();
        Ok(s.histories
            .get(&(run_id.to_string(), key.to_string()))
            .cloned()
            .unwrap_or_default())
    }
    fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        let mut s = self.0.lock().unwrap();
        let r = s
            .runs
            .iter_mut()
            .find(|r| r.info.run_id == run_id)
            .ok_or_else(|| not_found(run_id))?;
        r.data
            .tags
            .remove(key)
            .map(|_| ())
            .ok_or_else(|| not_found(key))
    }
    fn log_inputs(&self, _: &str, _: &[DatasetInput]) -> Result<()> {
        Ok(())
    }
}

// ----- fixtures ---------------------------------------------------------------------------------

/// The store the tests use: the file store in `dir` when this build has a working one (it may
/// still be a placeholder that panics), else the in-memory store.
fn new_store(dir: &std::path::Path) -> Arc<dyn TrackingStore> {
    let path = dir.join("mlruns");
    let file = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let store = mlscope::open_store(&path.display().to_string()).ok()?;
        store.search_experiments(&ExperimentQuery::default()).ok()?;
        Some(store)
    }));
    match file {
        Ok(Some(store)) => store,
        _ => {
            let store = MemStore::default();
            store.0.lock().unwrap().artifact_root = dir.join("artifacts").display().to_string();
            Arc::new(store)
        }
    }
}

/// Writes an experiment "sweep" with a parent run and 6 children (lr × wd), a failed run, and
/// an experiment "baselines" with 2 runs; every run logs `loss` and `acc` over 50 steps.
fn populate(store: &dyn TrackingStore) -> Vec<String> {
    store.create_experiment("baselines", None, &[]).unwrap();
    let sweep = store.create_experiment("sweep", None, &[]).unwrap();
    let mut ids = Vec::new();
    let mut make = |exp: &str, name: &str, parent: Option<&str>, lr: &str, wd: &str, k: f64| {
        let mut tags_ = vec![];
        if let Some(p) = parent {
            tags_.push(RunTag::new(tags::PARENT_RUN_ID, p));
        }
        let run = store
            .create_run(CreateRun {
                experiment_id: exp.into(),
                user_id: "tester".into(),
                start_time: Some(1_700_000_000_000 + ids.len() as i64 * 1000),
                tags: tags_,
                run_name: Some(name.into()),
            })
            .unwrap();
        let id = run.info.run_id.clone();
        let metrics: Vec<Metric> = (0..50)
            .flat_map(|s| {
                let t = 1_700_000_000_000 + s * 1000;
                [
                    Metric::new("loss", k / (1.0 + s as f64), t, s),
                    Metric::new("acc", 1.0 - k / (2.0 + s as f64), t, s),
                ]
            })
            .collect();
        store
            .log_batch(
                &id,
                &metrics,
                &[Param::new("lr", lr), Param::new("wd", wd)],
                &[],
            )
            .unwrap();
        ids.push(id.clone());
        id
    };
    let parent = make(&sweep, "grid-root", None, "0", "0", 1.0);
    for lr in ["0.1", "0.01", "0.001"] {
        for wd in ["0", "0.1"] {
            let k: f64 = lr.parse::<f64>().unwrap() + wd.parse::<f64>().unwrap() + 0.5;
            make(
                &sweep,
                &format!("lr={lr} wd={wd}"),
                Some(&parent),
                lr,
                wd,
                k,
            );
        }
    }
    let failed = make(&sweep, "crashed", None, "1.0", "0", 3.0);
    let base = store
        .get_experiment_by_name("baselines")
        .unwrap()
        .unwrap()
        .experiment_id;
    make(&base, "baseline-a", None, "0.1", "0", 1.0);
    make(&base, "baseline-b", None, "0.01", "0", 1.2);
    for id in &ids {
        let status = if *id == failed {
            RunStatus::Failed
        } else {
            RunStatus::Finished
        };
        store
            .update_run_info(id, Some(status), Some(1_700_000_100_000), None)
            .unwrap();
    }
    ids
}

/// Steps frames until the viewer is idle (see `support_viewer::settle_within`).
fn settle(h: &mut Harness<'static, App>) {
    support_viewer::settle_within(h, Duration::from_secs(20));
}

type Opened = (
    tempfile::TempDir,
    Arc<dyn TrackingStore>,
    Harness<'static, App>,
);

fn open() -> Opened {
    open_with(false)
}

/// Opens a populated store and shows the "sweep" experiment.
fn open_with(read_only: bool) -> Opened {
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(dir.path());
    populate(store.as_ref());
    let mut h = harness(App::new_with_store(Arc::clone(&store), read_only));
    settle(&mut h);
    let sweep = store
        .get_experiment_by_name("sweep")
        .unwrap()
        .unwrap()
        .experiment_id;
    if !h.state().selected_experiments().contains(&sweep) {
        apply(&mut h, Command::SelectExperiments([sweep].into()));
    }
    (dir, store, h)
}

fn apply(h: &mut Harness<'static, App>, command: Command) {
    h.state_mut().send(command);
    settle(h);
}

fn run_id_by_name(h: &Harness<'static, App>, name: &str) -> String {
    let set = h.state().run_set().expect("runs loaded").clone();
    set.runs
        .iter()
        .find(|r| r.info.run_name == name)
        .unwrap_or_else(|| panic!("no run {name}"))
        .info
        .run_id
        .clone()
}

// ----- tests ------------------------------------------------------------------------------------

#[test]
fn opens_the_store_and_shows_the_newest_experiments_runs_as_a_tree() {
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(dir.path());
    populate(store.as_ref());
    let mut h = harness(App::new_with_store(Arc::clone(&store), false));
    settle(&mut h);
    let names = h.state().shown_run_names();
    assert!(!names.is_empty(), "no rows shown");
    h.get_by_label("Experiments");
    h.get_by_label("sweep");
    h.get_by_label("baselines");
    // Whichever experiment is shown, its runs are in the table.
    if names.contains(&"grid-root".to_string()) {
        assert_eq!(names.len(), 8);
        // Children come right after their parent.
        let root = names.iter().position(|n| n == "grid-root").unwrap();
        assert!(names[root + 1].starts_with("lr="));
        h.get_by_label("grid-root");
        h.get_by_label("crashed");
    } else {
        assert_eq!(names, ["baseline-b", "baseline-a"]);
    }
    // Not the empty Default experiment.
    assert!(!h.state().selected_experiments().contains("0"));
}

#[test]
fn selecting_experiments_and_the_name_filter_shrink_the_rows() {
    let (_dir, _store, mut h) = open();
    let sweep = h
        .state()
        .experiments()
        .ready()
        .unwrap()
        .iter()
        .find(|e| e.name == "sweep")
        .unwrap()
        .experiment_id
        .clone();
    apply(&mut h, Command::SelectExperiments([sweep].into()));
    assert_eq!(h.state().shown_run_names().len(), 8);
    h.get_by_label("Name").click();
    h.run_steps(2);
    h.get_by_label("Name").type_text("wd=0.1");
    settle(&mut h);
    let names = h.state().shown_run_names();
    // Three matching children and their parent, kept for context.
    assert_eq!(names.len(), 4, "{names:?}");
    assert_eq!(names[0], "grid-root");
    assert!(names[1..].iter().all(|n| n.ends_with("wd=0.1")));
    h.get_by_label_contains("4 of 8 runs");
}

#[test]
fn a_filter_is_sent_to_the_store_and_a_broken_one_shows_its_error() {
    let (_dir, _store, mut h) = open();
    let sweep = h
        .state()
        .experiments()
        .ready()
        .unwrap()
        .iter()
        .find(|e| e.name == "sweep")
        .unwrap()
        .experiment_id
        .clone();
    apply(&mut h, Command::SelectExperiments([sweep].into()));
    let before = h.state().shown_run_names().len();
    h.get_by_label("Filter").click();
    h.run_steps(2);
    h.get_by_label("Filter").type_text("params.lr = '0.01'");
    settle(&mut h);
    let after = h.state().shown_run_names();
    match h.state().filter_error() {
        // A store that knows the grammar returns fewer rows…
        None => {
            assert!(after.len() < before, "{after:?}");
            assert!(after.iter().all(|n| n.contains("lr=0.01")), "{after:?}");
        }
        // …one that does not yet says so, and the table keeps the last rows.
        Some(e) => {
            assert!(!e.message.is_empty());
            assert_eq!(after.len(), before);
        }
    }
    // A broken filter: the error is shown under the bar, the rows stay.
    apply(&mut h, Command::SetFilter("params.lr = 0.01 and (".into()));
    let err = h
        .state()
        .filter_error()
        .clone()
        .expect("an error for a broken filter");
    assert!(!err.message.is_empty());
    h.get_by_label_contains("⚠");
    assert!(!h.state().shown_run_names().is_empty());
    // Clearing the filter brings every run back.
    apply(&mut h, Command::SetFilter(String::new()));
    assert!(h.state().filter_error().is_none());
    assert_eq!(h.state().shown_run_names().len(), before);
}

#[test]
fn selected_runs_get_one_chart_per_metric() {
    let (_dir, _store, mut h) = open();
    let ids: Vec<String> = {
        let set = h.state().run_set().unwrap().clone();
        set.runs
            .iter()
            .take(3)
            .map(|r| r.info.run_id.clone())
            .collect()
    };
    apply(&mut h, Command::SetTab(Tab::Charts));
    apply(&mut h, Command::SelectRuns(ids.clone()));
    assert_eq!(h.state().selection().len(), 3);
    let keys = h.state().charts().shown_keys.clone();
    assert_eq!(keys, ["acc", "loss"]);
    assert_eq!(h.state().charts().cards_drawn, 2);
    // Histories arrived for every selected run.
    for id in &ids {
        for k in ["acc", "loss"] {
            let e = h.state().histories().get(&(id.clone(), k.to_string()));
            let s = e.and_then(|e| e.ready()).expect("history loaded");
            assert_eq!(s.values.len(), 50);
        }
    }
    assert!(!h.get_all_by_label("loss").collect::<Vec<_>>().is_empty());
    assert!(!h.get_all_by_label("acc").collect::<Vec<_>>().is_empty());
    // The compare tab lists differing params.
    apply(&mut h, Command::SetTab(Tab::Compare));
    h.get_by_label("params.lr");
}

#[test]
fn ctrl_and_shift_clicks_select_several_runs() {
    let (_dir, _store, mut h) = open();
    h.get_by_label("lr=0.1 wd=0").click();
    settle(&mut h);
    assert_eq!(h.state().selection().len(), 1);
    h.get_by_label("lr=0.01 wd=0")
        .click_modifiers(egui::Modifiers::COMMAND);
    settle(&mut h);
    assert_eq!(h.state().selection().len(), 2);
    h.get_by_label("lr=0.001 wd=0.1")
        .click_modifiers(egui::Modifiers::SHIFT);
    settle(&mut h);
    // Shift extends from the last clicked run over the shown rows in between.
    assert!(h.state().selection().len() >= 2);
    let names = h.state().shown_run_names();
    let a = names.iter().position(|n| n == "lr=0.01 wd=0").unwrap();
    let b = names.iter().position(|n| n == "lr=0.001 wd=0.1").unwrap();
    assert_eq!(h.state().selection().len(), a.abs_diff(b) + 1);
    // A chart card per metric for the selection.
    apply(&mut h, Command::SetTab(Tab::Charts));
    assert_eq!(h.state().charts().shown_keys, ["acc", "loss"]);
}

#[test]
fn keyboard_moves_and_extends_the_selection() {
    let (_dir, _store, mut h) = open();
    h.key_press(egui::Key::ArrowDown);
    settle(&mut h);
    assert_eq!(h.state().selection().len(), 1);
    h.key_press_modifiers(egui::Modifiers::SHIFT, egui::Key::ArrowDown);
    settle(&mut h);
    assert_eq!(h.state().selection().len(), 2);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    settle(&mut h);
    assert_eq!(
        h.state().selection().len(),
        h.state().shown_run_names().len()
    );
}

#[test]
fn tags_and_deletes_go_through_the_store() {
    let (_dir, store, mut h) = open();
    let sweep = store
        .get_experiment_by_name("sweep")
        .unwrap()
        .unwrap()
        .experiment_id;
    apply(&mut h, Command::SelectExperiments([sweep].into()));
    let id = run_id_by_name(&h, "crashed");
    apply(
        &mut h,
        Command::SelectRun {
            run_id: id.clone(),
            mode: SelectMode::Replace,
        },
    );
    apply(&mut h, Command::SetTab(Tab::Run));
    h.get_by_label_contains("FAILED");
    // Add a tag with the mouse and the keyboard.
    h.get_by_label("New tag key").scroll_to_me();
    h.run_steps(2);
    h.get_by_label("New tag key").focus();
    h.run_steps(2);
    h.get_by_label("New tag key").type_text("reviewed");
    h.run_steps(2);
    h.get_by_label("New tag value").focus();
    h.run_steps(2);
    h.get_by_label("New tag value").type_text("yes");
    h.run_steps(2);
    h.get_by_label("Add tag").click();
    settle(&mut h);
    assert_eq!(
        store
            .get_run(&id)
            .unwrap()
            .data
            .tags
            .get("reviewed")
            .map(String::as_str),
        Some("yes")
    );
    // The table shows the store's state after the write.
    let set = h.state().run_set().unwrap().clone();
    assert_eq!(
        set.get(&id).unwrap().data.tags.get("reviewed").unwrap(),
        "yes"
    );
    // Delete with the Delete key, confirm once.
    h.key_press(egui::Key::Delete);
    settle(&mut h);
    assert!(h.state().confirm().is_some());
    h.get_by_label("Delete").click();
    settle(&mut h);
    assert_eq!(
        store.get_run(&id).unwrap().info.lifecycle_stage,
        LifecycleStage::Deleted
    );
    assert!(!h.state().shown_run_names().contains(&"crashed".to_string()));
    // Restore from the Deleted view.
    apply(&mut h, Command::SetRunView(ViewType::DeletedOnly));
    assert_eq!(h.state().shown_run_names(), ["crashed"]);
    apply(
        &mut h,
        Command::SelectRun {
            run_id: id.clone(),
            mode: SelectMode::Replace,
        },
    );
    h.get_by_label("Restore").click_accesskit();
    settle(&mut h);
    assert_eq!(
        store.get_run(&id).unwrap().info.lifecycle_stage,
        LifecycleStage::Active
    );
}

#[test]
fn read_only_refuses_writes() {
    let (_dir, store, mut h) = open_with(true);
    let id = h.state().run_set().unwrap().runs[0].info.run_id.clone();
    apply(
        &mut h,
        Command::Write(mlscope::viewer::testing::WriteOp::DeleteRuns {
            run_ids: vec![id.clone()],
        }),
    );
    assert_eq!(
        store.get_run(&id).unwrap().info.lifecycle_stage,
        LifecycleStage::Active
    );
    assert!(h.state().messages().iter().any(|m| m.is_error));
}

#[test]
fn a_missing_store_shows_why_in_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here");
    let app = App::new(
        mlscope::viewer::ViewerOptions {
            store: Some(missing.display().to_string()),
            read_only: false,
        },
        mlscope::viewer::Persisted::default(),
    );
    let mut h = harness(app);
    settle(&mut h);
    h.get_by_label("This store cannot be opened");
    h.get_by_label_contains("does not exist");
    assert!(!missing.exists(), "opening must not create a store");
}

#[test]
fn a_store_that_panics_shows_an_error_instead_of_crashing() {
    struct Broken;
    impl TrackingStore for Broken {
        fn tracking_uri(&self) -> String {
            "broken:".into()
        }
        fn create_experiment(
            &self,
            _: &str,
            _: Option<&str>,
            _: &[(String, String)],
        ) -> Result<String> {
            unreachable!()
        }
        fn get_experiment(&self, _: &str) -> Result<Experiment> {
            unreachable!()
        }
        fn get_experiment_by_name(&self, _: &str) -> Result<Option<Experiment>> {
            unreachable!()
        }
        fn search_experiments(&self, _: &ExperimentQuery) -> Result<Page<Experiment>> {
            panic!("boom")
        }
        fn rename_experiment(&self, _: &str, _: &str) -> Result<()> {
            unreachable!()
        }
        fn delete_experiment(&self, _: &str) -> Result<()> {
            unreachable!()
        }
        fn restore_experiment(&self, _: &str) -> Result<()> {
            unreachable!()
        }
        fn set_experiment_tag(&self, _: &str, _: &str, _: &str) -> Result<()> {
            unreachable!()
        }
        fn delete_experiment_tag(&self, _: &str, _: &str) -> Result<()> {
            unreachable!()
        }
        fn create_run(&self, _: CreateRun) -> Result<Run> {
            unreachable!()
        }
        fn get_run(&self, _: &str) -> Result<Run> {
            unreachable!()
        }
        fn update_run_info(
            &self,
            _: &str,
            _: Option<RunStatus>,
            _: Option<i64>,
            _: Option<&str>,
        ) -> Result<RunInfo> {
            unreachable!()
        }
        fn delete_run(&self, _: &str) -> Result<()> {
            unreachable!()
        }
        fn restore_run(&self, _: &str) -> Result<()> {
            unreachable!()
        }
        fn search_runs(&self, _: &RunQuery) -> Result<Page<Run>> {
            unreachable!()
        }
        fn log_batch(&self, _: &str, _: &[Metric], _: &[Param], _: &[RunTag]) -> Result<()> {
            unreachable!()
        }
        fn get_metric_history(&self, _: &str, _: &str) -> Result<Vec<Metric>> {
            unreachable!()
        }
        fn delete_tag(&self, _: &str, _: &str) -> Result<()> {
            unreachable!()
        }
        fn log_inputs(&self, _: &str, _: &[DatasetInput]) -> Result<()> {
            unreachable!()
        }
    }
    let mut h = harness(App::new_with_store(Arc::new(Broken), false));
    settle(&mut h);
    h.get_by_label_contains("boom");
}

#[test]
fn artifacts_are_listed_and_an_image_is_previewed() {
    let (_dir, store, mut h) = open();
    let run = store
        .get_run(&h.state().run_set().unwrap().runs[0].info.run_id)
        .unwrap();
    let mlscope::artifacts::ArtifactLocation::Local(root) =
        mlscope::artifacts::parse_artifact_uri(&run.info.artifact_uri).unwrap()
    else {
        panic!("a local artifact root: {}", run.info.artifact_uri)
    };
    std::fs::create_dir_all(root.join("plots")).unwrap();
    let img = image::RgbImage::from_fn(32, 16, |x, y| image::Rgb([x as u8 * 8, y as u8 * 16, 128]));
    img.save(root.join("plots").join("confusion.png")).unwrap();
    std::fs::write(root.join("notes.txt"), "hello artifacts\n").unwrap();
    apply(
        &mut h,
        Command::SelectRun {
            run_id: run.info.run_id.clone(),
            mode: SelectMode::Replace,
        },
    );
    apply(&mut h, Command::SetTab(Tab::Artifacts));
    h.get_by_label_contains("notes.txt").click();
    settle(&mut h);
    h.get_by_label_contains("hello artifacts");
    h.get_by_label_contains("plots").click();
    settle(&mut h);
    h.get_by_label_contains("confusion.png").click();
    settle(&mut h);
    h.get_by_label_contains("32 × 16 px");
}

#[test]
fn damaged_runs_are_listed_with_reasons_and_the_rest_shown() {
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(dir.path());
    let Ok(mlscope::store::StoreLocation::File(root)) =
        mlscope::store::parse_tracking_uri(&store.tracking_uri())
    else {
        eprintln!("skipped: needs the file store");
        return;
    };
    populate(store.as_ref());
    let sweep = store
        .get_experiment_by_name("sweep")
        .unwrap()
        .unwrap()
        .experiment_id;
    let victim = store
        .search_runs(&RunQuery::new([sweep.clone()]))
        .unwrap()
        .items
        .into_iter()
        .find(|r| r.info.run_name == "crashed")
        .unwrap();
    let meta = root
        .join(&sweep)
        .join(&victim.info.run_id)
        .join("meta.yaml");
    std::fs::write(&meta, "run_id: [unclosed\n").unwrap();
    let mut h = harness(App::new_with_store(Arc::clone(&store), true));
    settle(&mut h);
    apply(&mut h, Command::SelectExperiments([sweep].into()));
    let names = h.state().shown_run_names();
    assert_eq!(names.len(), 7, "{names:?}");
    assert!(!names.contains(&"crashed".to_string()));
    assert!(!h.state().run_warnings().is_empty());
    h.get_by_label_contains("could not be read");
}

#[test]
fn metric_columns_can_show_min_and_max_from_full_histories() {
    let (_dir, _store, mut h) = open();
    let id = run_id_by_name(&h, "lr=0.1 wd=0");
    let last = {
        let set = h.state().run_set().unwrap().clone();
        set.get(&id).unwrap().data.metrics["loss"].value
    };
    h.state_mut()
        .persisted_mut()
        .columns
        .metric_agg
        .insert("loss".into(), mlscope::viewer::testing::MetricAgg::Max);
    settle(&mut h);
    // The visible rows' histories were fetched; max is the first logged loss (k / 1).
    let set = h.state().run_set().unwrap().clone();
    let run = set.get(&id).unwrap();
    let max = h
        .state()
        .metric_value(run, "loss", mlscope::viewer::testing::MetricAgg::Max)
        .expect("history loaded for a visible row");
    assert!(max > last);
    h.get_by_label("loss (max)");
}

#[test]
fn system_metrics_get_their_own_closed_section_after_the_model_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(dir.path());
    populate(store.as_ref());
    let sweep = store
        .get_experiment_by_name("sweep")
        .unwrap()
        .unwrap()
        .experiment_id;
    // A run that also logged MLflow's system metrics.
    let id = store
        .create_run(CreateRun {
            experiment_id: sweep.clone(),
            user_id: "tester".into(),
            start_time: Some(1_700_000_200_000),
            tags: vec![],
            run_name: Some("with-system-metrics".into()),
        })
        .unwrap()
        .info
        .run_id;
    let metrics: Vec<Metric> = (0..5)
        .flat_map(|s| {
            let t = 1_700_000_200_000 + s * 1000;
            [
                Metric::new("loss", 1.0 / (1.0 + s as f64), t, s),
                Metric::new("system/cpu_utilization_percentage", 40.0 + s as f64, t, s),
                Metric::new("system/system_memory_usage_megabytes", 900.0, t, s),
            ]
        })
        .collect();
    store.log_batch(&id, &metrics, &[], &[]).unwrap();
    // Tall enough for the system cards to be on screen once opened.
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 1600.0))
        .with_max_steps(10_000)
        .build_ui_state(
            |ui, app: &mut App| app.ui(ui),
            App::new_with_store(Arc::clone(&store), false),
        );
    settle(&mut h);
    if !h.state().selected_experiments().contains(&sweep) {
        apply(&mut h, Command::SelectExperiments([sweep].into()));
    }
    apply(&mut h, Command::SetTab(Tab::Charts));
    apply(&mut h, Command::SelectRuns(vec![id.clone()]));
    // The model's metric is charted; the system metrics wait in their own closed section,
    // without reading their histories.
    assert_eq!(h.state().charts().shown_keys, ["loss"]);
    h.get_by_label("System metrics (2)");
    let cpu = (id.clone(), "system/cpu_utilization_percentage".to_string());
    assert!(h.state().histories().peek(&cpu).is_none());
    assert!(
        h.state()
            .histories()
            .peek(&(id.clone(), "loss".into()))
            .is_some()
    );
    // Opened: their cards come after the model's, and their histories are read.
    h.get_by_label("System metrics (2)").click();
    h.run();
    settle(&mut h);
    assert_eq!(
        h.state().charts().shown_keys,
        [
            "loss",
            "system/cpu_utilization_percentage",
            "system/system_memory_usage_megabytes"
        ]
    );
    assert_eq!(h.state().charts().cards_drawn, 3);
    let s = h
        .state()
        .histories()
        .peek(&cpu)
        .and_then(|e| e.ready())
        .expect("history read once the section is open");
    assert_eq!(s.values, vec![40.0, 41.0, 42.0, 43.0, 44.0]);
    // The column chooser keeps them apart from the model's metrics too.
    h.state_mut().open_column_chooser();
    h.run();
    h.get_by_label("Metrics (2)");
    assert_eq!(h.get_all_by_label("System metrics (2)").count(), 2);
}
