//! What views ask the app to do. Views send commands through their
//! [`ViewCtx`](super::context::ViewCtx) while drawing; the app applies them after the frame, so
//! that no view changes state another view is still reading. A view never changes shared state
//! any other way: it only reads it.

use std::collections::BTreeSet;

use crate::model::ViewType;

use super::artifact_preview::ReadLimit;
use super::charts::ChartOptions;
use super::runs_model::{ColumnId, MetricAgg};
use super::worker::{ArtifactRoot, WriteOp};

/// How a click changes the run selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectMode {
    /// Select only this run.
    Replace,
    /// Add or remove this run (Ctrl+click, Space).
    Toggle,
    /// Select from the anchor to this run (Shift+click, Shift+arrows).
    Extend,
}

/// A tab of the bottom pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Tab {
    /// One chart per metric key of the selected runs.
    Charts,
    /// Params and metrics of the selected runs side by side.
    Compare,
    /// Everything about the focused run.
    Run,
    /// The focused run's artifacts.
    Artifacts,
    /// One image series across the selected runs, at one step.
    Images,
}

impl Tab {
    /// All tabs, in display order (Ctrl+1..5).
    pub const ALL: [Tab; 5] = [
        Tab::Charts,
        Tab::Compare,
        Tab::Run,
        Tab::Artifacts,
        Tab::Images,
    ];

    /// The tab's title.
    pub fn title(self) -> &'static str {
        match self {
            Tab::Charts => "Charts",
            Tab::Compare => "Compare",
            Tab::Run => "Run",
            Tab::Artifacts => "Artifacts",
            Tab::Images => "Images",
        }
    }
}

/// A command from a view.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Open the store at a path or tracking URI.
    OpenStore(String),
    /// Show the native "open folder" dialog (an mlruns folder).
    OpenFolderDialog,
    /// Show the native "open file" dialog (an mlflow.db).
    OpenDatabaseDialog,
    /// Open a second store (path or tracking URI) next to the first, to compare their runs.
    OpenSecondStore(String),
    /// Show the window that asks which second store to open.
    ShowOpenSecondStore,
    /// Close the second store (its experiments and runs leave the views).
    CloseSecondStore,
    /// Read experiments and runs again (F5).
    Reload,
    /// Show the runs of these experiments.
    SelectExperiments(BTreeSet<String>),
    /// Show deleted experiments in the experiments list, or not.
    ShowDeletedExperiments(bool),
    /// Search runs with this MLflow filter string.
    SetFilter(String),
    /// Show active, deleted or all runs.
    SetRunView(ViewType),
    /// Change the run selection by a click or a key.
    SelectRun {
        /// The run.
        run_id: String,
        /// How.
        mode: SelectMode,
    },
    /// Select exactly these runs (Ctrl+A selects every shown run).
    SelectRuns(Vec<String>),
    /// Move the focus up or down the shown rows (arrow keys), optionally extending the selection.
    MoveFocus {
        /// Rows to move (negative: up).
        delta: i64,
        /// Whether to extend the selection (Shift).
        extend: bool,
    },
    /// Show runs whose name contains this text (their parents stay, greyed).
    SetNameQuery(String),
    /// A click on a column header: sort by it, flip it, or drop it (`runs_table::apply_sort_click`
    /// says how).
    SortBy {
        /// The column.
        column: ColumnId,
        /// Whether it becomes a further sort key (Shift) instead of the only one.
        add: bool,
    },
    /// Back to the store's order.
    ClearSort,
    /// How a metric column summarises its series.
    SetMetricAgg {
        /// Metric key.
        key: String,
        /// Last, min or max.
        agg: MetricAgg,
    },
    /// Show or hide a column (by [`ColumnId::id_string`]), overriding the default.
    ShowColumn {
        /// The column's id string.
        id: String,
        /// Shown or hidden.
        shown: bool,
    },
    /// Forget the column choices.
    ResetColumns,
    /// Change the chart options (x axis, smoothing, log y).
    SetChartOptions(ChartOptions),
    /// Expand or collapse a parent run's children.
    ToggleExpanded(String),
    /// Switch the bottom pane's tab.
    SetTab(Tab),
    /// Write a change to the store (refused when read-only).
    Write(WriteOp),
    /// Ask for confirmation, then delete the selected runs (Delete key).
    AskDeleteSelected,
    /// Load the histories of these metric keys for these runs (metric min/max columns).
    LoadHistories {
        /// Runs.
        run_ids: Vec<String>,
        /// Keys.
        keys: Vec<String>,
    },
    /// List a folder of a run's artifacts.
    ListArtifacts {
        /// The run whose artifacts these are.
        root: ArtifactRoot,
        /// Folder relative to the root.
        path: String,
    },
    /// Preview an artifact.
    PreviewArtifact {
        /// The run whose artifact this is.
        root: ArtifactRoot,
        /// File relative to the root.
        path: String,
    },
    /// Read more of a previewed artifact (the next chunk, or all of it); the preview shown
    /// stays until the worker answers.
    ReadMoreOfArtifact {
        /// The run whose artifact this is.
        root: ArtifactRoot,
        /// File relative to the root.
        path: String,
        /// How much to read.
        limit: ReadLimit,
    },
    /// Open an artifact in the system's viewer (the worker finds it on disk, or downloads it
    /// from a tracking server first).
    OpenArtifact {
        /// The run whose artifact this is.
        root: ArtifactRoot,
        /// File relative to the root.
        path: String,
    },
    /// Ask where to save `bytes` (native dialog), then save them.
    SaveAs {
        /// Suggested file name.
        file_name: String,
        /// Contents.
        bytes: Vec<u8>,
    },
    /// Take a screenshot of the window and save the part inside `rect` as a PNG.
    ExportPng {
        /// Suggested file name.
        file_name: String,
        /// The part of the window, in points.
        rect: egui::Rect,
    },
    /// Copy text to the clipboard.
    Copy(String),
    /// Switch between the dark and light theme.
    SetDark(bool),
    /// Switch the read-only mode.
    SetReadOnly(bool),
    /// Show a message in the window.
    Notify(String),
    /// Keep these palette colours for these runs (top rows and selected runs without one).
    AssignRunColors(Vec<(String, [u8; 3])>),
    /// The user's colour for a run.
    SetRunColor {
        /// The run.
        run_id: String,
        /// Red, green, blue.
        rgb: [u8; 3],
    },
    /// The run under the pointer in the runs table (its lines are drawn over the others).
    HoverRun(Option<String>),
    /// The share of the Run tab's key/value tables that keys take (0.1 to 0.9).
    SetRunKeyShare(f32),
    /// Hide a run from the charts, or show it again, keeping it selected (the table's eye).
    ToggleHiddenFromCharts(String),
    /// Pin a run to the top of the runs table, or unpin it (kept per experiment).
    TogglePinned(String),
    /// The runs table's columns in this order (id strings; a header was dragged).
    SetColumnOrder(Vec<String>),
}
