//! The fluent API, like `mlflow.*`: a process-wide tracking URI, active experiment and stack of
//! active runs; `log_*` functions write to the innermost active run.
//!
//! The run stack is process-wide (not per thread), so worker threads log to the run the main
//! thread started. [`start_run`] returns an [`ActiveRun`] guard: [`ActiveRun::end`] marks the
//! run FINISHED; a guard dropped normally also marks it FINISHED, and one dropped while the
//! thread panics marks it FAILED. [`with_run`] maps `Ok` to FINISHED and `Err` to FAILED, like
//! Python's `with mlflow.start_run():`.
//!
//! Environment variables honoured: `MLFLOW_TRACKING_URI`, `MLFLOW_EXPERIMENT_NAME`,
//! `MLFLOW_EXPERIMENT_ID`, `MLFLOW_RUN_ID` (resume that run), `MLFLOW_TRACKING_USERNAME`,
//! `MLFLOW_RUN_CONTEXT` (JSON object of extra tags), `MLFLOW_ENABLE_ASYNC_LOGGING` (the logging
//! calls queue instead of writing, see [`crate::tracking::async_logging`]),
//! `MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING` and the other variables of [`crate::system_metrics`].

use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;
use std::path::Path;
use std::sync::{LazyLock, Mutex, MutexGuard};

use crate::error::{Error, ErrorCode, Result};
use crate::model::{
    DATASET_CONTEXT_TAG, DEFAULT_EXPERIMENT_ID, Dataset, DatasetInput, Experiment, InputTag,
    LifecycleStage, Metric, Param, Run, RunStatus, RunTag, now_ms, tags,
};
use crate::store::{ExperimentQuery, Page, RunQuery, default_tracking_uri};
use crate::tracking::async_queue::async_logging_enabled;
use crate::tracking::client::TrackingClient;
use crate::tracking::context::default_run_tags;

/// One open run of the stack.
#[derive(Clone)]
struct StackEntry {
    run_id: String,
    client: TrackingClient,
}

#[derive(Default)]
struct FluentState {
    tracking_uri: Option<String>,
    clients: HashMap<String, TrackingClient>,
    active_experiment_id: Option<String>,
    run_stack: Vec<StackEntry>,
    last_active: Option<StackEntry>,
}

static STATE: LazyLock<Mutex<FluentState>> = LazyLock::new(Mutex::default);

/// Locks the state; a panic in another thread while holding it does not poison the API.
fn state() -> MutexGuard<'static, FluentState> {
    STATE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sets the tracking URI for the fluent API (a path, `file:` or `sqlite:` URI).
pub fn set_tracking_uri(uri: impl Into<String>) {
    state().tracking_uri = Some(uri.into());
}

/// The tracking URI in use: the one set with [`set_tracking_uri`], else `MLFLOW_TRACKING_URI`,
/// else `./mlruns` if it holds experiments, else `sqlite:///mlflow.db` (MLflow 3.7+'s rule).
pub fn get_tracking_uri() -> String {
    state()
        .tracking_uri
        .clone()
        .unwrap_or_else(default_tracking_uri)
}

/// The client for the current tracking URI (stores are opened once per URI).
pub fn client() -> Result<TrackingClient> {
    let uri = get_tracking_uri();
    if let Some(c) = state().clients.get(&uri) {
        return Ok(c.clone());
    }
    let client = TrackingClient::new(&uri)?;
    state().clients.insert(uri, client.clone());
    Ok(client)
}

/// Every client the fluent API has opened (one per tracking URI).
pub(crate) fn known_clients() -> Vec<TrackingClient> {
    state().clients.values().cloned().collect()
}

// ----- experiments ---------------------------------------------------------------------------

/// Makes the experiment named `name` active, creating it when it does not exist.
/// A deleted experiment of that name is an error (restore it first).
pub fn set_experiment(name: &str) -> Result<Experiment> {
    let client = client()?;
    let experiment = match client.get_experiment_by_name(name)? {
        Some(e) => e,
        None => match client.create_experiment(name, None, &[]) {
            Ok(id) => client.get_experiment(&id)?,
            // Another process created it since the lookup (MLflow catches this too).
            Err(e) if e.error_code() == ErrorCode::ResourceAlreadyExists => {
                client.get_experiment_by_name(name)?.ok_or(e)?
            }
            Err(e) => return Err(e),
        },
    };
    activate_experiment(experiment)
}

