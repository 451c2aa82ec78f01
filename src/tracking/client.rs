//! [`TrackingClient`]: MLflow's `MlflowClient` with explicit ids, over any [`TrackingStore`].

use std::fmt::Display;
use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::model::validation::{
    MAX_ENTITIES_PER_BATCH, MAX_METRICS_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH, validate_metric,
    validate_run_id,
};
use crate::model::{
    DatasetInput, Experiment, Metric, Param, Run, RunInfo, RunStatus, RunTag, ViewType, now_ms,
    tags,
};
use crate::store::{CreateRun, ExperimentQuery, Page, RunQuery, TrackingStore, open_store};
use crate::tracking::async_queue::{AsyncLogging, Op, validate_batch};

/// A client of one tracking store, like MLflow's `MlflowClient`: every call names its
/// experiment or run explicitly. Cheap to clone; safe to share between threads.
#[derive(Clone)]
pub struct TrackingClient {
    store: Arc<dyn TrackingStore>,
    /// The store's queue of asynchronous calls (`*_async`), shared by clones.
    async_queue: Arc<AsyncLogging>,
}

impl std::fmt::Debug for TrackingClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackingClient")
            .field("tracking_uri", &self.store.tracking_uri())
            .finish()
    }
}

impl TrackingClient {
    /// Opens the store at `tracking_uri` (a path, `file:`, `sqlite:` URI).
    pub fn new(tracking_uri: &str) -> Result<Self> {
        Ok(TrackingClient::from_store(open_store(tracking_uri)?))
    }

    /// Wraps an already open store.
    pub fn from_store(store: Arc<dyn TrackingStore>) -> Self {
        TrackingClient {
            async_queue: Arc::new(AsyncLogging::new(
                store.clone(),
                Box::new(queued_artifact_writer(store.clone())),
            )),
            store,
        }
    }

    pub(crate) fn async_queue(&self) -> &AsyncLogging {
        &self.async_queue
    }

    /// The underlying store.
    pub fn store(&self) -> &Arc<dyn TrackingStore> {
        &self.store
    }

    /// The tracking URI of the store.
    pub fn tracking_uri(&self) -> String {
        self.store.tracking_uri()
    }

    // ----- experiments -----------------------------------------------------------------------

