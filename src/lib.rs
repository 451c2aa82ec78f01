//! # mlscope
//!
//! MLflow's tracking API for Rust, reading and writing MLflow's own storage formats.
//!
//! ## Brief overview
//!
//! * [`model`]: MLflow's entities ([`Experiment`], [`Run`], [`Metric`], …) and validation rules.
//! * [`store`]: the [`TrackingStore`] trait and its backends, picked from a tracking URI
//!   ([`open_store`]): MLflow's `mlruns` folder ([`FileStore`]).
//! * [`search`]: MLflow's filter and `order_by` grammar and page tokens.
//! * [`artifacts`]: the [`ArtifactRepository`] trait and run artifacts in MLflow's formats
//!   (image series, tables, dicts, figures).
//! * [`system_metrics`]: CPU, memory, disk, network (and GPU) metrics of a run, under MLflow's
//!   `system/…` keys.
//! * [`tracking::async_logging`]: the `*_async` logging calls (MLflow's `synchronous=False`)
//!   and [`flush`].
//! * [`tracking::autolog`](mod@tracking::autolog): [`autolog!`] / [`autolog()`], environment
//!   capture, and (feature `burn`) the burn-train integration in `integrations::burn`.

#![warn(missing_docs)]

pub mod artifacts;
#[cfg(any(feature = "viewer", feature = "cli"))]
pub(crate) mod chart;
#[cfg(feature = "cli")]
pub mod cli;
pub mod env;
mod error;
pub mod format;
pub mod http;
pub mod model;
pub mod search;
pub mod store;
pub mod system_metrics;
pub mod tracking;
#[cfg(feature = "viewer")]
pub mod viewer;
#[cfg(feature = "viewer")]
pub mod watch;

/// Integrations of autolog with training frameworks.
#[cfg(feature = "burn")]
pub mod integrations;

pub use error::{DatabaseErrorKind, Error, ErrorCode, Result, StoreWarning};
pub use model::{
    Dataset, DatasetInput, Experiment, InputTag, LifecycleStage, Metric, Param, Run, RunData,
    RunInfo, RunInputs, RunStatus, RunTag, ViewType,
};
pub use store::{CreateRun, ExperimentQuery, FileStore, Page, RunQuery, TrackingStore, open_store};
pub use tracking::fluent::{
    active_run, create_experiment, delete_experiment, delete_run, delete_tag, end_run,
    get_experiment, get_experiment_by_name, get_metric_history, get_parent_run, get_run,
    get_tracking_uri, last_active_run, log_batch, log_input, log_metric, log_metric_at,
    log_metrics, log_param, log_params, search_experiments, search_runs, set_experiment,
    set_experiment_by_id, set_experiment_tag, set_experiment_tags, set_tag, set_tags,
    set_tracking_uri, start_run, with_run,
};
pub use tracking::{ActiveRun, RunOptions, TrackingClient};

// System metrics, asynchronous logging, autolog.
pub use system_metrics::{
    disable_system_metrics_logging, enable_system_metrics_logging, set_system_metrics_node_id,
    set_system_metrics_samples_before_logging, set_system_metrics_sampling_interval,
};
pub use tracking::async_logging::{
    flush, flush_async_logging, log_artifact_async, log_artifacts_async, log_batch_async,
    log_metric_async, log_metric_at_async, log_metrics_async, log_param_async, log_params_async,
    set_tag_async, set_tags_async,
};
pub use tracking::autolog::{AutologOptions, autolog};

// Artifacts and rich logging.
pub use artifacts::figure::{Figure, PlotFigure};
pub use artifacts::images::{ImageInput, RawImage};
pub use artifacts::table::{LoggedTable, Table, TableCell};
pub use artifacts::{ArtifactRepository, FileInfo, LocalArtifactRepository, ResolvedArtifactRoot};
pub use tracking::fluent_artifacts::{
    download_artifacts, get_artifact_uri, list_artifacts, log_artifact, log_artifacts, log_dict,
    log_figure, log_image, log_image_step, log_plot, log_table, log_text,
};

/// The `image` crate mlscope logs images with.
pub use image;
/// The `plotters` crate mlscope renders figures with (use it to implement [`PlotFigure`]).
pub use plotters;
