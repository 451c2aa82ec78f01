//! autolog for [burn](https://burn.dev) 0.22 (feature `burn`): burn-train's metrics, the
//! training configuration, checkpoints and datasets, logged to an MLflow run.
//!
//! ```no_run
//! # fn demo<M: burn::train::LearnerModel>(
//! #     training: burn::train::SupervisedTraining<M>,
//! #     learner: burn::train::Learner<M>,
//! #     config: &impl serde::Serialize,
//! # ) -> mlscope::Result<()> {
//! use mlscope::integrations::burn::BurnAutolog;
//!
//! mlscope::autolog!();                     // environment tags + the options below
//! let autolog = BurnAutolog::start()?;     // the active run, or a new one it manages
//! autolog.log_config(config)?;             // the training config as params
//! let training = autolog.install(training, "artifacts/run"); // metric logger + checkpointers
//! let result = training.launch(learner);
//! autolog.finish()?;                       // waits for the queue, ends a run it started
//! # Ok(()) }
//! ```
//!
//! What is logged (keys are burn's metric names in lower case, spaces as `_`):
//!
//! | what | key | step |
//! |---|---|---|
//! | each training batch's value of every metric | `train/<name>` (e.g. `train/loss`) | training iteration, 1, 2, … over all epochs |
//! | each validation batch's value | `valid/<name>` | validation iteration, 1, 2, … over all epochs |
//! | each test batch's value (`Evaluator`) | `test/<name>` or `test/<tag>/<name>` | test iteration |
//! | the epoch value burn computes at the end of an epoch | `train/epoch_<name>`, `valid/epoch_<name>` | epoch (1, 2, …) |
//! | the epoch number | `epoch` | training iteration at the end of the epoch |
//! | the training configuration | params, nested fields joined with `.` | — |
//! | checkpoints, when `log_models` | artifacts `checkpoints/{model,optim,scheduler}-<epoch>.bpk` (burn's burnpack files; deleted checkpoints are removed again) | — |
//! | the trained model, when `log_models` | artifact `model/model.bpk` and `model/model_summary.txt` ([`BurnAutolog::log_model`]) | — |
//! | datasets, when `log_datasets` | run inputs with context `train` / `eval` ([`BurnAutolog::log_dataset`]) | — |
//!
//! Metrics go through asynchronous logging, so training never waits for the store; a viewer of
//! the run sees them as they are written. Failures (a store that went away, a checkpoint that
//! could not be copied) do not stop training: [`BurnAutolog::finish`] returns them.

use std::collections::{BTreeMap, HashMap};
use std::fmt::{Debug, Display};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use burn::data::dataset::Dataset as BurnDataset;
use burn::module::Module;
use burn::train::checkpoint::{Checkpoint, Checkpointer, CheckpointerError};
use burn::train::logger::{InMemoryMetricLogger, MetricLogger};
use burn::train::metric::store::{EpochSummary, MetricsUpdate, Split};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use burn::train::{LearnerModel, SupervisedTraining};
use md5::{Digest, Md5};
use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::model::{
    DATASET_CONTEXT_TAG, Dataset, DatasetInput, InputTag, Metric, Param, RunStatus, now_ms,
};
use crate::tracking::autolog::{self, AUTOLOGGING_TAG, AutologOptions};
use crate::tracking::{ActiveRun, RunOptions, TrackingClient, fluent};

/// Value of the `mlflow.autologging` tag on runs this integration creates.
pub const FLAVOR: &str = "burn";
/// Artifact folder of checkpoints.
pub const CHECKPOINT_ARTIFACT_DIR: &str = "checkpoints";
/// Artifact folder of the trained model.
pub const MODEL_ARTIFACT_DIR: &str = "model";

/// Problems met while logging, returned by [`BurnAutolog::finish`].
#[derive(Default)]
struct Problems {
    count: usize,
    messages: Vec<String>,
}

type SharedProblems = Arc<Mutex<Problems>>;

/// Remembers a problem for `finish` (every one is counted, the first 20 kept in full) and
/// prints it unless autolog is silent or `quiet`.
fn note_problem(problems: &SharedProblems, message: String, quiet: bool) {
    if !quiet {
        autolog::warn(&message);
    }
    let mut p = problems.lock().unwrap_or_else(|e| e.into_inner());
    p.count += 1;
    if p.messages.len() < 20 {
        p.messages.push(message);
    }
}

/// Where a training logs: the run and its client.
#[derive(Clone)]
struct Target {
    client: TrackingClient,
    run_id: String,
    options: AutologOptions,
    problems: SharedProblems,
}

