//! The user-facing tracking API: [`TrackingClient`] (explicit ids, like `MlflowClient`) and the
//! fluent functions (like `mlflow.*`) that log to the active run.

mod client;
pub mod context;
pub mod fluent;

pub use client::TrackingClient;
pub use fluent::{ActiveRun, RunOptions};
