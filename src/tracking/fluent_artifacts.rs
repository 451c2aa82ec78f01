//! The fluent artifact functions, like `mlflow.log_artifact(…)` and friends: they log to the
//! innermost active run, starting one (as MLflow does) when none is active.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::artifacts::FileInfo;
use crate::artifacts::figure::{Figure, PlotFigure};
use crate::artifacts::images::ImageInput;
use crate::artifacts::table::Table;
use crate::error::Result;
use crate::tracking::artifacts::ImageStepFiles;
use crate::tracking::client::TrackingClient;
use crate::tracking::fluent;

/// The client and id of the active run; starts a run when none is active. Like MLflow, that
/// implicit run stays active until `end_run()`.
fn active() -> Result<(TrackingClient, String)> {
    fluent::active_run_handle()
}

/// Logs a local file (or directory) into `artifact_path` of the active run.
pub fn log_artifact(local_path: impl AsRef<Path>, artifact_path: Option<&str>) -> Result<()> {
    let (client, run_id) = active()?;
    client.log_artifact(&run_id, local_path, artifact_path)
}

/// Logs the contents of a local directory into `artifact_path` of the active run.
pub fn log_artifacts(local_dir: impl AsRef<Path>, artifact_path: Option<&str>) -> Result<()> {
    let (client, run_id) = active()?;
    client.log_artifacts(&run_id, local_dir, artifact_path)
}

/// Logs text as `artifact_file` of the active run.
pub fn log_text(text: &str, artifact_file: &str) -> Result<()> {
    let (client, run_id) = active()?;
    client.log_text(&run_id, text, artifact_file)
}

/// Logs a value as JSON, or YAML for `.yml`/`.yaml`, as `artifact_file` of the active run.
pub fn log_dict<T: Serialize + ?Sized>(dictionary: &T, artifact_file: &str) -> Result<()> {
    let (client, run_id) = active()?;
    client.log_dict(&run_id, dictionary, artifact_file)
}

/// Logs (or appends to) a table of the active run.
pub fn log_table(table: &Table, artifact_file: &str) -> Result<()> {
    let (client, run_id) = active()?;
    client.log_table(&run_id, table, artifact_file)
}

/// Logs an image as `artifact_file` of the active run.
pub fn log_image<'a>(image: impl Into<ImageInput<'a>>, artifact_file: &str) -> Result<()> {
    let (client, run_id) = active()?;
    client.log_image(&run_id, image, artifact_file)
}

/// Logs one step of the image series `key` of the active run (with its thumbnail).
pub fn log_image_step<'a>(
    key: &str,
    image: impl Into<ImageInput<'a>>,
    step: Option<i64>,
    timestamp: Option<i64>,
) -> Result<ImageStepFiles> {
    let (client, run_id) = active()?;
    client.log_image_step(&run_id, key, image, step, timestamp)
}

/// Logs a finished figure as `artifact_file` of the active run.
pub fn log_figure(figure: &Figure, artifact_file: &str) -> Result<()> {
    let (client, run_id) = active()?;
    client.log_figure(&run_id, figure, artifact_file)
}

/// Renders a plotters figure and logs it as `artifact_file` of the active run.
pub fn log_plot(plot: &impl PlotFigure, artifact_file: &str) -> Result<()> {
    let (client, run_id) = active()?;
    client.log_plot(&run_id, plot, artifact_file)
}

/// The artifact URI of the active run (or of `artifact_path` under it).
pub fn get_artifact_uri(artifact_path: Option<&str>) -> Result<String> {
    let (client, run_id) = active()?;
    client.get_artifact_uri(&run_id, artifact_path)
}

/// Lists directory `path` of a run's artifacts (the active run when `run_id` is `None`).
pub fn list_artifacts(run_id: Option<&str>, path: Option<&str>) -> Result<Vec<FileInfo>> {
    match run_id {
        Some(id) => fluent::client()?.list_artifacts(id, path),
        None => {
            let (client, id) = active()?;
            client.list_artifacts(&id, path)
        }
    }
}

/// Downloads artifacts of a run to `dst_dir` (or returns their local path), like
/// `mlflow.artifacts.download_artifacts(run_id=…, artifact_path=…)`.
pub fn download_artifacts(run_id: &str, path: &str, dst_dir: Option<&Path>) -> Result<PathBuf> {
    fluent::client()?.download_artifacts(run_id, path, dst_dir)
}
