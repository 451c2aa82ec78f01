//! The records stored in `meta.yaml` files: experiments, runs, datasets and inputs — read
//! tolerantly, written with the key sets MLflow 2.x and 3.x both accept.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::model::{Dataset, Experiment, LifecycleStage, RunInfo, RunStatus};
use crate::store::file::yaml::{self, Text, TextMap, YamlDoc, YamlValue};

/// Parses a lifecycle stage; absent means active, as in MLflow.
fn parse_lifecycle(text: Text) -> Result<LifecycleStage, String> {
    match text.into_option() {
        None => Ok(LifecycleStage::Active),
        Some(s) if s.is_empty() => Ok(LifecycleStage::Active),
        Some(s) => s
            .parse()
            .map_err(|_| format!("unknown lifecycle_stage '{s}'")),
    }
}

/// Parses an optional millisecond time.
fn parse_time(text: &Text, key: &str) -> Result<Option<i64>, String> {
    match text.to_int() {
        None => Ok(None),
        Some(Ok(v)) => Ok(Some(v)),
        Some(Err(raw)) => Err(format!("{key} is not an integer: '{raw}'")),
    }
}

/// Experiment `meta.yaml` as stored.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawExperimentMeta {
    experiment_id: Text,
    name: Text,
    artifact_location: Text,
    lifecycle_stage: Text,
    creation_time: Text,
    last_update_time: Text,
    workspace: Text,
}

/// An experiment's metadata (its tags live in the `tags/` folder).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExperimentMeta {
    pub experiment_id: String,
    pub name: String,
    pub artifact_location: String,
    pub lifecycle_stage: LifecycleStage,
    pub creation_time: Option<i64>,
    pub last_update_time: Option<i64>,
    /// MLflow 3.10+ writes `workspace: default`; kept when mlscope rewrites the file.
    pub workspace: Option<String>,
}

impl ExperimentMeta {
    /// Parses an experiment `meta.yaml`.
    pub(crate) fn parse(text: &str) -> Result<ExperimentMeta, String> {
        let raw: RawExperimentMeta = yaml::parse(text)?;
        let experiment_id = raw
            .experiment_id
            .into_option()
            .filter(|s| !s.is_empty())
            .ok_or("experiment_id is missing")?;
        Ok(ExperimentMeta {
            experiment_id,
            name: raw.name.into_string(),
            artifact_location: raw.artifact_location.into_string(),
            lifecycle_stage: parse_lifecycle(raw.lifecycle_stage)?,
            creation_time: parse_time(&raw.creation_time, "creation_time")?,
            last_update_time: parse_time(&raw.last_update_time, "last_update_time")?,
            workspace: raw.workspace.into_option(),
        })
    }

    /// The YAML MLflow writes: at creation without `tags`; on rename/delete/restore with the
    /// `tags` map, which older readers ignore (the `tags/` folder is authoritative).
    pub(crate) fn to_yaml(&self, tags: Option<&BTreeMap<String, String>>) -> String {
        let mut doc = YamlDoc::new();
        doc.insert("artifact_location", self.artifact_location.as_str().into());
        doc.insert("creation_time", self.creation_time.into());
        doc.insert("experiment_id", self.experiment_id.as_str().into());
        doc.insert("last_update_time", self.last_update_time.into());
        doc.insert("lifecycle_stage", self.lifecycle_stage.as_str().into());
        doc.insert("name", self.name.as_str().into());
        if let Some(tags) = tags {
            doc.insert("tags", YamlValue::StrMap(tags.clone()));
        }
        if let Some(workspace) = &self.workspace {
            doc.insert("workspace", workspace.as_str().into());
        }
        yaml::to_yaml(&doc)
    }

    /// The model entity, with `tags` from the `tags/` folder.
    pub(crate) fn into_experiment(self, tags: BTreeMap<String, String>) -> Experiment {
        Experiment {
            experiment_id: self.experiment_id,
            name: self.name,
            artifact_location: self.artifact_location,
            lifecycle_stage: self.lifecycle_stage,
            tags,
            creation_time: self.creation_time,
            last_update_time: self.last_update_time,
        }
    }
}

