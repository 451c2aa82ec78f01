//! [`RestStore`]: an MLflow tracking server (`http://` and `https://` tracking URIs) through
//! MLflow's REST API 2.0, the way MLflow's Python `RestStore` talks to it.
//!
//! ```no_run
//! use mlscope::{Metric, TrackingStore, store::RestStore};
//!
//! // Credentials, TLS, timeouts and retries come from MLflow's variables (see RestConfig).
//! let store = RestStore::open("http://127.0.0.1:5000")?;
//! let exp = store.create_experiment("demo", None, &[])?;
//! # Ok::<(), mlscope::Error>(())
//! ```
//!
//! # Endpoints
//!
//! | method | endpoint |
//! |---|---|
//! | `create_experiment` | `POST mlflow/experiments/create` |
//! | `get_experiment` / `get_experiment_by_name` | `GET mlflow/experiments/get` / `get-by-name` |
//! | `search_experiments` | `POST mlflow/experiments/search` |
//! | `rename_experiment`, `delete_experiment`, `restore_experiment` | `POST mlflow/experiments/update`, `delete`, `restore` |
//! | `set_experiment_tag`, `delete_experiment_tag` | `POST mlflow/experiments/set-experiment-tag`, `delete-experiment-tag` |
//! | `create_run`, `get_run`, `update_run_info` | `POST mlflow/runs/create`, `GET runs/get`, `POST runs/update` |
//! | `delete_run`, `restore_run`, `search_runs` | `POST mlflow/runs/delete`, `restore`, `search` |
//! | `log_batch`, `log_metric`, `log_param`, `set_tag` | `POST mlflow/runs/log-batch`, `log-metric`, `log-parameter`, `set-tag` |
//! | `delete_tag`, `log_inputs` | `POST mlflow/runs/delete-tag`, `log-inputs` |
//! | `get_metric_history` | `GET mlflow/metrics/get-history`, pages of 25,000 |
//!
//! # Differences from the local stores
//!
//! The server decides (its backend store validates, names random runs, truncates long params
//! and tags …); mlscope checks only what MLflow's client checks, plus:
//!
//! * Filters with mlscope's extension syntax (`OR`, `NOT`, parentheses) are never sent: the
//!   MLflow-compatible conjuncts of the filter are sent (or none), and the whole filter, the
//!   order and the paging are then evaluated here on the runs (or experiments) the server
//!   returned ([`crate::search::search_runs_in_memory`]). Page tokens of such searches are
//!   mlscope's offsets into that result.
//! * `max_results` outside 1..=50,000 is refused before a request is made (the server would
//!   read 0 as "default").
//! * Deleting experiment `0` is refused, as every mlscope store refuses it (the trait's contract
//!   and MLflow's file store); MLflow's server with an SQL backend would allow it.
//! * An empty `user_id` is sent as `unknown` and a missing start time as now, as MLflow's
//!   client does.
//! * Retried requests are not idempotent on the server: a `log-batch` whose answer was lost
//!   (timeout) and that is sent again logs its values twice, as with MLflow's client.
//! * [`TrackingStore::tracking_uri`] is the URL without credentials (it is shown to users);
//!   credentials given in the URL (`http://user:pass@host`) are therefore not carried over to
//!   the run artifact repositories opened from it — set `MLFLOW_TRACKING_USERNAME` /
//!   `MLFLOW_TRACKING_PASSWORD` (or `MLFLOW_TRACKING_TOKEN`) for those.
//!
//! # Background logging
//!
//! [`RestStore::with_async_logging`] queues [`TrackingStore::log_metric`] calls and delivers
//! them in batches on a background thread ([`AsyncLogging`] says how). Everything else stays
//! synchronous. Queued values are delivered before the store reads runs, metrics or searches,
//! and before it updates, deletes or restores a run — so ending a run
//! ([`TrackingStore::update_run_info`]) waits until its metrics are on the server. A delivery
//! the server rejected is reported by the next call of the store (that call then does nothing,
//! except `update_run_info`, which still updates the run) and by [`RestStore::flush`].
//!
//! `MLFLOW_ENABLE_ASYNC_LOGGING` is not read here: it belongs to the tracking API
//! ([`crate::tracking::async_logging`]), which queues every kind of value for every backend.
//! Reading it here too would queue the same values twice.

mod background;
mod json;

pub use crate::http::{Auth, RestConfig};
pub use background::AsyncLogging;

pub(crate) use json::int64 as json_int64;