/// One training's autologging: created with [`BurnAutolog::start`], wired into burn with
/// [`install`](Self::install) (or [`metric_logger`](Self::metric_logger) and
/// [`checkpointer`](Self::checkpointer)), closed with [`finish`](Self::finish).
///
/// It logs nothing (and `install` leaves the training as it is) when autolog was called with
/// `disable`, or with `exclusive` while a run started by the user is active.
pub struct BurnAutolog {
    target: Option<Target>,
    /// The run this integration started (ended by `finish`, or FAILED when dropped while
    /// panicking).
    managed: Option<ActiveRun>,
}

impl Debug for BurnAutolog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BurnAutolog")
            .field("run_id", &self.run_id())
            .field("managed", &self.managed.is_some())
            .finish()
    }
}

impl BurnAutolog {
    /// Starts autologging a training into the active fluent run, or into a new run (tagged
    /// `mlflow.autologging=burn` and with autolog's `extra_tags`) when none is active.
    pub fn start() -> Result<Self> {
        Self::start_with(RunOptions::new())
    }

    /// [`start`](Self::start), with the options of the run it creates when none is active.
    pub fn start_with(run_options: RunOptions) -> Result<Self> {
        let options = autolog::integration_options();
        let inert = BurnAutolog {
            target: None,
            managed: None,
        };
        if options.disable {
            return Ok(inert);
        }
        if fluent::active_run()?.is_some() {
            if options.exclusive {
                autolog::warn(
                    "autolog is exclusive and a run started by the user is active: the burn \
                     training is not logged",
                );
                return Ok(inert);
            }
            let (client, run_id) = fluent::active_run_handle()?;
            return Ok(BurnAutolog {
                target: Some(Target {
                    client,
                    run_id,
                    options,
                    problems: SharedProblems::default(),
                }),
                managed: None,
            });
        }
        let mut run_options = run_options.tag(AUTOLOGGING_TAG, FLAVOR);
        for (k, v) in &options.extra_tags {
            run_options = run_options.tag(k.clone(), v);
        }
        let run = fluent::start_run(run_options)?;
        Ok(BurnAutolog {
            target: Some(Target {
                client: run.client().clone(),
                run_id: run.run_id().to_string(),
                options,
                problems: SharedProblems::default(),
            }),
            managed: Some(run),
        })
    }

    /// The run logged to (`None` when inert).
    pub fn run_id(&self) -> Option<&str> {
        self.target.as_ref().map(|t| t.run_id.as_str())
    }

    /// Whether this autolog logs anything.
    pub fn is_active(&self) -> bool {
        self.target.is_some()
    }

    /// Logs a training configuration (any `Serialize` value, e.g. a burn `#[derive(Config)]`
    /// struct) as params: nested fields are joined with `.`, lists are kept as JSON text.
    pub fn log_config<C: Serialize + ?Sized>(&self, config: &C) -> Result<()> {
        let Some(t) = &self.target else {
            return Ok(());
        };
        let value = serde_json::to_value(config)
            .map_err(|e| Error::InvalidParameter(format!("cannot serialize the config: {e}")))?;
        let params: Vec<Param> = flatten_params(&value)
            .into_iter()
            .map(|(k, v)| Param::new(k, v))
            .collect();
        t.client.log_batch(&t.run_id, &[], &params, &[])
    }

    /// Logs a dataset as an input of the run with `context` (`train`, `eval`, …), when
    /// `log_datasets`. Its digest hashes the length and the `Debug` text of the first 10,000
    /// items (as MLflow hashes the first 10,000 rows of a DataFrame); its profile holds the
    /// number of items.
    pub fn log_dataset<I, D>(&self, name: &str, dataset: &D, context: &str) -> Result<()>
    where
        I: Debug,
        D: BurnDataset<I> + ?Sized,
    {
        let Some(t) = &self.target else {
            return Ok(());
        };
        if !t.options.log_datasets {
            return Ok(());
        }
        let input = dataset_input(name, dataset, context);
        t.client.log_inputs(&t.run_id, &[input])
    }

