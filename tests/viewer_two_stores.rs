//! Two stores in one window (File → Open second store…): experiments listed per store, runs of
//! both in one table with a Store column, selected, charted and compared together; writes
//! reach the store the run comes from; a second store that cannot be reached leaves the first
//! one working. On MLflow-made stores (the 3.17.2 file and SQLite fixtures, a real
//! `mlflow server`) and mlscope-made ones, each copied to a temp dir first.
//!
//! Driven with egui_kittest (no display needed). Without MLflow the server test skips LOUDLY
//! (and fails with `MLSCOPE_REQUIRE_MLFLOW=1`).

#![cfg(feature = "viewer")]

mod support;
mod support_server;
mod support_viewer;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use mlscope::viewer::testing::{
    ArtifactRoot, Command, Entry, GroupKey, SecondState, SelectMode, Slot, Tab, WriteOp, qualify,
    slot_of,
};
use mlscope::viewer::{App, Persisted, ViewerOptions};
use mlscope::{CreateRun, Metric, Param, TrackingStore};

/// Steps frames until `done` holds and the app is idle, at most `limit`.
fn step_until(
    h: &mut Harness<'static, App>,
    limit: Duration,
    what: &str,
    done: impl Fn(&Harness<'static, App>) -> bool,
) {
    if support_viewer::step_until_done(h, limit, done) {
        return;
    }
    let app = h.state();
    panic!(
        "{what}: not within {limit:?} (second store {:?}, experiments shown {:?}, runs {:?}, idle {})",
        app.second_store(),
        app.selected_experiments(),
        app.run_set().map(|s| s.runs.len()),
        app.is_idle()
    );
}

fn settle(h: &mut Harness<'static, App>) {
    support_viewer::settle_within(h, Duration::from_secs(60));
}

/// How many widgets show exactly `text`.
fn count_labels(h: &Harness<'static, App>, text: &str) -> usize {
    h.query_all_by_label(text).count()
}

/// A copy of a committed fixture in `dir/<folder>`; returns the store's path.
fn copy_fixture(dir: &Path, fixture: &str, folder: &str, entry: &str) -> PathBuf {
    let to = dir.join(folder);
    support::copy_dir_all(&support::fixtures_dir().join(fixture), &to);
    to.join(entry)
}

/// The viewer on `store`, settled.
fn open(store: &Path) -> Harness<'static, App> {
    let app = App::new(
        ViewerOptions {
            store: Some(store.display().to_string()),
            read_only: false,
        },
        Persisted::default(),
    );
    let mut h = support_viewer::harness(app);
    settle(&mut h);
    h
}

/// Opens `uri` as the second store and waits for it to be open and its runs shown.
fn open_second(h: &mut Harness<'static, App>, uri: &str) {
    h.state_mut()
        .send(Command::OpenSecondStore(uri.to_string()));
    step_until(h, Duration::from_secs(60), "the second store's runs", |h| {
        h.state().run_set().is_some_and(|set| {
            set.runs
                .iter()
                .any(|r| slot_of(&r.info.run_id) == Slot::Second)
        })
    });
    settle(h);
}

/// Run ids shown, by store.
fn shown_by_store(h: &Harness<'static, App>) -> (Vec<String>, Vec<String>) {
    let set = h.state().run_set().expect("runs");
    set.runs
        .iter()
        .map(|r| r.info.run_id.clone())
        .partition(|id| slot_of(id) == Slot::Primary)
}

