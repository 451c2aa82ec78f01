//! Runs: create, get, update, delete/restore, search.

use std::collections::BTreeSet;
use std::fs;
use std::io::ErrorKind;

use crate::error::{Error, Result, StoreWarning};
use crate::model::ViewType;
use crate::model::validation::{KeyKind, MAX_TAG_VAL_LENGTH, limit_value, validate_key};
use crate::model::{
    DEFAULT_EXPERIMENT_ID, LifecycleStage, Run, RunData, RunInfo, RunInputs, RunStatus, RunTag,
    new_run_id, now_ms, random_run_name, tags,
};
use crate::search::{
    FilterSyntax, check_max_results, decode_page_token, encode_page_token, eval, order_by,
    parse_run_filter, parse_run_order_by,
};
use crate::store::file::FileStore;
use crate::store::file::files;
use crate::store::file::meta::RunMeta;
use crate::store::file::paths::{
    ARTIFACTS_DIR, METRICS_DIR, PARAMS_DIR, TAGS_DIR, append_to_uri_path,
};
use crate::store::file::reader::{RunDir, parallel_map};
use crate::store::{CreateRun, Page, RunBatch, RunQuery};

/// Most runs in one batch of [`FileStore::stream_runs_impl`]: a batch is decoded whole before
/// it is handed over, while the caller holds every run before it, so this bounds the decoded
/// runs in flight (~6 MB of runs of 20 params, 10 metrics and 5 tags).
pub(crate) const MAX_STREAM_BATCH: usize = 1024;

impl FileStore {
    /// Writes a run's `meta.yaml` atomically (temporary file in the run folder, then rename).
    pub(crate) fn write_run_meta(&self, run: &RunDir, meta: &RunMeta) -> Result<()> {
        files::write_atomic(
            &run.path,
            &run.meta_path(),
            meta.to_yaml().as_bytes(),
            "run meta.yaml",
        )
    }

    /// Writes a run tag file atomically, reporting key collisions clearly.
    pub(crate) fn write_run_tag(&self, run: &RunDir, key: &str, value: &str) -> Result<()> {
        let tags_dir = run.path.join(TAGS_DIR);
        let path = files::prepare_key_path(&tags_dir, key, "tag")?;
        files::write_atomic(&run.path, &path, value.as_bytes(), "run tag")
            .map_err(|e| files::key_collision(&tags_dir, key, "tag").unwrap_or(e))
    }

    /// A run that may be written to: found, readable and active.
    pub(crate) fn active_run(&self, run_id: &str) -> Result<(RunDir, RunMeta)> {
        let run = self.locate_run(run_id)?;
        let meta = self.read_run_meta(&run)?;
        if meta.lifecycle_stage != LifecycleStage::Active {
            // MLflow's code for this is INVALID_PARAMETER_VALUE (`check_run_is_active`).
            return Err(Error::InvalidParameter(format!(
                "The run {run_id} must be in the 'active' state. Current state is {}.",
                meta.lifecycle_stage
            )));
        }
        Ok((run, meta))
    }