/// Run `meta.yaml` as stored (MLflow 2.x has `run_uuid` too; 3.x only `run_id`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawRunMeta {
    run_id: Text,
    run_uuid: Text,
    experiment_id: Text,
    run_name: Text,
    user_id: Text,
    status: Text,
    start_time: Text,
    end_time: Text,
    artifact_uri: Text,
    lifecycle_stage: Text,
    deleted_time: Text,
}

/// A run's metadata.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunMeta {
    pub run_id: String,
    pub experiment_id: String,
    /// May be empty in old stores; readers fall back to the `mlflow.runName` tag.
    pub run_name: String,
    pub user_id: String,
    pub status: RunStatus,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub artifact_uri: String,
    pub lifecycle_stage: LifecycleStage,
    /// When the run was deleted; present only while it is deleted.
    pub deleted_time: Option<i64>,
}

/// Parses a stored status: MLflow's integer, or (leniently) its name; absent means RUNNING.
fn parse_status(text: &Text) -> Result<RunStatus, String> {
    let Some(raw) = text.0.as_deref() else {
        return Ok(RunStatus::Running);
    };
    if let Some(Ok(code)) = text.to_int() {
        return RunStatus::from_int(code).ok_or_else(|| format!("unknown run status {code}"));
    }
    raw.trim()
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| format!("unknown run status '{raw}'"))
}

impl RunMeta {
    /// Parses a run `meta.yaml`.
    pub(crate) fn parse(text: &str) -> Result<RunMeta, String> {
        let raw: RawRunMeta = yaml::parse(text)?;
        let run_id = raw
            .run_id
            .into_option()
            .filter(|s| !s.is_empty())
            .or_else(|| raw.run_uuid.into_option().filter(|s| !s.is_empty()))
            .ok_or("run_id (and run_uuid) is missing")?;
        let experiment_id = raw
            .experiment_id
            .into_option()
            .filter(|s| !s.is_empty())
            .ok_or("experiment_id is missing")?;
        Ok(RunMeta {
            run_id,
            experiment_id,
            run_name: raw.run_name.into_string(),
            user_id: raw.user_id.into_string(),
            status: parse_status(&raw.status)?,
            start_time: parse_time(&raw.start_time, "start_time")?,
            end_time: parse_time(&raw.end_time, "end_time")?,
            artifact_uri: raw.artifact_uri.into_string(),
            lifecycle_stage: parse_lifecycle(raw.lifecycle_stage)?,
            deleted_time: parse_time(&raw.deleted_time, "deleted_time")?,
        })
    }

    /// The full MLflow 2.x key set (with both `run_id` and `run_uuid`, which MLflow ≤2.22.1
    /// needs) plus `deleted_time` while deleted. 3.x readers ignore the extra keys.
    pub(crate) fn to_yaml(&self) -> String {
        let mut doc = YamlDoc::new();
        doc.insert("artifact_uri", self.artifact_uri.as_str().into());
        if let Some(deleted_time) = self.deleted_time {
            doc.insert("deleted_time", YamlValue::Int(deleted_time));
        }
        doc.insert("end_time", self.end_time.into());
        doc.insert("entry_point_name", "".into());
        doc.insert("experiment_id", self.experiment_id.as_str().into());
        doc.insert("lifecycle_stage", self.lifecycle_stage.as_str().into());
        doc.insert("run_id", self.run_id.as_str().into());
        doc.insert("run_name", self.run_name.as_str().into());
        doc.insert("run_uuid", self.run_id.as_str().into());
        doc.insert("source_name", "".into());
        // SourceType.LOCAL, the legacy constant MLflow writes.
        doc.insert("source_type", YamlValue::Int(4));
        doc.insert("source_version", "".into());
        doc.insert("start_time", self.start_time.into());
        doc.insert("status", YamlValue::Int(self.status.to_int()));
        doc.insert("tags", YamlValue::EmptyList);
        doc.insert("user_id", self.user_id.as_str().into());
        yaml::to_yaml(&doc)
    }

