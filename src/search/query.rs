//! The arguments of a search ([`RunQuery`], [`ExperimentQuery`]) and MLflow's page-size limits.
//!
//! They live here, below the stores, so that the search engine does not depend on the stores
//! that use it; [`crate::store`] re-exports them.

use crate::model::ViewType;

/// Default page size of `search_runs` and `search_experiments` (MLflow's `SEARCH_MAX_RESULTS_DEFAULT`).
pub const SEARCH_MAX_RESULTS_DEFAULT: usize = 1000;
/// Largest allowed page size (MLflow's `SEARCH_MAX_RESULTS_THRESHOLD`).
pub const SEARCH_MAX_RESULTS_THRESHOLD: usize = 50_000;

/// Arguments of `TrackingStore::search_runs`.
#[derive(Debug, Clone)]
pub struct RunQuery {
    /// Experiments to search (at least one).
    pub experiment_ids: Vec<String>,
    /// MLflow filter string (empty: every run).
    pub filter: String,
    /// Active, deleted or all runs.
    pub view_type: ViewType,
    /// Page size, 1..=50,000.
    pub max_results: usize,
    /// `order_by` clauses, e.g. `metrics.loss ASC`.
    pub order_by: Vec<String>,
    /// Token from a previous page.
    pub page_token: Option<String>,
}

impl Default for RunQuery {
    fn default() -> Self {
        RunQuery {
            experiment_ids: Vec::new(),
            filter: String::new(),
            view_type: ViewType::ActiveOnly,
            max_results: SEARCH_MAX_RESULTS_DEFAULT,
            order_by: Vec::new(),
            page_token: None,
        }
    }
}

impl RunQuery {
    /// A query for every active run of `experiment_ids`, first page.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(experiment_ids: I) -> Self {
        RunQuery {
            experiment_ids: experiment_ids.into_iter().map(Into::into).collect(),
            ..RunQuery::default()
        }
    }
}

/// Arguments of `TrackingStore::search_experiments`.
#[derive(Debug, Clone)]
pub struct ExperimentQuery {
    /// MLflow experiment filter string (empty: every experiment).
    pub filter: String,
    /// Active, deleted or all experiments.
    pub view_type: ViewType,
    /// Page size, 1..=50,000.
    pub max_results: usize,
    /// `order_by` clauses, e.g. `name ASC`.
    pub order_by: Vec<String>,
    /// Token from a previous page.
    pub page_token: Option<String>,
}

impl Default for ExperimentQuery {
    fn default() -> Self {
        ExperimentQuery {
            filter: String::new(),
            view_type: ViewType::ActiveOnly,
            max_results: SEARCH_MAX_RESULTS_DEFAULT,
            order_by: Vec::new(),
            page_token: None,
        }
    }
}