#[test]
fn the_two_store_view_shows_runs_from_both_with_their_store() {
    let dir = tempfile::tempdir().unwrap();
    let file = copy_fixture(dir.path(), "mlflow-3.17.2-file", "made-by-mlflow", "mlruns");
    let db = copy_fixture(
        dir.path(),
        "mlflow-3.17.2-sqlite",
        "made-by-mlflow-sqlite",
        "mlflow.db",
    );
    let mut h = open(&file);
    let (first_runs, none) = shown_by_store(&h);
    assert!(!first_runs.is_empty() && none.is_empty());
    let first_exps = h.state().selected_experiments().clone();

    open_second(&mut h, &db.display().to_string());
    assert!(matches!(
        h.state().second_store().map(|s| &s.state),
        Some(SecondState::Ready { .. })
    ));
    // The experiment of the same name is shown from the second store, next to the first one's.
    let shown = h.state().selected_experiments().clone();
    assert!(first_exps.is_subset(&shown), "{shown:?}");
    let names = |slot: Slot| -> BTreeSet<String> {
        let exps = h
            .state()
            .experiments()
            .ready()
            .expect("experiments")
            .clone();
        exps.iter()
            .filter(|e| shown.contains(&e.experiment_id) && slot_of(&e.experiment_id) == slot)
            .map(|e| e.name.clone())
            .collect()
    };
    assert_eq!(names(Slot::Primary), names(Slot::Second));

    // Experiments are listed under one header per store.
    assert!(count_labels(&h, "made-by-mlflow/mlruns") >= 1);
    assert!(count_labels(&h, "made-by-mlflow-sqlite/mlflow.db") >= 1);

    // Every row says its store: one Store cell per row of each store, plus the header.
    let (first, second) = shown_by_store(&h);
    assert_eq!(first.len(), first_runs.len());
    assert_eq!(
        second.len(),
        first_runs.len(),
        "the same experiment, made the same way"
    );
    assert!(first.iter().all(|id| !second.contains(id)));
    let rows = h.state().shown_run_names().len();
    assert_eq!(rows, first.len() + second.len());
    assert_eq!(
        count_labels(&h, "made-by-mlflow-sqlite/mlflow.db"),
        1 + second.len(),
        "the second store's header and a Store cell per row"
    );
    assert_eq!(
        count_labels(&h, "made-by-mlflow/mlruns"),
        1 + first.len(),
        "the first store's header and a Store cell per row"
    );

    // Runs of both are selected at once, charted (their histories read from their own
    // stores) and compared.
    let selection = h.state().selection().clone();
    assert!(selection.iter().any(|id| slot_of(id) == Slot::Primary));
    assert!(selection.iter().any(|id| slot_of(id) == Slot::Second));
    h.state_mut().send(Command::SetTab(Tab::Charts));
    step_until(
        &mut h,
        Duration::from_secs(60),
        "histories of both stores",
        |h| {
            let runs_with_history: BTreeSet<String> = h
                .state()
                .histories()
                .iter()
                .filter(|(_, e)| e.ready().is_some_and(|s| !s.values.is_empty()))
                .map(|((run, _), _)| run.clone())
                .collect();
            runs_with_history
                .iter()
                .any(|id| slot_of(id) == Slot::Primary)
                && runs_with_history
                    .iter()
                    .any(|id| slot_of(id) == Slot::Second)
        },
    );
    // The same history from both stores (the fixtures hold the same logged values).
    let set = h.state().run_set().unwrap().clone();
    let pair = set.runs.iter().find_map(|r| {
        let twin = set.runs.iter().find(|o| {
            slot_of(&o.info.run_id) == Slot::Second
                && o.info.run_name == r.info.run_name
                && slot_of(&r.info.run_id) == Slot::Primary
        })?;
        Some((r.info.run_id.clone(), twin.info.run_id.clone()))
    });
    let (a, b) = pair.expect("a run named alike in both stores");
    h.state_mut()
        .send(Command::SelectRuns(vec![a.clone(), b.clone()]));
    h.state_mut().send(Command::SetTab(Tab::Compare));
    settle(&mut h);
    let name = set.runs[set.index[&a]].info.run_name.clone();
    assert!(
        count_labels(&h, &name) >= 2,
        "both runs named {name} in the table and the comparison"
    );

    // The second store's artifacts are read through its own store (the copied fixture's
    // artifact root, found next to its database), for the runs of all its experiments.
    let both_stores_experiments: BTreeSet<String> = h
        .state()
        .experiments()
        .ready()
        .expect("experiments")
        .iter()
        .map(|e| e.experiment_id.clone())
        .filter(|id| slot_of(id) == Slot::Second)
        .chain(first_exps.iter().cloned())
        .collect();
    h.state_mut()
        .send(Command::SelectExperiments(both_stores_experiments));
    settle(&mut h);
    let set = h.state().run_set().unwrap().clone();
    let second_runs: Vec<_> = set
        .runs
        .iter()
        .filter(|r| slot_of(&r.info.run_id) == Slot::Second)
        .cloned()
        .collect();
    for r in &second_runs {
        h.state_mut().send(Command::ListArtifacts {
            root: ArtifactRoot {
                run_id: r.info.run_id.clone(),
                experiment_id: r.info.experiment_id.clone(),
                artifact_uri: r.info.artifact_uri.clone(),
            },
            path: String::new(),
        });
    }
    settle(&mut h);
    let listed: usize = second_runs
        .iter()
        .map(
            |r| match h.state().artifact_list(&r.info.artifact_uri, "") {
                Some(Entry::Ready(list)) => list.len(),
                other => panic!("artifacts of {}: {other:?}", r.info.run_name),
            },
        )
        .sum();
    assert!(listed > 0, "the fixture's runs have artifacts");

    // Closing the second store leaves the first one as it was.
    h.state_mut().send(Command::CloseSecondStore);
    settle(&mut h);
    let (first_after, second_after) = shown_by_store(&h);
    assert!(second_after.is_empty());
    assert_eq!(first_after.len(), first_runs.len());
    assert!(
        h.state()
            .selection()
            .iter()
            .all(|id| slot_of(id) == Slot::Primary)
    );
    assert_eq!(count_labels(&h, "made-by-mlflow-sqlite/mlflow.db"), 0);
}