    /// Logs a trained model, when `log_models`: its weights as burn's burnpack file
    /// (`model/model.bpk`), its structure (`model/model_summary.txt`, burn's `Display` of the
    /// module) and its number of parameters as the param `model.num_params`.
    pub fn log_model<M: Module + Display>(&self, model: &M) -> Result<()> {
        let Some(t) = &self.target else {
            return Ok(());
        };
        if !t.options.log_models {
            return Ok(());
        }
        t.client
            .log_param(&t.run_id, "model.num_params", model.num_params())?;
        let dir =
            std::env::temp_dir().join(format!("mlscope-model-{}", crate::model::new_run_id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io("cannot create a temporary directory", &dir, e))?;
        let weights = dir.join("model.bpk");
        let logged = model
            .clone()
            .into_record()
            .save(&weights)
            .map_err(|e| Error::io("cannot save the model", &weights, std::io::Error::other(e)))
            .and_then(|()| {
                t.client
                    .log_artifact(&t.run_id, &weights, Some(MODEL_ARTIFACT_DIR))
            });
        let _ = std::fs::remove_dir_all(&dir);
        logged?;
        t.client.log_text(
            &t.run_id,
            &model.to_string(),
            &format!("{MODEL_ARTIFACT_DIR}/model_summary.txt"),
        )
    }

    /// A burn-train `MetricLogger` writing to the run (a no-op logger when inert).
    pub fn metric_logger(&self) -> MlflowMetricLogger {
        MlflowMetricLogger {
            target: self.target.clone(),
            definitions: HashMap::new(),
            memory: InMemoryMetricLogger::new(),
            steps: HashMap::new(),
            warned_queue: false,
        }
    }

    /// A burn-train `Checkpointer` saving `<directory>/<name>-<epoch>.bpk` (as burn's
    /// `FileCheckpointer`) and, when `log_models`, copying each checkpoint to the run's
    /// `checkpoints/` artifacts.
    pub fn checkpointer(&self, directory: impl AsRef<Path>, name: &str) -> MlflowCheckpointer {
        let directory = directory.as_ref().to_path_buf();
        let _ = std::fs::create_dir_all(&directory);
        MlflowCheckpointer {
            directory,
            name: name.to_string(),
            target: self.target.clone().filter(|t| t.options.log_models),
        }
    }

    /// Wires autologging into a burn training: registers [`metric_logger`](Self::metric_logger)
    /// (burn's default file logger is then not used) and, when `log_models`, checkpointers for
    /// the model, the optimizer and the scheduler in `<directory>/checkpoint` (where burn's
    /// default checkpointers write; burn's checkpointing strategy decides which epochs are kept).
    /// Returns the training unchanged when inert.
    pub fn install<M: LearnerModel>(
        &self,
        training: SupervisedTraining<M>,
        directory: impl AsRef<Path>,
    ) -> SupervisedTraining<M> {
        let Some(t) = &self.target else {
            return training;
        };
        let training = training.with_metric_logger(self.metric_logger());
        if t.options.log_models {
            let dir = directory.as_ref().join("checkpoint");
            training.with_custom_checkpointers(
                self.checkpointer(&dir, "model"),
                self.checkpointer(&dir, "optim"),
                self.checkpointer(&dir, "scheduler"),
            )
        } else {
            training
        }
    }

    /// Waits until everything logged is stored, ends the run when this autolog started it
    /// (FINISHED), and returns what failed on the way, if anything did.
    pub fn finish(self) -> Result<()> {
        self.finish_with_status(RunStatus::Finished)
    }

    /// [`finish`](Self::finish), ending a run it started with `status` (e.g. FAILED when the
    /// training returned an error).
    pub fn finish_with_status(mut self, status: RunStatus) -> Result<()> {
        let Some(t) = self.target.take() else {
            return Ok(());
        };
        let flushed = t.client.flush_async_logging();
        let ended = match self.managed.take() {
            Some(run) => run.end_with_status(status),
            None => Ok(()),
        };
        let problems = std::mem::take(&mut *t.problems.lock().unwrap_or_else(|e| e.into_inner()));
        let errors: Vec<Error> = [flushed.err(), ended.err()].into_iter().flatten().collect();
        if errors.is_empty() && problems.count == 0 {
            return Ok(());
        }
        let code = errors
            .first()
            .map_or(crate::ErrorCode::InternalError, Error::error_code);
        let mut parts: Vec<String> = errors.iter().map(ToString::to_string).collect();
        parts.extend(problems.messages.iter().cloned());
        let more = problems.count - problems.messages.len();
        if more > 0 {
            parts.push(format!("and {more} more problem(s)"));
        }
        Err(Error::Mlflow {
            code,
            message: format!("burn autologging to run {}: {}", t.run_id, parts.join("; ")),
        })
    }
}

/// Flattens JSON into `(key, value)` params: objects by `.`, strings as they are, other
/// values as JSON text.
fn flatten_params(value: &Value) -> BTreeMap<String, String> {
    fn walk(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) {
        match v {
            Value::Object(map) if !map.is_empty() => {
                for (k, child) in map {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, child, out);
                }
            }
            Value::String(s) => {
                out.insert(prefix.to_string(), s.clone());
            }
            Value::Null => {
                out.insert(prefix.to_string(), "None".to_string());
            }
            other => {
                out.insert(prefix.to_string(), other.to_string());
            }
        }
    }
    let mut out = BTreeMap::new();
    match value {
        Value::Object(_) => walk("", value, &mut out),
        other => walk("config", other, &mut out),
    }
    out
}

