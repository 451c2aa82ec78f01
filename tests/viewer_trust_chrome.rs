//! Regression tests of issue 13's chrome items: opening the folder that holds a store, reading
//! never writes, focus of text fields, the read-only/editable state, glyphs, the first view,
//! truncation, a dead server. They drive the real app with egui_kittest on MLflow-made stores
//! (`tests/fixtures/`, `assets/demo/mlruns`) copied to temp dirs.

#![cfg(feature = "viewer")]

mod support;

mod support_viewer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use mlscope::viewer::testing::{ArtifactRoot, Command, Entry, Tab};
use mlscope::viewer::{App, Persisted, ViewerOptions};
use mlscope::{TrackingStore, ViewType};
use support_viewer::harness;

/// Steps frames until the viewer is idle (see `support_viewer::settle_within`).
fn settle(h: &mut Harness<'static, App>) {
    support_viewer::settle_within(h, Duration::from_secs(30));
}

fn apply(h: &mut Harness<'static, App>, command: Command) {
    h.state_mut().send(command);
    settle(h);
}

/// A viewer started on `store` as `mlscope <store>` starts it.
fn open_path(store: &Path, read_only: bool) -> Harness<'static, App> {
    let app = App::new(
        ViewerOptions {
            store: Some(store.display().to_string()),
            read_only,
        },
        Persisted::default(),
    );
    let mut h = harness(app);
    settle(&mut h);
    h
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

fn demo_mlruns() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/mlruns")
}

// ----- item 3: opening the folder that holds the store ------------------------------------------

#[test]
fn a_project_folder_holding_mlruns_opens_its_runs_and_says_so() {
    let project = tempfile::tempdir().unwrap();
    copy_dir(&demo_mlruns(), &project.path().join("mlruns"));
    std::fs::write(project.path().join("train.py"), "print('hi')\n").unwrap();
    let h = open_path(project.path(), true);
    assert!(
        h.state().run_set().is_some_and(|s| !s.runs.is_empty()),
        "the runs of the mlruns/ inside the project folder are shown"
    );
    assert!(h.state().run_warnings().is_empty());
    h.get_by_label_contains("found mlruns/ inside");
}

#[test]
fn a_project_folder_dropped_on_the_window_opens_its_mlruns() {
    let project = tempfile::tempdir().unwrap();
    copy_dir(&demo_mlruns(), &project.path().join("mlruns"));
    let app = App::new(ViewerOptions::default(), Persisted::default());
    let mut h = harness(app);
    settle(&mut h);
    /// A folder dropped on the window, as the windowing layer hands it over.
    #[derive(Debug)]
    struct DroppedFolder(PathBuf);
    impl egui::DroppedFile for DroppedFolder {
        fn path(&self) -> &Path {
            &self.0
        }
        fn bytes(&self) -> Result<Vec<u8>, String> {
            Err("a folder".into())
        }
    }
    h.input_mut()
        .dropped_files
        .push(std::sync::Arc::new(DroppedFolder(
            project.path().to_path_buf(),
        )));
    settle(&mut h);
    assert!(h.state().run_set().is_some_and(|s| !s.runs.is_empty()));
    h.get_by_label_contains("found mlruns/ inside");
}

#[test]
fn a_folder_holding_mlflow_db_opens_the_database() {
    let fixture = support::Fixture::named("mlflow-3.17.2-sqlite").copy();
    let h = open_path(fixture.dir.path(), true);
    assert!(h.state().run_set().is_some_and(|s| !s.runs.is_empty()));
    h.get_by_label_contains("found mlflow.db inside");
}

#[test]
fn an_unrelated_folder_says_it_is_not_an_mlflow_store() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("README.txt"), "hello\n").unwrap();
    let h = open_path(dir.path(), false);
    h.get_by_label("Not an MLflow store");
    h.get_by_label_contains("no mlruns/ folder, no mlflow.db");
    assert!(h.state().run_set().is_none());
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["README.txt", "src"], "nothing was created");

    let empty = tempfile::tempdir().unwrap();
    let h = open_path(empty.path(), false);
    h.get_by_label("Not an MLflow store");
    h.get_by_label_contains("the folder is empty");
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);
}