    pub(crate) fn create_run_impl(&self, request: CreateRun) -> Result<Run> {
        let experiment_id = if request.experiment_id.is_empty() {
            DEFAULT_EXPERIMENT_ID.to_string()
        } else {
            request.experiment_id
        };
        self.create_store_if_missing()?;
        let experiment = self.locate_experiment(&experiment_id)?.ok_or_else(|| {
            Error::NotFound(format!(
                "Could not create run under experiment with ID {experiment_id} - no such experiment exists."
            ))
        })?;
        let experiment_meta = self.read_experiment_meta(&experiment)?;
        if experiment.in_trash || experiment_meta.lifecycle_stage != LifecycleStage::Active {
            return Err(Error::InvalidState(format!(
                "Could not create run under non-active experiment with ID {experiment_id}."
            )));
        }

        let mut run_tags: Vec<RunTag> = Vec::with_capacity(request.tags.len() + 1);
        for tag in request.tags {
            validate_key(KeyKind::Tag, &tag.key)?;
            let mut value = tag.value;
            limit_value(KeyKind::Tag, &tag.key, &mut value, MAX_TAG_VAL_LENGTH)?;
            run_tags.push(RunTag {
                key: tag.key,
                value,
            });
        }
        if let Some(e) = files::collision_within(run_tags.iter().map(|t| t.key.as_str()), "tag") {
            return Err(e);
        }
        let name_tag = run_tags
            .iter()
            .rev()
            .find(|t| t.key == tags::RUN_NAME)
            .map(|t| t.value.clone());
        let requested_name = request.run_name.filter(|n| !n.is_empty());
        if let (Some(name), Some(tag)) = (&requested_name, &name_tag)
            && name != tag
        {
            return Err(Error::InvalidParameter(format!(
                "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different \
                 values (run_name='{name}', mlflow.runName='{tag}')."
            )));
        }
        let run_name = requested_name
            .or(name_tag.clone().filter(|n| !n.is_empty()))
            .unwrap_or_else(random_run_name);
        run_tags.retain(|t| t.key != tags::RUN_NAME);
        run_tags.push(RunTag::new(tags::RUN_NAME, run_name.clone()));

        let run_id = new_run_id();
        let run = RunDir::new(experiment, run_id.clone());
        fs::create_dir(&run.path)
            .map_err(|e| Error::io("cannot create run folder", &run.path, e))?;
        let meta = RunMeta {
            run_id: run_id.clone(),
            experiment_id: experiment_id.clone(),
            run_name,
            user_id: if request.user_id.is_empty() {
                "unknown".to_string()
            } else {
                request.user_id
            },
            status: RunStatus::Running,
            start_time: Some(request.start_time.unwrap_or_else(now_ms)),
            end_time: None,
            artifact_uri: append_to_uri_path(
                &experiment_meta.artifact_location,
                &[&run_id, ARTIFACTS_DIR],
            ),
            lifecycle_stage: LifecycleStage::Active,
            deleted_time: None,
        };
        // MLflow's order: meta.yaml makes the folder a run, then the sub-folders, then tags.
        self.write_run_meta(&run, &meta)?;
        for sub in [METRICS_DIR, PARAMS_DIR, ARTIFACTS_DIR, TAGS_DIR] {
            files::create_dir_all(&run.path.join(sub), sub)?;
        }
        let mut data = RunData::default();
        for tag in run_tags {
            self.write_run_tag(&run, &tag.key, &tag.value)?;
            data.tags.insert(tag.key, tag.value);
        }
        self.remember_run(&run_id, &run.experiment);
        Ok(Run {
            info: meta.to_run_info(None),
            data,
            inputs: RunInputs::default(),
        })
    }

    /// Reads a run by id, with the problems met in its data files.
    pub(crate) fn get_run_impl(&self, run_id: &str) -> Result<(Run, Vec<StoreWarning>)> {
        let run = self.locate_run(run_id)?;
        let meta = self.read_run_meta(&run)?;
        let mut warnings = Vec::new();
        let data = self.read_run_data(&run, &meta, &mut warnings);
        Ok((data, warnings))
    }

    pub(crate) fn update_run_info_impl(
        &self,
        run_id: &str,
        status: Option<RunStatus>,
        end_time: Option<i64>,
        run_name: Option<&str>,
    ) -> Result<RunInfo> {
        let (run, mut meta) = self.active_run(run_id)?;
        if let Some(status) = status {
            meta.status = status;
        }
        if let Some(end_time) = end_time {
            meta.end_time = Some(end_time);
        }
        if let Some(name) = run_name.filter(|n| !n.is_empty()) {
            // MLflow keeps the tag and the stored name in step.
            self.write_run_tag(&run, tags::RUN_NAME, name)?;
            meta.run_name = name.to_string();
        }
        self.write_run_meta(&run, &meta)?;
        let name_tag = if meta.run_name.is_empty() {
            files::read_text_if_exists(
                &run.path.join(TAGS_DIR).join(tags::RUN_NAME),
                "run name tag",
            )
            .ok()
            .flatten()
        } else {
            None
        };
        Ok(meta.to_run_info(name_tag.as_deref()))
    }

    /// Sets a run's lifecycle stage (delete/restore); the folder never moves.
    fn set_run_lifecycle(&self, run_id: &str, stage: LifecycleStage) -> Result<()> {
        let run = self.locate_run(run_id)?;
        let mut meta = self.read_run_meta(&run)?;
        meta.lifecycle_stage = stage;
        meta.deleted_time = match stage {
            LifecycleStage::Deleted => Some(now_ms()),
            LifecycleStage::Active => None,
        };
        self.write_run_meta(&run, &meta)
    }

    pub(crate) fn delete_run_impl(&self, run_id: &str) -> Result<()> {
        self.set_run_lifecycle(run_id, LifecycleStage::Deleted)
    }

    pub(crate) fn restore_run_impl(&self, run_id: &str) -> Result<()> {
        self.set_run_lifecycle(run_id, LifecycleStage::Active)
    }

