//! `order_by` lists: parsing, validation and in-memory sorting.

use std::cmp::Ordering;

use super::FilterError;
use super::ast::*;
use super::eval::run_name_of;
use super::parser;
use crate::error::{Error, Result};
use crate::model::{Experiment, Run};

/// Parses a runs `order_by` list. Each clause is `<identifier> [ASC|DESC]`; the same field
/// twice (after alias resolution, e.g. `created` and `start_time`) is an error, as in MLflow's
/// SQL store.
pub fn parse_run_order_by(clauses: &[String]) -> Result<Vec<OrderBy<RunOrderKey>>> {
    let mut out: Vec<OrderBy<RunOrderKey>> = Vec::with_capacity(clauses.len());
    for clause in clauses {
        let parsed = parser::parse_run_order_by(clause).map_err(FilterError::into_order_by)?;
        if out.iter().any(|o| o.key == parsed.key) {
            return Err(Error::InvalidParameter(format!(
                "`order_by` contains duplicate fields: {}",
                python_list(clauses)
            )));
        }
        out.push(parsed);
    }
    Ok(out)
}

/// Parses an experiments `order_by` list (empty: MLflow's default
/// `["creation_time DESC", "experiment_id ASC"]`).
pub fn parse_experiment_order_by(clauses: &[String]) -> Result<Vec<OrderBy<ExperimentOrderKey>>> {
    if clauses.is_empty() {
        return Ok(vec![
            OrderBy {
                key: ExperimentOrderKey::CreationTime,
                ascending: false,
            },
            OrderBy {
                key: ExperimentOrderKey::ExperimentId,
                ascending: true,
            },
        ]);
    }
    clauses
        .iter()
        .map(|c| {
            parser::parse_experiment_order_by(c)
                .map_err(FilterError::into_order_by)
                .map_err(Error::from)
        })
        .collect()
}

/// The experiments ordering actually applied: `order` plus MLflow's tie-breaker
/// `experiment_id DESC` when `experiment_id` is not already ordered.
pub fn effective_experiment_order(
    order: &[OrderBy<ExperimentOrderKey>],
) -> Vec<OrderBy<ExperimentOrderKey>> {
    let mut out = order.to_vec();
    if !out
        .iter()
        .any(|o| o.key == ExperimentOrderKey::ExperimentId)
    {
        out.push(OrderBy {
            key: ExperimentOrderKey::ExperimentId,
            ascending: false,
        });
    }
    out
}

fn python_list(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Orders two optional values: present before missing in both directions, and present values
/// in the requested direction.
fn cmp_present_first<T>(
    a: Option<T>,
    b: Option<T>,
    ascending: bool,
    cmp: impl Fn(&T, &T) -> Ordering,
) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => {
            let o = cmp(&x, &y);
            if ascending { o } else { o.reverse() }
        }
    }
}

/// Sort class of a metric value: numbers, then NaN, then missing (both directions).
fn metric_class(v: Option<f64>) -> u8 {
    match v {
        Some(x) if x.is_nan() => 1,
        Some(_) => 0,
        None => 2,
    }
}

fn cmp_metric(a: Option<f64>, b: Option<f64>, ascending: bool) -> Ordering {
    let (ca, cb) = (metric_class(a), metric_class(b));
    if ca != cb {
        return ca.cmp(&cb);
    }
    match (a, b) {
        (Some(x), Some(y)) if ca == 0 => {
            let o = x.partial_cmp(&y).unwrap_or(Ordering::Equal);
            if ascending { o } else { o.reverse() }
        }
        _ => Ordering::Equal,
    }
}

fn cmp_run_key(a: &Run, b: &Run, key: &RunOrderKey, ascending: bool) -> Ordering {
    match key {
        RunOrderKey::Metric(k) => cmp_metric(
            a.data.metrics.get(k).map(|m| m.value),
            b.data.metrics.get(k).map(|m| m.value),
            ascending,
        ),
        RunOrderKey::Param(k) => cmp_present_first(
            a.data.params.get(k),
            b.data.params.get(k),
            ascending,
            |x, y| x.cmp(y),
        ),
        RunOrderKey::Tag(k) => {
            cmp_present_first(a.data.tags.get(k), b.data.tags.get(k), ascending, |x, y| {
                x.cmp(y)
            })
        }
        RunOrderKey::Attribute(attr) => match attr {
            RunAttribute::StartTime => {
                cmp_present_first(a.info.start_time, b.info.start_time, ascending, Ord::cmp)
            }
            RunAttribute::EndTime => {
                cmp_present_first(a.info.end_time, b.info.end_time, ascending, Ord::cmp)
            }
            _ => {
                let s = |r| attribute_str(r, *attr);
                let (x, y) = (s(a), s(b));
                if ascending { x.cmp(y) } else { y.cmp(x) }
            }
        },
    }
}