#[test]
fn a_folder_holding_both_asks_which_and_opens_the_choice() {
    let project = tempfile::tempdir().unwrap();
    copy_dir(&demo_mlruns(), &project.path().join("mlruns"));
    let sqlite = support::Fixture::named("mlflow-2.22.5-sqlite").copy();
    std::fs::copy(
        sqlite.dir.path().join("mlflow.db"),
        project.path().join("mlflow.db"),
    )
    .unwrap();
    let mut h = open_path(project.path(), true);
    h.get_by_label("Which store?");
    assert!(
        h.state().run_set().is_none(),
        "nothing opened before the choice"
    );
    h.get_by_label("mlruns/ (files)").click();
    settle(&mut h);
    assert!(h.state().store_choice().is_none());
    assert!(h.state().run_set().is_some_and(|s| !s.runs.is_empty()));
}

// ----- item 4: opening and browsing never writes -------------------------------------------------

/// Every file under `root` with its bytes, and every folder (as `path/`).
fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if e.file_type().unwrap().is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                walk(root, &p, out);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// What changed between two snapshots, in words (empty when nothing did).
fn differences(before: &BTreeMap<String, Vec<u8>>, after: &BTreeMap<String, Vec<u8>>) -> String {
    let mut out = Vec::new();
    for (k, v) in after {
        match before.get(k) {
            None => out.push(format!("created {k}")),
            Some(b) if b != v => out.push(format!("changed {k}")),
            Some(_) => {}
        }
    }
    for k in before.keys() {
        if !after.contains_key(k) {
            out.push(format!("removed {k}"));
        }
    }
    out.join(", ")
}

/// Browses everything the viewer shows of the open store: every experiment (deleted ones too),
/// every run (deleted ones too) in every tab, every metric chart, and every artifact folder and
/// preview. Returns how many artifact files were previewed.
fn browse_everything(h: &mut Harness<'static, App>) -> usize {
    apply(h, Command::ShowDeletedExperiments(true));
    let experiments = h
        .state()
        .experiments()
        .ready()
        .expect("experiments listed")
        .clone();
    assert!(!experiments.is_empty());
    apply(h, Command::SetRunView(ViewType::All));
    let mut previewed = 0;
    for e in experiments.iter() {
        apply(
            h,
            Command::SelectExperiments([e.experiment_id.clone()].into()),
        );
        let Some(set) = h.state().run_set().cloned() else {
            continue;
        };
        let ids: Vec<String> = set.runs.iter().map(|r| r.info.run_id.clone()).collect();
        apply(h, Command::SelectRuns(ids.clone()));
        for tab in Tab::ALL {
            apply(h, Command::SetTab(tab));
        }
        apply(h, Command::SetTab(Tab::Charts));
        for run in set.runs.iter() {
            apply(
                h,
                Command::SelectRun {
                    run_id: run.info.run_id.clone(),
                    mode: mlscope::viewer::testing::SelectMode::Replace,
                },
            );
            for tab in [Tab::Run, Tab::Artifacts] {
                apply(h, Command::SetTab(tab));
            }
            let root = ArtifactRoot {
                run_id: run.info.run_id.clone(),
                experiment_id: run.info.experiment_id.clone(),
                artifact_uri: run.info.artifact_uri.clone(),
            };
            let mut folders = vec![String::new()];
            while let Some(folder) = folders.pop() {
                apply(
                    h,
                    Command::ListArtifacts {
                        root: root.clone(),
                        path: folder.clone(),
                    },
                );
                let entries = match h.state().artifact_list(&root.artifact_uri, &folder) {
                    Some(Entry::Ready(list)) => list.clone(),
                    // A run without artifacts, or whose artifacts are elsewhere: shown as such.
                    _ => continue,
                };
                for entry in entries.iter() {
                    if entry.is_dir {
                        folders.push(entry.path.clone());
                    } else {
                        apply(
                            h,
                            Command::PreviewArtifact {
                                root: root.clone(),
                                path: entry.path.clone(),
                            },
                        );
                        assert!(
                            h.state()
                                .artifact_preview(&root.artifact_uri, &entry.path)
                                .is_some_and(|p| !p.is_loading()),
                            "{} was previewed",
                            entry.path
                        );
                        previewed += 1;
                    }
                }
            }
        }
    }
    previewed
}

/// Opens `store` (a folder holding it, as a user would choose it), browses everything and
/// checks that no file under `root` was created, changed or removed.
fn assert_browsing_leaves_unchanged(name: &str, root: &Path, store: &Path) {
    let before = snapshot(root);
    let mut h = open_path(store, false);
    assert!(
        h.state().run_set().is_some(),
        "{name}: the store opened ({:?})",
        h.state().messages()
    );
    let previewed = browse_everything(&mut h);
    drop(h);
    assert!(previewed > 0, "{name}: no artifact was previewed");
    let after = snapshot(root);
    let diff = differences(&before, &after);
    assert!(
        diff.is_empty(),
        "{name}: opening and browsing wrote to the store: {diff} ({previewed} artifacts previewed)"
    );
}

