//! Comparing runs in the runs table and the Images tab (issue 15): an image series across the
//! selected runs at one step (no cap on runs, only visible cells read), pinned rows, columns
//! reordered by dragging, and tags set on every selected run at once. Each test drives the real
//! app (worker thread and all) on a store written in a temp dir, with egui_kittest.
#![cfg(feature = "viewer")]

mod support;
mod support_server;
mod support_viewer;

use std::sync::Arc;
use std::time::Duration;

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use mlscope::TrackingClient;
use mlscope::store::TrackingStore;
use mlscope::viewer::App;
use mlscope::viewer::testing::{Command, Entry, Tab};
use support_viewer::harness;

fn settle(h: &mut Harness<'static, App>) {
    support_viewer::settle_within(h, Duration::from_secs(30));
}

fn apply(h: &mut Harness<'static, App>, command: Command) {
    h.state_mut().send(command);
    settle(h);
}

/// A small image whose colour says which run and step it is.
fn picture(run: usize, step: i64) -> image::RgbImage {
    image::RgbImage::from_fn(6, 4, |x, _| {
        image::Rgb([(run * 6) as u8, (step * 20) as u8, (x * 40) as u8])
    })
}

/// An experiment "images" (artifacts under `artifacts`) with `runs` runs named `run-00`…; each logs the image series
/// "samples" at steps 0, 5 and 10, except `run-00`, which stops at step 5. Returns the run ids
/// in logging order.
fn store_with_images(
    uri: &str,
    artifacts: Option<&std::path::Path>,
    runs: usize,
) -> (Arc<dyn TrackingStore>, Vec<String>) {
    let client = TrackingClient::new(uri).unwrap();
    // Artifacts in the temp dir (a database's default root is relative to the working dir); a
    // server keeps its own.
    let location = artifacts.map(|a| a.display().to_string());
    let exp = client
        .create_experiment("images", location.as_deref(), &[])
        .unwrap();
    let mut ids = Vec::new();
    for r in 0..runs {
        let run = client
            .create_run(
                &exp,
                Some(&format!("run-{r:02}")),
                &[],
                Some(1_700_000_000_000 + r as i64 * 1000),
            )
            .unwrap();
        let id = run.info.run_id;
        let steps: &[i64] = if r == 0 { &[0, 5] } else { &[0, 5, 10] };
        for &s in steps {
            client
                .log_image_step(
                    &id,
                    "samples",
                    picture(r, s),
                    Some(s),
                    Some(1_700_000_000_000 + s),
                )
                .unwrap();
        }
        ids.push(id);
    }
    (Arc::clone(client.store()), ids)
}

/// The app on `store`, its only experiment shown, every run selected, the Images tab open.
fn images_tab(store: Arc<dyn TrackingStore>, ids: &[String]) -> Harness<'static, App> {
    let exp = store.get_run(&ids[0]).unwrap().info.experiment_id;
    let mut h = harness(App::new_with_store(store, true));
    settle(&mut h);
    apply(&mut h, Command::SelectExperiments([exp].into()));
    apply(&mut h, Command::SelectRuns(ids.to_vec()));
    apply(&mut h, Command::SetTab(Tab::Images));
    // Listings arrive, then the images of the visible cells.
    for _ in 0..3 {
        h.run_steps(3);
        settle(&mut h);
    }
    h
}

/// The shared step slider.
fn step_slider<'a>(h: &'a Harness<'static, App>) -> egui_kittest::Node<'a> {
    h.get_by(|n| {
        n.role() == egui::accesskit::Role::Slider
            && n.label()
                .is_some_and(|l| l.contains("One step for every run"))
    })
}

fn artifact_uri(h: &Harness<'static, App>, id: &str) -> String {
    h.state()
        .run_set()
        .unwrap()
        .get(id)
        .unwrap()
        .info
        .artifact_uri
        .clone()
}

