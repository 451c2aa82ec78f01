//! What the worker does with the store for each request: plain functions over a
//! `dyn TrackingStore` (and the run's artifact repository), opening stores, writing files.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::artifacts::ArtifactRepository;
use crate::error::ErrorCode;
use crate::model::ViewType;
use crate::store::{ExperimentQuery, SEARCH_MAX_RESULTS_THRESHOLD, TrackingStore};

use super::protocol::{
    ArtifactRoot, ExperimentList, Failure, Histories, Refreshed, Series, TailAnswer, WriteOp,
};

/// Every experiment of `view`, page after page.
pub(super) fn experiments(
    store: &dyn TrackingStore,
    view: ViewType,
) -> Result<ExperimentList, Failure> {
    let mut query = ExperimentQuery {
        view_type: view,
        max_results: SEARCH_MAX_RESULTS_THRESHOLD,
        ..ExperimentQuery::default()
    };
    let mut experiments = Vec::new();
    let mut warnings = Vec::new();
    loop {
        let page = store.search_experiments(&query)?;
        experiments.extend(page.items);
        warnings.extend(page.warnings);
        match page.next_page_token {
            Some(t) => query.page_token = Some(t),
            None => break,
        }
    }
    Ok(ExperimentList {
        experiments,
        warnings,
    })
}

/// The number of active runs of each experiment.
pub(super) fn run_counts(
    store: &dyn TrackingStore,
    experiment_ids: Vec<String>,
) -> Result<BTreeMap<String, usize>, Failure> {
    let mut counts = BTreeMap::new();
    for id in experiment_ids {
        // Counted, not listed: a file store reads only each run's `meta.yaml` (listing the
        // 10,000 runs of an experiment decoded them all, ~60 MB, to count them).
        let n = store.count_runs(&id, ViewType::ActiveOnly)?;
        counts.insert(id, n);
    }
    Ok(counts)
}

/// The experiment of the newest active run that logged metrics among `experiment_ids` (else of
/// the newest run; `None` when they have no runs): where the first view shows charts. Looks at
/// the newest [`LATEST_ACTIVE_RUNS`] runs only.
pub(super) fn latest_active(
    store: &dyn TrackingStore,
    experiment_ids: Vec<String>,
) -> Result<Option<String>, Failure> {
    if experiment_ids.is_empty() {
        return Ok(None);
    }
    // Only the newest runs are read (a file store does not decode every run to sort them).
    let newest = store.newest_runs(&experiment_ids, LATEST_ACTIVE_RUNS)?;
    let with_metrics = newest.iter().find(|r| !r.data.metrics.is_empty());
    Ok(with_metrics
        .or(newest.first())
        .map(|r| r.info.experiment_id.clone()))
}

/// Newest runs [`latest_active`] looks at.
pub const LATEST_ACTIVE_RUNS: usize = 200;

/// Reads runs again; those that cannot be read are listed with the reason.
pub(super) fn get_runs(store: &dyn TrackingStore, run_ids: Vec<String>) -> Refreshed {
    let mut runs = Vec::new();
    let mut errors = Vec::new();
    for id in run_ids {
        match store.get_run(&id) {
            Ok(run) => runs.push(run),
            Err(e) => errors.push((id, Failure::from(e).message)),
        }
    }
    Refreshed { runs, errors }
}

/// Full histories of `keys`: followed from where they stop when the store can
/// ([`histories_followed`]), else read whole (and read again whole on change).
pub(super) fn histories(store: &dyn TrackingStore, run_id: &str, keys: Vec<String>) -> Histories {
    if let Some(followed) = histories_followed(store, run_id, &keys) {
        return followed;
    }
    let mut series = BTreeMap::new();
    let mut errors = BTreeMap::new();
    match store.get_metric_histories(run_id, &keys) {
        Ok(all) => {
            for (k, metrics) in all {
                series.insert(k, to_series(&metrics));
            }
        }
        Err(_) => {
            // Ask key by key so one bad metric file does not hide the others.
            for k in keys {
                match store.get_metric_history(run_id, &k) {
                    Ok(m) => {
                        series.insert(k, to_series(&m));
                    }
                    Err(e) => {
                        errors.insert(k, Failure::from(e).message);
                    }
                }
            }
        }
    }
    Histories { series, errors }
}

