//! The viewer remembers the stores it opened (newest first, kept through eframe's storage) and
//! offers them on the start screen and in File → Open recent; opening one from either list
//! opens it and moves it to the front.
#![cfg(feature = "viewer")]

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use mlscope::viewer::{App, Persisted, ViewerOptions};

#[path = "support_viewer/mod.rs"]
mod support_viewer;

fn settle(h: &mut Harness<'static, App>) {
    support_viewer::settle_within(h, Duration::from_secs(20));
}

/// A file store holding one experiment named `experiment`; its path as the viewer is given it.
fn store_with(dir: &Path, experiment: &str) -> String {
    let uri = dir.to_string_lossy().into_owned();
    let client = mlscope::TrackingClient::new(&uri).unwrap();
    client.create_experiment(experiment, None, &[]).unwrap();
    uri
}

/// eframe's key-value storage, in memory.
#[derive(Default)]
struct MemoryStorage(HashMap<String, String>);

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

#[test]
fn recent_stores_are_offered_reopened_and_remembered() {
    let tmp = tempfile::tempdir().unwrap();
    let a = store_with(&tmp.path().join("a-store"), "alpha-exp");
    let b = store_with(&tmp.path().join("b-store"), "beta-exp");
    let persisted = Persisted {
        recent_stores: vec![a.clone(), b.clone()],
        ..Persisted::default()
    };
    let app = App::new(
        ViewerOptions {
            store: None,
            read_only: false,
        },
        persisted,
    );
    let mut h = support_viewer::harness(app);
    settle(&mut h);

    // The start screen lists both; the second one opens from there and moves to the front.
    h.get_by_label("Recent");
    h.get_by_label(&a);
    h.get_by_label(&b).click();
    settle(&mut h);
    h.get_by_label("beta-exp");
    assert!(h.query_by_label("alpha-exp").is_none());
    assert_eq!(
        h.state_mut().persisted_mut().recent_stores,
        [b.clone(), a.clone()]
    );

    // File → Open recent lists them too; the other one opens from the menu.
    h.get_by_label("File").click();
    h.run_steps(2);
    h.get_by_label("Open recent").hover();
    h.run_steps(2);
    h.get_by_label(&a).click();
    settle(&mut h);
    h.get_by_label("alpha-exp");
    assert!(h.query_by_label("beta-exp").is_none());
    assert_eq!(
        h.state_mut().persisted_mut().recent_stores,
        [a.clone(), b.clone()]
    );

    // Kept between sessions: saved through eframe's storage and offered by the next window.
    let mut storage = MemoryStorage::default();
    eframe::App::save(h.state_mut(), &mut storage);
    let restored = App::load_persisted(Some(&storage));
    assert_eq!(restored.recent_stores, [a.clone(), b.clone()]);
    let mut next = support_viewer::harness(App::new(
        ViewerOptions {
            store: None,
            read_only: false,
        },
        restored,
    ));
    settle(&mut next);
    next.get_by_label("Recent");
    next.get_by_label(&a);
    next.get_by_label(&b);
}