fn check_image_grid(uri: &str) {
    let dir = tempfile::tempdir().unwrap();
    let local = uri.contains("{dir}");
    let uri = uri.replace("{dir}", &dir.path().display().to_string());
    let artifacts = dir.path().join("artifacts");
    // More runs than fit on the screen, and more than MLflow's cap of 10.
    let (store, ids) = store_with_images(&uri, local.then_some(artifacts.as_path()), 40);
    let mut h = images_tab(store, &ids);

    // The latest step of every run, side by side (newest run first, as in the table).
    h.get_by_label("run-39 at step 10");
    h.get_by_label("run-30 at step 10");
    h.get_by_label_contains("40 runs side by side");

    // Only the visible cells were listed and read: the last runs (at the bottom of the grid,
    // rows are newest first) were not.
    let listed = |h: &Harness<'static, App>, id: &str| {
        let uri = artifact_uri(h, id);
        h.state().artifact_list(&uri, "images").is_some()
    };
    assert!(
        !listed(&h, &ids[0]),
        "run-00 is off screen, yet its images were listed"
    );
    assert!(listed(&h, &ids[39]));
    let read: usize = ids
        .iter()
        .filter(|id| {
            let uri = artifact_uri(&h, id);
            let Some(Entry::Ready(list)) = h.state().artifact_list(&uri, "images") else {
                return false;
            };
            list.iter()
                .any(|e| h.state().artifact_preview(&uri, &e.path).is_some())
        })
        .count();
    assert!(read > 10 && read < 40, "{read} runs had an image read");
    // Cells show MLflow's thumbnail, not the full image.
    let uri39 = artifact_uri(&h, &ids[39]);
    let Some(Entry::Ready(list)) = h.state().artifact_list(&uri39, "images").cloned() else {
        panic!("run-39's images not listed");
    };
    for e in list.iter() {
        let read = h.state().artifact_preview(&uri39, &e.path).is_some();
        let thumbnail_of_10 = e.path.contains("+step+10+") && e.path.ends_with("compressed.webp");
        assert_eq!(read, thumbnail_of_10, "{}", e.path);
    }

    // One slider moves every run to another step.
    step_slider(&h).focus();
    h.run_steps(2);
    h.key_press(egui::Key::ArrowLeft);
    for _ in 0..3 {
        h.run_steps(3);
        settle(&mut h);
    }
    h.get_by_label("run-39 at step 5");
    h.get_by_label("run-22 at step 5");
    assert!(h.query_by_label("run-39 at step 10").is_none());

    // A click enlarges the full image.
    h.get_by_label("run-39 at step 5").click();
    for _ in 0..3 {
        h.run_steps(3);
        settle(&mut h);
    }
    h.get_by_label_contains("run-39 · samples · step 5");
    h.get_by_label("run-39 enlarged");
    h.get_by_label("6 × 4 px");
    let full = list
        .iter()
        .find(|e| e.path.contains("+step+5+") && e.path.ends_with(".png"))
        .unwrap();
    assert!(matches!(
        h.state().artifact_preview(&uri39, &full.path),
        Some(Entry::Ready(_))
    ));
    h.get_by_label("Close").click();
    h.run_steps(4);
    assert!(h.query_by_label("run-39 enlarged").is_none());

    // A run that never logged the chosen step shows its last image before it, and says so.
    apply(&mut h, Command::SelectRuns(ids[..3].to_vec()));
    step_slider(&h).focus();
    h.run_steps(2);
    h.key_press(egui::Key::ArrowRight);
    for _ in 0..3 {
        h.run_steps(3);
        settle(&mut h);
    }
    h.get_by_label("run-01 at step 10");
    h.get_by_label("run-00 at step 5");
    h.get_by_label_contains("run-00 (step 5)");
    h.get_by_label_contains("3 runs side by side");
}

#[test]
fn image_grid_on_a_file_store() {
    check_image_grid("{dir}/mlruns");
}

#[test]
fn image_grid_on_a_sqlite_store() {
    check_image_grid("sqlite:///{dir}/mlflow.db");
}

// ----- pinned rows ----------------------------------------------------------------------------

/// A file store in `dir` with an experiment "pins" of 5 runs `run-0`…`run-4` (newest last),
/// run `k` logging `loss = k`. Returns the store, the experiment and the run ids.
fn store_with_losses(dir: &std::path::Path) -> (Arc<dyn TrackingStore>, String, Vec<String>) {
    let uri = dir.join("mlruns").display().to_string();
    let client = TrackingClient::new(&uri).unwrap();
    let exp = client.create_experiment("pins", None, &[]).unwrap();
    let ids = (0..5)
        .map(|k| {
            let run = client
                .create_run(
                    &exp,
                    Some(&format!("run-{k}")),
                    &[],
                    Some(1_700_000_000_000 + k * 1000),
                )
                .unwrap();
            client
                .log_metric(
                    &run.info.run_id,
                    "loss",
                    k as f64,
                    Some(1_700_000_000_000),
                    Some(0),
                )
                .unwrap();
            run.info.run_id
        })
        .collect();
    (Arc::clone(client.store()), exp, ids)
}