/// What was appended to each followed history since the cursor the UI holds.
pub(super) fn tails(
    store: &dyn TrackingStore,
    items: Vec<(String, String, u64)>,
) -> Vec<TailAnswer> {
    items
        .into_iter()
        .map(|(run_id, key, from)| {
            let result = store
                .metric_history_since(&run_id, &key, from)
                .and_then(|tail| {
                    tail.ok_or_else(|| {
                        crate::Error::InvalidState(
                            "this store cannot follow metric histories".into(),
                        )
                    })
                })
                .map_err(|e| Failure::from(e).message);
            TailAnswer {
                run_id,
                key,
                from,
                result,
            }
        })
        .collect()
}

/// Applies one change; for several runs, goes on after a failure and lists the failures.
pub(super) fn write(store: &dyn TrackingStore, op: &WriteOp) -> Result<Vec<String>, Failure> {
    match op {
        WriteOp::SetTag { run_id, tag } => store.set_tag(run_id, tag)?,
        WriteOp::DeleteTag { run_id, key } => store.delete_tag(run_id, key)?,
        WriteOp::Rename { run_id, name } => {
            store.update_run_info(run_id, None, None, Some(name))?;
        }
        WriteOp::DeleteRuns { run_ids } | WriteOp::RestoreRuns { run_ids } => {
            let delete = matches!(op, WriteOp::DeleteRuns { .. });
            let mut errors = Vec::new();
            for id in run_ids {
                let r = if delete {
                    store.delete_run(id)
                } else {
                    store.restore_run(id)
                };
                if let Err(e) = r {
                    errors.push(format!("{id}: {}", Failure::from(e).message));
                }
            }
            if errors.len() == run_ids.len() && !errors.is_empty() {
                return Err(Failure::internal(errors.join("; ")));
            }
            return Ok(errors);
        }
        WriteOp::TagRuns { key, changes } => {
            let mut errors = Vec::new();
            for c in changes {
                let r = match &c.new {
                    Some(v) => store.set_tag(&c.run_id, &crate::model::RunTag::new(key, v)),
                    None if c.old.is_some() => store.delete_tag(&c.run_id, key),
                    None => Ok(()),
                };
                if let Err(e) = r {
                    errors.push(format!(
                        "tag '{key}' of run {}: {}",
                        c.run_id,
                        Failure::from(e).message
                    ));
                }
            }
            if errors.len() == changes.len() && !errors.is_empty() {
                return Err(Failure::internal(errors.join("; ")));
            }
            return Ok(errors);
        }
    }
    Ok(Vec::new())
}

pub(super) fn to_series(metrics: &[crate::model::Metric]) -> Series {
    let mut series = Series::default();
    series.extend(metrics);
    series
}

/// Histories read with [`TrackingStore::metric_history_since`] from the start (file stores,
/// SQLite), with the cursor to follow them from; `None` when the store cannot follow histories.
pub(super) fn histories_followed(
    store: &dyn TrackingStore,
    run_id: &str,
    keys: &[String],
) -> Option<Histories> {
    let mut series = BTreeMap::new();
    let mut errors = BTreeMap::new();
    for k in keys {
        match store.metric_history_since(run_id, k, 0) {
            Ok(Some(tail)) => {
                let mut s = to_series(&tail.metrics);
                s.offset = Some(tail.next_offset);
                series.insert(k.clone(), s);
            }
            Ok(None) => return None,
            Err(e) => {
                errors.insert(k.clone(), Failure::from(e).message);
            }
        }
    }
    Some(Histories { series, errors })
}

/// The artifact as a file on this machine: where it is, or a download of it (a tracking
/// server's artifacts) under the system's temporary folder.
pub(super) fn local_copy(
    repo: &dyn ArtifactRepository,
    root: &ArtifactRoot,
    path: &str,
) -> Result<PathBuf, Failure> {
    if let Some(local) = repo.local_path(path)? {
        return Ok(local);
    }
    let dir = std::env::temp_dir()
        .join("mlscope-artifacts")
        .join(crate::artifacts::ArtifactPath::parse(&root.run_id)?.to_string());
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::internal(format!("cannot create {}: {e}", dir.display())))?;
    Ok(repo.download(path, &dir)?)
}

/// Whether the store's folder or database file may be written.
pub(super) fn is_writable(uri: &str) -> bool {
    use crate::store::{StoreLocation, parse_tracking_uri};
    match parse_tracking_uri(uri) {
        Ok(StoreLocation::File(p) | StoreLocation::Sqlite(p)) => std::fs::metadata(&p)
            .map(|m| !m.permissions().readonly())
            .unwrap_or(false),
        _ => true,
    }
}