/// An mlscope-made store with one experiment of runs logging `loss`.
fn mlscope_store(root: &Path) -> Vec<String> {
    let store = mlscope::FileStore::open(root).unwrap();
    let exp = store.create_experiment("sweep", None, &[]).unwrap();
    (0..3)
        .map(|i| {
            let id = store
                .create_run(CreateRun {
                    experiment_id: exp.clone(),
                    user_id: "tester".into(),
                    start_time: Some(1_700_000_000_000 + i),
                    tags: vec![],
                    run_name: Some(format!("trial-{i}")),
                })
                .unwrap()
                .info
                .run_id;
            let loss: Vec<Metric> = (0..20)
                .map(|s| Metric::new("loss", 1.0 / (s + 1 + i) as f64, 1_700_000_000_000 + s, s))
                .collect();
            store
                .log_batch(&id, &loss, &[Param::new("lr", format!("0.{i}"))], &[])
                .unwrap();
            id
        })
        .collect()
}

#[test]
fn the_same_mlscope_store_opened_twice_keeps_its_ids_apart_and_writes_go_to_their_store() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("runs/mlruns");
    let ids = mlscope_store(&first);
    // An exact copy: the same run ids in both stores.
    let second = dir.path().join("copy/mlruns");
    support::copy_dir_all(&first, &second);
    let mut h = open(&first);
    open_second(&mut h, &second.display().to_string());
    let (a, b) = shown_by_store(&h);
    assert_eq!(a.len(), 3);
    assert_eq!(
        b,
        a.iter().map(|id| qualify(id)).collect::<Vec<_>>(),
        "each run once per store, told apart"
    );

    // A rename of a second-store run reaches the second store only.
    let target = qualify(&ids[0]);
    h.state_mut().send(Command::Write(WriteOp::Rename {
        run_id: target.clone(),
        name: "renamed-in-copy".into(),
    }));
    step_until(&mut h, Duration::from_secs(30), "the rename", |h| {
        h.state()
            .shown_run_names()
            .contains(&"renamed-in-copy".to_string())
    });
    let read = |root: &Path| {
        mlscope::FileStore::open(root)
            .unwrap()
            .get_run(&ids[0])
            .unwrap()
            .info
            .run_name
    };
    assert_eq!(read(&second), "renamed-in-copy");
    assert_eq!(read(&first), "trial-0");
    let set = h.state().run_set().unwrap().clone();
    assert_eq!(set.runs[set.index[&ids[0]]].info.run_name, "trial-0");

    // Grouped across the stores: one group per lr, each with a run of each store, and a band
    // over both (the copies logged the same values, so the mean is each one's series).
    let all: Vec<String> = a.iter().chain(&b).cloned().collect();
    h.state_mut().send(Command::SelectRuns(all));
    let mut options = h.state_mut().persisted_mut().charts.clone();
    options.group_by = vec![GroupKey::Param("lr".into())];
    h.state_mut().send(Command::SetChartOptions(options));
    h.state_mut().send(Command::SetTab(Tab::Charts));
    step_until(&mut h, Duration::from_secs(60), "the bands", |h| {
        h.state()
            .charts()
            .group_state()
            .band("loss", "lr=0.0")
            .is_some()
    });
    let groups = &h.state().charts().group_state().groups;
    assert_eq!(groups.len(), 3);
    for g in groups {
        let stores: BTreeSet<Slot> = g.runs.iter().map(|r| slot_of(&r.info.run_id)).collect();
        assert_eq!(stores, [Slot::Primary, Slot::Second].into(), "{}", g.label);
    }
    let band = h
        .state()
        .charts()
        .group_state()
        .band("loss", "lr=0.0")
        .unwrap();
    let expected: Vec<f64> = (0..20).map(|s| 1.0 / (s + 1) as f64).collect();
    assert_eq!(band.mean, expected);
    assert_eq!(band.min, band.max);

    // Grouped by store: two groups, each holding exactly its store's runs.
    let mut options = h.state_mut().persisted_mut().charts.clone();
    options.group_by = vec![GroupKey::Attribute("store".into())];
    h.state_mut().send(Command::SetChartOptions(options));
    step_until(&mut h, Duration::from_secs(60), "the store bands", |h| {
        let g = h.state().charts().group_state();
        g.band("loss", "store=first").is_some() && g.band("loss", "store=second").is_some()
    });
    let groups = &h.state().charts().group_state().groups;
    assert_eq!(groups.len(), 2);
    for g in groups {
        let stores: BTreeSet<Slot> = g.runs.iter().map(|r| slot_of(&r.info.run_id)).collect();
        let slot = if g.label == "store=first" {
            Slot::Primary
        } else {
            Slot::Second
        };
        assert_eq!(stores, [slot].into(), "{}", g.label);
        assert_eq!(g.runs.len(), a.len(), "{}", g.label);
    }

    // The same store twice: its label says which copy is which.
    h.state_mut().send(Command::CloseSecondStore);
    settle(&mut h);
    open_second(&mut h, &first.display().to_string());
    assert!(count_labels(&h, "runs/mlruns (2)") >= 2, "header and cells");
    let (a, b) = shown_by_store(&h);
    assert_eq!(a.len(), b.len());
    // Selecting a run of one store leaves its twin alone.
    h.state_mut().send(Command::SelectRun {
        run_id: qualify(&ids[1]),
        mode: SelectMode::Replace,
    });
    settle(&mut h);
    assert_eq!(
        h.state().selection().iter().cloned().collect::<Vec<_>>(),
        [qualify(&ids[1])]
    );
}

