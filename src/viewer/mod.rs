//! The desktop viewer (feature `viewer`): an egui/eframe app that opens an `mlruns` folder or an
//! MLflow SQLite database without a server.
//!
//! ## Design
//!
//! * [`worker`]: a named thread owns the store; the UI thread never touches the disk. Requests go
//!   over a bounded channel; answers come back tagged with their key and generation.
//! * [`cache`]: what views read: `Loading | Ready(Arc<T>) | Failed(String)`. Metric histories no
//!   view read in the current frame are dropped, least recently read first, above a memory budget.
//! * [`app`]: state, the frame (answers drained under a time budget), commands applied after the
//!   frame.
//! * [`commands`]: what views ask for.
//! * Views, one per module: [`experiments_panel`], [`filter_bar`], [`runs_table`] (virtualised),
//!   [`charts`] (per-pixel min/max reduction over a [`lod`] pyramid), [`compare`],
//!   [`run_details`], [`artifacts_panel`].
//! * [`runs_model`]: derived data of the runs (tree, columns, rows), memoised.
//! * [`theme`]: every colour; stable run colours.
//! * [`artifact_preview`]: artifact listings and previews through the run's artifact
//!   repository (local, relocated, or a tracking server's), read by the worker.
//! * Live refresh: the app follows the open store with a [`crate::watch::ChangeFeed`] (its own
//!   thread; file events debounced, or polling) and turns each change into the narrowest worker
//!   request: a metric history is extended from the byte offset it holds
//!   ([`worker::Request::Tail`]), a run is read again, or the lists are reloaded. F5 reloads all.

pub mod app;
pub mod artifact_preview;
pub mod artifacts_panel;
pub mod cache;
pub mod charts;
pub mod commands;
pub mod compare;
pub mod experiments_panel;
pub mod filter_bar;
pub mod lod;
pub mod run_details;
pub mod runs_model;
pub mod runs_table;
pub mod table_view;
pub mod text_view;
pub mod theme;
pub mod worker;

pub use app::{App, Persisted, ViewerOptions};

/// Opens the viewer window on `store` (a path or tracking URI; `MLFLOW_TRACKING_URI` when
/// `None`) and returns when it is closed.
pub fn run(store: Option<String>) -> eframe::Result<()> {
    run_with(ViewerOptions {
        store,
        read_only: false,
    })
}

/// Opens the viewer window with options and returns when it is closed.
pub fn run_with(options: ViewerOptions) -> eframe::Result<()> {
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(window_title(options.store.as_deref()))
            .with_inner_size([1400.0, 900.0])
            .with_min_inner_size([640.0, 400.0])
            .with_drag_and_drop(true)
            .with_app_id("mlscope"),
        ..Default::default()
    };
    eframe::run_native(
        "mlscope",
        native,
        Box::new(move |cc| {
            let persisted = App::load_persisted(cc.storage);
            Ok(Box::new(App::new(options, persisted)))
        }),
    )
}

fn window_title(store: Option<&str>) -> String {
    match store {
        Some(s) => format!("mlscope — {s}"),
        None => "mlscope".to_string(),
    }
}