    /// Creates an experiment; returns its id.
    pub fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[(&str, &str)],
    ) -> Result<String> {
        let tags: Vec<(String, String)> = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.store.create_experiment(name, artifact_location, &tags)
    }

    /// Gets an experiment by id.
    pub fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        self.store.get_experiment(experiment_id)
    }

    /// Gets an experiment by name (`None` when there is none).
    pub fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        self.store.get_experiment_by_name(name)
    }

    /// Searches experiments.
    pub fn search_experiments(&self, query: &ExperimentQuery) -> Result<Page<Experiment>> {
        self.store.search_experiments(query)
    }

    /// Every experiment of `view`, following page tokens.
    pub fn list_all_experiments(&self, view: ViewType) -> Result<Page<Experiment>> {
        let query = ExperimentQuery {
            view_type: view,
            ..ExperimentQuery::default()
        };
        collect_pages(None, |token| {
            self.store.search_experiments(&ExperimentQuery {
                page_token: token,
                ..query.clone()
            })
        })
    }

    /// Renames an experiment.
    pub fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()> {
        self.store.rename_experiment(experiment_id, new_name)
    }

    /// Deletes an experiment (and marks its runs deleted).
    pub fn delete_experiment(&self, experiment_id: &str) -> Result<()> {
        self.store.delete_experiment(experiment_id)
    }

    /// Restores a deleted experiment.
    pub fn restore_experiment(&self, experiment_id: &str) -> Result<()> {
        self.store.restore_experiment(experiment_id)
    }

    /// Sets an experiment tag.
    pub fn set_experiment_tag(
        &self,
        experiment_id: &str,
        key: &str,
        value: impl Display,
    ) -> Result<()> {
        self.store
            .set_experiment_tag(experiment_id, key, &value.to_string())
    }

    /// Deletes an experiment tag.
    pub fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> Result<()> {
        self.store.delete_experiment_tag(experiment_id, key)
    }

    // ----- runs ------------------------------------------------------------------------------

    /// Creates a run (status RUNNING). `user_id` is taken from the `mlflow.user` tag, else
    /// `unknown`, as MLflow does; the start time is now unless given.
    pub fn create_run(
        &self,
        experiment_id: &str,
        run_name: Option<&str>,
        tags: &[(&str, &str)],
        start_time: Option<i64>,
    ) -> Result<Run> {
        let tags: Vec<RunTag> = tags.iter().map(|(k, v)| RunTag::new(*k, *v)).collect();
        let user_id = tags
            .iter()
            .find(|t| t.key == tags::USER)
            .map(|t| t.value.clone())
            .unwrap_or_else(|| "unknown".to_string());
        self.store.create_run(CreateRun {
            experiment_id: experiment_id.to_string(),
            user_id,
            start_time: Some(start_time.unwrap_or_else(now_ms)),
            tags,
            run_name: run_name.map(str::to_string),
        })
    }

    /// Gets a run by id.
    pub fn get_run(&self, run_id: &str) -> Result<Run> {
        self.store.get_run(run_id)
    }

    /// The parent of a nested run (from its `mlflow.parentRunId` tag), if any.
    pub fn get_parent_run(&self, run_id: &str) -> Result<Option<Run>> {
        let run = self.store.get_run(run_id)?;
        match run.data.tags.get(tags::PARENT_RUN_ID) {
            Some(parent) => self.store.get_run(parent).map(Some),
            None => Ok(None),
        }
    }

    /// Ends a run with `status` at `end_time` (now when `None`). First stops the run's system
    /// metrics monitor and writes the values still queued by asynchronous calls (as MLflow
    /// does); the run is ended even when those writes failed, and their error is returned.
    pub fn set_terminated(
        &self,
        run_id: &str,
        status: RunStatus,
        end_time: Option<i64>,
    ) -> Result<RunInfo> {
        crate::tracking::system_monitor::stop_for_run(run_id);
        let flushed = self.flush_async_logging();
        let ended = self.store.update_run_info(
            run_id,
            Some(status),
            Some(end_time.unwrap_or_else(now_ms)),
            None,
        );
        match (flushed, ended) {
            (Ok(()), ended) => ended,
            (Err(lost), Ok(_)) => Err(lost),
            (Err(lost), Err(end)) => Err(match lost {
                Error::Mlflow { code, message } => Error::Mlflow {
                    code,
                    message: format!("{message}; ending the run failed too: {end}"),
                },
                other => other,
            }),
        }
    }

    /// Changes a run's status and/or name.
    pub fn update_run(
        &self,
        run_id: &str,
        status: Option<RunStatus>,
        name: Option<&str>,
    ) -> Result<RunInfo> {
        self.store.update_run_info(run_id, status, None, name)
    }

    /// Deletes a run (soft delete).
    pub fn delete_run(&self, run_id: &str) -> Result<()> {
        self.store.delete_run(run_id)
    }

    /// Restores a deleted run.
    pub fn restore_run(&self, run_id: &str) -> Result<()> {
        self.store.restore_run(run_id)
    }

    /// Searches runs.
    pub fn search_runs(&self, query: &RunQuery) -> Result<Page<Run>> {
        self.store.search_runs(query)
    }

    /// Every run matching `query`, following page tokens (`query.page_token` is the start).
    pub fn search_all_runs(&self, query: &RunQuery) -> Result<Page<Run>> {
        let mut first = Some(query.page_token.clone());
        collect_pages(None, |token| {
            let page_token = first.take().unwrap_or(token);
            self.store.search_runs(&RunQuery {
                page_token,
                ..query.clone()
            })
        })
    }

    // ----- logging ---------------------------------------------------------------------------

    /// Logs one metric value; `timestamp` defaults to now, `step` to 0.
    pub fn log_metric(
        &self,
        run_id: &str,
        key: &str,
        value: f64,
        timestamp: Option<i64>,
        step: Option<i64>,
    ) -> Result<()> {
        self.store.log_metric(
            run_id,
            &Metric::new(
                key,
                value,
                timestamp.unwrap_or_else(now_ms),
                step.unwrap_or(0),
            ),
        )
    }

    /// Logs a param; the value is converted with `Display` (like Python's `str()`).
    /// Returns the value as stored.
    pub fn log_param(&self, run_id: &str, key: &str, value: impl Display) -> Result<String> {
        let value = value.to_string();
        self.store
            .log_param(run_id, &Param::new(key, value.clone()))?;
        Ok(value)
    }

    /// Sets a run tag.
    pub fn set_tag(&self, run_id: &str, key: &str, value: impl Display) -> Result<()> {
        self.store
            .set_tag(run_id, &RunTag::new(key, value.to_string()))
    }

    /// Deletes a run tag.
    pub fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        self.store.delete_tag(run_id, key)
    }

    /// Logs metrics, params and tags. Large batches are split into requests within MLflow's
    /// limits (1000 metrics, 100 params, 100 tags, 1000 entities), params and tags first.
    pub fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[RunTag],
    ) -> Result<()> {
        if metrics.is_empty() && params.is_empty() && tags.is_empty() {
            return Ok(());
        }
        for chunk in params.chunks(MAX_PARAMS_TAGS_PER_BATCH) {
            self.store.log_batch(run_id, &[], chunk, &[])?;
        }
        for chunk in tags.chunks(MAX_PARAMS_TAGS_PER_BATCH) {
            self.store.log_batch(run_id, &[], &[], chunk)?;
        }
        for chunk in metrics.chunks(MAX_METRICS_PER_BATCH.min(MAX_ENTITIES_PER_BATCH)) {
            self.store.log_batch(run_id, chunk, &[], &[])?;
        }
        Ok(())
    }

    /// Every value of a metric, in logging order.
    pub fn get_metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>> {
        self.store.get_metric_history(run_id, key)
    }

    /// Records datasets used by a run.
    pub fn log_inputs(&self, run_id: &str, datasets: &[DatasetInput]) -> Result<()> {
        self.store.log_inputs(run_id, datasets)
    }

    /// Fails with `RESOURCE_DOES_NOT_EXIST` unless the experiment exists.
    pub(crate) fn require_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        self.store
            .get_experiment(experiment_id)
            .map_err(|e| match e {
                Error::NotFound(_) => {
                    Error::NotFound(format!("Could not find experiment with ID {experiment_id}"))
                }
                other => other,
            })
    }
}