/// The run's name in the table (the topmost label: charts below name runs too).
fn table_label<'a>(h: &'a Harness<'static, App>, name: &'a str) -> egui_kittest::Node<'a> {
    h.get_all_by_label(name)
        .min_by(|a, b| a.rect().top().total_cmp(&b.rect().top()))
        .unwrap()
}

fn shown(h: &Harness<'static, App>) -> Vec<String> {
    h.state().shown_run_names()
}

#[test]
fn pinned_runs_stay_on_top_whatever_the_sort_and_filter_and_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (store, exp, _ids) = store_with_losses(dir.path());
    let mut h = harness(App::new_with_store(store, true));
    settle(&mut h);
    assert_eq!(shown(&h), ["run-4", "run-3", "run-2", "run-1", "run-0"]);

    // Pinned from the row's menu (right-click), even on a read-only store: nothing is written.
    table_label(&h, "run-1").click_secondary();
    h.run_steps(3);
    h.get_by_label("Pin to the top").click();
    settle(&mut h);
    h.run_steps(2);
    assert_eq!(shown(&h), ["run-1", "run-4", "run-3", "run-2", "run-0"]);

    // Sorting by loss, either way, sorts the others.
    let loss = mlscope::viewer::testing::ColumnId::Metric("loss".into());
    apply(
        &mut h,
        Command::SortBy {
            column: loss.clone(),
            add: false,
        },
    );
    h.run_steps(2);
    assert_eq!(shown(&h), ["run-1", "run-4", "run-3", "run-2", "run-0"]);
    apply(
        &mut h,
        Command::SortBy {
            column: loss,
            add: false,
        },
    );
    h.run_steps(2);
    assert_eq!(shown(&h), ["run-1", "run-0", "run-2", "run-3", "run-4"]);
    apply(&mut h, Command::ClearSort);

    // The name filter and the store's filter leave it in place.
    apply(&mut h, Command::SetNameQuery("run-3".into()));
    h.run_steps(2);
    assert_eq!(shown(&h), ["run-1", "run-3"]);
    apply(&mut h, Command::SetNameQuery(String::new()));
    apply(&mut h, Command::SetFilter("metrics.loss > 2".into()));
    h.run_steps(2);
    assert_eq!(shown(&h), ["run-1", "run-4", "run-3"]);
    apply(&mut h, Command::SetFilter(String::new()));
    h.run_steps(2);

    // Kept per experiment, across a restart.
    let persisted = h.state_mut().persisted_mut().clone();
    assert_eq!(persisted.pinned_runs.get(&exp).map(|s| s.len()), Some(1));
    drop(h);
    let app = App::new(
        mlscope::viewer::ViewerOptions {
            store: Some(dir.path().join("mlruns").display().to_string()),
            read_only: true,
        },
        persisted,
    );
    let mut h = harness(app);
    settle(&mut h);
    h.run_steps(2);
    assert_eq!(shown(&h), ["run-1", "run-4", "run-3", "run-2", "run-0"]);

    // Unpinned with its pin.
    table_label(&h, "run-1").hover();
    h.run_steps(2);
    let pins: Vec<_> = h.get_all_by_label("pinned to the top").collect();
    let pinned: Vec<_> = pins
        .into_iter()
        .filter(|n| n.accesskit_node().toggled() == Some(egui::accesskit::Toggled::True))
        .collect();
    assert_eq!(pinned.len(), 1);
    pinned[0].click();
    settle(&mut h);
    h.run_steps(2);
    assert_eq!(shown(&h), ["run-4", "run-3", "run-2", "run-1", "run-0"]);
}

// ----- columns reordered by dragging ------------------------------------------------------------

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
    for i in 1..=6 {
        h.event(egui::Event::PointerMoved(
            from + (to - from) * (i as f32 / 6.0),
        ));
        h.step();
    }
    h.event(button(to, false));
    h.step();
    h.run_steps(3);
}

/// The left edge of a column header.
fn header_left(h: &Harness<'static, App>, title: &str) -> f32 {
    table_label(h, title).rect().left()
}

