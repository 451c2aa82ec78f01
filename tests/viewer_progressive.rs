//! The viewer opens a store progressively (issue 18): a file store streams its runs in batches
//! (newest first); every batch ends up in the table, in the store's order (newest first).

#![cfg(feature = "viewer")]

mod support_viewer;

use std::sync::Arc;
use std::time::Duration;

use mlscope::viewer::App;
use mlscope::{CreateRun, FileStore, TrackingStore};

#[test]
fn every_streamed_batch_reaches_the_table_in_the_stores_order() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().join("mlruns");
    let store = FileStore::open(&root).expect("open");
    let exp = store
        .create_experiment("big", None, &[])
        .expect("experiment");
    // More than the first batch of 256, with start times out of creation order.
    let runs = 700;
    for i in 0..runs {
        store
            .create_run(CreateRun {
                experiment_id: exp.clone(),
                user_id: "u".into(),
                start_time: Some(1_700_000_000_000 + ((i * 7919) % runs) as i64 * 1000),
                tags: Vec::new(),
                run_name: Some(format!("r{:04}", (i * 7919) % runs)),
            })
            .expect("run");
    }
    let store: Arc<dyn TrackingStore> = Arc::new(FileStore::open(&root).expect("open"));
    let mut h = support_viewer::harness(App::new_with_store(store, true));
    support_viewer::settle_within(&mut h, Duration::from_secs(60));
    let names = h.state().shown_run_names();
    assert_eq!(names.len(), runs, "every run is shown");
    let expected: Vec<String> = (0..runs).rev().map(|i| format!("r{i:04}")).collect();
    assert_eq!(names, expected, "newest first, as the store orders them");
}