#[test]
fn browsing_every_fixture_store_changes_no_file() {
    let mut failures = Vec::new();
    for fixture in support::FIXTURES {
        let copy = fixture.copy();
        let store = match fixture.backend {
            support::Backend::File => copy.dir.path().join("mlruns"),
            support::Backend::Sqlite => copy.dir.path().join("mlflow.db"),
        };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            assert_browsing_leaves_unchanged(fixture.name, copy.dir.path(), &store)
        }));
        if let Err(e) = result {
            let text = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(text);
        }
    }
    let demo = tempfile::tempdir().unwrap();
    copy_dir(&demo_mlruns(), &demo.path().join("mlruns"));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert_browsing_leaves_unchanged(
            "assets/demo/mlruns",
            demo.path(),
            &demo.path().join("mlruns"),
        )
    }));
    if let Err(e) = result {
        failures.push(e.downcast_ref::<String>().cloned().unwrap_or_default());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ----- item 10: every logged text renders; sort arrows are drawn --------------------------------

#[test]
fn check_marks_arrows_and_cjk_in_logged_names_render() {
    // egui_kittest panics on a glyph no font has ("No glyph for ✓"), so opening and showing
    // these names is the test.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let store = mlscope::FileStore::open(&root).unwrap();
    let exp = store
        .create_experiment("baseline ✓ → final", None, &[])
        .unwrap();
    let run = store
        .create_run(mlscope::CreateRun {
            experiment_id: exp.clone(),
            run_name: Some("数据 ✓ αβγ ↑↓ ≤ ✗".into()),
            ..Default::default()
        })
        .unwrap();
    let id = run.info.run_id.clone();
    store
        .log_batch(
            &id,
            &[mlscope::Metric::new("loss", 0.5, 0, 0)],
            &[mlscope::Param::new("model", "résumé ✓ 模型")],
            &[mlscope::RunTag::new("note", "Привет ✓ ★")],
        )
        .unwrap();
    drop(store);
    let mut h = open_path(&root, true);
    apply(&mut h, Command::SelectExperiments([exp].into()));
    apply(
        &mut h,
        Command::SelectRun {
            run_id: id,
            mode: mlscope::viewer::testing::SelectMode::Replace,
        },
    );
    for tab in Tab::ALL {
        apply(&mut h, Command::SetTab(tab));
    }
    apply(
        &mut h,
        Command::SortBy {
            column: mlscope::viewer::testing::ColumnId::Name,
            add: false,
        },
    );
    h.get_by_label_contains("sorted by run (ascending)");
}

// ----- item 13: text fields take focus; shortcuts stay quiet while typing -----------------------

/// A file store in `dir` with one experiment and one run; returns (mlruns path, experiment id,
/// run id).
fn one_run_store(dir: &Path, run_name: &str) -> (PathBuf, String, String) {
    let root = dir.join("mlruns");
    let store = mlscope::FileStore::open(&root).unwrap();
    let exp = store.create_experiment("exp", None, &[]).unwrap();
    let run = store
        .create_run(mlscope::CreateRun {
            experiment_id: exp.clone(),
            run_name: Some(run_name.into()),
            ..Default::default()
        })
        .unwrap();
    store
        .log_batch(
            &run.info.run_id,
            &[mlscope::Metric::new("loss", 0.5, 0, 0)],
            &[],
            &[],
        )
        .unwrap();
    (root, exp, run.info.run_id)
}

#[test]
fn the_rename_box_takes_focus_and_typing_fires_no_shortcut() {
    let dir = tempfile::tempdir().unwrap();
    let (root, exp, id) = one_run_store(dir.path(), "first");
    let mut h = open_path(&root, false);
    apply(&mut h, Command::SelectExperiments([exp].into()));
    apply(
        &mut h,
        Command::SelectRun {
            run_id: id.clone(),
            mode: mlscope::viewer::testing::SelectMode::Replace,
        },
    );
    apply(&mut h, Command::SetTab(Tab::Run));
    h.get_all_by_label("✏")
        .next()
        .expect("the rename button")
        .click();
    settle(&mut h);
    // Space would toggle the selection and Delete would ask to delete the run, were they
    // shortcuts here.
    h.key_press(egui::Key::Space);
    h.event(egui::Event::Text(" ".into()));
    h.event(egui::Event::Text("v2".into()));
    h.key_press(egui::Key::Delete);
    settle(&mut h);
    assert!(
        h.state().confirm().is_none(),
        "Delete opened the delete dialog"
    );
    assert!(
        h.state().selection().contains(&id),
        "Space toggled the selection"
    );
    h.key_press(egui::Key::Enter);
    settle(&mut h);
    let name = h.state().run_set().unwrap().runs[0].info.run_name.clone();
    assert_eq!(name, "first v2", "what was typed went into the rename box");
}

// ----- item 5: read-only or editable, in words, switched explicitly -----------------------------

#[test]
fn the_edit_mode_is_shown_in_words_and_switched_by_an_explicit_button() {
    let dir = tempfile::tempdir().unwrap();
    let (root, _, _) = one_run_store(dir.path(), "r");
    let mut h = open_path(&root, false);
    h.get_by_label("✏ editable");
    h.get_by_label("Edits are saved to the store");
    assert!(h.query_by_label("🔒 read-only").is_none());
    h.get_by_label("Make read-only").click();
    settle(&mut h);
    assert!(h.state().is_read_only());
    h.get_by_label("🔒 read-only");
    h.get_by_label("Read-only: nothing is written to the store");
    h.get_by_label("Allow editing").click();
    settle(&mut h);
    assert!(!h.state().is_read_only());

    // --read-only starts read-only, and says so.
    let h = open_path(&root, true);
    assert!(h.state().is_read_only());
    h.get_by_label("🔒 read-only");
    h.get_by_label("Allow editing");
}

// ----- item 7: the first view shows charts -----------------------------------------------------

#[test]
fn the_first_view_opens_the_experiment_active_last_with_its_latest_runs_selected() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let store = mlscope::FileStore::open(&root).unwrap();
    let t0 = 1_700_000_000_000_i64;
    // Created first, but its runs are the newest and have metrics.
    let sweep = store
        .create_experiment(
            "sweep",
            None,
            &[(
                "mlflow.note.content".to_string(),
                "Learning-rate sweep of the small model".to_string(),
            )],
        )
        .unwrap();
    let parent = store
        .create_run(mlscope::CreateRun {
            experiment_id: sweep.clone(),
            run_name: Some("sweep-parent".into()),
            start_time: Some(t0 + 1_000),
            ..Default::default()
        })
        .unwrap()
        .info
        .run_id;
    let mut children = Vec::new();
    for i in 0..12_i64 {
        let run = store
            .create_run(mlscope::CreateRun {
                experiment_id: sweep.clone(),
                run_name: Some(format!("trial-{i}")),
                start_time: Some(t0 + 2_000 + i),
                tags: vec![mlscope::RunTag::new("mlflow.parentRunId", parent.clone())],
                ..Default::default()
            })
            .unwrap();
        store
            .log_batch(
                &run.info.run_id,
                &[mlscope::Metric::new("loss", 1.0 / (i + 1) as f64, t0, 0)],
                &[],
                &[],
            )
            .unwrap();
        children.push(run.info.run_id);
    }
    // Created last (the old pick), with an older run and no metrics.
    let scratch = store.create_experiment("scratch", None, &[]).unwrap();
    store
        .create_run(mlscope::CreateRun {
            experiment_id: scratch,
            run_name: Some("notes".into()),
            start_time: Some(t0),
            ..Default::default()
        })
        .unwrap();
    drop(store);

    let h = open_path(&root, true);
    assert_eq!(
        h.state().selected_experiments().iter().collect::<Vec<_>>(),
        [&sweep],
        "the experiment with the newest run with metrics is shown"
    );
    let selected: Vec<&String> = h.state().selection().iter().collect();
    let latest: Vec<&String> = children.iter().rev().take(10).collect();
    let mut expected = latest.clone();
    expected.sort();
    assert_eq!(selected, expected, "the 10 latest leaf runs are selected");
    h.get_by_label_contains("About sweep");
    h.get_by_label("Learning-rate sweep of the small model");
    h.get_by_label("10 runs selected");
}