/// Makes the experiment with id `experiment_id` active.
pub fn set_experiment_by_id(experiment_id: &str) -> Result<Experiment> {
    let experiment = client()?.require_experiment(experiment_id)?;
    activate_experiment(experiment)
}

fn activate_experiment(experiment: Experiment) -> Result<Experiment> {
    if experiment.lifecycle_stage == LifecycleStage::Deleted {
        return Err(Error::InvalidState(format!(
            "Cannot set a deleted experiment '{}' as the active experiment. You can restore the \
             experiment, or permanently delete the experiment to create a new one.",
            experiment.name
        )));
    }
    state().active_experiment_id = Some(experiment.experiment_id.clone());
    Ok(experiment)
}

/// Creates an experiment; returns its id.
pub fn create_experiment(
    name: &str,
    artifact_location: Option<&str>,
    tags: &[(&str, &str)],
) -> Result<String> {
    client()?.create_experiment(name, artifact_location, tags)
}

/// Gets an experiment by id.
pub fn get_experiment(experiment_id: &str) -> Result<Experiment> {
    client()?.get_experiment(experiment_id)
}

/// Gets an experiment by name.
pub fn get_experiment_by_name(name: &str) -> Result<Option<Experiment>> {
    client()?.get_experiment_by_name(name)
}

/// Deletes an experiment.
pub fn delete_experiment(experiment_id: &str) -> Result<()> {
    client()?.delete_experiment(experiment_id)
}

/// Sets a tag on the active experiment (see [`set_experiment`]; experiment `0` otherwise).
pub fn set_experiment_tag(key: &str, value: impl Display) -> Result<()> {
    let id = resolve_experiment_id()?;
    client()?.set_experiment_tag(&id, key, value)
}

/// Sets several tags on the active experiment.
pub fn set_experiment_tags<K: AsRef<str>, V: Display>(tags: &[(K, V)]) -> Result<()> {
    let id = resolve_experiment_id()?;
    let client = client()?;
    for (k, v) in tags {
        client.set_experiment_tag(&id, k.as_ref(), v)?;
    }
    Ok(())
}

/// Searches experiments.
pub fn search_experiments(query: &ExperimentQuery) -> Result<Page<Experiment>> {
    client()?.search_experiments(query)
}

/// The experiment new runs go to: the active one, else `MLFLOW_EXPERIMENT_NAME` (created when
/// missing), else `MLFLOW_EXPERIMENT_ID`, else `0`.
fn resolve_experiment_id() -> Result<String> {
    if let Some(id) = state().active_experiment_id.clone() {
        return Ok(id);
    }
    if let Ok(name) = std::env::var(crate::env::MLFLOW_EXPERIMENT_NAME)
        && !name.is_empty()
    {
        return Ok(set_experiment(&name)?.experiment_id);
    }
    if let Ok(id) = std::env::var(crate::env::MLFLOW_EXPERIMENT_ID)
        && !id.is_empty()
    {
        return Ok(set_experiment_by_id(&id)?.experiment_id);
    }
    Ok(DEFAULT_EXPERIMENT_ID.to_string())
}

// ----- runs --------------------------------------------------------------------------------

/// Options of [`start_run`]; build with the chained setters.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    run_id: Option<String>,
    experiment_id: Option<String>,
    run_name: Option<String>,
    nested: bool,
    parent_run_id: Option<String>,
    tags: Vec<(String, String)>,
    description: Option<String>,
    log_system_metrics: Option<bool>,
}

impl RunOptions {
    /// Default options: a new run in the active experiment.
    pub fn new() -> Self {
        RunOptions::default()
    }
    /// Resume the run with this id instead of creating one.
    pub fn run_id(mut self, run_id: impl Into<String>) -> Self {
        self.run_id = Some(run_id.into());
        self
    }
    /// Create the run in this experiment.
    pub fn experiment_id(mut self, experiment_id: impl Into<String>) -> Self {
        self.experiment_id = Some(experiment_id.into());
        self
    }
    /// Name the run (random MLflow-style name otherwise).
    pub fn run_name(mut self, run_name: impl Into<String>) -> Self {
        self.run_name = Some(run_name.into());
        self
    }
    /// Start the run nested under the innermost active run.
    pub fn nested(mut self, nested: bool) -> Self {
        self.nested = nested;
        self
    }
    /// Start the run as a child of this run.
    pub fn parent_run_id(mut self, parent_run_id: impl Into<String>) -> Self {
        self.parent_run_id = Some(parent_run_id.into());
        self
    }
    /// Add a tag.
    pub fn tag(mut self, key: impl Into<String>, value: impl Display) -> Self {
        self.tags.push((key.into(), value.to_string()));
        self
    }
    /// Set the run description (tag `mlflow.note.content`, Markdown).
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
    /// Log system metrics (CPU, memory, disk, network, GPU) while the run is active, or not;
    /// unset follows [`crate::system_metrics::system_metrics_logging_enabled`].
    pub fn log_system_metrics(mut self, enabled: bool) -> Self {
        self.log_system_metrics = Some(enabled);
        self
    }
}

