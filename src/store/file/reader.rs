//! Finding experiments and runs on disk and reading them tolerantly: a damaged entity is
//! skipped with a [`StoreWarning`] in listings, and everything else is still returned.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result, StoreWarning};
use crate::model::validation::{validate_experiment_id, validate_run_id};
use crate::model::{Experiment, Run, RunData, RunInputs, ViewType, tags};
use crate::store::file::FileStore;
use crate::store::file::files::{self, list_key_files};
use crate::store::file::meta::{ExperimentMeta, RunMeta};
use crate::store::file::metrics::MetricFile;
use crate::store::file::paths::{
    self, META_FILE, METRICS_DIR, NON_EXPERIMENT_ROOT_FOLDERS, PARAMS_DIR,
    RESERVED_EXPERIMENT_FOLDERS, TAGS_DIR, is_os_junk_name, is_temp_name,
};
use crate::store::file::snapshot::Fingerprint;

/// An experiment folder: `<root>/<id>` (active) or `<root>/.trash/<id>` (deleted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExperimentDir {
    /// The experiment id (the folder name).
    pub id: String,
    /// The folder.
    pub path: PathBuf,
    /// Whether it lives in `.trash`.
    pub in_trash: bool,
}

impl ExperimentDir {
    /// The experiment's `meta.yaml`.
    pub(crate) fn meta_path(&self) -> PathBuf {
        self.path.join(META_FILE)
    }
}

/// A run folder inside an experiment folder.
#[derive(Debug, Clone)]
pub(crate) struct RunDir {
    /// The experiment holding it.
    pub experiment: ExperimentDir,
    /// The folder name, which must equal the run id.
    pub name: String,
    /// The folder.
    pub path: PathBuf,
}

impl RunDir {
    /// The folder `name` inside `experiment`.
    pub(crate) fn new(experiment: ExperimentDir, name: String) -> RunDir {
        let path = experiment.path.join(&name);
        RunDir {
            experiment,
            name,
            path,
        }
    }

    /// The run's `meta.yaml`.
    pub(crate) fn meta_path(&self) -> PathBuf {
        self.path.join(META_FILE)
    }
}

/// Lists the subfolder names of `dir`, sorted. Files are returned separately.
fn list_dir(dir: &Path) -> std::io::Result<(Vec<String>, Vec<String>)> {
    let mut dirs = Vec::new();
    let mut plain_files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            plain_files.push(entry.file_name().to_string_lossy().into_owned());
            continue;
        };
        let is_dir = match entry.file_type() {
            Ok(t) if t.is_symlink() => entry.path().is_dir(),
            Ok(t) => t.is_dir(),
            Err(_) => entry.path().is_dir(),
        };
        if is_dir {
            dirs.push(name);
        } else {
            plain_files.push(name);
        }
    }
    dirs.sort();
    plain_files.sort();
    Ok((dirs, plain_files))
}

impl FileStore {
    /// The `.trash` folder.
    pub(crate) fn trash_dir(&self) -> PathBuf {
        self.root.join(paths::TRASH_DIR)
    }

    /// Finds an experiment folder by id, active first, then in `.trash`.
    pub(crate) fn locate_experiment(&self, experiment_id: &str) -> Result<Option<ExperimentDir>> {
        validate_experiment_id(experiment_id)?;
        if NON_EXPERIMENT_ROOT_FOLDERS.contains(&experiment_id) {
            return Ok(None);
        }
        let active = self.root.join(experiment_id);
        if active.is_dir() {
            return Ok(Some(ExperimentDir {
                id: experiment_id.to_string(),
                path: active,
                in_trash: false,
            }));
        }
        let deleted = self.trash_dir().join(experiment_id);
        if deleted.is_dir() {
            return Ok(Some(ExperimentDir {
                id: experiment_id.to_string(),
                path: deleted,
                in_trash: true,
            }));
        }
        Ok(None)
    }

    /// Like [`Self::locate_experiment`], with MLflow's error for an unknown id.
    pub(crate) fn require_experiment(&self, experiment_id: &str) -> Result<ExperimentDir> {
        self.locate_experiment(experiment_id)?
            .ok_or_else(|| experiment_not_found(experiment_id))
    }