/// Follows page tokens: calls `fetch` with `None`, then with each next token, until there is no
/// next page or `limit` items were collected (the result is cut to `limit`). Warnings of every
/// page are kept.
pub(crate) fn collect_pages<T>(
    limit: Option<usize>,
    mut fetch: impl FnMut(Option<String>) -> Result<Page<T>>,
) -> Result<Page<T>> {
    let mut all = Page::complete(Vec::new());
    let mut token = None;
    loop {
        let page = fetch(token)?;
        all.items.extend(page.items);
        all.warnings.extend(page.warnings);
        let full = limit.is_some_and(|n| all.items.len() >= n);
        match page.next_page_token {
            Some(next) if !full => token = Some(next),
            _ => break,
        }
    }
    if let Some(n) = limit {
        all.items.truncate(n);
    }
    Ok(all)
}

// ----- asynchronous logging ----------------------------------------------------------------

impl TrackingClient {
    /// Queues metrics, params and tags for a run (MLflow's `log_batch(..., synchronous=False)`);
    /// any number of values, merged and split into MLflow-sized requests by the logging thread.
    /// Keys are validated now; writing errors come back from
    /// [`flush_async_logging`](Self::flush_async_logging), the end of the run or a later
    /// asynchronous call.
    pub fn log_batch_async(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[RunTag],
    ) -> Result<()> {
        validate_batch(run_id, metrics, params, tags)?;
        if metrics.is_empty() && params.is_empty() && tags.is_empty() {
            return self.async_queue().flush_errors_only();
        }
        self.async_queue().submit(Op::Batch {
            run_id: run_id.to_string(),
            metrics: metrics.to_vec(),
            params: params.to_vec(),
            tags: tags.to_vec(),
        })
    }

