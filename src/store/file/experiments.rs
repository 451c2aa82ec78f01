//! Experiments: create, rename, delete (move to `.trash`), restore, tags, search.

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;

use crate::error::{Error, Result};
use crate::model::validation::{
    KeyKind, validate_experiment_name, validate_experiment_tag_value, validate_key,
};
use crate::model::{
    DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME, Experiment, LifecycleStage, ViewType, now_ms,
};
use crate::search::search_experiments_in_memory;
use crate::store::file::FileStore;
use crate::store::file::files;
use crate::store::file::meta::ExperimentMeta;
use crate::store::file::paths::{
    self, MAX_ARTIFACT_LOCATION_LENGTH, TAGS_DIR, append_to_uri_path, path_to_file_uri,
    resolve_artifact_location,
};
use crate::store::file::reader::{ExperimentDir, read_value_files};
use crate::store::{ExperimentQuery, Page};

/// MLflow ≥2.0's FileStore experiment id: the last 18 decimal digits of a random 128-bit
/// number, leading zeros replaced by random digits at the end, so always 18 digits with a
/// non-zero first digit.
pub(crate) fn generate_experiment_id() -> String {
    let random = uuid::Uuid::new_v4().as_u128() % 10u128.pow(18);
    let digits = format!("{random:018}");
    let significant = digits.trim_start_matches('0');
    let mut id = if significant.is_empty() {
        "1".to_string()
    } else {
        significant.to_string()
    };
    let filler = format!("{:039}", uuid::Uuid::new_v4().as_u128());
    id.extend(filler.chars().rev().take(18 - id.len()));
    id
}

impl FileStore {
    /// Writes an experiment's `meta.yaml` atomically.
    pub(crate) fn write_experiment_meta(
        &self,
        dir: &ExperimentDir,
        meta: &ExperimentMeta,
        tags: Option<&BTreeMap<String, String>>,
    ) -> Result<()> {
        files::write_atomic(
            &dir.path,
            &dir.meta_path(),
            meta.to_yaml(tags).as_bytes(),
            "experiment meta.yaml",
        )
    }

    /// Writes an experiment tag file `<exp>/tags/<key>` atomically.
    fn write_experiment_tag(&self, dir: &ExperimentDir, key: &str, value: &str) -> Result<()> {
        let path = files::prepare_key_path(&dir.path.join(TAGS_DIR), key, "experiment tag")?;
        files::write_atomic(&dir.path, &path, value.as_bytes(), "experiment tag").map_err(|e| {
            files::key_collision(&dir.path.join(TAGS_DIR), key, "experiment tag").unwrap_or(e)
        })
    }

    /// An active experiment's folder and metadata, or MLflow's errors.
    fn active_experiment(
        &self,
        experiment_id: &str,
        action: &str,
    ) -> Result<(ExperimentDir, ExperimentMeta)> {
        let dir = self.require_experiment(experiment_id)?;
        let meta = self.read_experiment_meta(&dir)?;
        if dir.in_trash || meta.lifecycle_stage != LifecycleStage::Active {
            return Err(Error::InvalidParameter(format!(
                "The experiment {experiment_id} must be in the 'active' lifecycle_stage to {action}"
            )));
        }
        Ok((dir, meta))
    }

    /// MLflow's name rule: unique among active and deleted experiments.
    fn check_name_is_free(&self, name: &str) -> Result<()> {
        let Some(existing) = self.get_experiment_by_name_impl(name)? else {
            return Ok(());
        };
        Err(match existing.lifecycle_stage {
            LifecycleStage::Deleted => Error::AlreadyExists(format!(
                "Experiment '{name}' already exists in deleted state. You can restore the experiment, \
                 or permanently delete the experiment from the .trash folder (under tracking server's \
                 root folder) in order to use this experiment name again."
            )),
            LifecycleStage::Active => {
                Error::AlreadyExists(format!("Experiment '{name}' already exists."))
            }
        })
    }

