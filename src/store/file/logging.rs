//! Logging to runs: `log_batch` (metrics, params, tags) and metric history.
//!
//! `log_batch` validates the whole request — keys, lengths, batch size, param immutability and
//! key collisions — before it writes anything, so a rejected batch leaves the run untouched.

use std::collections::BTreeMap;
use std::io::ErrorKind;

use crate::error::{Error, Result, StoreWarning};
use crate::model::validation::{KeyKind, check_log_batch, validate_key};
use crate::model::{Metric, Param, RunTag, tags};
use crate::store::file::FileStore;
use crate::store::file::files::{self, CreateOnce};
use crate::store::file::metrics::{MetricFile, format_metric_line};
use crate::store::file::paths::{METRICS_DIR, PARAMS_DIR, TAGS_DIR, key_path};

/// MLflow's error for re-logging a param with another value.
fn changed_param_error(key: &str, old: &str, new: &str, run_id: &str) -> Error {
    Error::InvalidParameter(format!(
        "Changing param values is not allowed. Param with key='{key}' was already logged with \
         value='{old}' for run ID='{run_id}'. Attempted logging new value '{new}'."
    ))
}

/// Reads a param file as text (params are UTF-8 in every store MLflow writes).
fn read_param(path: &std::path::Path) -> Result<Option<String>> {
    match files::read_file(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => Ok(None),
        Err(e) => Err(Error::io("cannot read param", path, e)),
    }
}

impl FileStore {
    pub(crate) fn log_batch_impl(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        run_tags: &[RunTag],
    ) -> Result<()> {
        // ----- validate the request --------------------------------------------------------
        let batch = check_log_batch(run_id, metrics, params, run_tags)?;
        let param_values: BTreeMap<&str, String> = batch
            .params
            .iter()
            .map(|p| (p.key.as_str(), p.value.clone()))
            .collect();
        // Several values for one tag: the last wins, as when MLflow writes them in order.
        let tag_values: BTreeMap<&str, String> = batch
            .tags
            .iter()
            .map(|t| (t.key.as_str(), t.value.clone()))
            .collect();
        let mut metric_lines: BTreeMap<&str, String> = BTreeMap::new();
        for metric in metrics {
            metric_lines
                .entry(&metric.key)
                .or_default()
                .push_str(&format_metric_line(metric));
        }
        for (keys, noun) in [
            (metric_lines.keys().copied().collect::<Vec<_>>(), "metric"),
            (param_values.keys().copied().collect(), "param"),
            (tag_values.keys().copied().collect(), "tag"),
        ] {
            if let Some(e) = files::collision_within(keys, noun) {
                return Err(e);
            }
        }

        // ----- check against the run on disk ----------------------------------------------
        let (run, mut meta) = self.active_run(run_id)?;
        let metrics_dir = run.path.join(METRICS_DIR);
        let params_dir = run.path.join(PARAMS_DIR);
        let tags_dir = run.path.join(TAGS_DIR);
        let mut new_params = Vec::new();
        for (key, value) in &param_values {
            if let Some(e) = files::key_collision(&params_dir, key, "param") {
                return Err(e);
            }
            match read_param(&key_path(&params_dir, key))? {
                Some(existing) if existing != *value => {
                    return Err(changed_param_error(key, &existing, value, run_id));
                }
                Some(_) => {}
                None => new_params.push((*key, value.as_str())),
            }
        }
        for key in metric_lines.keys() {
            if let Some(e) = files::key_collision(&metrics_dir, key, "metric") {
                return Err(e);
            }
        }
        for key in tag_values.keys() {
            if let Some(e) = files::key_collision(&tags_dir, key, "tag") {
                return Err(e);
            }
        }

        // ----- write: params, metrics, tags (MLflow's order) ------------------------------
        for (key, value) in new_params {
            let path = files::prepare_key_path(&params_dir, key, "param")?;
            let outcome = files::create_once(&run.path, &path, value.as_bytes(), "param")
                .map_err(|e| files::key_collision(&params_dir, key, "param").unwrap_or(e))?;
            if outcome == CreateOnce::Existed {
                // Another writer logged it since the check above.
                if let Some(existing) = read_param(&path)?
                    && existing != value
                {
                    return Err(changed_param_error(key, &existing, value, run_id));
                }
            }
        }
        for (key, lines) in &metric_lines {
            let path = files::prepare_key_path(&metrics_dir, key, "metric")?;
            // One write per file: lines of concurrent writers never interleave.
            files::append(&path, lines.as_bytes(), "metric file")
                .map_err(|e| files::key_collision(&metrics_dir, key, "metric").unwrap_or(e))?;
        }
        for (key, value) in &tag_values {
            self.write_run_tag(&run, key, value)?;
        }
        if let Some(name) = tag_values.get(tags::RUN_NAME)
            && *name != meta.run_name
        {
            // MLflow keeps meta.yaml's run_name in step with the tag.
            meta.run_name = name.clone();
            self.write_run_meta(&run, &meta)?;
        }
        Ok(())
    }

    /// Every value of a metric in file order, with a warning when lines had to be skipped.
    /// A metric never logged has no values.
    pub(crate) fn metric_history_impl(
        &self,
        run_id: &str,
        key: &str,
    ) -> Result<(Vec<Metric>, Vec<StoreWarning>)> {
        validate_key(KeyKind::Metric, key)?;
        let run = self.locate_run(run_id)?;
        let path = key_path(&run.path.join(METRICS_DIR), key);
        let bytes = match files::read_file(&path) {
            Ok(bytes) => bytes,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::NotFound | ErrorKind::NotADirectory | ErrorKind::IsADirectory
                ) =>
            {
                return Ok((Vec::new(), Vec::new()));
            }
            Err(e) => return Err(Error::io("cannot read metric file", &path, e)),
        };
        let file = MetricFile::parse(key, &bytes);
        let warnings = file
            .problem_summary()
            .map(|problem| StoreWarning::new(path.display().to_string(), problem))
            .into_iter()
            .collect();
        Ok((file.history, warnings))
    }
}