#[test]
fn dragging_a_header_moves_its_column_and_the_order_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (store, exp, _ids) = store_with_losses(dir.path());
    let mut h = harness(App::new_with_store(store, true));
    settle(&mut h);
    apply(&mut h, Command::SelectExperiments([exp.clone()].into()));
    h.run_steps(2);
    assert!(header_left(&h, "loss") > header_left(&h, "status"));
    let cell_before = table_label(&h, "4").rect().left();

    // Drag "loss" onto the left half of "status": it goes before it, with its values.
    let from = table_label(&h, "loss").rect().center();
    let status = table_label(&h, "status").rect();
    drag(
        &mut h,
        from,
        egui::pos2(status.left() + 4.0, status.center().y),
    );
    settle(&mut h);
    h.run_steps(2);
    assert!(
        header_left(&h, "loss") < header_left(&h, "status"),
        "loss {} status {}",
        header_left(&h, "loss"),
        header_left(&h, "status")
    );
    let cell_after = table_label(&h, "4").rect().left();
    assert!(
        cell_after < cell_before - 100.0,
        "{cell_before} → {cell_after}"
    );
    // A drag is not a click: the table is not sorted by it.
    assert!(h.query_by_label_contains("sorted by").is_none());

    // Kept across a restart.
    let persisted = h.state_mut().persisted_mut().clone();
    assert_eq!(
        &persisted.columns.order[..3],
        ["attributes.run", "metrics.loss", "attributes.status"]
    );
    drop(h);
    let app = App::new(
        mlscope::viewer::ViewerOptions {
            store: Some(dir.path().join("mlruns").display().to_string()),
            read_only: true,
        },
        persisted,
    );
    let mut h = harness(app);
    settle(&mut h);
    h.run_steps(2);
    assert!(header_left(&h, "loss") < header_left(&h, "status"));
}

// ----- bulk tag ---------------------------------------------------------------------------------

fn tag_of(store: &dyn TrackingStore, id: &str, key: &str) -> Option<String> {
    store.get_run(id).unwrap().data.tags.get(key).cloned()
}

fn check_bulk_tag(uri: &str) {
    let dir = tempfile::tempdir().unwrap();
    let local = uri.contains("{dir}");
    let uri = uri.replace("{dir}", &dir.path().display().to_string());
    let client = TrackingClient::new(&uri).unwrap();
    let location = dir.path().join("artifacts").display().to_string();
    let exp = client
        .create_experiment("tags", local.then_some(location.as_str()), &[])
        .unwrap();
    let ids: Vec<String> = (0..4)
        .map(|k| {
            client
                .create_run(
                    &exp,
                    Some(&format!("run-{k}")),
                    &[],
                    Some(1_700_000_000_000 + k * 1000),
                )
                .unwrap()
                .info
                .run_id
        })
        .collect();
    client.set_tag(&ids[0], "stage", "old").unwrap();
    let store = Arc::clone(client.store());
    let mut h = harness(App::new_with_store(Arc::clone(&store), false));
    settle(&mut h);
    apply(&mut h, Command::SelectExperiments([exp.clone()].into()));
    apply(&mut h, Command::SelectRuns(ids[..3].to_vec()));

    h.get_by_label("Tag selected…").click();
    h.run_steps(3);
    h.get_by_label("Tag key").focus();
    h.run_steps(2);
    h.get_by_label("Tag key").type_text("stage");
    h.run_steps(2);
    h.get_by_label("Tag value (Enter sets it)").focus();
    h.run_steps(2);
    h.get_by_label("Tag value (Enter sets it)")
        .type_text("best");
    h.run_steps(2);
    h.get_by_label("Set on 3 runs").click();
    settle(&mut h);
    h.run_steps(3);
    for id in &ids[..3] {
        assert_eq!(tag_of(store.as_ref(), id, "stage").as_deref(), Some("best"));
    }
    assert_eq!(
        tag_of(store.as_ref(), &ids[3], "stage"),
        None,
        "not selected"
    );
    assert!(
        h.state()
            .messages()
            .iter()
            .any(|m| m.text == "tagged 3 runs stage=best"),
        "{:?}",
        h.state().messages()
    );

    // Undo puts back what each run had: run-0 its old value, the others none.
    h.get_by_label("Undo").click();
    settle(&mut h);
    h.run_steps(3);
    assert_eq!(
        tag_of(store.as_ref(), &ids[0], "stage").as_deref(),
        Some("old")
    );
    assert_eq!(tag_of(store.as_ref(), &ids[1], "stage"), None);
    assert_eq!(tag_of(store.as_ref(), &ids[2], "stage"), None);
    // The table shows the store's state again.
    let set = h.state().run_set().unwrap().clone();
    assert_eq!(set.get(&ids[1]).unwrap().data.tags.get("stage"), None);
    assert_eq!(
        set.get(&ids[0])
            .unwrap()
            .data
            .tags
            .get("stage")
            .map(String::as_str),
        Some("old")
    );
}

