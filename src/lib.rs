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

#![warn(missing_docs)]

pub mod cli;
mod error;
pub mod model;
pub mod search;
pub mod store;
pub mod tracking;
#[cfg(feature = "viewer")]
pub mod viewer;

pub use error::{Error, ErrorCode, Result, StoreWarning};
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