/// The MLflow dataset input of a burn dataset.
fn dataset_input<I: Debug, D: BurnDataset<I> + ?Sized>(
    name: &str,
    dataset: &D,
    context: &str,
) -> DatasetInput {
    let len = dataset.len();
    let mut hasher = Md5::new();
    hasher.update(format!("len={len}\n").as_bytes());
    for i in 0..len.min(10_000) {
        if let Ok(item) = dataset.get(i) {
            hasher.update(format!("{item:?}\n").as_bytes());
        }
    }
    let digest: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()[..8]
        .to_string();
    let source = serde_json::json!({
        "tags": {
            "mlflow.source.name": crate::tracking::context::source_name(),
            "mlflow.source.type": "LOCAL",
            "mlscope.dataset.item_type": std::any::type_name::<I>(),
        }
    });
    DatasetInput {
        dataset: Dataset {
            name: name.to_string(),
            digest,
            source_type: "code".to_string(),
            source: source.to_string(),
            schema: None,
            profile: Some(serde_json::json!({ "num_rows": len }).to_string()),
        },
        tags: vec![InputTag {
            key: DATASET_CONTEXT_TAG.to_string(),
            value: context.to_string(),
        }],
    }
}

/// A metric key from a burn metric name: lower case, spaces as `_`, characters MLflow does not
/// allow as `_`.
pub fn metric_key(name: &str) -> String {
    name.trim()
        .chars()
        .map(|c| match c {
            ' ' => '_',
            c if c.is_alphanumeric() || matches!(c, '_' | '-' | '.') => c,
            _ => '_',
        })
        .collect::<String>()
        .to_lowercase()
}

fn split_prefix(split: &Split) -> String {
    match split {
        Split::Train => "train".to_string(),
        Split::Valid => "valid".to_string(),
        Split::Test(None) => "test".to_string(),
        Split::Test(Some(tag)) => format!("test/{}", metric_key(tag)),
    }
}

/// burn-train's `MetricLogger` for an MLflow run; see the module documentation for the keys
/// and steps. It keeps the values in memory too, so burn's checkpointing and early-stopping
/// strategies can read them back.
pub struct MlflowMetricLogger {
    target: Option<Target>,
    definitions: HashMap<MetricId, MetricDefinition>,
    memory: InMemoryMetricLogger,
    steps: HashMap<String, i64>,
    warned_queue: bool,
}

impl MlflowMetricLogger {
    fn name_of(&self, id: &MetricId) -> Option<String> {
        self.definitions.get(id).map(|d| metric_key(&d.name))
    }

    fn send(&mut self, metrics: Vec<Metric>) {
        let Some(t) = &self.target else {
            return;
        };
        if metrics.is_empty() {
            return;
        }
        if let Err(e) = t.client.log_batch_async(&t.run_id, &metrics, &[], &[]) {
            // Earlier writes failed (the error moved here from the queue): keep it for `finish`,
            // print the first one.
            let quiet = std::mem::replace(&mut self.warned_queue, true);
            note_problem(
                &t.problems,
                format!("metrics could not be stored: {e}"),
                quiet,
            );
        }
    }
}

impl MetricLogger for MlflowMetricLogger {
    fn log(&mut self, update: MetricsUpdate, epoch: usize, split: &Split) {
        self.memory.log(update.clone(), epoch, split);
        if self.target.is_none() {
            return;
        }
        let prefix = split_prefix(split);
        let timestamp = now_ms();
        let mut batch = Vec::new();
        let mut epoch_values = Vec::new();
        for numeric in &update.entries_numeric {
            let Some(name) = self.name_of(&numeric.entry.metric_id) else {
                continue;
            };
            match &numeric.numeric_entry {
                Some(NumericEntry::Final(v)) => epoch_values.push((name, *v)),
                Some(entry) => batch.push((name, entry.current())),
                None => {}
            }
        }
        // Non-numeric metrics whose text is a number (e.g. custom metrics) are logged too.
        for entry in &update.entries {
            if let (Some(name), Ok(v)) = (
                self.name_of(&entry.metric_id),
                entry.serialized_entry.serialized.trim().parse::<f64>(),
            ) {
                batch.push((name, v));
            }
        }
        let mut metrics = Vec::with_capacity(batch.len() + epoch_values.len());
        if !batch.is_empty() {
            let step = self.steps.entry(prefix.clone()).or_insert(0);
            *step += 1;
            let step = *step;
            metrics.extend(
                batch
                    .into_iter()
                    .map(|(name, v)| Metric::new(format!("{prefix}/{name}"), v, timestamp, step)),
            );
        }
        metrics.extend(epoch_values.into_iter().map(|(name, v)| {
            Metric::new(format!("{prefix}/epoch_{name}"), v, timestamp, epoch as i64)
        }));
        self.send(metrics);
    }

