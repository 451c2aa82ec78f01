//! MLflow's search grammar (MLflow 3.17, `mlflow/utils/search_utils.py`): filter strings,
//! `order_by` clauses and page tokens; their in-memory evaluation (what the file store does)
//! and their compilation to SQL over MLflow's SQLite schema ([`sql`]). Pure: no I/O.
//!
//! # Runs filter
//!
//! `metrics.loss < 0.5 AND params.lr = '0.01' AND tags.team LIKE 'ml-%' AND status = 'FINISHED'`
//!
//! * Identifiers: `metric(s).`, `param(s).`/`parameter(s).`, `tag(s).`, `attribute(s).`/`attr.`/
//!   `run.`, `dataset(s).`; no prefix means an attribute. The key is everything after the
//!   **first** dot (`tags.mlflow.runName` → key `mlflow.runName`); keys with other characters
//!   are quoted with backticks, double or single quotes (``metrics.`f1 score` ``).
//! * Values: `'single'` or `"double"` quoted strings, taken verbatim (no escape processing), and
//!   numbers (`-1`, `0.5`, `.5`, `1e-3`).
//! * Operators per entity, exactly as MLflow: metrics `= != > >= < <=` with numbers; params and
//!   tags `= != LIKE ILIKE IS NULL IS NOT NULL` with strings; string attributes `run_id`,
//!   `run_name` (aliases `run name`, `Run name`, `Run Name`), `status`, `user_id`, `artifact_uri`
//!   with `= != LIKE ILIKE` and, for `run_id` only, `IN`/`NOT IN`; numeric attributes
//!   `start_time` (aliases `created`, `Created`) and `end_time` with `= != > >= < <=`; datasets
//!   `name`, `digest`, `context` with `= != LIKE ILIKE IN NOT IN`. `experiment_id` and
//!   `lifecycle_stage` are not searchable.
//! * Keywords are case-insensitive. A trailing or leading `AND` is tolerated, and a filter made
//!   only of `AND`s (or only whitespace) is no filter.
//!
//! Semantics: a run lacking the metric/param/tag never satisfies a comparison, not even `!=`;
//! `IS NULL` means absent. Metrics compare their latest value as doubles, and a NaN latest value
//! satisfies only `!=`. `=`, `!=` and `LIKE` are case-sensitive, `ILIKE` is not; `%` matches any
//! run of characters and `_` one character, with no escape character. `run_name` is the
//! `mlflow.runName` tag, falling back to the run's name. `dataset.*` holds when any dataset input
//! matches (`context` is the input tag `mlflow.data.context`). `start_time`/`end_time` compare
//! exactly with the literal (integer or decimal).
//!
//! # mlscope extension: `OR`, `NOT`, parentheses
//!
//! For local stores, filters may also use `OR`, `NOT` and parentheses, with the usual precedence
//! `NOT` > `AND` > `OR`: `(metrics.acc > 0.9 OR tags.best = 'yes') AND NOT status = 'FAILED'`.
//! Logic is two-valued: a comparison on a missing key is false, so `NOT metrics.x > 1` also
//! matches runs without metric `x`. [`FilterSyntax::Mlflow`] rejects these forms (as MLflow
//! does); [`FilterSyntax::Extended`] accepts them. A filter that MLflow accepts means the same
//! in both modes. [`search_runs_in_memory`] and [`search_experiments_in_memory`] use
//! `Extended`.
//!
//! # Errors
//!
//! Every error is [`Error::InvalidParameter`] (MLflow's `INVALID_PARAMETER_VALUE`). Syntax
//! errors are [`FilterError`]s naming the byte offset of the offending token, e.g.
//! `Invalid filter 'metrics.x >> 1': unexpected '>' at byte 11`.
//!
//! # Ordering and paging
//!
//! `order_by` clauses are `<identifier> [ASC|DESC]` ([`parse_run_order_by`],
//! [`parse_experiment_order_by`]). Runs: metrics sort as doubles with NaN after all numbers and
//! missing values last in both directions; params and tags as strings, missing last; attribute
//! keys `run_id`, `run_name`, `status`, `user_id`, `artifact_uri`, `start_time` (`created`),
//! `end_time`; the same field twice is an error; MLflow's implicit tail `start_time DESC` (unless
//! ordered explicitly) then `run_id ASC` always applies. Experiments: `name`, `experiment_id`,
//! `creation_time`, `last_update_time`, default `creation_time DESC, experiment_id ASC`, plus the
//! tie-breaker `experiment_id DESC` when `experiment_id` is not ordered.
//!
//! Pages: `max_results` is 1..=50,000 ([`check_max_results`]); page tokens are base64 of
//! `{"offset": N}` ([`encode_page_token`], [`decode_page_token`]).
//!
//! # SQL
//!
//! [`sql`] compiles the same trees to parameterised SQL over MLflow's SQLite schema, with the
//! same semantics (checked against the in-memory evaluation by randomized tests).
//!
//! # Tested against MLflow
//!
//! `tests/search_corpus.rs` runs a corpus of about 300 `search_runs`/`search_experiments`
//! cases (`tests/search_corpus/cases.json`: every entity, alias, quoting form and operator,
//! NaN/±inf, missing keys, view types, multi-key ordering, paging, invalid filters) over the
//! committed MLflow 3.17.2 fixtures, through both stores, and compares them page for page with
//! what real MLflow answered on the same data (`expected.json`, recorded by
//! `scripts/gen_search_corpus.py`): the file store against MLflow's file store, the SQLite
//! store against MLflow's SQL store. The few deliberate differences are listed there.
//!
//! # Known differences from MLflow 3.17
//!
//! MLflow's filter parser is `sqlparse` plus ad-hoc checks; mlscope's is a real grammar that
//! accepts and rejects the same filters for everything but these corner cases:
//!
//! * Accepted here, rejected by MLflow: a blank (whitespace-only) filter; extra whitespace in
//!   `IS NOT  NULL`; `order_by` clauses with leading/trailing whitespace; bare keys MLflow's
//!   tokenizer splits oddly (`metrics.123`, `tags.in`).
//! * Rejected here, accepted by MLflow: a key mixing quoted and bare parts after the first dot
//!   (``metrics.`a`.b``: quote the whole key); `run_id = ('a')` (MLflow compares with a tuple and
//!   never matches); an empty bare key `metrics.` (quote it: a pair of backticks after the dot).
//! * Invalid comparators (`metrics.x LIKE 1`) are errors even when there is no run to evaluate
//!   (MLflow's file store only fails once a run is compared); experiment filters follow MLflow's
//!   SQL store (stricter than its file store): `creation_time` needs an integer, `experiment_id`
//!   allows only `= != IN NOT IN` with integer strings.
//! * `IN (...)` lists: MLflow evaluates them as Python literals (so `\n` escapes and `'a' 'b'`
//!   concatenation happen there only); here list items are taken verbatim like other values.
//! * `LIKE` here is SQL's `LIKE` in memory too: `%` and `_` also match newlines (MLflow's
//!   file store uses a regex where they do not). In-memory `ILIKE` folds Unicode case (as MLflow's
//!   file store does); the SQL compilation uses SQLite's ASCII-only `LOWER` (as MLflow's SQL store).
//! * `run_name` is the `mlflow.runName` tag falling back to the run's name, for filters and
//!   ordering, in memory and in SQL (MLflow's SQL store filters on the tag only and orders by
//!   `runs.name`; its file store uses the run's name).
//! * SQL experiment ordering puts missing times last in both directions (MLflow's SQL store
//!   leaves SQLite's NULLS FIRST for `ASC`; its file store puts them last).
//! * The same `order_by` key twice is rejected with `INVALID_PARAMETER_VALUE` on every backend
//!   (MLflow's file store accepts it; its SQL store rejects it, but as `INTERNAL_ERROR`).
//! * Page tokens with a negative offset are rejected (MLflow's file store slices from the end).
//! * Integer literals beyond 64 bits compare exactly in memory and as doubles in SQL (MLflow's
//!   SQL store fails to bind them).