use crate::http::{HttpClient, Method};

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::model::validation;
use crate::model::{
    DEFAULT_EXPERIMENT_ID, DatasetInput, Experiment, Metric, Param, Run, RunInfo, RunStatus,
    RunTag, now_ms,
};
use crate::search::{
    self, Expr, FilterSyntax, check_max_results, parse_experiment_filter, parse_run_filter,
};
use crate::store::{
    CreateRun, ExperimentQuery, Page, RunQuery, SEARCH_MAX_RESULTS_THRESHOLD, TrackingStore,
};
use background::BackgroundLogger;

const API: &str = "/api/2.0/mlflow";
pub(crate) const LOG_BATCH: &str = "/api/2.0/mlflow/runs/log-batch";
/// Page size of `metrics/get-history` (MLflow's `GET_METRIC_HISTORY_MAX_RESULTS`).
pub const METRIC_HISTORY_PAGE_SIZE: usize = 25_000;

/// A tracking store on an MLflow tracking server, through its REST API.
///
/// Shareable across threads (one connection pool). See the [module docs](self) for the
/// endpoints, the differences from local stores and background logging.
#[derive(Debug)]
pub struct RestStore {
    uri: String,
    client: Arc<HttpClient>,
    logger: Option<BackgroundLogger>,
}

impl RestStore {
    /// Opens the server at `uri` (`http(s)://host[:port][/prefix]`) with the configuration of
    /// [`RestConfig::from_env`]. No request is made yet.
    pub fn open(uri: &str) -> Result<RestStore> {
        RestStore::with_config(RestConfig::from_env(uri)?)
    }

    /// A store with an explicit configuration.
    pub fn with_config(config: RestConfig) -> Result<RestStore> {
        let uri = config.base_url.clone();
        Ok(RestStore {
            uri,
            client: Arc::new(HttpClient::new(config)?),
            logger: None,
        })
    }

    /// Switches on background metric logging (see the module docs).
    pub fn with_async_logging(mut self, options: AsyncLogging) -> Result<RestStore> {
        self.logger = Some(BackgroundLogger::start(Arc::clone(&self.client), options)?);
        Ok(self)
    }

    /// The configuration in use.
    pub fn config(&self) -> &RestConfig {
        self.client.config()
    }

    /// The options of background logging, when it is on.
    pub fn async_logging(&self) -> Option<&AsyncLogging> {
        self.logger.as_ref().map(BackgroundLogger::options)
    }

    /// Metric values queued for background delivery and not delivered yet.
    pub fn pending_metrics(&self) -> usize {
        self.logger.as_ref().map_or(0, BackgroundLogger::pending)
    }

    /// Waits until every queued metric value is on the server, then reports any delivery
    /// failure since the last report. A no-op without background logging.
    pub fn flush(&self) -> Result<()> {
        match &self.logger {
            Some(l) => l.flush(),
            None => Ok(()),
        }
    }

    /// One page of a metric's history (`metrics/get-history`), oldest first as the server
    /// orders it.
    pub fn get_metric_history_page(
        &self,
        run_id: &str,
        key: &str,
        max_results: usize,
        page_token: Option<&str>,
    ) -> Result<(Vec<Metric>, Option<String>)> {
        self.sync()?;
        self.history_page(run_id, key, max_results, page_token)
    }

    fn history_page(
        &self,
        run_id: &str,
        key: &str,
        max_results: usize,
        page_token: Option<&str>,
    ) -> Result<(Vec<Metric>, Option<String>)> {
        let mut body = json!({
            "run_id": run_id,
            "run_uuid": run_id,
            "metric_key": key,
            "max_results": max_results.max(1),
        });
        if let Some(t) = page_token {
            body["page_token"] = json!(t);
        }
        let resp = self.get("metrics/get-history", &body)?;
        let metrics = json::array_field(&resp, "metrics")
            .iter()
            .map(json::metric)
            .collect::<Result<Vec<_>>>()?;
        Ok((metrics, json::next_page_token(&resp)))
    }

    /// Reports a pending background delivery failure (the call must then do nothing).
    fn pending(&self) -> Result<()> {
        match &self.logger {
            Some(l) => l.take_failures(),
            None => Ok(()),
        }
    }

    /// Delivers queued metrics first (reads and run updates see them).
    fn sync(&self) -> Result<()> {
        self.flush()
    }