/// Opens a store that must already exist (opening a missing folder would create a store).
pub(super) fn open_existing(uri: &str) -> Result<Arc<dyn TrackingStore>, Failure> {
    use crate::store::{StoreLocation, parse_tracking_uri};
    let location = parse_tracking_uri(uri)?;
    let missing = match &location {
        StoreLocation::File(p) | StoreLocation::Sqlite(p) => (!p.exists()).then(|| p.clone()),
        StoreLocation::Http(_) => None,
    };
    if let Some(p) = missing {
        return Err(Failure {
            code: ErrorCode::ResourceDoesNotExist,
            message: format!("nothing to open: {} does not exist", p.display()),
        });
    }
    if let StoreLocation::File(p) = &location
        && !p.is_dir()
    {
        return Err(Failure {
            code: ErrorCode::InvalidParameterValue,
            message: format!(
                "{} is a file, not an mlruns folder (open a .db file as a database)",
                p.display()
            ),
        });
    }
    if let StoreLocation::Http(url) = &location {
        return open_server(url);
    }
    Ok(crate::store::open_store(uri)?)
}

/// Opens a tracking server with a viewer's patience and checks it answers, so that an
/// unreachable server or refused credentials show at once, in words.
///
/// MLflow's client defaults (7 retries with exponential backoff, 120 s timeouts) suit a training
/// job that must not lose data, but would keep a window waiting minutes before saying a server is
/// down: unless `MLFLOW_HTTP_REQUEST_MAX_RETRIES` / `MLFLOW_HTTP_REQUEST_TIMEOUT` are set, the
/// viewer retries [`VIEWER_HTTP_RETRIES`] times and waits at most [`VIEWER_HTTP_TIMEOUT`].
pub(super) fn open_server(url: &str) -> Result<Arc<dyn TrackingStore>, Failure> {
    let mut config = crate::store::rest::RestConfig::from_env(url)?;
    let unset = |name: &str| std::env::var(name).map_or(true, |v| v.trim().is_empty());
    if unset("MLFLOW_HTTP_REQUEST_MAX_RETRIES") {
        config.max_retries = VIEWER_HTTP_RETRIES;
    }
    if unset("MLFLOW_HTTP_REQUEST_TIMEOUT") {
        config.timeout = VIEWER_HTTP_TIMEOUT;
    }
    // A first probe without retries: a refused connection (nothing listens there) is said at
    // once, instead of after the retries' backoff; other failures get the retries.
    // Shown without any credentials of the URL.
    let shown = config.display_url().to_string();
    let mut once = config.clone();
    once.max_retries = 0;
    let probe = |store: &crate::store::RestStore| {
        let query = crate::ExperimentQuery {
            max_results: 1,
            ..Default::default()
        };
        store.search_experiments(&query).map(|_| ())
    };
    let store = crate::store::RestStore::with_config(config)?;
    let first = probe(&crate::store::RestStore::with_config(once)?);
    let result = match first {
        Err(e) if connection_refused(&e) => Err(e),
        Err(_) => probe(&store),
        Ok(()) => Ok(()),
    };
    result.map_err(|e| open_failure(&shown, &e))?;
    Ok(Arc::new(store))
}

/// Whether a request failed because nothing accepts connections at the server's address.
fn connection_refused(e: &crate::Error) -> bool {
    let text = e.to_string();
    text.contains("connection refused") || text.contains("connection failed")
}

/// Why a tracking server cannot be opened. A connection that failed reads `cannot connect to
/// URL: connection refused` on the first line, with the technical detail on the next lines (the
/// window shows it behind a disclosure); other failures say what the server answered.
fn open_failure(url: &str, e: &crate::Error) -> Failure {
    let code = e.error_code();
    let detail = e.to_string();
    let reason = if connection_refused(e) {
        Some("connection refused")
    } else if detail.contains("does not resolve") {
        Some("its host name does not resolve")
    } else if detail.contains("timeout") {
        Some("no answer in time")
    } else {
        None
    };
    let message = match reason {
        Some(reason) => format!("cannot connect to {url}: {reason}\n{detail}"),
        None => {
            let hint = match code {
                ErrorCode::Unauthenticated | ErrorCode::PermissionDenied => {
                    " Set the credentials in the environment before starting mlscope."
                }
                _ => "",
            };
            format!("cannot open {url}: {detail}{hint}")
        }
    };
    Failure { code, message }
}

/// Retries of a request to a tracking server from the viewer, unless
/// `MLFLOW_HTTP_REQUEST_MAX_RETRIES` is set (MLflow's default of 7 with backoff would keep a
/// window waiting minutes before it says a server is down).
pub const VIEWER_HTTP_RETRIES: u32 = 2;
/// Longest wait for a tracking server's answer in the viewer, unless
/// `MLFLOW_HTTP_REQUEST_TIMEOUT` is set.
pub const VIEWER_HTTP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);
