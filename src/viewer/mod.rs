//! The desktop viewer (feature `viewer`): an egui/eframe app that opens an `mlruns` folder or an
//! MLflow SQLite database without a server.
//!
//! ## Design
//!
//! Data flows one way: store → worker → answers → [`context::ViewData`] → panels →
//! commands → worker.
//!
//! * `worker`: a named thread owns the store (seen only as a `dyn TrackingStore`); the UI
//!   thread never touches the disk. Requests go over a bounded channel; each reply is a
//!   variant of one enum carrying that request's own result, with the generation it was sent
//!   with.
//! * `cache`: what views read: `Loading | Ready(Arc<T>) | Failed(String)`. Metric histories no
//!   view read in the current frame are dropped, least recently read first, above a memory
//!   budget.
//! * `app`: the [`App`] and its frame; split into applying answers, live refresh, applying
//!   commands, and the chrome (menus, status bar, windows, keys).
//! * `context`: [`context::ViewData`] (what the app holds for the views) and `ViewCtx`, a
//!   frame's read-only borrow of it plus a command sink: the only way a panel changes anything.
//! * `commands`: what views ask for, applied after the frame.
//! * Panels, one per module, each a struct owning its state with
//!   `show(&mut self, ui, ctx: &ViewCtx)`: `experiments_panel`, `filter_bar`, `runs_table`
//!   (virtualised), `charts` (per-pixel min/max reduction over a `lod` pyramid), `compare`,
//!   `run_details`, `artifacts_panel`.
//! * `runs_model`: derived data of the runs (tree, columns, rows), memoised.
//! * `theme`: every colour; stable run colours. `fonts`: egui's fonts plus a bundled fallback
//!   with wide coverage (what users log must render).
//! * `artifact_preview`: artifact listings and previews through the run's artifact repository
//!   (local, relocated, or a tracking server's), read by the worker.
//! * Live refresh: the app follows the open store with a [`crate::watch::ChangeFeed`] (its own
//!   thread; file events debounced, or polling) and turns each change into the narrowest worker
//!   request: a metric history is extended from the cursor it holds
//!   ([`crate::TrackingStore::metric_history_since`]), a run is read again, or the lists are
//!   reloaded. F5 reloads all.
//!
//! Everything but [`run`], [`run_with`], [`remembered_run_colors`], [`App`], [`ViewerOptions`]
//! and [`Persisted`] is
//! private to the crate; tests and benches reach internals through [`testing`].

mod app;
pub(crate) mod artifact_preview;
pub(crate) mod artifacts_panel;
pub(crate) mod cache;
pub(crate) mod charts;
pub(crate) mod commands;
pub(crate) mod compare;
pub(crate) mod context;
pub(crate) mod experiments_panel;
pub(crate) mod filter_bar;
mod fonts;
pub(crate) mod image_grid;
pub(crate) use crate::chart::lod;
#[cfg(test)]
mod panel_tests;
pub(crate) mod run_details;
pub(crate) mod runs_model;
pub(crate) mod runs_table;
mod settings;
pub(crate) mod sweep;
pub(crate) mod table_view;
pub(crate) mod text_view;
pub(crate) mod theme;
pub(crate) mod worker;

pub use app::App;
pub use settings::{Persisted, ViewerOptions};

/// Internals that tests and benches drive (not a stable API).
#[doc(hidden)]
pub mod testing {
    pub use super::app::{Confirm, Message};
    pub use super::artifact_preview::{Extent, Preview, ReadLimit, read_preview, read_split_table};
    pub use super::cache::{Cache, Entry};
    pub use super::charts::layout::{CardKind, CardSpec, ChartLayout, Summary, layout_key};
    pub use super::charts::{
        Band, ChartOptions, Charts, ChartsView, GroupBand, GroupKey, GroupLine, Prepared, RunGroup,
        Segment, TIME_BINS, XAxis, aggregate, aggregate_time, group_runs, prepare, time_bins,
    };
    pub use super::commands::{Command, SelectMode, Tab};
    pub use super::context::{FilterState, Histories, RowsMemo, RunsState, ViewCtx, ViewData};
    pub use super::filter_bar::{FilterBar, FilterError};
    pub use super::image_grid::ImageGrid;
    pub use super::lod::{Pyramid, reduce_brute};
    pub use super::runs_model::{
        ColumnId, ColumnPrefs, MetricAgg, Row, RunSet, SortKey, SortValue, build_rows,
    };
    pub use super::runs_table::RunsTable;
    pub use super::sweep::dims::{Dim, DimColumn};
    pub use super::table_view::{TableData, TableView};
    pub use super::text_view::{TextDoc, TextView, TextViewState};
    pub use super::theme::{PALETTE, assign_colors};
    pub use super::worker::router::{
        SECOND_STORE_SUFFIX, SecondState, SecondStore, Slot, qualify, slot_of,
    };
    pub use super::worker::{ArtifactRoot, Series, TagChange, WriteOp};
}

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
    run_comparing(options, None)
}

