//! MLflow's `mlruns` folder (FileStore): reading and writing. (Being written.)

use std::path::{Path, PathBuf};

use crate::error::Result;

/// A `mlruns` folder.
pub struct FileStore {
    root: PathBuf,
}

impl FileStore {
    /// Opens (creating if missing) the store at `root`.
    pub fn open(root: &Path) -> Result<FileStore> {
        Ok(FileStore {
            root: root.to_path_buf(),
        })
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

// Placeholder until the file store lands (replaced wholesale by the real backend).
#[allow(unused_variables)]
impl crate::store::TrackingStore for FileStore {
    fn tracking_uri(&self) -> String {
        format!("file://{}", self.root.display())
    }
    fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<String> {
        unimplemented!()
    }
    fn get_experiment(&self, experiment_id: &str) -> Result<crate::Experiment> {
        unimplemented!()
    }
    fn get_experiment_by_name(&self, name: &str) -> Result<Option<crate::Experiment>> {
        unimplemented!()
    }
    fn search_experiments(
        &self,
        query: &crate::ExperimentQuery,
    ) -> Result<crate::Page<crate::Experiment>> {
        unimplemented!()
    }
    fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()> {
        unimplemented!()
    }
    fn delete_experiment(&self, experiment_id: &str) -> Result<()> {
        unimplemented!()
    }
    fn restore_experiment(&self, experiment_id: &str) -> Result<()> {
        unimplemented!()
    }
    fn set_experiment_tag(&self, experiment_id: &str, key: &str, value: &str) -> Result<()> {
        unimplemented!()
    }
    fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> Result<()> {
        unimplemented!()
    }
    fn create_run(&self, request: crate::CreateRun) -> Result<crate::Run> {
        unimplemented!()
    }
    fn get_run(&self, run_id: &str) -> Result<crate::Run> {
        unimplemented!()
    }
    fn update_run_info(
        &self,
        run_id: &str,
        status: Option<crate::RunStatus>,
        end_time: Option<i64>,
        run_name: Option<&str>,
    ) -> Result<crate::RunInfo> {
        unimplemented!()
    }
    fn delete_run(&self, run_id: &str) -> Result<()> {
        unimplemented!()
    }
    fn restore_run(&self, run_id: &str) -> Result<()> {
        unimplemented!()
    }
    fn search_runs(&self, query: &crate::RunQuery) -> Result<crate::Page<crate::Run>> {
        unimplemented!()
    }
    fn log_batch(
        &self,
        run_id: &str,
        metrics: &[crate::Metric],
        params: &[crate::Param],
        tags: &[crate::RunTag],
    ) -> Result<()> {
        unimplemented!()
    }
    fn get_metric_history(&self, run_id: &str, key: &str) -> Result<Vec<crate::Metric>> {
        unimplemented!()
    }
    fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        unimplemented!()
    }
    fn log_inputs(&self, run_id: &str, datasets: &[crate::DatasetInput]) -> Result<()> {
        unimplemented!()
    }
}