    /// The model entity; an empty stored name falls back to the `mlflow.runName` tag.
    pub(crate) fn to_run_info(&self, run_name_tag: Option<&str>) -> RunInfo {
        let run_name = if self.run_name.is_empty() {
            run_name_tag.unwrap_or_default().to_string()
        } else {
            self.run_name.clone()
        };
        RunInfo {
            run_id: self.run_id.clone(),
            run_name,
            experiment_id: self.experiment_id.clone(),
            user_id: self.user_id.clone(),
            status: self.status,
            start_time: self.start_time,
            end_time: self.end_time,
            artifact_uri: self.artifact_uri.clone(),
            lifecycle_stage: self.lifecycle_stage,
        }
    }
}

/// Dataset record `<exp>/datasets/<id>/meta.yaml`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawDataset {
    name: Text,
    digest: Text,
    source_type: Text,
    source: Text,
    schema: Text,
    profile: Text,
}

/// Parses a dataset record.
pub(crate) fn parse_dataset(text: &str) -> Result<Dataset, String> {
    let raw: RawDataset = yaml::parse(text)?;
    let name = raw.name.into_option().ok_or("dataset name is missing")?;
    let digest = raw
        .digest
        .into_option()
        .ok_or("dataset digest is missing")?;
    Ok(Dataset {
        name,
        digest,
        source_type: raw.source_type.into_string(),
        source: raw.source.into_string(),
        schema: raw.schema.into_option(),
        profile: raw.profile.into_option(),
    })
}

/// The dataset record as MLflow writes it (`dict(dataset)`, sorted keys).
pub(crate) fn dataset_to_yaml(dataset: &Dataset) -> String {
    let mut doc = YamlDoc::new();
    doc.insert("digest", dataset.digest.as_str().into());
    doc.insert("name", dataset.name.as_str().into());
    doc.insert("profile", dataset.profile.clone().into());
    doc.insert("schema", dataset.schema.clone().into());
    doc.insert("source", dataset.source.as_str().into());
    doc.insert("source_type", dataset.source_type.as_str().into());
    yaml::to_yaml(&doc)
}

/// What kind of entity an input record points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InputSource {
    /// A dataset record id (folder name under `<exp>/datasets/`).
    Dataset(String),
    /// A logged model id (MLflow 3).
    Model(String),
    /// Something this version does not know; ignored.
    Other(String),
}

/// Input record `<run>/inputs/<id>/meta.yaml`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawInput {
    source_type: Text,
    source_id: Text,
    tags: TextMap,
}

/// An input record: what it points to and the input's tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InputRecord {
    pub source: InputSource,
    pub tags: BTreeMap<String, String>,
}

/// Parses an input record.
pub(crate) fn parse_input(text: &str) -> Result<InputRecord, String> {
    let raw: RawInput = yaml::parse(text)?;
    let source_id = raw.source_id.into_option().ok_or("source_id is missing")?;
    let source = match raw.source_type.into_string().as_str() {
        "DATASET" => InputSource::Dataset(source_id),
        "MODEL" => InputSource::Model(source_id),
        other => InputSource::Other(other.to_string()),
    };
    Ok(InputRecord {
        source,
        tags: raw.tags.0,
    })
}