    pub(crate) fn search_runs_impl(&self, query: &RunQuery) -> Result<Page<Run>> {
        // Counted before reading: a write during the read makes the kept result unusable.
        let writes = self.write_count();
        let mut warnings = Vec::new();
        let mut seen = BTreeSet::new();
        let mut experiments = Vec::new();
        for experiment_id in &query.experiment_ids {
            if !seen.insert(experiment_id.as_str()) {
                continue;
            }
            match self.locate_experiment(experiment_id)? {
                Some(dir) => experiments.push(dir),
                None => warnings.push(StoreWarning::new(
                    self.root.join(experiment_id).display().to_string(),
                    format!("experiment '{experiment_id}' does not exist; no runs read from it"),
                )),
            }
        }
        // Checked in MLflow's order: experiments, then page size, filter, order and token.
        check_max_results(query.max_results)?;
        let filter = parse_run_filter(&query.filter, FilterSyntax::Extended)?;
        let order = parse_run_order_by(&query.order_by)?;
        let offset = decode_page_token(query.page_token.as_deref())?;
        if let Some(page) = self.listings.next_page(query, offset, writes) {
            return Ok(page);
        }
        let mut runs: Vec<Run> = self
            .read_runs(&experiments, query.view_type, &mut warnings)
            .into_iter()
            .filter(|r| eval::run_matches(&filter, r))
            .collect();
        order_by::sort_runs(&mut runs, &order);
        let end = offset.saturating_add(query.max_results).min(runs.len());
        let items = runs.get(offset..end).unwrap_or_default().to_vec();
        let next_page_token = (end < runs.len()).then(|| encode_page_token(end));
        if let Some(token) = &next_page_token {
            self.listings
                .keep(query, runs, warnings.clone(), token, end, writes);
        }
        Ok(Page {
            items,
            next_page_token,
            warnings,
        })
    }

    /// [`TrackingStore::stream_runs`]: the newest runs first (see
    /// [`FileStore::newest_first`]), in batches that grow from 256 runs to
    /// [`MAX_STREAM_BATCH`], each filtered.
    pub(crate) fn stream_runs_impl(
        &self,
        query: &RunQuery,
        sink: &mut dyn FnMut(RunBatch) -> bool,
    ) -> Result<()> {
        let mut warnings = Vec::new();
        let mut seen = BTreeSet::new();
        let mut experiments = Vec::new();
        for experiment_id in &query.experiment_ids {
            if !seen.insert(experiment_id.as_str()) {
                continue;
            }
            match self.locate_experiment(experiment_id)? {
                Some(dir) => experiments.push(dir),
                None => warnings.push(StoreWarning::new(
                    self.root.join(experiment_id).display().to_string(),
                    format!("experiment '{experiment_id}' does not exist; no runs read from it"),
                )),
            }
        }
        let filter = parse_run_filter(&query.filter, FilterSyntax::Extended)?;
        let mut candidates = self.listing_candidates(&experiments, &mut warnings);
        let mut size = 256;
        let mut rest_unordered = self.newest_first_progressive(&mut candidates, size);
        let total = candidates.len();
        let mut done = 0;
        loop {
            let chunk = &candidates[done..(done + size).min(total)];
            self.take_from_index(chunk);
            let results = parallel_map(chunk, |d| self.read_listed_run(d, query.view_type));
            done += chunk.len();
            let mut batch = RunBatch {
                runs: Vec::with_capacity(results.len()),
                warnings: std::mem::take(&mut warnings),
                ordered: false,
                progress: Some((done, total)),
            };
            for (run, local) in results {
                batch.warnings.extend(local);
                batch
                    .runs
                    .extend(run.filter(|r| eval::run_matches(&filter, r)));
            }
            if !sink(batch) {
                return Ok(());
            }
            if done >= total {
                break;
            }
            if std::mem::take(&mut rest_unordered) {
                self.newest_first(&mut candidates[done..]);
            }
            size = (size * 2).min(MAX_STREAM_BATCH);
        }
        self.finish_listing(&experiments, &candidates);
        Ok(())
    }