    fn get(&self, endpoint: &str, body: &Value) -> Result<Value> {
        self.client
            .call(Method::Get, &format!("{API}/{endpoint}"), body)
    }

    fn post(&self, endpoint: &str, body: &Value) -> Result<Value> {
        self.client
            .call(Method::Post, &format!("{API}/{endpoint}"), body)
    }

    /// Every page of a `runs/search` with an MLflow-compatible filter.
    fn search_runs_all(&self, query: &RunQuery, filter: &str) -> Result<Vec<Run>> {
        let mut runs = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self.search_runs_page(&RunQuery {
                filter: filter.to_string(),
                max_results: SEARCH_MAX_RESULTS_THRESHOLD,
                order_by: Vec::new(),
                page_token: token.take(),
                ..query.clone()
            })?;
            runs.extend(page.items);
            match page.next_page_token {
                Some(t) => token = Some(t),
                None => return Ok(runs),
            }
        }
    }

    fn search_runs_page(&self, query: &RunQuery) -> Result<Page<Run>> {
        let body = json!({
            "experiment_ids": query.experiment_ids,
            "filter": query.filter,
            "run_view_type": query.view_type.as_str(),
            "max_results": query.max_results,
            "order_by": query.order_by,
        });
        self.post_search(
            "runs/search",
            body,
            query.page_token.as_deref(),
            "runs",
            json::run,
        )
    }

    fn search_experiments_page(&self, query: &ExperimentQuery) -> Result<Page<Experiment>> {
        let body = json!({
            "max_results": query.max_results,
            "filter": query.filter,
            "order_by": query.order_by,
            "view_type": query.view_type.as_str(),
        });
        self.post_search(
            "experiments/search",
            body,
            query.page_token.as_deref(),
            "experiments",
            json::experiment,
        )
    }

    /// One page of a search endpoint: `body` plus the page token, the items of `field` parsed.
    fn post_search<T>(
        &self,
        endpoint: &str,
        mut body: Value,
        page_token: Option<&str>,
        field: &str,
        parse: fn(&Value) -> Result<T>,
    ) -> Result<Page<T>> {
        if let Some(t) = page_token {
            body["page_token"] = json!(t);
        }
        let resp = self.post(endpoint, &body)?;
        let items = json::array_field(&resp, field)
            .iter()
            .map(parse)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::complete(items).with_token(json::next_page_token(&resp)))
    }
}

/// How a filter is carried out against a server.
enum FilterPlan {
    /// MLflow's syntax: sent as written.
    Server,
    /// Extension syntax: send `pushed` (MLflow-compatible conjuncts, maybe empty) and evaluate
    /// the whole filter here.
    Client { pushed: String },
}

/// Decides how to carry out a filter: MLflow's syntax goes to the server verbatim; the
/// extension's `OR`/`NOT`/parentheses never do (only the top-level conjuncts without them).
fn plan_filter<P: std::fmt::Display>(
    mlflow: std::result::Result<(), search::FilterError>,
    extended: impl FnOnce() -> std::result::Result<Option<Expr<P>>, search::FilterError>,
) -> Result<FilterPlan> {
    let mlflow_err = match mlflow {
        Ok(()) => return Ok(FilterPlan::Server),
        Err(e) => e,
    };
    let expr = match extended() {
        Ok(expr) => expr,
        // Not valid in either syntax: MLflow's error wording.
        Err(_) => return Err(mlflow_err.into()),
    };
    let pushed = match &expr {
        Some(Expr::And(items)) => items
            .iter()
            .filter(|e| matches!(e, Expr::Pred(_)))
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join(" AND "),
        Some(e @ Expr::Pred(_)) => e.to_string(),
        _ => String::new(),
    };
    Ok(FilterPlan::Client { pushed })
}

impl TrackingStore for RestStore {
    fn tracking_uri(&self) -> String {
        self.uri.clone()
    }

    fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<String> {
        self.pending()?;
        let mut body = json!({
            "name": name,
            "tags": json::tags_json(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        });
        if let Some(loc) = artifact_location {
            body["artifact_location"] = json!(loc);
        }
        let resp = self.post("experiments/create", &body)?;
        match resp.get("experiment_id") {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            _ => Err(json::malformed(
                "create-experiment answer",
                "it has no experiment_id",
            )),
        }
    }

    fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        self.pending()?;
        let resp = self.get("experiments/get", &json!({"experiment_id": experiment_id}))?;
        json::experiment(json::field(&resp, "experiment", "get-experiment answer")?)
    }

    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        self.pending()?;
        match self.get("experiments/get-by-name", &json!({"experiment_name": name})) {
            Ok(resp) => {
                json::experiment(json::field(&resp, "experiment", "get-by-name answer")?).map(Some)
            }
            Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn search_experiments(&self, query: &ExperimentQuery) -> Result<Page<Experiment>> {
        self.pending()?;
        check_max_results(query.max_results)?;
        let plan = plan_filter(
            parse_experiment_filter(&query.filter, FilterSyntax::Mlflow).map(|_| ()),
            || parse_experiment_filter(&query.filter, FilterSyntax::Extended).map(|f| f.expr),
        )?;
        match plan {
            FilterPlan::Server => self.search_experiments_page(query),
            FilterPlan::Client { pushed } => {
                let mut all = Vec::new();
                let mut token = None;
                loop {
                    let page = self.search_experiments_page(&ExperimentQuery {
                        filter: pushed.clone(),
                        view_type: query.view_type,
                        max_results: SEARCH_MAX_RESULTS_THRESHOLD,
                        order_by: Vec::new(),
                        page_token: token,
                    })?;
                    all.extend(page.items);
                    match page.next_page_token {
                        Some(t) => token = Some(t),
                        None => break,
                    }
                }
                let (items, next) = search::search_experiments_in_memory(all, query)?;
                Ok(Page::complete(items).with_token(next))
            }
        }
    }

    fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()> {
        self.pending()?;
        self.post(
            "experiments/update",
            &json!({"experiment_id": experiment_id, "new_name": new_name}),
        )
        .map(drop)
    }

    fn delete_experiment(&self, experiment_id: &str) -> Result<()> {
        self.sync()?;
        if experiment_id == DEFAULT_EXPERIMENT_ID {
            return Err(Error::InvalidParameter(format!(
                "Cannot delete the default experiment '{DEFAULT_EXPERIMENT_ID}'. This is an \
                 internally reserved experiment."
            )));
        }
        self.post(
            "experiments/delete",
            &json!({"experiment_id": experiment_id}),
        )
        .map(drop)
    }

    fn restore_experiment(&self, experiment_id: &str) -> Result<()> {
        self.sync()?;
        self.post(
            "experiments/restore",
            &json!({"experiment_id": experiment_id}),
        )
        .map(drop)
    }

    fn set_experiment_tag(&self, experiment_id: &str, key: &str, value: &str) -> Result<()> {
        self.pending()?;
        self.post(
            "experiments/set-experiment-tag",
            &json!({"experiment_id": experiment_id, "key": key, "value": value}),
        )
        .map(drop)
    }

    fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> Result<()> {
        self.pending()?;
        self.post(
            "experiments/delete-experiment-tag",
            &json!({"experiment_id": experiment_id, "key": key}),
        )
        .map(drop)
    }

    fn create_run(&self, request: CreateRun) -> Result<Run> {
        self.pending()?;
        let user_id = if request.user_id.is_empty() {
            "unknown".to_string()
        } else {
            request.user_id
        };
        let mut body = json!({
            "experiment_id": request.experiment_id,
            "user_id": user_id,
            "start_time": request.start_time.unwrap_or_else(now_ms),
            "tags": json::tags_json(request.tags.iter().map(|t| (t.key.as_str(), t.value.as_str()))),
        });
        if let Some(name) = &request.run_name {
            body["run_name"] = json!(name);
        }
        let resp = self.post("runs/create", &body)?;
        json::run(json::field(&resp, "run", "create-run answer")?)
    }

    fn get_run(&self, run_id: &str) -> Result<Run> {
        self.sync()?;
        let resp = self.get("runs/get", &json!({"run_id": run_id, "run_uuid": run_id}))?;
        json::run(json::field(&resp, "run", "get-run answer")?)
    }

    fn update_run_info(
        &self,
        run_id: &str,
        status: Option<RunStatus>,
        end_time: Option<i64>,
        run_name: Option<&str>,
    ) -> Result<RunInfo> {
        // Deliver the run's metrics first; the run is updated even when that failed, and the
        // delivery failure is reported afterwards.
        let delivered = self.flush();
        let mut body = json!({"run_id": run_id, "run_uuid": run_id});
        if let Some(s) = status {
            body["status"] = json!(s.as_str());
        }
        if let Some(t) = end_time {
            body["end_time"] = json!(t);
        }
        if let Some(n) = run_name {
            body["run_name"] = json!(n);
        }
        let resp = self.post("runs/update", &body)?;
        let info = json::run_info(json::field(&resp, "run_info", "update-run answer")?)?;
        delivered.map(|()| info)
    }

    fn delete_run(&self, run_id: &str) -> Result<()> {
        self.sync()?;
        self.post("runs/delete", &json!({"run_id": run_id}))
            .map(drop)
    }

    fn restore_run(&self, run_id: &str) -> Result<()> {
        self.sync()?;
        self.post("runs/restore", &json!({"run_id": run_id}))
            .map(drop)
    }

    fn search_runs(&self, query: &RunQuery) -> Result<Page<Run>> {
        self.sync()?;
        check_max_results(query.max_results)?;
        if query.experiment_ids.is_empty() {
            return Ok(Page::complete(Vec::new()));
        }
        let plan = plan_filter(
            parse_run_filter(&query.filter, FilterSyntax::Mlflow).map(|_| ()),
            || parse_run_filter(&query.filter, FilterSyntax::Extended).map(|f| f.expr),
        )?;
        match plan {
            FilterPlan::Server => self.search_runs_page(query),
            FilterPlan::Client { pushed } => {
                let runs = self.search_runs_all(query, &pushed)?;
                let (items, next) = search::search_runs_in_memory(runs, query)?;
                Ok(Page::complete(items).with_token(next))
            }
        }
    }

    fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[RunTag],
    ) -> Result<()> {
        self.pending()?;
        self.post(
            "runs/log-batch",
            &json::log_batch_json(run_id, metrics, params, tags),
        )
        .map(drop)
    }