/// A run started with [`start_run`]. Ends the run when dropped: FINISHED normally, FAILED
/// when dropped during a panic.
#[must_use = "dropping the guard ends the run immediately"]
pub struct ActiveRun {
    run_id: String,
    client: TrackingClient,
    ended: bool,
}

impl std::fmt::Debug for ActiveRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActiveRun")
            .field("run_id", &self.run_id)
            .field("ended", &self.ended)
            .finish()
    }
}

impl ActiveRun {
    /// The run id.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The client of the run's store.
    pub fn client(&self) -> &TrackingClient {
        &self.client
    }

    /// The run as currently stored.
    pub fn run(&self) -> Result<Run> {
        self.client.get_run(&self.run_id)
    }

    /// Logs a metric to this run (timestamp now, step 0 when `None`).
    pub fn log_metric(&self, key: &str, value: f64, step: Option<i64>) -> Result<()> {
        self.client.log_metric(&self.run_id, key, value, None, step)
    }

    /// Logs a param to this run.
    pub fn log_param(&self, key: &str, value: impl Display) -> Result<String> {
        self.client.log_param(&self.run_id, key, value)
    }

    /// Sets a tag on this run.
    pub fn set_tag(&self, key: &str, value: impl Display) -> Result<()> {
        self.client.set_tag(&self.run_id, key, value)
    }

    /// Ends the run FINISHED.
    pub fn end(self) -> Result<()> {
        self.end_with_status(RunStatus::Finished)
    }

    /// Ends the run with `status`. Fails when nested runs started after it are still open.
    pub fn end_with_status(mut self, status: RunStatus) -> Result<()> {
        self.ended = true;
        end_run_by_id(&self.run_id, status)
    }
}

impl Drop for ActiveRun {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let status = if std::thread::panicking() {
            RunStatus::Failed
        } else {
            RunStatus::Finished
        };
        // Children still open when their parent's guard goes away are ended KILLED first,
        // so the stack never holds a run whose parent has ended.
        let children: Vec<StackEntry> = {
            let st = state();
            match st.run_stack.iter().position(|e| e.run_id == self.run_id) {
                Some(pos) => st.run_stack[pos + 1..].to_vec(),
                None => return, // already ended through end_run()
            }
        };
        for child in children.iter().rev() {
            eprintln!(
                "mlscope: run {} ended KILLED because its parent run {} ended first",
                child.run_id, self.run_id
            );
            if let Err(e) = end_run_by_id(&child.run_id, RunStatus::Killed) {
                eprintln!("mlscope: could not end run {}: {e}", child.run_id);
            }
        }
        if let Err(e) = end_run_by_id(&self.run_id, status) {
            eprintln!("mlscope: could not end run {}: {e}", self.run_id);
        }
    }
}