    /// Experiment folders for `view`: active ones from the root, deleted ones from `.trash`.
    /// Stray root entries are ignored, as MLflow does.
    pub(crate) fn experiment_dirs(
        &self,
        view: ViewType,
        warnings: &mut Vec<StoreWarning>,
    ) -> Vec<ExperimentDir> {
        let mut out = Vec::new();
        let mut scan = |parent: PathBuf, in_trash: bool, out: &mut Vec<ExperimentDir>| {
            let dirs = match list_dir(&parent) {
                Ok((dirs, _files)) => dirs,
                // No trash yet, or no store yet (created by its first write): nothing to list.
                Err(e) if e.kind() == ErrorKind::NotFound => return,
                Err(e) => {
                    warnings.push(StoreWarning::new(
                        parent.display().to_string(),
                        format!("cannot list experiments: {e}"),
                    ));
                    return;
                }
            };
            for name in dirs {
                if is_temp_name(&name)
                    || (!in_trash && NON_EXPERIMENT_ROOT_FOLDERS.contains(&name.as_str()))
                {
                    continue;
                }
                if validate_experiment_id(&name).is_err() {
                    if !name.starts_with('.') {
                        warnings.push(StoreWarning::new(
                            parent.join(&name).display().to_string(),
                            "folder name is not a valid experiment id; skipped",
                        ));
                    }
                    continue;
                }
                out.push(ExperimentDir {
                    path: parent.join(&name),
                    id: name,
                    in_trash,
                });
            }
        };
        if matches!(view, ViewType::ActiveOnly | ViewType::All) {
            scan(self.root.clone(), false, &mut out);
        }
        if matches!(view, ViewType::DeletedOnly | ViewType::All) {
            scan(self.trash_dir(), true, &mut out);
        }
        out
    }

    /// Reads an experiment's `meta.yaml` and checks it names the folder's id.
    pub(crate) fn read_experiment_meta(&self, dir: &ExperimentDir) -> Result<ExperimentMeta> {
        let path = dir.meta_path();
        let text = files::read_text_if_exists(&path, "experiment meta.yaml")?
            .ok_or_else(|| Error::corrupt("experiment folder has no meta.yaml", &path))?;
        let meta = ExperimentMeta::parse(&text)
            .map_err(|m| Error::corrupt(format!("malformed experiment meta.yaml: {m}"), &path))?;
        if meta.experiment_id != dir.id {
            return Err(Error::corrupt(
                format!(
                    "meta.yaml names experiment '{}' but lives in folder '{}'",
                    meta.experiment_id, dir.id
                ),
                &path,
            ));
        }
        Ok(meta)
    }

    /// Reads an experiment with its tags; tag problems become warnings.
    pub(crate) fn read_experiment(
        &self,
        dir: &ExperimentDir,
        warnings: &mut Vec<StoreWarning>,
    ) -> Result<Experiment> {
        let meta = self.read_experiment_meta(dir)?;
        let tags = read_value_files(&dir.path.join(TAGS_DIR), warnings);
        Ok(meta.into_experiment(tags))
    }

    /// Every readable experiment for `view`; unreadable ones become warnings.
    pub(crate) fn read_experiments(
        &self,
        view: ViewType,
        warnings: &mut Vec<StoreWarning>,
    ) -> Vec<Experiment> {
        let dirs = self.experiment_dirs(view, warnings);
        let results = parallel_map(&dirs, |dir| {
            let mut local = Vec::new();
            let result = self.read_experiment(dir, &mut local);
            (result, local)
        });
        let mut experiments = Vec::with_capacity(results.len());
        for ((result, local), dir) in results.into_iter().zip(&dirs) {
            warnings.extend(local);
            match result {
                Ok(experiment) => experiments.push(experiment),
                Err(_) if being_created(&dir.path) => {}
                Err(e) => warnings.push(warning_from_error(e, "experiment skipped")),
            }
        }
        experiments
    }

