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

mod error;
pub mod model;
pub mod search;
pub mod store;

pub use error::{Error, ErrorCode, Result, StoreWarning};
pub use model::{
    Dataset, DatasetInput, Experiment, InputTag, LifecycleStage, Metric, Param, Run, RunData,
    RunInfo, RunInputs, RunStatus, RunTag, ViewType,
};
pub use store::{CreateRun, ExperimentQuery, FileStore, Page, RunQuery, TrackingStore, open_store};