    /// Queues one metric value (timestamp now and step 0 when `None`).
    pub fn log_metric_async(
        &self,
        run_id: &str,
        key: &str,
        value: f64,
        timestamp: Option<i64>,
        step: Option<i64>,
    ) -> Result<()> {
        let metric = Metric::new(
            key,
            value,
            timestamp.unwrap_or_else(now_ms),
            step.unwrap_or(0),
        );
        validate_run_id(run_id)?;
        validate_metric(&metric.key, metric.timestamp)?;
        self.async_queue().submit(Op::Batch {
            run_id: run_id.to_string(),
            metrics: vec![metric],
            params: Vec::new(),
            tags: Vec::new(),
        })
    }

    /// Queues a param; returns its value as converted with `Display`.
    pub fn log_param_async(&self, run_id: &str, key: &str, value: impl Display) -> Result<String> {
        let value = value.to_string();
        self.log_batch_async(run_id, &[], &[Param::new(key, value.clone())], &[])?;
        Ok(value)
    }

    /// Queues a run tag.
    pub fn set_tag_async(&self, run_id: &str, key: &str, value: impl Display) -> Result<()> {
        self.log_batch_async(run_id, &[], &[], &[RunTag::new(key, value.to_string())])
    }

    /// Queues copying a local file (or directory, as a folder of that name) into
    /// `artifact_path` of the run's artifacts. The file must stay until the next flush.
    pub fn log_artifact_async(
        &self,
        run_id: &str,
        local_path: impl AsRef<Path>,
        artifact_path: Option<&str>,
    ) -> Result<()> {
        self.queue_artifact(run_id, local_path.as_ref(), artifact_path, false)
    }

    /// Queues copying the contents of a local directory into `artifact_path`.
    pub fn log_artifacts_async(
        &self,
        run_id: &str,
        local_dir: impl AsRef<Path>,
        artifact_path: Option<&str>,
    ) -> Result<()> {
        self.queue_artifact(run_id, local_dir.as_ref(), artifact_path, true)
    }

    fn queue_artifact(
        &self,
        run_id: &str,
        local_path: &Path,
        artifact_path: Option<&str>,
        contents_only: bool,
    ) -> Result<()> {
        validate_run_id(run_id)?;
        let meta = std::fs::metadata(local_path)
            .map_err(|e| Error::io("cannot read file to log", local_path, e))?;
        if contents_only && !meta.is_dir() {
            return Err(Error::InvalidParameter(format!(
                "log_artifacts needs a directory, got the file {}",
                local_path.display()
            )));
        }
        // A relative path is resolved now: the thread may run after a change of directory.
        let local_path = std::path::absolute(local_path)
            .map_err(|e| Error::io("cannot resolve path", local_path, e))?;
        self.async_queue().submit(Op::Artifact {
            run_id: run_id.to_string(),
            local_path,
            artifact_path: artifact_path.map(str::to_string),
            contents_only,
        })
    }

    /// Waits until every value queued on this client's store before the call is written
    /// (MLflow's `flush_async_logging`); returns the writes that failed since the last report.
    pub fn flush_async_logging(&self) -> Result<()> {
        self.async_queue().flush()
    }

    /// Values (metrics, params, tags; one per artifact) queued or being written now.
    pub fn async_logging_in_flight(&self) -> usize {
        self.async_queue().in_flight()
    }
}

/// How the asynchronous queue of `store` copies artifacts: through a plain client of the same
/// store (whose own queue stays unused).
fn queued_artifact_writer(
    store: Arc<dyn TrackingStore>,
) -> impl Fn(&str, &Path, Option<&str>, bool) -> Result<()> + Send + Sync {
    move |run_id, local_path, artifact_path, contents_only| {
        let client = TrackingClient::from_store(store.clone());
        if contents_only {
            client.log_artifacts(run_id, local_path, artifact_path)
        } else {
            client.log_artifact(run_id, local_path, artifact_path)
        }
    }
}