#[test]
fn an_unreachable_second_server_is_reported_and_the_first_store_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let file = copy_fixture(dir.path(), "mlflow-3.17.2-file", "made-by-mlflow", "mlruns");
    let mut h = open(&file);
    let (first, _) = shown_by_store(&h);
    let port = support_server::free_port();
    h.state_mut()
        .send(Command::OpenSecondStore(format!("http://127.0.0.1:{port}")));
    step_until(&mut h, Duration::from_secs(60), "the failure", |h| {
        matches!(
            h.state().second_store().map(|s| &s.state),
            Some(SecondState::Failed(_))
        )
    });
    settle(&mut h);
    assert!(
        h.query_all_by_label_contains("connection refused")
            .next()
            .is_some(),
        "the reason is shown"
    );
    // The first store's experiments and runs are still there, and still answer.
    let (still, _) = shown_by_store(&h);
    assert_eq!(still, first);
    h.state_mut().send(Command::Reload);
    settle(&mut h);
    assert_eq!(shown_by_store(&h).0.len(), first.len());
    assert!(h.state().experiments().ready().is_some());
}

#[test]
fn a_tracking_server_as_the_second_store_next_to_a_sqlite_store() {
    let Some(server) = support_server::MlflowServer::start("viewer_two_stores") else {
        return;
    };
    let uri = server.uri();
    let client = mlscope::TrackingClient::new(&uri).unwrap();
    let store = client.store();
    let exp = store.create_experiment("served", None, &[]).unwrap();
    let mut served = Vec::new();
    for i in 0..2i64 {
        let id = store
            .create_run(CreateRun {
                experiment_id: exp.clone(),
                user_id: "tester".into(),
                start_time: Some(mlscope::model::now_ms()),
                tags: vec![],
                run_name: Some(format!("served-{i}")),
            })
            .unwrap()
            .info
            .run_id;
        let loss: Vec<Metric> = (0..50)
            .map(|s| Metric::new("loss", 1.0 / (s + 1 + i) as f64, 1_700_000_000_000 + s, s))
            .collect();
        store.log_batch(&id, &loss, &[], &[]).unwrap();
        served.push(id);
    }
    let dir = tempfile::tempdir().unwrap();
    let db = copy_fixture(
        dir.path(),
        "mlflow-3.17.2-sqlite",
        "made-by-mlflow",
        "mlflow.db",
    );
    let mut h = open(&db);
    let (first, _) = shown_by_store(&h);
    assert!(!first.is_empty());
    open_second(&mut h, &uri);
    let (_, second) = shown_by_store(&h);
    let expected: BTreeSet<String> = served.iter().map(|id| qualify(id)).collect();
    assert_eq!(second.into_iter().collect::<BTreeSet<_>>(), expected);
    let label = uri.trim_start_matches("http://").to_string();
    assert!(
        count_labels(&h, &label) >= 3,
        "header and a cell per served run"
    );
    // A served run's curve comes from the server.
    h.state_mut().send(Command::SelectRun {
        run_id: qualify(&served[0]),
        mode: SelectMode::Replace,
    });
    h.state_mut().send(Command::SetTab(Tab::Charts));
    step_until(&mut h, Duration::from_secs(60), "the served history", |h| {
        h.state()
            .histories()
            .get(&(qualify(&served[0]), "loss".to_string()))
            .and_then(|e| e.ready())
            .is_some_and(|s| s.values.len() == 50)
    });
}

#[test]
fn a_run_logged_to_the_second_store_while_it_is_open_appears() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first/mlruns");
    mlscope_store(&first);
    let second = dir.path().join("second/mlruns");
    mlscope_store(&second);
    let mut h = open(&first);
    open_second(&mut h, &second.display().to_string());
    let (_, before) = shown_by_store(&h);
    assert_eq!(before.len(), 3);
    // Another process logs a run to the second store's shown experiment.
    let writer = mlscope::FileStore::open(&second).unwrap();
    let exp = writer
        .get_experiment_by_name("sweep")
        .unwrap()
        .expect("sweep")
        .experiment_id;
    let id = writer
        .create_run(CreateRun {
            experiment_id: exp,
            user_id: "tester".into(),
            start_time: Some(1_800_000_000_000),
            tags: vec![],
            run_name: Some("late".into()),
        })
        .unwrap()
        .info
        .run_id;
    step_until(&mut h, Duration::from_secs(60), "the new run", |h| {
        h.state()
            .run_set()
            .is_some_and(|s| s.index.contains_key(&qualify(&id)))
    });
    // It belongs to the second store only.
    assert!(!h.state().run_set().unwrap().index.contains_key(&id));
}