// ----- item 11: long texts use the space and wrap ------------------------------------------------

#[test]
fn long_tag_values_and_experiment_names_use_the_pane_and_stay_in_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let store = mlscope::FileStore::open(&root).unwrap();
    let long_name = "a very long experiment name that describes the dataset, the model, the \
                     optimiser and the date of the sweep in one breath";
    let exp = store.create_experiment(long_name, None, &[]).unwrap();
    let run = store
        .create_run(mlscope::CreateRun {
            experiment_id: exp.clone(),
            run_name: Some("r".into()),
            ..Default::default()
        })
        .unwrap();
    let value = "checkpoint saved to /data/experiments/2026/sweep-17/epoch-042/model.safetensors \
                 after early stopping";
    store
        .log_batch(
            &run.info.run_id,
            &[],
            &[mlscope::Param::new("optimizer", "adamw")],
            &[mlscope::RunTag::new("checkpoint_note", value)],
        )
        .unwrap();
    drop(store);
    let mut h = open_path(&root, true);
    apply(&mut h, Command::SelectExperiments([exp.clone()].into()));
    apply(
        &mut h,
        Command::SelectRun {
            run_id: run.info.run_id.clone(),
            mode: mlscope::viewer::testing::SelectMode::Replace,
        },
    );
    apply(&mut h, Command::SetTab(Tab::Run));
    let window = 1400.0;
    let tag = h.get_by_label(value).rect();
    assert!(
        tag.width() > 150.0,
        "the tag value uses the free space ({} px wide)",
        tag.width()
    );
    assert!(tag.right() <= window, "the tag value stays in the window");
    let experiment = h.get_by_label(&format!("{long_name} ({exp})")).rect();
    assert!(
        experiment.right() <= window,
        "the experiment name wraps in the window (ends at {} px)",
        experiment.right()
    );
}

