//! MLflow's search grammar: filter strings, `order_by` clauses and page tokens, and their
//! in-memory evaluation (used by the file store). Pure: no I/O.
//!
//! (Initial version: paging and default ordering only; the filter grammar follows.)

use base64::Engine as _;

use crate::error::{Error, Result};
use crate::model::{Experiment, Run};
use crate::store::{ExperimentQuery, RunQuery, SEARCH_MAX_RESULTS_THRESHOLD};

/// MLflow's page token for `offset`: base64 of `{"offset": N}`.
pub fn encode_page_token(offset: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{{\"offset\": {offset}}}"))
}

/// Decodes a page token into an offset (`None` → 0). Offset 0 and malformed tokens are errors,
/// as in MLflow.
pub fn decode_page_token(token: Option<&str>) -> Result<usize> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    let invalid = || {
        Error::InvalidParameter(format!(
            "Invalid page token, could not base64-decode: '{token}'"
        ))
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|_| invalid())?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let offset = value.get("offset").and_then(|o| o.as_u64()).unwrap_or(0);
    if offset == 0 {
        return Err(Error::InvalidParameter(format!(
            "Invalid page token, parsed value={value}: expected a positive 'offset'"
        )));
    }
    Ok(offset as usize)
}

fn check_max_results(max_results: usize) -> Result<()> {
    if max_results == 0 || max_results > SEARCH_MAX_RESULTS_THRESHOLD {
        return Err(Error::InvalidParameter(format!(
            "Invalid value {max_results} for parameter 'max_results' supplied. It must be a positive \
             integer at most {SEARCH_MAX_RESULTS_THRESHOLD}"
        )));
    }
    Ok(())
}

fn paginate<T>(items: Vec<T>, offset: usize, max_results: usize) -> (Vec<T>, Option<String>) {
    let total = items.len();
    let end = offset.saturating_add(max_results).min(total);
    let page: Vec<T> = items
        .into_iter()
        .skip(offset)
        .take(end.saturating_sub(offset))
        .collect();
    let token = (end < total).then(|| encode_page_token(end));
    (page, token)
}

/// Filters, orders and pages `runs` (already restricted to the query's experiments and view).
pub fn search_runs_in_memory(
    mut runs: Vec<Run>,
    query: &RunQuery,
) -> Result<(Vec<Run>, Option<String>)> {
    check_max_results(query.max_results)?;
    if !query.filter.trim().is_empty() || !query.order_by.is_empty() {
        return Err(Error::InvalidParameter(
            "filter and order_by are not supported yet".into(),
        ));
    }
    let offset = decode_page_token(query.page_token.as_deref())?;
    runs.sort_by(|a, b| {
        b.info
            .start_time
            .is_some()
            .cmp(&a.info.start_time.is_some())
            .then(b.info.start_time.cmp(&a.info.start_time))
            .then(a.info.run_id.cmp(&b.info.run_id))
    });
    Ok(paginate(runs, offset, query.max_results))
}

/// Filters, orders and pages `experiments` (already restricted to the query's view).
pub fn search_experiments_in_memory(
    mut experiments: Vec<Experiment>,
    query: &ExperimentQuery,
) -> Result<(Vec<Experiment>, Option<String>)> {
    check_max_results(query.max_results)?;
    if !query.filter.trim().is_empty() || !query.order_by.is_empty() {
        return Err(Error::InvalidParameter(
            "filter and order_by are not supported yet".into(),
        ));
    }
    let offset = decode_page_token(query.page_token.as_deref())?;
    experiments.sort_by(|a, b| {
        b.creation_time
            .cmp(&a.creation_time)
            .then(a.experiment_id.cmp(&b.experiment_id))
    });
    Ok(paginate(experiments, offset, query.max_results))
}