/// Starts a run (or resumes `run_id` / `MLFLOW_RUN_ID`) and pushes it on the active-run stack.
///
/// Sets MLflow's system tags: `mlflow.user`, `mlflow.source.name`, `mlflow.source.type`,
/// `mlflow.source.git.commit` (inside a git checkout), `mlflow.runName`, `mlflow.parentRunId`
/// (nested runs), `mlflow.note.content` (description). Starting a run while another is active
/// requires `nested(true)` or a matching `parent_run_id`.
pub fn start_run(options: RunOptions) -> Result<ActiveRun> {
    let client = client()?;
    let system_metrics =
        crate::tracking::system_monitor::options_for_run(options.log_system_metrics)?;
    let active_top = state().run_stack.last().cloned();
    let parent_run_id = match (&options.parent_run_id, &active_top) {
        (Some(parent), Some(top)) if *parent != top.run_id => {
            return Err(Error::InvalidParameter(format!(
                "Current run with UUID {} does not match the specified parent_run_id {parent}. To \
                 start a new nested run under the current run, pass the current run's id or nested=true.",
                top.run_id
            )));
        }
        (Some(parent), _) => Some(parent.clone()),
        (None, Some(top)) if options.nested => Some(top.run_id.clone()),
        (None, Some(top)) => {
            return Err(Error::InvalidState(format!(
                "Run with UUID {} is already active. To start a new run, first end the current run \
                 with end_run(). To start a nested run, call start_run with nested(true)",
                top.run_id
            )));
        }
        (None, None) => None,
    };
    if let Some(parent) = &parent_run_id {
        let parent_run = client.get_run(parent)?;
        if parent_run.info.lifecycle_stage == LifecycleStage::Deleted {
            return Err(Error::InvalidState(format!(
                "Cannot start a nested run under the deleted run {parent}"
            )));
        }
    }

    let resume_id = options.run_id.clone().or_else(|| {
        std::env::var(crate::env::MLFLOW_RUN_ID)
            .ok()
            .filter(|s| !s.is_empty())
    });
    let resumed = resume_id.is_some();
    let run_id = match resume_id {
        Some(run_id) => resume_run(&client, &run_id, &options)?,
        None => create_new_run(&client, &options, parent_run_id.as_deref())?,
    };
    let entry = StackEntry {
        run_id: run_id.clone(),
        client: client.clone(),
    };
    state().run_stack.push(entry);
    if let Some(mut monitor) = system_metrics {
        monitor.resume = resumed;
        crate::tracking::system_monitor::start_for_run(&client, &run_id, monitor);
    }
    Ok(ActiveRun {
        run_id,
        client,
        ended: false,
    })
}

fn resume_run(client: &TrackingClient, run_id: &str, options: &RunOptions) -> Result<String> {
    crate::model::validation::validate_run_id(run_id)?;
    if state().run_stack.iter().any(|e| e.run_id == run_id) {
        return Err(Error::InvalidState(format!(
            "Run with UUID {run_id} is already active"
        )));
    }
    let run = client.get_run(run_id)?;
    if let Some(exp) = &options.experiment_id
        && *exp != run.info.experiment_id
    {
        return Err(Error::InvalidParameter(format!(
            "Cannot start run with ID {run_id} because its experiment {} does not match the \
             requested experiment {exp}",
            run.info.experiment_id
        )));
    }
    if run.info.lifecycle_stage == LifecycleStage::Deleted {
        return Err(Error::InvalidState(format!(
            "Cannot start run with ID {run_id} because it is in the deleted state."
        )));
    }
    client.store().update_run_info(
        run_id,
        Some(RunStatus::Running),
        None,
        options.run_name.as_deref(),
    )?;
    let mut run_tags: Vec<RunTag> = options
        .tags
        .iter()
        .map(|(k, v)| RunTag::new(k, v))
        .collect();
    if let Some(d) = &options.description {
        run_tags.push(RunTag::new(tags::NOTE_CONTENT, d));
    }
    client.log_batch(run_id, &[], &[], &run_tags)?;
    Ok(run_id.to_string())
}

fn create_new_run(
    client: &TrackingClient,
    options: &RunOptions,
    parent_run_id: Option<&str>,
) -> Result<String> {
    let experiment_id = match &options.experiment_id {
        Some(id) => id.clone(),
        None => resolve_experiment_id()?,
    };
    let mut run_tags: BTreeMap<String, String> = default_run_tags();
    run_tags.extend(crate::tracking::autolog::environment_tags());
    for (k, v) in &options.tags {
        run_tags.insert(k.clone(), v.clone());
    }
    if let Some(parent) = parent_run_id {
        run_tags.insert(tags::PARENT_RUN_ID.to_string(), parent.to_string());
    }
    if let Some(d) = &options.description {
        if run_tags.contains_key(tags::NOTE_CONTENT) {
            return Err(Error::InvalidParameter(
                "Description is already set via the tag mlflow.note.content in tags. Remove the \
                 key mlflow.note.content from the tags or omit the description."
                    .into(),
            ));
        }
        run_tags.insert(tags::NOTE_CONTENT.to_string(), d.clone());
    }
    let tag_refs: Vec<(&str, &str)> = run_tags
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let run = client.create_run(&experiment_id, options.run_name.as_deref(), &tag_refs, None)?;
    Ok(run.info.run_id)
}