    fn get_metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>> {
        self.sync()?;
        let (mut all, mut token) =
            self.history_page(run_id, key, METRIC_HISTORY_PAGE_SIZE, None)?;
        while let Some(t) = token.take() {
            let (page, next) =
                self.history_page(run_id, key, METRIC_HISTORY_PAGE_SIZE, Some(&t))?;
            if page.is_empty() && next.as_deref() == Some(t.as_str()) {
                // A server that hands back the same token for an empty page would loop forever.
                break;
            }
            all.extend(page);
            token = next;
        }
        Ok(all)
    }

    fn get_metric_histories(
        &self,
        run_id: &str,
        keys: &[String],
    ) -> Result<BTreeMap<String, Vec<Metric>>> {
        self.sync()?;
        keys.iter()
            .map(|k| Ok((k.clone(), self.get_metric_history(run_id, k)?)))
            .collect()
    }

    fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        self.pending()?;
        self.post("runs/delete-tag", &json!({"run_id": run_id, "key": key}))
            .map(drop)
    }

    fn log_inputs(&self, run_id: &str, datasets: &[DatasetInput]) -> Result<()> {
        self.pending()?;
        self.post(
            "runs/log-inputs",
            &json!({
                "run_id": run_id,
                "datasets": datasets.iter().map(json::dataset_input_json).collect::<Vec<_>>(),
            }),
        )
        .map(drop)
    }

    fn log_metric(&self, run_id: &str, metric: &Metric) -> Result<()> {
        self.pending()?;
        match &self.logger {
            Some(logger) => {
                validation::validate_run_id(run_id)?;
                validation::validate_metric(&metric.key, metric.timestamp)?;
                logger.log(run_id, metric.clone());
                Ok(())
            }
            None => self
                .post(
                    "runs/log-metric",
                    &json!({
                        "run_id": run_id,
                        "run_uuid": run_id,
                        "key": metric.key,
                        "value": crate::model::json::float_to_json(metric.value),
                        "timestamp": metric.timestamp,
                        "step": metric.step,
                    }),
                )
                .map(drop),
        }
    }

    fn log_param(&self, run_id: &str, param: &Param) -> Result<()> {
        self.pending()?;
        self.post(
            "runs/log-parameter",
            &json!({"run_id": run_id, "run_uuid": run_id, "key": param.key, "value": param.value}),
        )
        .map(drop)
    }

    fn set_tag(&self, run_id: &str, tag: &RunTag) -> Result<()> {
        self.pending()?;
        self.post(
            "runs/set-tag",
            &json!({"run_id": run_id, "run_uuid": run_id, "key": tag.key, "value": tag.value}),
        )
        .map(drop)
    }
}

impl<T> Page<T> {
    fn with_token(mut self, token: Option<String>) -> Self {
        self.next_page_token = token;
        self
    }
}