// ----- item 14: a dead server URL is said at once, in words -------------------------------------

#[test]
fn a_dead_server_url_says_cannot_connect_with_details_behind_a_disclosure() {
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let app = App::new(
        ViewerOptions {
            store: Some(url.clone()),
            read_only: true,
        },
        Persisted::default(),
    );
    let mut h = harness(app);
    settle(&mut h);
    h.get_by_label(&format!("cannot connect to {url}: connection refused"));
    assert!(
        h.query_by_label_contains("INTERNAL_ERROR").is_none(),
        "the technical detail is not shown until asked for"
    );
    h.get_by_label("▶ Technical details").click();
    settle(&mut h);
    h.get_by_label_contains("INTERNAL_ERROR");
}

#[test]
fn opening_an_empty_database_file_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    std::fs::write(&db, b"").unwrap();
    let before = snapshot(dir.path());
    let h = open_path(&db, false);
    drop(h);
    let diff = differences(&before, &snapshot(dir.path()));
    assert!(
        diff.is_empty(),
        "opening a zero-length mlflow.db wrote to it: {diff}"
    );
}

// ----- item 15: the delete toast offers Undo; counts are worded for one ---------------------------

#[test]
fn undo_on_the_delete_toast_restores_every_deleted_run_and_shows_them_again() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    copy_dir(&demo_mlruns(), &root);
    let mut h = open_path(&root, false);
    let shown = h.state().shown_run_names();
    let ids: Vec<String> = h.state().run_set().unwrap().runs[..2]
        .iter()
        .map(|r| r.info.run_id.clone())
        .collect();
    let names: Vec<String> = h.state().run_set().unwrap().runs[..2]
        .iter()
        .map(|r| r.info.run_name.clone())
        .collect();
    apply(&mut h, Command::SelectRuns(ids.clone()));
    apply(&mut h, Command::AskDeleteSelected);
    h.get_by_label("Delete").click();
    settle(&mut h);
    let store = mlscope::FileStore::open(&root).unwrap();
    for id in &ids {
        assert_eq!(
            store.get_run(id).unwrap().info.lifecycle_stage,
            mlscope::LifecycleStage::Deleted
        );
    }
    for name in &names {
        assert!(
            !h.state().shown_run_names().contains(name),
            "{name} left the table"
        );
    }
    h.get_by_label_contains("deleted 2 runs");
    h.get_by_label("Undo").click();
    settle(&mut h);
    for id in &ids {
        assert_eq!(
            store.get_run(id).unwrap().info.lifecycle_stage,
            mlscope::LifecycleStage::Active,
            "Undo restored {id} in the store"
        );
    }
    let mut again = h.state().shown_run_names();
    let mut before = shown.clone();
    again.sort();
    before.sort();
    assert_eq!(again, before, "the table shows the restored runs again");
    assert!(
        h.query_by_label("Undo").is_none(),
        "the toast that was undone is gone"
    );
    h.get_by_label_contains("restored 2 runs");
}

#[test]
fn the_experiment_tooltip_says_1_run_not_1_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (root, _, _) = one_run_store(dir.path(), "only");
    let mut h = open_path(&root, true);
    h.get_by_label("exp").hover();
    // Past the tooltip delay.
    for _ in 0..60 {
        h.step();
    }
    h.get_by_label_contains("Click: show only this one");
    h.get_by_label_contains("· 1 run\n");
    assert!(h.query_by_label_contains("1 runs").is_none());
}