/// Ends a specific run of the stack; runs started after it must have ended.
fn end_run_by_id(run_id: &str, status: RunStatus) -> Result<()> {
    let entry = {
        let st = state();
        let Some(pos) = st.run_stack.iter().position(|e| e.run_id == run_id) else {
            return Err(Error::InvalidState(format!(
                "Run {run_id} is not active: it was never started in this process or has already ended"
            )));
        };
        if pos + 1 != st.run_stack.len() {
            let open: Vec<&str> = st.run_stack[pos + 1..]
                .iter()
                .map(|e| e.run_id.as_str())
                .collect();
            return Err(Error::InvalidState(format!(
                "Cannot end run {run_id}: its nested runs {} are still active; end them first",
                open.join(", ")
            )));
        }
        st.run_stack[pos].clone()
    };
    let result = entry.client.set_terminated(run_id, status, Some(now_ms()));
    let mut st = state();
    st.run_stack.retain(|e| e.run_id != run_id);
    st.last_active = Some(entry);
    result.map(|_| ())
}

/// Ends the innermost active run with `status`. Fails with `INVALID_STATE` when no run is
/// active.
pub fn end_run(status: RunStatus) -> Result<()> {
    let top = state().run_stack.last().map(|e| e.run_id.clone());
    match top {
        Some(run_id) => end_run_by_id(&run_id, status),
        None => Err(Error::InvalidState(
            "There is no active run to end; start one with start_run()".into(),
        )),
    }
}

/// Runs `body` inside a new run: `Ok` ends it FINISHED, `Err` FAILED (and a panic FAILED).
pub fn with_run<T, E: From<Error>>(
    options: RunOptions,
    body: impl FnOnce(&ActiveRun) -> std::result::Result<T, E>,
) -> std::result::Result<T, E> {
    let run = start_run(options)?;
    match body(&run) {
        Ok(value) => {
            run.end()?;
            Ok(value)
        }
        Err(e) => {
            run.end_with_status(RunStatus::Failed)?;
            Err(e)
        }
    }
}

/// The innermost active run, as stored now.
pub fn active_run() -> Result<Option<Run>> {
    let top = state().run_stack.last().cloned();
    top.map(|e| e.client.get_run(&e.run_id)).transpose()
}

/// The most recently ended run, or the active run if one is active.
pub fn last_active_run() -> Result<Option<Run>> {
    let entry = {
        let st = state();
        st.run_stack
            .last()
            .cloned()
            .or_else(|| st.last_active.clone())
    };
    entry.map(|e| e.client.get_run(&e.run_id)).transpose()
}

/// The innermost active run, starting one (like MLflow) when none is active.
fn active_or_start() -> Result<StackEntry> {
    if let Some(top) = state().run_stack.last().cloned() {
        return Ok(top);
    }
    let mut run = start_run(RunOptions::new())?;
    // The implicit run stays active until end_run(), as in MLflow.
    run.ended = true;
    let client = run.client.clone();
    Ok(StackEntry {
        run_id: run.run_id.clone(),
        client,
    })
}

/// The innermost active run's client and id, starting a run (like MLflow) when none is active.
pub(crate) fn active_run_handle() -> Result<(TrackingClient, String)> {
    let entry = active_or_start()?;
    Ok((entry.client, entry.run_id))
}

// ----- logging to the active run -----------------------------------------------------------

/// Logs a param to the active run; returns the stored value.
pub fn log_param(key: &str, value: impl Display) -> Result<String> {
    if async_logging_enabled()? {
        return log_param_async(key, value);
    }
    let run = active_or_start()?;
    run.client.log_param(&run.run_id, key, value)
}

/// Logs several params to the active run in one batch.
pub fn log_params<K: AsRef<str>, V: Display>(params: &[(K, V)]) -> Result<()> {
    if async_logging_enabled()? {
        return log_params_async(params);
    }
    let run = active_or_start()?;
    let params: Vec<Param> = params
        .iter()
        .map(|(k, v)| Param::new(k.as_ref(), v.to_string()))
        .collect();
    run.client.log_batch(&run.run_id, &[], &params, &[])
}