    /// Creates an experiment folder with a given id in the store root; `false` when the id is
    /// taken.
    pub(crate) fn create_experiment_with_id(
        &self,
        experiment_id: &str,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<bool> {
        self.create_experiment_in(&self.root, experiment_id, name, artifact_location, tags)
    }

    /// Creates an experiment folder with a given id in `folder` (the store root, or the staging
    /// folder of a store being created, with `0`); its default artifact location is under the
    /// store root either way.
    pub(crate) fn create_experiment_in(
        &self,
        folder: &std::path::Path,
        experiment_id: &str,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<bool> {
        let path = folder.join(experiment_id);
        match fs::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(false),
            Err(e) => return Err(Error::io("cannot create experiment folder", &path, e)),
        }
        let artifact_location = match artifact_location.filter(|l| !l.is_empty()) {
            Some(location) => resolve_artifact_location(location),
            None => append_to_uri_path(&path_to_file_uri(&self.root), &[experiment_id]),
        };
        let now = now_ms();
        let meta = ExperimentMeta {
            experiment_id: experiment_id.to_string(),
            name: name.to_string(),
            artifact_location,
            lifecycle_stage: LifecycleStage::Active,
            creation_time: Some(now),
            last_update_time: Some(now),
            workspace: None,
        };
        let dir = ExperimentDir {
            id: experiment_id.to_string(),
            path,
            in_trash: false,
        };
        // MLflow's order: meta.yaml first (so the folder is an experiment), then the tags.
        self.write_experiment_meta(&dir, &meta, None)?;
        for (key, value) in tags {
            self.write_experiment_tag(&dir, key, value)?;
        }
        Ok(true)
    }

    pub(crate) fn create_experiment_impl(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<String> {
        validate_experiment_name(name)?;
        if let Some(location) = artifact_location
            && location.chars().count() > MAX_ARTIFACT_LOCATION_LENGTH
        {
            return Err(Error::InvalidParameter(format!(
                "Invalid artifact path length. The length of the artifact path cannot be greater than \
                 {MAX_ARTIFACT_LOCATION_LENGTH} characters."
            )));
        }
        for (key, value) in tags {
            validate_key(KeyKind::ExperimentTag, key)?;
            validate_experiment_tag_value(key, value)?;
        }
        if let Some(e) =
            files::collision_within(tags.iter().map(|(k, _)| k.as_str()), "experiment tag")
        {
            return Err(e);
        }
        self.create_store_if_missing()?;
        // The name check and the creation are one step for every process of this store.
        let _names = self.lock_experiment_names()?;
        self.check_name_is_free(name)?;
        // Random ids practically never collide; retry anyway rather than overwrite.
        for _ in 0..8 {
            let id = generate_experiment_id();
            if self.trash_dir().join(&id).exists() {
                continue;
            }
            if self.create_experiment_with_id(&id, name, artifact_location, tags)? {
                return Ok(id);
            }
        }
        Err(Error::io(
            "cannot find a free experiment id",
            &self.root,
            std::io::Error::from(ErrorKind::AlreadyExists),
        ))
    }

    /// The `Default` experiment `0` of a store whose root does not exist yet, read as if it
    /// were there: MLflow creates it when it opens a new store; mlscope, which never writes
    /// when opening, creates it with the store's first write ([`FileStore::create_store_if_missing`]).
    fn default_of_new_store(&self) -> Option<Experiment> {
        if self.root.exists() {
            return None;
        }
        Some(Experiment {
            experiment_id: DEFAULT_EXPERIMENT_ID.to_string(),
            name: DEFAULT_EXPERIMENT_NAME.to_string(),
            artifact_location: append_to_uri_path(
                &path_to_file_uri(&self.root),
                &[DEFAULT_EXPERIMENT_ID],
            ),
            lifecycle_stage: LifecycleStage::Active,
            tags: BTreeMap::new(),
            creation_time: None,
            last_update_time: None,
        })
    }

    pub(crate) fn get_experiment_impl(&self, experiment_id: &str) -> Result<Experiment> {
        if let Some(default) = self.default_of_new_store()
            && experiment_id == default.experiment_id
        {
            return Ok(default);
        }
        let dir = self.require_experiment(experiment_id)?;
        let mut ignored = Vec::new();
        self.read_experiment(&dir, &mut ignored)
    }

    pub(crate) fn get_experiment_by_name_impl(&self, name: &str) -> Result<Option<Experiment>> {
        if let Some(default) = self.default_of_new_store() {
            return Ok((default.name == name).then_some(default));
        }
        let mut ignored = Vec::new();
        let mut dirs = self.experiment_dirs(ViewType::All, &mut ignored);
        // Read metas first (cheap) and tags only for the match.
        dirs.retain(|dir| {
            self.read_experiment_meta(dir)
                .is_ok_and(|meta| meta.name == name)
        });
        match dirs.first() {
            Some(dir) => Ok(Some(self.read_experiment(dir, &mut ignored)?)),
            None => Ok(None),
        }
    }

    pub(crate) fn search_experiments_impl(
        &self,
        query: &ExperimentQuery,
    ) -> Result<Page<Experiment>> {
        let mut warnings = Vec::new();
        let experiments = match self.default_of_new_store() {
            Some(default) if query.view_type != ViewType::DeletedOnly => vec![default],
            Some(_) => Vec::new(),
            None => self.read_experiments(query.view_type, &mut warnings),
        };
        let (items, next_page_token) = search_experiments_in_memory(experiments, query)?;
        Ok(Page {
            items,
            next_page_token,
            warnings,
        })
    }

    pub(crate) fn rename_experiment_impl(&self, experiment_id: &str, new_name: &str) -> Result<()> {
        validate_experiment_name(new_name)?;
        let dir = self.require_experiment(experiment_id)?;
        let mut meta = self.read_experiment_meta(&dir)?;
        if dir.in_trash || meta.lifecycle_stage != LifecycleStage::Active {
            return Err(Error::InvalidState(format!(
                "Cannot rename experiment in non-active lifecycle stage. Current stage: {}",
                LifecycleStage::Deleted
            )));
        }
        let _names = self.lock_experiment_names()?;
        self.check_name_is_free(new_name)?;
        meta.name = new_name.to_string();
        meta.last_update_time = Some(now_ms());
        let mut ignored = Vec::new();
        let tags = read_value_files(&dir.path.join(TAGS_DIR), &mut ignored);
        self.write_experiment_meta(&dir, &meta, Some(&tags))
    }

    pub(crate) fn delete_experiment_impl(&self, experiment_id: &str) -> Result<()> {
        if experiment_id == DEFAULT_EXPERIMENT_ID {
            return Err(Error::InvalidParameter(format!(
                "Cannot delete the default experiment '{DEFAULT_EXPERIMENT_ID}'. This is an internally \
                 reserved experiment."
            )));
        }
        let dir = self.require_experiment(experiment_id)?;
        if dir.in_trash {
            return Err(Error::NotFound(format!(
                "Could not find active experiment with ID {experiment_id}: it is already deleted"
            )));
        }
        let mut meta = self.read_experiment_meta(&dir)?;
        // Check the move can succeed before touching anything.
        let trash = self.trash_dir();
        files::create_dir_all(&trash, "trash")?;
        let target = trash.join(experiment_id);
        if target.exists() {
            return Err(Error::AlreadyExists(format!(
                "Cannot delete experiment {experiment_id}: {} already exists",
                target.display()
            )));
        }
        let deletion_time = now_ms();
        // Mark the active runs deleted first, as MLflow does; unreadable runs are left alone.
        let mut ignored = Vec::new();
        for run in self.run_dirs(&dir, &mut ignored) {
            let Ok(mut run_meta) = self.read_run_meta(&run) else {
                continue;
            };
            if run_meta.lifecycle_stage == LifecycleStage::Active {
                run_meta.lifecycle_stage = LifecycleStage::Deleted;
                run_meta.deleted_time = Some(deletion_time);
                self.write_run_meta(&run, &run_meta)?;
            }
        }
        meta.lifecycle_stage = LifecycleStage::Deleted;
        meta.last_update_time = Some(deletion_time);
        let tags = read_value_files(&dir.path.join(TAGS_DIR), &mut ignored);
        self.write_experiment_meta(&dir, &meta, Some(&tags))?;
        fs::rename(&dir.path, &target)
            .map_err(|e| Error::io("cannot move experiment to .trash", &dir.path, e))?;
        self.forget_runs_of(&dir.path);
        Ok(())
    }

    pub(crate) fn restore_experiment_impl(&self, experiment_id: &str) -> Result<()> {
        let dir = self.require_experiment(experiment_id)?;
        if !dir.in_trash {
            return Err(Error::NotFound(format!(
                "Could not find deleted experiment with ID {experiment_id}"
            )));
        }
        let target = self.root.join(experiment_id);
        if target.exists() {
            return Err(Error::AlreadyExists(format!(
                "Cannot restore experiment with ID {experiment_id}. An experiment with same ID already exists."
            )));
        }
        let mut meta = self.read_experiment_meta(&dir)?;
        fs::rename(&dir.path, &target)
            .map_err(|e| Error::io("cannot move experiment out of .trash", &dir.path, e))?;
        self.forget_runs_of(&dir.path);
        let restored = ExperimentDir {
            id: experiment_id.to_string(),
            path: target,
            in_trash: false,
        };
        // MLflow restores every deleted run of the experiment.
        let mut ignored = Vec::new();
        for run in self.run_dirs(&restored, &mut ignored) {
            let Ok(mut run_meta) = self.read_run_meta(&run) else {
                continue;
            };
            if run_meta.lifecycle_stage == LifecycleStage::Deleted {
                run_meta.lifecycle_stage = LifecycleStage::Active;
                run_meta.deleted_time = None;
                self.write_run_meta(&run, &run_meta)?;
            }
        }
        meta.lifecycle_stage = LifecycleStage::Active;
        meta.last_update_time = Some(now_ms());
        let tags = read_value_files(&restored.path.join(TAGS_DIR), &mut ignored);
        self.write_experiment_meta(&restored, &meta, Some(&tags))
    }

    pub(crate) fn set_experiment_tag_impl(
        &self,
        experiment_id: &str,
        key: &str,
        value: &str,
    ) -> Result<()> {
        validate_key(KeyKind::ExperimentTag, key)?;
        validate_experiment_tag_value(key, value)?;
        let (dir, _) = self.active_experiment(experiment_id, "set tags")?;
        self.write_experiment_tag(&dir, key, value)
    }

    pub(crate) fn delete_experiment_tag_impl(&self, experiment_id: &str, key: &str) -> Result<()> {
        validate_key(KeyKind::ExperimentTag, key)?;
        let (dir, _) = self.active_experiment(experiment_id, "delete tags")?;
        let path = paths::key_path(&dir.path.join(TAGS_DIR), key);
        if !path.is_file() {
            return Err(Error::NotFound(format!(
                "No tag with name: {key} in experiment with id {experiment_id}"
            )));
        }
        super::files::retry_while_shared(|| fs::remove_file(&path))
            .map_err(|e| Error::io("cannot delete experiment tag", &path, e))
    }
}