// ----- item 11: compare cells and keys use the space, wrap, show all on hover; the Run tab's ----
// ----- key/value split is dragged and remembered --------------------------------------------------

/// A file store with one experiment and two runs whose params have a long key and long values;
/// returns (mlruns path, experiment id, run ids).
fn two_runs_with_long_params(
    dir: &Path,
    key: &str,
    values: [&str; 2],
) -> (PathBuf, String, Vec<String>) {
    let root = dir.join("mlruns");
    let store = mlscope::FileStore::open(&root).unwrap();
    let exp = store.create_experiment("exp", None, &[]).unwrap();
    let mut ids = Vec::new();
    for (i, value) in values.iter().enumerate() {
        let run = store
            .create_run(mlscope::CreateRun {
                experiment_id: exp.clone(),
                run_name: Some(format!("run-{i}")),
                ..Default::default()
            })
            .unwrap();
        store
            .log_batch(
                &run.info.run_id,
                &[],
                &[
                    mlscope::Param::new(key, *value),
                    mlscope::Param::new("lr", format!("0.0{i}")),
                ],
                &[],
            )
            .unwrap();
        ids.push(run.info.run_id);
    }
    (root, exp, ids)
}

/// The rect of the lowest node labelled `label` (the bottom pane's, below the runs table, which
/// shows params too).
fn lowest(h: &Harness<'static, App>, label: &str) -> egui::Rect {
    h.query_all_by_label(label)
        .map(|n| n.rect())
        .max_by(|a, b| a.top().total_cmp(&b.top()))
        .unwrap_or_else(|| panic!("no node labelled {label:?}"))
}

#[test]
fn compare_cells_and_keys_use_the_space_wrap_and_show_everything_on_hover() {
    let key = "data.preprocessing.tokenizer.vocabulary_file_path_on_the_cluster";
    let wrapped = "/data/experiments/2026/sweep-17/tokenizers/byte-level-bpe/vocabulary-\
                   with-32768-merges-trained-on-the-full-corpus-of-december.json";
    let elided = "x".repeat(3000);
    let dir = tempfile::tempdir().unwrap();
    let (root, exp, ids) = two_runs_with_long_params(dir.path(), key, [wrapped, &elided]);
    let mut h = open_path(&root, true);
    apply(&mut h, Command::SelectExperiments([exp].into()));
    apply(&mut h, Command::SelectRuns(ids));
    apply(&mut h, Command::SetTab(Tab::Compare));
    let key_label = format!("params.{key}");
    let key_rect = lowest(&h, &key_label);
    assert!(
        key_rect.width() > 300.0,
        "the key column fits the long key ({} px)",
        key_rect.width()
    );
    let cell = lowest(&h, wrapped);
    assert!(
        cell.width() > 300.0,
        "the run columns share the pane ({} px wide)",
        cell.width()
    );
    assert!(
        cell.height() > 1.5 * 18.0,
        "the long value wraps onto more lines ({} px high)",
        cell.height()
    );
    assert!(cell.right() <= 1400.0);
    // The elided value and the key show in full on hover.
    let full_before = h.query_all_by_label(&elided).count();
    let cut = h
        .query_all_by_label_contains("xxxxxxxx")
        .map(|n| n.rect())
        .max_by(|a, b| a.top().total_cmp(&b.top()))
        .expect("the elided cell");
    h.hover_at(cut.center());
    for _ in 0..60 {
        h.step();
    }
    assert!(
        h.query_all_by_label(&elided).count() > full_before,
        "hovering the elided cell shows the whole value"
    );
    let keys_before = h.query_all_by_label(&key_label).count();
    h.hover_at(lowest(&h, &key_label).center());
    for _ in 0..60 {
        h.step();
    }
    assert!(
        h.query_all_by_label(&key_label).count() > keys_before,
        "hovering the key shows it whole"
    );
}

/// Presses, moves and releases the primary button from `from` to `to` over a few frames.
fn drag(h: &mut Harness<'static, App>, from: egui::Pos2, to: egui::Pos2) {
    let button = |pos, pressed| egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: egui::Modifiers::NONE,
    };
    h.event(egui::Event::PointerMoved(from));
    h.step();
    h.event(button(from, true));
    h.step();
    for i in 1..=5 {
        h.event(egui::Event::PointerMoved(
            from + (to - from) * (i as f32 / 5.0),
        ));
        h.step();
    }
    h.event(button(to, false));
    h.step();
    settle(h);
}