    /// Finds the folder of a run by id: active experiments first, then `.trash`. A cache of
    /// known locations saves the scan; it is checked against the disk on every use.
    pub(crate) fn locate_run(&self, run_id: &str) -> Result<RunDir> {
        validate_run_id(run_id)?;
        let not_found = || Error::NotFound(format!("Run '{run_id}' not found"));
        if RESERVED_EXPERIMENT_FOLDERS.contains(&run_id) {
            return Err(not_found());
        }
        if let Some(cached) = self.cached_run_experiment(run_id) {
            if cached.path.join(run_id).is_dir() {
                return Ok(RunDir::new(cached, run_id.to_string()));
            }
            self.forget_run(run_id);
        }
        let mut ignored = Vec::new();
        for experiment in self.experiment_dirs(ViewType::All, &mut ignored) {
            if experiment.path.join(run_id).is_dir() {
                self.remember_run(run_id, &experiment);
                return Ok(RunDir::new(experiment, run_id.to_string()));
            }
        }
        Err(not_found())
    }

    /// The run folders of an experiment (candidates; each is checked when read). Stray files and
    /// folders without `meta.yaml` become warnings; reserved folders are skipped silently.
    pub(crate) fn run_dirs(
        &self,
        experiment: &ExperimentDir,
        warnings: &mut Vec<StoreWarning>,
    ) -> Vec<RunDir> {
        let (dirs, plain_files) = match list_dir(&experiment.path) {
            Ok(listing) => listing,
            Err(e) => {
                warnings.push(StoreWarning::new(
                    experiment.path.display().to_string(),
                    format!("cannot list runs: {e}"),
                ));
                return Vec::new();
            }
        };
        for name in plain_files {
            if name == META_FILE || is_temp_name(&name) {
                continue;
            }
            let what = if is_os_junk_name(&name) {
                "stray operating-system file in experiment folder; ignored"
            } else {
                "stray file in experiment folder (not a run); ignored"
            };
            warnings.push(StoreWarning::new(
                experiment.path.join(&name).display().to_string(),
                what,
            ));
        }
        dirs.into_iter()
            .filter(|name| {
                !RESERVED_EXPERIMENT_FOLDERS.contains(&name.as_str()) && !is_temp_name(name)
            })
            .map(|name| RunDir::new(experiment.clone(), name))
            .collect()
    }

    /// Reads and checks a run's `meta.yaml`: it must parse, name the folder as its run id and
    /// the folder's experiment as its experiment.
    pub(crate) fn read_run_meta(&self, run: &RunDir) -> Result<RunMeta> {
        let path = run.meta_path();
        let text = files::read_text_if_exists(&path, "run meta.yaml")?
            .ok_or_else(|| Error::corrupt("run folder has no meta.yaml (not a run?)", &path))?;
        let meta = RunMeta::parse(&text)
            .map_err(|m| Error::corrupt(format!("malformed run meta.yaml: {m}"), &path))?;
        if meta.run_id != run.name {
            return Err(Error::corrupt(
                format!(
                    "meta.yaml names run '{}' but lives in folder '{}'",
                    meta.run_id, run.name
                ),
                &path,
            ));
        }
        if meta.experiment_id != run.experiment.id {
            return Err(Error::corrupt(
                format!(
                    "meta.yaml names experiment '{}' but the run lives in experiment '{}'",
                    meta.experiment_id, run.experiment.id
                ),
                &path,
            ));
        }
        Ok(meta)
    }

    /// Reads a run's params, tags, latest metrics and inputs; problems become warnings.
    pub(crate) fn read_run_data(
        &self,
        run: &RunDir,
        meta: &RunMeta,
        warnings: &mut Vec<StoreWarning>,
    ) -> Run {
        let mut data = RunData {
            params: read_value_files(&run.path.join(PARAMS_DIR), warnings),
            tags: read_value_files(&run.path.join(TAGS_DIR), warnings),
            metrics: BTreeMap::new(),
        };
        for file in list_key_files(&run.path.join(METRICS_DIR), warnings) {
            let metric = match files::read_file(&file.path) {
                Ok(bytes) => MetricFile::parse_latest(&file.key, &bytes),
                Err(e) => {
                    warnings.push(StoreWarning::new(
                        file.path.display().to_string(),
                        format!("cannot read metric file: {e}"),
                    ));
                    continue;
                }
            };
            if let Some(problem) = metric.problem_summary() {
                warnings.push(StoreWarning::new(file.path.display().to_string(), problem));
            }
            if let Some(latest) = metric.latest() {
                data.metrics.insert(file.key, latest.clone());
            }
        }
        let inputs: RunInputs = self.read_run_inputs(run, warnings);
        let info = meta.to_run_info(data.tags.get(tags::RUN_NAME).map(String::as_str));
        Run { info, data, inputs }
    }