pub mod ast;
mod display;
pub mod eval;
mod lexer;
pub mod order_by;
mod page_token;
mod parser;
pub mod query;
pub mod sql;

#[cfg(test)]
mod tests;

use std::fmt;

pub use ast::*;
pub use order_by::{parse_experiment_order_by, parse_run_order_by};
pub use page_token::{
    check_max_results, decode_page_token, encode_page_token, next_page_token_after_fetch, paginate,
};
pub use parser::MAX_FILTER_COMPARISONS;

use crate::error::{Error, Result};
use crate::model::{Experiment, Run};
pub use query::{
    ExperimentQuery, RunQuery, SEARCH_MAX_RESULTS_DEFAULT, SEARCH_MAX_RESULTS_THRESHOLD,
};

/// Which filter syntax to accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FilterSyntax {
    /// Exactly what MLflow accepts: comparisons joined by `AND`.
    Mlflow,
    /// MLflow's syntax plus `OR`, `NOT` and parentheses (mlscope extension).
    #[default]
    Extended,
}

/// What a [`FilterError`] was parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyntaxContext {
    /// A `filter_string`.
    Filter,
    /// One `order_by` clause.
    OrderBy,
}

/// A filter or `order_by` clause that could not be parsed: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// The text being parsed.
    pub input: String,
    /// Byte offset of the offending token in `input` (always on a `char` boundary;
    /// `input.len()` for "unexpected end").
    pub offset: usize,
    /// What is wrong, naming the offending token.
    pub message: String,
    /// Filter or `order_by` clause.
    pub context: SyntaxContext,
}