/// Logs a metric to the active run at `step` (0 when `None`), timestamp now.
pub fn log_metric(key: &str, value: f64, step: Option<i64>) -> Result<()> {
    if async_logging_enabled()? {
        return log_metric_async(key, value, step);
    }
    let run = active_or_start()?;
    run.client.log_metric(&run.run_id, key, value, None, step)
}

/// Logs a metric with an explicit timestamp (epoch ms).
pub fn log_metric_at(key: &str, value: f64, step: Option<i64>, timestamp: i64) -> Result<()> {
    if async_logging_enabled()? {
        return log_metric_at_async(key, value, step, timestamp);
    }
    let run = active_or_start()?;
    run.client
        .log_metric(&run.run_id, key, value, Some(timestamp), step)
}

/// Logs several metrics at one step and timestamp to the active run.
pub fn log_metrics<K: AsRef<str>>(metrics: &[(K, f64)], step: Option<i64>) -> Result<()> {
    if async_logging_enabled()? {
        return log_metrics_async(metrics, step);
    }
    let run = active_or_start()?;
    let ts = now_ms();
    let metrics: Vec<Metric> = metrics
        .iter()
        .map(|(k, v)| Metric::new(k.as_ref(), *v, ts, step.unwrap_or(0)))
        .collect();
    run.client.log_batch(&run.run_id, &metrics, &[], &[])
}

/// Sets a tag on the active run.
pub fn set_tag(key: &str, value: impl Display) -> Result<()> {
    if async_logging_enabled()? {
        return set_tag_async(key, value);
    }
    let run = active_or_start()?;
    run.client.set_tag(&run.run_id, key, value)
}

/// Sets several tags on the active run.
pub fn set_tags<K: AsRef<str>, V: Display>(tags: &[(K, V)]) -> Result<()> {
    if async_logging_enabled()? {
        return set_tags_async(tags);
    }
    let run = active_or_start()?;
    let tags: Vec<RunTag> = tags
        .iter()
        .map(|(k, v)| RunTag::new(k.as_ref(), v.to_string()))
        .collect();
    run.client.log_batch(&run.run_id, &[], &[], &tags)
}

/// Deletes a tag of the active run.
pub fn delete_tag(key: &str) -> Result<()> {
    let run = active_or_start()?;
    run.client.delete_tag(&run.run_id, key)
}

/// Logs metrics, params and tags to the active run.
pub fn log_batch(metrics: &[Metric], params: &[Param], tags: &[RunTag]) -> Result<()> {
    if async_logging_enabled()? {
        return log_batch_async(metrics, params, tags);
    }
    let run = active_or_start()?;
    run.client.log_batch(&run.run_id, metrics, params, tags)
}

/// Records that the active run used `dataset` in `context` (e.g. `training`).
pub fn log_input(dataset: Dataset, context: Option<&str>, tags: &[(&str, &str)]) -> Result<()> {
    let run = active_or_start()?;
    let mut input_tags: Vec<InputTag> = tags
        .iter()
        .map(|(k, v)| InputTag {
            key: k.to_string(),
            value: v.to_string(),
        })
        .collect();
    if let Some(ctx) = context {
        input_tags.push(InputTag {
            key: DATASET_CONTEXT_TAG.to_string(),
            value: ctx.to_string(),
        });
    }
    run.client.log_inputs(
        &run.run_id,
        &[DatasetInput {
            dataset,
            tags: input_tags,
        }],
    )
}

// ----- reading -----------------------------------------------------------------------------

/// Gets a run by id.
pub fn get_run(run_id: &str) -> Result<Run> {
    client()?.get_run(run_id)
}

/// Gets the parent of a nested run.
pub fn get_parent_run(run_id: &str) -> Result<Option<Run>> {
    client()?.get_parent_run(run_id)
}

/// Deletes a run.
pub fn delete_run(run_id: &str) -> Result<()> {
    client()?.delete_run(run_id)
}

/// Every value of a metric of a run.
pub fn get_metric_history(run_id: &str, key: &str) -> Result<Vec<Metric>> {
    client()?.get_metric_history(run_id, key)
}

/// Searches runs; with no experiment ids in `query`, the active experiment is searched.
pub fn search_runs(query: &RunQuery) -> Result<Page<Run>> {
    let client = client()?;
    if query.experiment_ids.is_empty() {
        let mut q = query.clone();
        q.experiment_ids = vec![resolve_experiment_id()?];
        client.search_runs(&q)
    } else {
        client.search_runs(query)
    }
}