    /// Reads every run of the given experiment folders whose lifecycle matches `view`, in
    /// parallel; damaged runs become warnings.
    pub(crate) fn read_runs(
        &self,
        experiments: &[ExperimentDir],
        view: ViewType,
        warnings: &mut Vec<StoreWarning>,
    ) -> Vec<Run> {
        let candidates = self.listing_candidates(experiments, warnings);
        self.take_from_index(&candidates);
        let results = parallel_map(&candidates, |run_dir| self.read_listed_run(run_dir, view));
        self.finish_listing(experiments, &candidates);
        let mut runs = Vec::with_capacity(results.len());
        for (run, local) in results {
            warnings.extend(local);
            runs.extend(run);
        }
        runs
    }

    /// The run folders of a listing (loading the persistent index first, once).
    pub(crate) fn listing_candidates(
        &self,
        experiments: &[ExperimentDir],
        warnings: &mut Vec<StoreWarning>,
    ) -> Vec<RunDir> {
        self.run_cache.load_index(&self.root);
        let mut candidates = Vec::new();
        for experiment in experiments {
            candidates.extend(self.run_dirs(experiment, warnings));
        }
        candidates
    }

    /// Takes the runs of `candidates` that the persistent index holds into the run cache
    /// (each listing does this just before reading them, a batch at a time when streaming).
    pub(crate) fn take_from_index(&self, candidates: &[RunDir]) {
        let dirs: Vec<&Path> = candidates.iter().map(|c| c.path.as_path()).collect();
        self.run_cache.take_from_index(&self.root, &dirs);
    }

    /// Orders run folders newest first as far as known without reading them: runs never read
    /// (in this process or the index) first, by their folder's modification time, then kept
    /// runs by start time.
    pub(crate) fn newest_first(&self, candidates: &mut [RunDir]) {
        let paths: Vec<&Path> = candidates.iter().map(|c| c.path.as_path()).collect();
        let starts = self.run_cache.start_times(&paths);
        let mut keyed: Vec<(bool, i128, usize)> = starts
            .iter()
            .enumerate()
            .map(|(i, start)| match start {
                Some(start) => (false, i128::from(start.unwrap_or(i64::MIN)), i),
                None => {
                    let modified = fs::metadata(&candidates[i].path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_nanos() as i128);
                    (true, modified, i)
                }
            })
            .collect();
        keyed.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        let ordered: Vec<RunDir> = keyed.iter().map(|k| candidates[k.2].clone()).collect();
        candidates.clone_from_slice(&ordered);
    }

    /// Like [`Self::newest_first`], but when more than [`COLD_SAMPLE`] runs were never read
    /// (a store seen for the first time), only a sample is ordered: the newest `first` folders of
    /// the first [`COLD_SAMPLE`] (directory order) are put first, and `true` says that the rest
    /// is still to be ordered ([`Self::newest_first`]) once they are handed over. Stat'ing every
    /// run folder first took seconds at 100,000 runs before any row showed; the listing is still
    /// newest first after its first batch (and a viewer sorts what has arrived).
    pub(crate) fn newest_first_progressive(&self, candidates: &mut [RunDir], first: usize) -> bool {
        let paths: Vec<&Path> = candidates.iter().map(|c| c.path.as_path()).collect();
        let never_read = self
            .run_cache
            .start_times(&paths)
            .iter()
            .filter(|s| s.is_none())
            .count();
        if never_read <= COLD_SAMPLE || first >= COLD_SAMPLE {
            self.newest_first(candidates);
            return false;
        }
        self.newest_first(&mut candidates[..COLD_SAMPLE]);
        true
    }