#[test]
fn the_run_tab_key_value_split_is_dragged_and_remembered() {
    let key = "a_param_key_long_enough_to_need_the_room";
    let dir = tempfile::tempdir().unwrap();
    let (root, exp, ids) = two_runs_with_long_params(dir.path(), key, ["v", "w"]);
    let mut h = open_path(&root, true);
    apply(&mut h, Command::SelectExperiments([exp.clone()].into()));
    apply(
        &mut h,
        Command::SelectRun {
            run_id: ids[0].clone(),
            mode: mlscope::viewer::testing::SelectMode::Replace,
        },
    );
    apply(&mut h, Command::SetTab(Tab::Run));
    let value_before = lowest(&h, "v");
    let handle = h
        .get_by_label("Params: drag to resize keys and values")
        .rect();
    drag(
        &mut h,
        handle.center(),
        handle.center() + egui::vec2(-60.0, 0.0),
    );
    let value_after = lowest(&h, "v");
    assert!(
        value_after.left() < value_before.left() - 40.0,
        "dragging the split left moves the values left ({} → {})",
        value_before.left(),
        value_after.left()
    );
    let share = h.state_mut().persisted_mut().run_key_share;
    assert!(share < 0.39, "the new split is kept ({share})");
    // A restart with what was persisted keeps the split.
    let persisted = h.state_mut().persisted_mut().clone();
    drop(h);
    let app = App::new(
        ViewerOptions {
            store: Some(root.display().to_string()),
            read_only: true,
        },
        persisted,
    );
    let mut h = harness(app);
    settle(&mut h);
    apply(&mut h, Command::SelectExperiments([exp].into()));
    apply(
        &mut h,
        Command::SelectRun {
            run_id: ids[0].clone(),
            mode: mlscope::viewer::testing::SelectMode::Replace,
        },
    );
    apply(&mut h, Command::SetTab(Tab::Run));
    let value_restarted = lowest(&h, "v");
    assert!(
        (value_restarted.left() - value_after.left()).abs() < 2.0,
        "the split survives a restart ({} vs {})",
        value_restarted.left(),
        value_after.left()
    );
}

// ----- item 8: the colour picker and colours kept across restarts -------------------------------

/// eframe's storage kept in memory: what the viewer saves when it closes, read at the next start.
#[derive(Default)]
struct MemoryStorage(BTreeMap<String, String>);

impl eframe::Storage for MemoryStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

/// Whether the last frame painted a line (a path or segment stroke) in `color`.
fn painted_a_line_in(h: &Harness<'static, App>, color: egui::Color32) -> bool {
    fn has(shape: &egui::Shape, color: egui::Color32) -> bool {
        match shape {
            egui::Shape::Vec(shapes) => shapes.iter().any(|s| has(s, color)),
            egui::Shape::Path(p) => p.stroke.color == egui::epaint::ColorMode::Solid(color),
            egui::Shape::LineSegment { stroke, .. } => stroke.color == color,
            _ => false,
        }
    }
    h.output().shapes.iter().any(|c| has(&c.shape, color))
}

fn rgb(c: [u8; 3]) -> egui::Color32 {
    egui::Color32::from_rgb(c[0], c[1], c[2])
}

