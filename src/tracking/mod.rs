//! The user-facing tracking API: [`TrackingClient`] (explicit ids, like `MlflowClient`) and the
//! fluent functions (like `mlflow.*`) that log to the active run.

mod artifacts;
pub mod async_logging;
mod async_queue;
pub mod autolog;
pub(crate) mod client;
pub mod context;
pub mod fluent;
pub mod fluent_artifacts;
pub mod system_monitor;

pub use artifacts::{ImageStepFiles, RunArtifacts};
pub use autolog::{AutologOptions, autolog};
pub use client::TrackingClient;
pub use fluent::{ActiveRun, RunOptions};