    /// [`TrackingStore::newest_runs`]: orders the run folders by the start times kept for them
    /// (the run cache or the persistent index) or, for runs never read, by their `meta.yaml`
    /// alone, then reads runs in that order until it has `n` active ones (and every run whose
    /// start time ties with the last of them): a few hundred runs read instead of every run
    /// of the experiments, and none kept for a next page.
    ///
    /// [`TrackingStore::newest_runs`]: crate::store::TrackingStore::newest_runs
    pub(crate) fn newest_runs_impl(&self, experiment_ids: &[String], n: usize) -> Result<Vec<Run>> {
        let n = n.min(crate::store::SEARCH_MAX_RESULTS_THRESHOLD);
        if n == 0 {
            return Ok(Vec::new());
        }
        let mut warnings = Vec::new();
        let mut seen = BTreeSet::new();
        let mut experiments = Vec::new();
        for experiment_id in experiment_ids {
            if seen.insert(experiment_id.as_str())
                && let Some(dir) = self.locate_experiment(experiment_id)?
            {
                experiments.push(dir);
            }
        }
        let candidates = self.listing_candidates(&experiments, &mut warnings);
        let paths: Vec<&std::path::Path> = candidates.iter().map(|c| c.path.as_path()).collect();
        let kept = self.run_cache.start_times(&paths);
        // Runs never read: their `meta.yaml` only (a run that cannot be read is left out, as a
        // search leaves it out with a warning; one not active is skipped when read below).
        let unknown: Vec<usize> = (0..candidates.len())
            .filter(|&i| kept[i].is_none())
            .collect();
        let read = parallel_map(&unknown, |&i| {
            self.read_run_meta(&candidates[i])
                .ok()
                .map(|m| m.start_time)
        });
        let mut starts: Vec<Option<Option<i64>>> = kept;
        for (&i, start) in unknown.iter().zip(read) {
            starts[i] = start;
        }
        // Newest first; runs without a start time last (as `sort_runs` puts them).
        let mut order: Vec<(Option<i64>, usize)> = starts
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.map(|start| (start, i)))
            .collect();
        order.sort_by(|a, b| match (a.0, b.0) {
            (Some(x), Some(y)) => y.cmp(&x).then(a.1.cmp(&b.1)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.1.cmp(&b.1),
        });
        let mut runs = Vec::new();
        let mut at = 0;
        'read: while at < order.len() {
            let chunk: Vec<RunDir> = order[at..(at + n.max(64)).min(order.len())]
                .iter()
                .map(|&(_, i)| candidates[i].clone())
                .collect();
            self.take_from_index(&chunk);
            for dir in &chunk {
                // Enough runs, and this one does not tie with the last one read: done.
                if runs.len() >= n && order[at].0 != order[at - 1].0 {
                    break 'read;
                }
                if let (Some(run), _) = self.read_listed_run(dir, ViewType::ActiveOnly) {
                    runs.push(run);
                }
                at += 1;
            }
        }
        let order_by = parse_run_order_by(&["attributes.start_time DESC".to_string()])?;
        order_by::sort_runs(&mut runs, &order_by);
        runs.truncate(n);
        Ok(runs)
    }

    /// [`TrackingStore::count_runs`]: the run folders whose `meta.yaml` reads and matches
    /// `view`, as a listing keeps them (a run whose params, tags or metrics cannot be read is
    /// still listed, with a warning), without reading anything else of the runs.
    ///
    /// [`TrackingStore::count_runs`]: crate::store::TrackingStore::count_runs
    pub(crate) fn count_runs_impl(&self, experiment_id: &str, view: ViewType) -> Result<usize> {
        let Some(experiment) = self.locate_experiment(experiment_id)? else {
            return Ok(0);
        };
        let mut warnings = Vec::new();
        let candidates = self.listing_candidates(&[experiment], &mut warnings);
        let matching = parallel_map(&candidates, |dir| {
            self.read_run_meta(dir)
                .is_ok_and(|meta| meta.lifecycle_stage.matches(view))
        });
        Ok(matching.into_iter().filter(|&m| m).count())
    }

    /// Deletes a run tag (error when absent).
    pub(crate) fn delete_tag_impl(&self, run_id: &str, key: &str) -> Result<()> {
        validate_key(KeyKind::Tag, key)?;
        let (run, _) = self.active_run(run_id)?;
        let path = crate::store::file::paths::key_path(&run.path.join(TAGS_DIR), key);
        match fs::symlink_metadata(&path) {
            Ok(meta) if !meta.is_dir() => {
                super::files::retry_while_shared(|| fs::remove_file(&path))
                    .map_err(|e| Error::io("cannot delete run tag", &path, e))
            }
            Ok(_) => Err(tag_not_found(key, run_id)),
            Err(e) if e.kind() == ErrorKind::NotFound || e.kind() == ErrorKind::NotADirectory => {
                Err(tag_not_found(key, run_id))
            }
            Err(e) => Err(Error::io("cannot read run tag", &path, e)),
        }
    }
}

fn tag_not_found(key: &str, run_id: &str) -> Error {
    Error::NotFound(format!("No tag with name: {key} in run with id {run_id}"))
}
