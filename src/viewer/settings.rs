//! What a viewer session is started with ([`ViewerOptions`]) and what it keeps between sessions
//! ([`Persisted`], through eframe's storage).

use std::collections::BTreeMap;

use super::charts::ChartOptions;
use super::commands::Tab;
use super::runs_model::ColumnPrefs;

/// UI state kept between sessions (through eframe's storage).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Persisted {
    /// Recently opened stores, newest first.
    pub recent_stores: Vec<String>,
    /// Dark theme?
    pub dark: bool,
    /// Column choices.
    pub columns: ColumnPrefs,
    /// Chart options.
    pub charts: ChartOptions,
    /// The bottom pane's tab.
    pub tab: Tab,
    /// Experiments last shown, per store.
    pub last_experiments: BTreeMap<String, Vec<String>>,
    /// Follow changes of the store as it is written (file events, or polling).
    pub live_refresh: bool,
    /// Colours given to runs (palette in table order, or the user's choice), by run id.
    pub run_colors: BTreeMap<String, [u8; 3]>,
    /// The share of a Run-tab key/value table's width its keys take (dragged by the user).
    pub run_key_share: f32,
    /// Runs pinned to the top of the runs table, per experiment.
    pub pinned_runs: super::runs_model::PinnedRuns,
}

impl Default for Persisted {
    fn default() -> Self {
        Persisted {
            recent_stores: Vec::new(),
            dark: true,
            columns: ColumnPrefs::default(),
            charts: ChartOptions::default(),
            tab: Tab::Charts,
            last_experiments: BTreeMap::new(),
            live_refresh: true,
            run_colors: BTreeMap::new(),
            run_key_share: 0.4,
            pinned_runs: BTreeMap::new(),
        }
    }
}

/// Options of a viewer session.
#[derive(Debug, Clone, Default)]
pub struct ViewerOptions {
    /// Store to open at start (path or tracking URI).
    pub store: Option<String>,
    /// Disable every edit control.
    pub read_only: bool,
}