/// Forgets the fluent state (URI, active experiment, run stack) without ending runs.
/// For tests that switch stores.
#[doc(hidden)]
pub fn reset_for_tests() {
    *state() = FluentState::default();
}

// ----- asynchronous logging --------------------------------------------------------------------

/// Queues a metric for the active run (step 0 when `None`, timestamp now), like
/// `mlflow.log_metric(..., synchronous=False)`. Starts a run when none is active.
pub fn log_metric_async(key: &str, value: f64, step: Option<i64>) -> Result<()> {
    let (client, run_id) = active_run_handle()?;
    client.log_metric_async(&run_id, key, value, None, step)
}

/// Queues a metric with an explicit timestamp (epoch ms) for the active run.
pub fn log_metric_at_async(key: &str, value: f64, step: Option<i64>, timestamp: i64) -> Result<()> {
    let (client, run_id) = active_run_handle()?;
    client.log_metric_async(&run_id, key, value, Some(timestamp), step)
}

/// Queues several metrics at one step and timestamp for the active run.
pub fn log_metrics_async<K: AsRef<str>>(metrics: &[(K, f64)], step: Option<i64>) -> Result<()> {
    let (client, run_id) = active_run_handle()?;
    let ts = now_ms();
    let metrics: Vec<Metric> = metrics
        .iter()
        .map(|(k, v)| Metric::new(k.as_ref(), *v, ts, step.unwrap_or(0)))
        .collect();
    client.log_batch_async(&run_id, &metrics, &[], &[])
}

/// Queues a param for the active run; returns its value as converted with `Display`.
pub fn log_param_async(key: &str, value: impl Display) -> Result<String> {
    let (client, run_id) = active_run_handle()?;
    client.log_param_async(&run_id, key, value)
}

/// Queues several params for the active run.
pub fn log_params_async<K: AsRef<str>, V: Display>(params: &[(K, V)]) -> Result<()> {
    let (client, run_id) = active_run_handle()?;
    let params: Vec<Param> = params
        .iter()
        .map(|(k, v)| Param::new(k.as_ref(), v.to_string()))
        .collect();
    client.log_batch_async(&run_id, &[], &params, &[])
}

/// Queues a tag for the active run.
pub fn set_tag_async(key: &str, value: impl Display) -> Result<()> {
    let (client, run_id) = active_run_handle()?;
    client.set_tag_async(&run_id, key, value)
}

/// Queues several tags for the active run.
pub fn set_tags_async<K: AsRef<str>, V: Display>(tags: &[(K, V)]) -> Result<()> {
    let (client, run_id) = active_run_handle()?;
    let tags: Vec<RunTag> = tags
        .iter()
        .map(|(k, v)| RunTag::new(k.as_ref(), v.to_string()))
        .collect();
    client.log_batch_async(&run_id, &[], &[], &tags)
}

/// Queues metrics, params and tags for the active run.
pub fn log_batch_async(metrics: &[Metric], params: &[Param], tags: &[RunTag]) -> Result<()> {
    let (client, run_id) = active_run_handle()?;
    client.log_batch_async(&run_id, metrics, params, tags)
}

/// Queues copying a local file (or directory) into `artifact_path` of the active run.
pub fn log_artifact_async(local_path: impl AsRef<Path>, artifact_path: Option<&str>) -> Result<()> {
    let (client, run_id) = active_run_handle()?;
    client.log_artifact_async(&run_id, local_path, artifact_path)
}

/// Queues copying the contents of a local directory into `artifact_path` of the active run.
pub fn log_artifacts_async(local_dir: impl AsRef<Path>, artifact_path: Option<&str>) -> Result<()> {
    let (client, run_id) = active_run_handle()?;
    client.log_artifacts_async(&run_id, local_dir, artifact_path)
}

/// Waits until everything queued through the fluent API (every store it has opened) is
/// written, like `mlflow.flush_async_logging()`; returns the failed writes not reported yet.
pub fn flush() -> Result<()> {
    let mut first: Option<Error> = None;
    for client in known_clients() {
        if let Err(e) = client.flush_async_logging() {
            first.get_or_insert(e);
        }
    }
    match first {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Same as [`flush`] (MLflow's name).
pub fn flush_async_logging() -> Result<()> {
    flush()
}