    fn read_numeric(
        &mut self,
        name: &str,
        epoch: usize,
        split: &Split,
    ) -> std::result::Result<Vec<NumericEntry>, String> {
        self.memory.read_numeric(name, epoch, split)
    }

    fn log_metric_definition(&mut self, definition: MetricDefinition) {
        self.memory.log_metric_definition(definition.clone());
        self.definitions
            .insert(definition.metric_id.clone(), definition);
    }

    fn log_epoch_summary(&mut self, summary: EpochSummary) {
        self.memory.log_epoch_summary(summary.clone());
        if summary.split == Split::Train {
            let step = self.steps.get("train").copied().unwrap_or(0);
            self.send(vec![Metric::new(
                "epoch",
                summary.epoch_number as f64,
                now_ms(),
                step,
            )]);
        }
    }
}

/// burn-train's `Checkpointer` that also copies checkpoints to the run's artifacts; see
/// [`BurnAutolog::checkpointer`].
pub struct MlflowCheckpointer {
    directory: PathBuf,
    name: String,
    target: Option<Target>,
}

impl MlflowCheckpointer {
    fn file_name(&self, epoch: usize) -> String {
        format!("{}-{epoch}.bpk", self.name)
    }
}

impl<R: Checkpoint> Checkpointer<R> for MlflowCheckpointer {
    fn save(&self, epoch: usize, record: R) -> std::result::Result<(), CheckpointerError> {
        let path = self.directory.join(self.file_name(epoch));
        record.save(path.clone())?;
        if let Some(t) = &self.target
            && let Err(e) = t
                .client
                .log_artifact(&t.run_id, &path, Some(CHECKPOINT_ARTIFACT_DIR))
        {
            note_problem(
                &t.problems,
                format!("checkpoint {} was not logged: {e}", path.display()),
                false,
            );
        }
        Ok(())
    }

    fn delete(&self, epoch: usize) -> std::result::Result<(), CheckpointerError> {
        let file = self.file_name(epoch);
        let path = self.directory.join(&file);
        if path.exists() {
            std::fs::remove_file(&path).map_err(CheckpointerError::IOError)?;
        }
        // The run keeps the checkpoints burn keeps.
        if let Some(t) = &self.target
            && let Ok(arts) = t.client.run_artifacts(&t.run_id)
            && let Ok(Some(local)) = arts
                .repository()
                .local_path(&format!("{CHECKPOINT_ARTIFACT_DIR}/{file}"))
            && local.exists()
            && let Err(e) = std::fs::remove_file(&local)
        {
            note_problem(
                &t.problems,
                format!(
                    "checkpoint artifact {} was not removed: {e}",
                    local.display()
                ),
                false,
            );
        }
        Ok(())
    }

    fn restore(&self, epoch: usize) -> std::result::Result<R, CheckpointerError> {
        R::load(self.directory.join(self.file_name(epoch)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_keys_from_burn_names() {
        assert_eq!(metric_key("Loss"), "loss");
        assert_eq!(metric_key("Learning Rate"), "learning_rate");
        assert_eq!(metric_key("Top-5 Accuracy @ 1"), "top-5_accuracy___1");
    }

    #[test]
    fn configs_flatten_into_params() {
        let v = serde_json::json!({
            "num_epochs": 3,
            "lr": 0.01,
            "optimizer": {"beta_1": 0.9, "name": "adam"},
            "layers": [8, 8],
            "seed": null,
        });
        let p = flatten_params(&v);
        assert_eq!(p["num_epochs"], "3");
        assert_eq!(p["lr"], "0.01");
        assert_eq!(p["optimizer.beta_1"], "0.9");
        assert_eq!(p["optimizer.name"], "adam");
        assert_eq!(p["layers"], "[8,8]");
        assert_eq!(p["seed"], "None");
    }
}