/// A string attribute of a run, for sorting.
fn attribute_str(r: &Run, attr: RunAttribute) -> &str {
    match attr {
        RunAttribute::RunId => &r.info.run_id,
        RunAttribute::RunName => run_name_of(r),
        RunAttribute::Status => r.info.status.as_str(),
        RunAttribute::UserId => &r.info.user_id,
        _ => &r.info.artifact_uri,
    }
}

/// The runs ordering actually applied: `order`, then `start_time DESC` (unless `start_time`
/// is already ordered), then `run_id ASC`.
pub fn effective_run_order(order: &[OrderBy<RunOrderKey>]) -> Vec<OrderBy<RunOrderKey>> {
    let mut out = order.to_vec();
    let start = RunOrderKey::Attribute(RunAttribute::StartTime);
    if !out.iter().any(|o| o.key == start) {
        out.push(OrderBy {
            key: start,
            ascending: false,
        });
    }
    out.push(OrderBy {
        key: RunOrderKey::Attribute(RunAttribute::RunId),
        ascending: true,
    });
    out
}

/// Compares two runs by `order` followed by MLflow's implicit tail.
pub fn compare_runs(a: &Run, b: &Run, order: &[OrderBy<RunOrderKey>]) -> Ordering {
    compare_runs_effective(a, b, &effective_run_order(order))
}

fn compare_runs_effective(a: &Run, b: &Run, effective: &[OrderBy<RunOrderKey>]) -> Ordering {
    for o in effective {
        let c = cmp_run_key(a, b, &o.key, o.ascending);
        if c != Ordering::Equal {
            return c;
        }
    }
    Ordering::Equal
}

/// Sorts runs as MLflow does for `order` (already parsed), including the implicit tail.
pub fn sort_runs(runs: &mut [Run], order: &[OrderBy<RunOrderKey>]) {
    sort_runs_by(runs, order);
}

/// [`sort_runs`] for anything holding a run (e.g. `Arc<Run>`).
pub fn sort_runs_by<R: std::borrow::Borrow<Run>>(runs: &mut [R], order: &[OrderBy<RunOrderKey>]) {
    let effective = effective_run_order(order);
    runs.sort_by(|a, b| compare_runs_effective(a.borrow(), b.borrow(), &effective));
}

fn cmp_experiment_key(
    a: &Experiment,
    b: &Experiment,
    key: ExperimentOrderKey,
    ascending: bool,
) -> Ordering {
    match key {
        ExperimentOrderKey::Name => {
            cmp_present_first(Some(&a.name), Some(&b.name), ascending, |x, y| x.cmp(y))
        }
        ExperimentOrderKey::ExperimentId => cmp_present_first(
            Some(&a.experiment_id),
            Some(&b.experiment_id),
            ascending,
            |x, y| x.cmp(y),
        ),
        ExperimentOrderKey::CreationTime => {
            cmp_present_first(a.creation_time, b.creation_time, ascending, Ord::cmp)
        }
        ExperimentOrderKey::LastUpdateTime => {
            cmp_present_first(a.last_update_time, b.last_update_time, ascending, Ord::cmp)
        }
    }
}

/// Sorts experiments as MLflow's FileStore does: `order` (see [`parse_experiment_order_by`]
/// for the default) plus the `experiment_id DESC` tie-breaker; missing times last in both
/// directions; `experiment_id` compared as strings.
pub fn sort_experiments(experiments: &mut [Experiment], order: &[OrderBy<ExperimentOrderKey>]) {
    let order = effective_experiment_order(order);
    experiments.sort_by(|a, b| {
        for o in &order {
            let c = cmp_experiment_key(a, b, o.key, o.ascending);
            if c != Ordering::Equal {
                return c;
            }
        }
        Ordering::Equal
    });
}