#[test]
fn bulk_tag_on_a_file_store_with_undo() {
    check_bulk_tag("{dir}/mlruns");
}

#[test]
fn bulk_tag_on_a_sqlite_store_with_undo() {
    check_bulk_tag("sqlite:///{dir}/mlflow.db");
}

#[test]
fn bulk_tag_is_refused_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _exp, ids) = store_with_losses(dir.path());
    let mut h = harness(App::new_with_store(Arc::clone(&store), true));
    settle(&mut h);
    apply(&mut h, Command::SelectRuns(ids.clone()));
    // The button is off...
    assert!(
        h.get_by_label("Tag selected…")
            .accesskit_node()
            .is_disabled()
    );
    // ...and the write itself is refused.
    let changes = ids
        .iter()
        .map(|id| mlscope::viewer::testing::TagChange {
            run_id: id.clone(),
            new: Some("x".into()),
            old: None,
        })
        .collect();
    apply(
        &mut h,
        Command::Write(mlscope::viewer::testing::WriteOp::TagRuns {
            key: "stage".into(),
            changes,
        }),
    );
    for id in &ids {
        assert_eq!(tag_of(store.as_ref(), id, "stage"), None);
    }
    assert!(
        h.state()
            .messages()
            .iter()
            .any(|m| m.is_error && m.text.contains("read-only"))
    );
}

#[test]
fn image_grid_and_bulk_tag_on_a_tracking_server() {
    let Some(server) = support_server::MlflowServer::start("viewer_table2") else {
        return;
    };
    // Artifacts through the server's proxy (mlflow-artifacts:), tags through its REST API.
    check_image_grid(&server.uri());
    check_bulk_tag(&server.uri());
}

#[test]
fn a_grid_of_many_visible_cells_holds_every_visible_image_after_a_step_change() {
    let dir = tempfile::tempdir().unwrap();
    let uri = dir.path().join("mlruns").display().to_string();
    let (store, ids) = store_with_images(&uri, None, 150);
    let exp = store.get_run(&ids[0]).unwrap().info.experiment_id;
    let mut h = Harness::builder()
        .with_size(egui::vec2(2400.0, 1600.0))
        .with_max_steps(10_000)
        .build_ui_state(
            |ui, app: &mut App| app.ui(ui),
            App::new_with_store(store, true),
        );
    settle(&mut h);
    apply(&mut h, Command::SelectExperiments([exp].into()));
    apply(&mut h, Command::SelectRuns(ids.clone()));
    apply(&mut h, Command::SetTab(Tab::Images));
    // The smallest cells.
    h.get_by(|n| {
        n.role() == egui::accesskit::Role::Slider && n.label().is_some_and(|l| l == "size")
    })
    .set_value_accesskit(96.0);
    for _ in 0..4 {
        h.run_steps(3);
        settle(&mut h);
    }
    // Another step: new images are read while the cache is full of the previous ones.
    step_slider(&h).focus();
    h.run_steps(2);
    h.key_press(egui::Key::ArrowLeft);
    for _ in 0..4 {
        h.run_steps(3);
        settle(&mut h);
    }
    let visible: Vec<String> = h
        .query_all_by_label_contains(" at step 5")
        .filter_map(|n| n.accesskit_node().label())
        .collect();
    assert!(visible.len() > 64, "only {} cells visible", visible.len());
    // Every visible cell's image is held at once (none dropped and read again).
    let set = h.state().run_set().unwrap().clone();
    for label in &visible {
        let name = label.trim_end_matches(" at step 5");
        let run = set.runs.iter().find(|r| r.info.run_name == name).unwrap();
        let uri = &run.info.artifact_uri;
        let Some(Entry::Ready(list)) = h.state().artifact_list(uri, "images") else {
            panic!("{name} not listed");
        };
        let thumb = list
            .iter()
            .find(|e| e.path.contains("+step+5+") && e.path.ends_with("compressed.webp"))
            .unwrap();
        assert!(
            matches!(
                h.state().artifact_preview(uri, &thumb.path),
                Some(Entry::Ready(_))
            ),
            "{name}'s image is not held"
        );
    }
}