#[test]
fn choosing_a_colour_redraws_the_runs_lines_in_it_and_colours_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    copy_dir(&demo_mlruns(), &root);
    let mut h = open_path(&root, true);
    apply(&mut h, Command::SetTab(Tab::Charts));
    let run_id = h
        .state()
        .selection()
        .iter()
        .next()
        .expect("the first view selects runs")
        .clone();
    let given = h.state_mut().persisted_mut().run_colors.clone();
    let before = *given
        .get(&run_id)
        .expect("the shown runs were given colours");
    // A palette colour no selected run has yet.
    let used: Vec<[u8; 3]> = h
        .state()
        .selection()
        .iter()
        .filter_map(|id| given.get(id).copied())
        .collect();
    let chosen = [[0xa8, 0x32, 0x5e], [0x17, 0x8f, 0x6a], [0xc0, 0x4a, 0x1c]]
        .into_iter()
        .find(|c| !used.contains(c))
        .expect("a colour not in use");
    assert!(
        painted_a_line_in(&h, rgb(before)),
        "the run's lines are drawn"
    );
    assert!(!painted_a_line_in(&h, rgb(chosen)));

    h.get_by_label(&format!("Colour of run {run_id}")).click();
    settle(&mut h);
    let hex = format!("#{:02x}{:02x}{:02x}", chosen[0], chosen[1], chosen[2]);
    h.get_by_label(&hex).click();
    settle(&mut h);
    h.key_press(egui::Key::Escape);
    settle(&mut h);
    assert_eq!(
        h.state_mut().persisted_mut().run_colors.get(&run_id),
        Some(&chosen)
    );
    assert!(
        painted_a_line_in(&h, rgb(chosen)),
        "the run's lines are drawn in the chosen colour"
    );

    // Closing saves the colours; the next start reads them back and draws with them.
    let colors = h.state_mut().persisted_mut().run_colors.clone();
    let mut storage = MemoryStorage::default();
    eframe::App::save(h.state_mut(), &mut storage);
    drop(h);
    let app = App::new(
        ViewerOptions {
            store: Some(root.display().to_string()),
            read_only: true,
        },
        App::load_persisted(Some(&storage)),
    );
    let mut h = harness(app);
    settle(&mut h);
    apply(&mut h, Command::SetTab(Tab::Charts));
    assert_eq!(
        h.state_mut().persisted_mut().run_colors,
        colors,
        "every run keeps its colour after a restart"
    );
    assert!(
        painted_a_line_in(&h, rgb(chosen)),
        "the chosen colour is drawn after a restart"
    );
}

// ----- item 11: the Charts tab's options and cards stay in a 1400 px window ---------------------

#[test]
fn chart_options_and_cards_stay_in_the_window() {
    // The MLflow-made store's first view selects runs with metrics, so the Charts tab shows its
    // options row and cards.
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mlflow-3.17.2-file"),
        &project,
    );
    let mut h = open_path(&project.join("mlruns"), true);
    apply(&mut h, Command::SetTab(Tab::Charts));
    let window = 1400.0;
    let group_by = h.get_by_label_contains("group by").rect();
    assert!(
        group_by.right() <= window,
        "the last chart option wraps into the window (ends at {} px)",
        group_by.right()
    );
    let exports: Vec<egui::Rect> = h.get_all_by_label("CSV").map(|n| n.rect()).collect();
    assert!(!exports.is_empty(), "chart cards are shown");
    for r in exports {
        assert!(
            r.right() <= window,
            "every chart card is inside the window (a card's CSV button ends at {} px)",
            r.right()
        );
    }
}

#[test]
fn chart_cards_of_the_demo_stay_in_the_window() {
    // The demo's first view charts ten runs with long names: the legend fills more than a row.
    let mut h = open_path(&demo_mlruns(), true);
    apply(&mut h, Command::SetTab(Tab::Charts));
    let window = 1400.0;
    let group_by = h.get_by_label_contains("group by").rect();
    assert!(
        group_by.right() <= window,
        "the last chart option wraps into the window (ends at {} px)",
        group_by.right()
    );
    let exports: Vec<egui::Rect> = h.get_all_by_label("CSV").map(|n| n.rect()).collect();
    assert!(!exports.is_empty(), "chart cards are shown");
    for r in exports {
        assert!(
            r.right() <= window,
            "every chart card is inside the window (a card's CSV button ends at {} px)",
            r.right()
        );
    }
}

#[test]
fn every_chart_card_offers_png_and_csv_export_bars_too() {
    // The MLflow-made store's first view: three metrics logged once per run (bar cards) and
    // one with history (a line card).
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mlflow-3.17.2-file"),
        &project,
    );
    let mut h = open_path(&project.join("mlruns"), true);
    apply(&mut h, Command::SetTab(Tab::Charts));
    let cards = h.get_all_by_label("…").count();
    assert_eq!(cards, 4, "four chart cards, each with its menu");
    assert_eq!(h.get_all_by_label("PNG").count(), cards);
    assert_eq!(h.get_all_by_label("CSV").count(), cards);
}

#[test]
fn a_long_experiment_name_is_cut_before_its_run_count() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mlflow-3.17.2-file"),
        &project,
    );
    let h = open_path(&project.join("mlruns"), true);
    let name = h.get_by_label("Regression exp ✓ (unicode, spaces)").rect();
    let count = h
        .get_all_by_label("4")
        .map(|n| n.rect())
        .find(|r| r.center().y > name.top() && r.center().y < name.bottom())
        .expect("the experiment's run count is on its row");
    assert!(
        name.right() <= count.left(),
        "the name ends at {} px, under its run count that starts at {} px",
        name.right(),
        count.left()
    );
}