/// Opens the viewer window with options and, when `second` names one (a path or tracking
/// URI), a second store next to the first to compare their runs; returns when it is closed.
pub fn run_comparing(options: ViewerOptions, second: Option<String>) -> eframe::Result<()> {
    let mut viewport = egui::ViewportBuilder::default()
        .with_title(window_title(options.store.as_deref()))
        .with_inner_size([1400.0, 900.0])
        .with_min_inner_size([640.0, 400.0])
        .with_drag_and_drop(true)
        .with_app_id("mlscope");
    if let Some(icon) = window_icon() {
        viewport = viewport.with_icon(std::sync::Arc::new(icon));
    }
    let native = eframe::NativeOptions {
        viewport,
        ..Default::default()
    };
    eframe::run_native(
        "mlscope",
        native,
        Box::new(move |cc| {
            let persisted = App::load_persisted(cc.storage);
            let mut app = App::new(options, persisted);
            if let Some(second) = second.filter(|s| !s.trim().is_empty()) {
                app.open_second_store(second);
            }
            Ok(Box::new(app))
        }),
    )
}

/// The application id: the window's (Wayland app id, X11 class) and the name of the folder
/// eframe keeps the viewer's state in.
const APP_ID: &str = "mlscope";

/// The run colours the viewer remembers on this machine (given from the palette, or chosen by
/// the user), read from eframe's storage file through the viewer's own loading without
/// writing anything; empty when the viewer never ran here or its file cannot be read.
pub fn remembered_run_colors() -> std::collections::BTreeMap<String, [u8; 3]> {
    /// eframe's storage as saved: a RON map of keys to RON values (read-only here).
    struct Saved(std::collections::HashMap<String, String>);
    impl eframe::Storage for Saved {
        fn get_string(&self, key: &str) -> Option<String> {
            self.0.get(key).cloned()
        }
        fn set_string(&mut self, _: &str, _: String) {}
        fn remove_string(&mut self, _: &str) {}
        fn flush(&mut self) {}
    }
    let saved = eframe::storage_dir(APP_ID)
        .and_then(|dir| std::fs::read_to_string(dir.join("app.ron")).ok())
        .and_then(|text| ron::from_str(&text).ok())
        .map(Saved);
    match saved {
        Some(saved) if saved.0.contains_key(app::STORAGE_KEY) => {
            App::load_persisted(Some(&saved)).run_colors
        }
        _ => std::collections::BTreeMap::new(),
    }
}

/// The window icon, `assets/icon/mlscope.png` (the launcher's icon too).
const ICON_PNG: &[u8] = include_bytes!("../../assets/icon/mlscope.png");

/// Side of the window icon in pixels. The bundled 256 px icon is scaled down: on X11 the icon
/// is one property of `2 + side²` words, and a 256 px one (65,538 words) is over the 65,535
/// words of a plain X request, so winit's request fails and the window shows no icon at all.
const WINDOW_ICON_SIDE: u32 = 128;

/// The decoded window icon (`None` only if the bundled PNG were broken: then the system's
/// default icon is shown rather than failing to start).
fn window_icon() -> Option<egui::IconData> {
    let icon = image::load_from_memory(ICON_PNG).ok()?.to_rgba8();
    let side = WINDOW_ICON_SIDE;
    let icon = image::imageops::resize(&icon, side, side, image::imageops::FilterType::Triangle);
    Some(egui::IconData {
        width: icon.width(),
        height: icon.height(),
        rgba: icon.into_raw(),
    })
}

fn window_title(store: Option<&str>) -> String {
    match store {
        Some(s) => format!("mlscope — {s}"),
        None => "mlscope".to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_window_icon_decodes() {
        let icon = super::window_icon().map(|i| (i.width, i.height, i.rgba.len()));
        assert_eq!(icon, Some((128, 128, 128 * 128 * 4)));
    }
}
