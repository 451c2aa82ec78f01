//! Dataset and model inputs of runs (`mlflow.log_input`): dataset records under
//! `<exp>/datasets/<md5(name+digest)>/` and input records under `<run>/inputs/<md5(…)>/`.

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;

use md5::{Digest, Md5};

use crate::error::{Result, StoreWarning};
use crate::model::validation::check_dataset_inputs;
use crate::model::{DatasetInput, InputTag, RunInputs};
use crate::store::file::FileStore;
use crate::store::file::files;
use crate::store::file::meta::{self, InputSource};
use crate::store::file::paths::{DATASETS_DIR, INPUTS_DIR, META_FILE, is_temp_name};
use crate::store::file::reader::RunDir;

/// Lowercase hex md5 of the concatenated UTF-8 strings, as MLflow derives record ids.
fn md5_hex(parts: &[&str]) -> String {
    let mut hasher = Md5::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The dataset record id: `md5(name + digest)`.
pub(crate) fn dataset_id(name: &str, digest: &str) -> String {
    md5_hex(&[name, digest])
}

/// The input record id: `md5(dataset_id + run_id)` (models: `md5(model_id + run_id)`).
pub(crate) fn input_id(source_id: &str, run_id: &str) -> String {
    md5_hex(&[source_id, run_id])
}

/// A record id is used as a folder name: it must be one plain path component.
fn is_safe_component(id: &str) -> bool {
    !id.is_empty() && id != "." && id != ".." && !id.contains(['/', '\\'])
}

impl FileStore {
    /// Records dataset inputs of an active run, exactly as MLflow's FileStore does: the dataset
    /// record is written once per experiment, the input record once per (dataset, run).
    pub(crate) fn log_inputs_impl(&self, run_id: &str, datasets: &[DatasetInput]) -> Result<()> {
        check_dataset_inputs(datasets)?;
        let (run, _meta) = self.active_run(run_id)?;
        if datasets.is_empty() {
            return Ok(());
        }
        for input in datasets {
            let dataset = &input.dataset;
            let id = dataset_id(&dataset.name, &dataset.digest);
            let dataset_dir = run.experiment.path.join(DATASETS_DIR).join(&id);
            files::create_dir_all(&dataset_dir, "dataset")?;
            files::create_once(
                &dataset_dir,
                &dataset_dir.join(META_FILE),
                meta::dataset_to_yaml(dataset).as_bytes(),
                "dataset meta.yaml",
            )?;
            let input_dir = run.path.join(INPUTS_DIR).join(input_id(&id, run_id));
            files::create_dir_all(&input_dir, "run input")?;
            let tags: BTreeMap<String, String> = input
                .tags
                .iter()
                .map(|t| (t.key.clone(), t.value.clone()))
                .collect();
            // Logging the same dataset twice keeps the first record, as MLflow does.
            files::create_once(
                &input_dir,
                &input_dir.join(META_FILE),
                meta::dataset_input_to_yaml(&id, &tags).as_bytes(),
                "run input meta.yaml",
            )?;
        }
        Ok(())
    }

    /// Reads a run's inputs (in logging order, by record time); damaged records become warnings.
    pub(crate) fn read_run_inputs(
        &self,
        run: &RunDir,
        warnings: &mut Vec<StoreWarning>,
    ) -> RunInputs {
        let mut inputs = RunInputs::default();
        let inputs_dir = run.path.join(INPUTS_DIR);
        let entries = match fs::read_dir(&inputs_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return inputs,
            Err(e) => {
                warnings.push(StoreWarning::new(
                    inputs_dir.display().to_string(),
                    format!("cannot list run inputs: {e}"),
                ));
                return inputs;
            }
        };
        let mut records = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_temp_name(&name) {
                continue;
            }
            let modified = entry.metadata().and_then(|m| m.modified()).ok();
            records.push((modified, name, entry.path()));
        }
        records.sort();
        for (_, _, dir) in records {
            let path = dir.join(META_FILE);
            let record = match files::read_text_if_exists(&path, "run input meta.yaml") {
                Ok(Some(text)) => meta::parse_input(&text),
                Ok(None) => Err("input folder has no meta.yaml".to_string()),
                Err(e) => Err(e.to_string()),
            };
            let record = match record {
                Ok(record) => record,
                Err(problem) => {
                    warnings.push(StoreWarning::new(
                        path.display().to_string(),
                        format!("unreadable run input ({problem}); skipped"),
                    ));
                    continue;
                }
            };
            match record.source {
                InputSource::Dataset(dataset_id) => {
                    let dataset_path = run
                        .experiment
                        .path
                        .join(DATASETS_DIR)
                        .join(&dataset_id)
                        .join(META_FILE);
                    let dataset = if is_safe_component(&dataset_id) {
                        match files::read_text_if_exists(&dataset_path, "dataset meta.yaml") {
                            Ok(Some(text)) => meta::parse_dataset(&text),
                            Ok(None) => Err(format!("dataset '{dataset_id}' does not exist")),
                            Err(e) => Err(e.to_string()),
                        }
                    } else {
                        Err(format!("invalid dataset id '{dataset_id}'"))
                    };
                    match dataset {
                        Ok(dataset) => inputs.dataset_inputs.push(DatasetInput {
                            dataset,
                            tags: record
                                .tags
                                .into_iter()
                                .map(|(key, value)| InputTag { key, value })
                                .collect(),
                        }),
                        Err(problem) => warnings.push(StoreWarning::new(
                            dataset_path.display().to_string(),
                            format!("dataset input of run '{}' skipped: {problem}", run.name),
                        )),
                    }
                }
                InputSource::Model(model_id) => inputs.model_inputs.push(model_id),
                InputSource::Other(_) => {}
            }
        }
        inputs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_mlflow() {
        // §6.1: md5("dsname" + "2981c147").
        assert_eq!(
            dataset_id("dsname", "2981c147"),
            "6c2425279750b556d42ea44bf2299cb1"
        );
        assert_eq!(input_id("a", "b"), md5_hex(&["ab"]));
    }
}