    /// Reads one run of a listing, or takes it from the run cache when its files look the
    /// same; `None` when it does not match `view` or could not be read (then a warning).
    pub(crate) fn read_listed_run(
        &self,
        run_dir: &RunDir,
        view: ViewType,
    ) -> (Option<Run>, Vec<StoreWarning>) {
        // Stamped before reading, so that a change during the read shows next time.
        let fingerprint = Fingerprint::of_run(&run_dir.path);
        if let Some(fp) = &fingerprint
            && let Some(run) = self.run_cache.get(&run_dir.path, fp)
        {
            let run = run.info.lifecycle_stage.matches(view).then_some(run);
            return (run, Vec::new());
        }
        let mut local = Vec::new();
        let run = match self.read_run_meta(run_dir) {
            Ok(meta) if meta.lifecycle_stage.matches(view) => {
                self.runs_read
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let run = self.read_run_data(run_dir, &meta, &mut local);
                // Runs with problems are read again each time, so every listing reports them.
                if local.is_empty()
                    && let Some(fp) = fingerprint
                {
                    self.run_cache.put(run_dir.path.clone(), fp, &run);
                }
                Some(run)
            }
            Ok(_) => None,
            Err(_) if being_created(&run_dir.path) => None,
            Err(e) => {
                local.push(warning_from_error(e, "run skipped"));
                None
            }
        };
        (run, local)
    }

    /// After a complete listing: forgets kept runs that are gone and saves the index.
    pub(crate) fn finish_listing(&self, experiments: &[ExperimentDir], candidates: &[RunDir]) {
        for experiment in experiments {
            let present: HashSet<&Path> = candidates
                .iter()
                .filter(|c| c.experiment.path == experiment.path)
                .map(|c| c.path.as_path())
                .collect();
            self.run_cache.retain_in(&experiment.path, &present);
        }
        self.run_cache.save_index(&self.root);
    }
}

/// Never-read runs of a listing past which only a sample is ordered before the first batch
/// ([`FileStore::newest_first_progressive`]).
/// (Smaller in unit tests, so that a store of a few hundred runs takes that path.)
pub(crate) const COLD_SAMPLE: usize = if cfg!(test) { 512 } else { 4_096 };

/// Whether a folder without `meta.yaml` is being created by mlscope right now: its `meta.yaml`
/// is still a temporary file. Such folders are skipped without a warning.
fn being_created(dir: &Path) -> bool {
    if dir.join(META_FILE).exists() {
        return false;
    }
    fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_str().is_some_and(is_temp_name))
    })
}

/// MLflow's error for an unknown experiment id.
pub(crate) fn experiment_not_found(experiment_id: &str) -> Error {
    Error::NotFound(format!("Experiment '{experiment_id}' does not exist."))
}

/// Turns a read error into a warning that names the file and says the entity was skipped.
pub(crate) fn warning_from_error(error: Error, consequence: &str) -> StoreWarning {
    match error {
        Error::Corrupt { message, path } => StoreWarning::new(
            path.display().to_string(),
            format!("{message}; {consequence}"),
        ),
        Error::Io {
            action,
            path,
            source,
        } => StoreWarning::new(
            path.display().to_string(),
            format!("{action}: {source}; {consequence}"),
        ),
        other => StoreWarning::new(String::new(), format!("{other}; {consequence}")),
    }
}

/// Reads a one-file-per-key folder (params, tags): key → file content. Files that are not
/// UTF-8 or cannot be read become warnings.
pub(crate) fn read_value_files(
    dir: &Path,
    warnings: &mut Vec<StoreWarning>,
) -> BTreeMap<String, String> {
    // Collected at once: full B-tree nodes (see `index::decode_run`).
    let mut values = Vec::new();
    for file in list_key_files(dir, warnings) {
        match files::read_file(&file.path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => {
                    values.push((file.key, text));
                }
                Err(_) => warnings.push(StoreWarning::new(
                    file.path.display().to_string(),
                    "value is not UTF-8 text; skipped",
                )),
            },
            Err(e) => warnings.push(StoreWarning::new(
                file.path.display().to_string(),
                format!("cannot read value: {e}"),
            )),
        }
    }
    values.into_iter().collect()
}

/// Maps `items` with `f` on up to 4 scoped threads (fewer for small inputs), keeping order.
pub(crate) fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    const ITEMS_PER_THREAD: usize = 32;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = cores
        .min(4)
        .min(items.len().div_ceil(ITEMS_PER_THREAD))
        .max(1);
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut indexed: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        done.push((i, f(item)));
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    indexed.sort_unstable_by_key(|(i, _)| *i);
    indexed.into_iter().map(|(_, r)| r).collect()
}
