//! Comparing runs in the runs table and the Images tab (issue 15): an image series across the
//! selected runs at one step (no cap on runs, only visible cells read), pinned rows, columns
//! reordered by dragging, and tags set on every selected run at once. Each test drives the real
//! app (worker thread and all) on a store written in a temp dir, with egui_kittest.
#![cfg(feature = "viewer")]

mod support_viewer;

use std::sync::Arc;
use std::time::Duration;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
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
    artifacts: &std::path::Path,
    runs: usize,
) -> (Arc<dyn TrackingStore>, Vec<String>) {
    let client = TrackingClient::new(uri).unwrap();
    // Artifacts in the temp dir (a database's default root is relative to the working dir).
    let location = artifacts.display().to_string();
    let exp = client
        .create_experiment("images", Some(&location), &[])
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
    let mut h = harness(App::new_with_store(store, true));
    settle(&mut h);
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
    let uri = uri.replace("{dir}", &dir.path().display().to_string());
    // More runs than fit on the screen, and more than MLflow's cap of 10.
    let (store, ids) = store_with_images(&uri, &dir.path().join("artifacts"), 40);
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