impl FilterError {
    pub(crate) fn new(input: &str, offset: usize, message: impl Into<String>) -> FilterError {
        FilterError {
            input: input.to_string(),
            offset: offset.min(input.len()),
            message: message.into(),
            context: SyntaxContext::Filter,
        }
    }

    /// "unexpected 'c'" for the character at `offset`.
    pub(crate) fn unexpected(input: &str, offset: usize) -> FilterError {
        let c = input.get(offset..).and_then(|s| s.chars().next());
        match c {
            Some(c) => FilterError::new(input, offset, format!("unexpected '{c}'")),
            None => FilterError::new(input, offset, "unexpected end of filter"),
        }
    }

    pub(crate) fn into_order_by(mut self) -> FilterError {
        self.context = SyntaxContext::OrderBy;
        self
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.context {
            SyntaxContext::Filter => "filter",
            SyntaxContext::OrderBy => "order_by clause",
        };
        write!(
            f,
            "Invalid {what} '{}': {} at byte {}",
            self.input, self.message, self.offset
        )
    }
}

impl std::error::Error for FilterError {}

impl From<FilterError> for Error {
    fn from(e: FilterError) -> Error {
        Error::InvalidParameter(e.to_string())
    }
}

/// Parses a `search_runs` filter string (empty or blank: no filter).
pub fn parse_run_filter(filter: &str, syntax: FilterSyntax) -> Result<RunFilter, FilterError> {
    parser::parse_run_filter(filter, syntax)
}

/// Parses a `search_experiments` filter string (empty or blank: no filter).
pub fn parse_experiment_filter(
    filter: &str,
    syntax: FilterSyntax,
) -> Result<ExperimentFilter, FilterError> {
    parser::parse_experiment_filter(filter, syntax)
}

/// Filters, orders and pages `runs` (already restricted to the query's experiments and view),
/// accepting the extended filter syntax.
pub fn search_runs_in_memory(
    runs: Vec<Run>,
    query: &RunQuery,
) -> Result<(Vec<Run>, Option<String>)> {
    check_max_results(query.max_results)?;
    let filter = parse_run_filter(&query.filter, FilterSyntax::Extended)?;
    let order = parse_run_order_by(&query.order_by)?;
    let offset = decode_page_token(query.page_token.as_deref())?;
    let mut runs: Vec<Run> = runs
        .into_iter()
        .filter(|r| eval::run_matches(&filter, r))
        .collect();
    order_by::sort_runs(&mut runs, &order);
    Ok(paginate(runs, offset, query.max_results))
}

/// Filters, orders and pages `experiments` (already restricted to the query's view),
/// accepting the extended filter syntax.
pub fn search_experiments_in_memory(
    experiments: Vec<Experiment>,
    query: &ExperimentQuery,
) -> Result<(Vec<Experiment>, Option<String>)> {
    check_max_results(query.max_results)?;
    let filter = parse_experiment_filter(&query.filter, FilterSyntax::Extended)?;
    let order = parse_experiment_order_by(&query.order_by)?;
    let offset = decode_page_token(query.page_token.as_deref())?;
    let mut experiments: Vec<Experiment> = experiments
        .into_iter()
        .filter(|e| eval::experiment_matches(&filter, e))
        .collect();
    order_by::sort_experiments(&mut experiments, &order);
    Ok(paginate(experiments, offset, query.max_results))
}