/// A dataset input record as MLflow writes it, including its bug of storing the dataset id
/// as `destination_id`.
pub(crate) fn dataset_input_to_yaml(dataset_id: &str, tags: &BTreeMap<String, String>) -> String {
    let mut doc = YamlDoc::new();
    doc.insert("destination_id", dataset_id.into());
    doc.insert("destination_type", "RUN".into());
    doc.insert("source_id", dataset_id.into());
    doc.insert("source_type", "DATASET".into());
    doc.insert("tags", YamlValue::StrMap(tags.clone()));
    yaml::to_yaml(&doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN_317: &str =
        "artifact_uri: file:///home/alice/proj/mlruns/0/b197ceee45794658ab87df05571aef94/artifacts
end_time: null
entry_point_name: ''
experiment_id: '0'
lifecycle_stage: active
run_id: b197ceee45794658ab87df05571aef94
run_name: 'a run name with spaces: and colon'
source_name: ''
source_type: 4
source_version: ''
start_time: 1796041069655
status: 1
tags: []
user_id: unknown
";

    #[test]
    fn reads_mlflow_317_run_meta() {
        let meta = RunMeta::parse(RUN_317).unwrap();
        assert_eq!(meta.run_id, "b197ceee45794658ab87df05571aef94");
        assert_eq!(meta.experiment_id, "0");
        assert_eq!(meta.run_name, "a run name with spaces: and colon");
        assert_eq!(meta.status, RunStatus::Running);
        assert_eq!(meta.end_time, None);
        assert_eq!(meta.start_time, Some(1796041069655));
        assert_eq!(meta.lifecycle_stage, LifecycleStage::Active);
    }

    #[test]
    fn reads_legacy_and_sparse_run_meta() {
        let meta = RunMeta::parse("run_uuid: abc\nexperiment_id: 7\nstatus: 3\n").unwrap();
        assert_eq!(meta.run_id, "abc");
        assert_eq!(meta.experiment_id, "7");
        assert_eq!(meta.status, RunStatus::Finished);
        let meta = RunMeta::parse(
            "run_id: abc\nexperiment_id: '1'\nlifecycle_stage: deleted\ndeleted_time: 5\n",
        )
        .unwrap();
        assert_eq!(meta.status, RunStatus::Running);
        assert_eq!(meta.lifecycle_stage, LifecycleStage::Deleted);
        assert_eq!(meta.deleted_time, Some(5));
        assert!(RunMeta::parse("experiment_id: '1'\n").is_err());
        assert!(RunMeta::parse("run_id: a\nexperiment_id: '1'\nstatus: 9\n").is_err());
        assert!(RunMeta::parse("run_id: a\nexperiment_id: '1'\nstart_time: soon\n").is_err());
    }

    #[test]
    fn run_meta_round_trips_with_both_ids() {
        let meta = RunMeta {
            run_id: "0123abc".into(),
            experiment_id: "455643779590749074".into(),
            run_name: "on".into(),
            user_id: "unknown".into(),
            status: RunStatus::Running,
            start_time: Some(1),
            end_time: None,
            artifact_uri: "file:///r/455643779590749074/0123abc/artifacts".into(),
            lifecycle_stage: LifecycleStage::Active,
            deleted_time: None,
        };
        let text = meta.to_yaml();
        assert!(text.contains("run_uuid: 0123abc\n"), "{text}");
        assert!(text.contains("end_time: null\n"), "{text}");
        assert!(text.contains("run_name: 'on'\n"), "{text}");
        assert!(!text.contains("deleted_time"), "{text}");
        assert_eq!(RunMeta::parse(&text).unwrap(), meta);
    }

    #[test]
    fn experiment_meta_round_trips() {
        let text = "artifact_location: file:///r/0\ncreation_time: 1\neffective_trace_archival_retention: null\nexperiment_id: '0'\nlast_update_time: 2\nlifecycle_stage: active\nname: Default\ntrace_location: null\nworkspace: default\n";
        let meta = ExperimentMeta::parse(text).unwrap();
        assert_eq!(meta.experiment_id, "0");
        assert_eq!(meta.workspace.as_deref(), Some("default"));
        let again = ExperimentMeta::parse(&meta.to_yaml(None)).unwrap();
        assert_eq!(again, meta);
        let legacy = ExperimentMeta::parse("experiment_id: 0\nname: 1e3\n").unwrap();
        assert_eq!(
            (legacy.experiment_id.as_str(), legacy.name.as_str()),
            ("0", "1e3")
        );
    }

    #[test]
    fn inputs_and_datasets_parse() {
        let input = parse_input("destination_id: x\ndestination_type: RUN\nsource_id: 6c24\nsource_type: DATASET\ntags:\n  k: v\n  mlflow.data.context: training\n").unwrap();
        assert_eq!(input.source, InputSource::Dataset("6c24".into()));
        assert_eq!(input.tags.len(), 2);
        let ds = parse_dataset("digest: 2981c147\nname: dsname\nprofile: '{\"num_rows\": 2}'\nschema: null\nsource: '{\"tags\": {\"a\":\n  \"b\"}}'\nsource_type: code\n").unwrap();
        assert_eq!(ds.digest, "2981c147");
        assert_eq!(ds.schema, None);
        assert_eq!(ds.source, "{\"tags\": {\"a\": \"b\"}}");
    }
}
