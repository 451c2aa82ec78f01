//! In-memory evaluation of parsed filters (what MLflow's FileStore does in Python).

use super::ast::*;
use super::parser::parse_experiment_id;
use crate::model::{Experiment, Run, tags};

/// SQL `LIKE` matching: `%` matches any run of characters (newlines included), `_` exactly
/// one character; there is no escape character. Case-sensitive unless `ignore_case`.
pub fn like_match(value: &str, pattern: &str, ignore_case: bool) -> bool {
    let v: Vec<char> = value.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    let eq = |a: char, b: char| {
        if ignore_case {
            chars_eq_ignore_case(a, b)
        } else {
            a == b
        }
    };
    // Greedy wildcard matching with backtracking to the last '%': O(len(v) * len(p)).
    let (mut vi, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && p[pi] == '%' {
            star = Some((pi, vi));
            pi += 1;
        } else if pi < p.len() && (p[pi] == '_' || eq(p[pi], v[vi])) {
            pi += 1;
            vi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '%' {
        pi += 1;
    }
    pi == p.len()
}

/// Case-insensitive equality of two characters (simple case folding, like Python's
/// `re.IGNORECASE` on `str`).
fn chars_eq_ignore_case(a: char, b: char) -> bool {
    if a == b {
        return true;
    }
    fn single(mut it: impl Iterator<Item = char>) -> Option<char> {
        let c = it.next()?;
        it.next().is_none().then_some(c)
    }
    let (la, lb) = (single(a.to_lowercase()), single(b.to_lowercase()));
    if la.is_some() && la == lb {
        return true;
    }
    let (ua, ub) = (single(a.to_uppercase()), single(b.to_uppercase()));
    ua.is_some() && ua == ub
}

/// Applies a string test to a value that may be absent. A missing value never satisfies a
/// comparison (not even `!=`); `IS NULL` is true exactly when it is missing.
pub fn string_test_holds(test: &StringTest, value: Option<&str>) -> bool {
    match (test, value) {
        (StringTest::IsNull, v) => v.is_none(),
        (StringTest::IsNotNull, v) => v.is_some(),
        (_, None) => false,
        (StringTest::Eq(x), Some(v)) => v == x,
        (StringTest::Ne(x), Some(v)) => v != x,
        (StringTest::Like(pat), Some(v)) => like_match(v, pat, false),
        (StringTest::ILike(pat), Some(v)) => like_match(v, pat, true),
        (StringTest::In(xs), Some(v)) => xs.iter().any(|x| x == v),
        (StringTest::NotIn(xs), Some(v)) => !xs.iter().any(|x| x == v),
    }
}

/// The run name used by `run_name` filters and ordering: the `mlflow.runName` tag, else the
/// run's name.
pub fn run_name_of(run: &Run) -> &str {
    run.data
        .tags
        .get(tags::RUN_NAME)
        .map(String::as_str)
        .unwrap_or(run.info.run_name.as_str())
}

/// Whether `run` satisfies `pred`.
pub fn run_predicate_holds(pred: &RunPredicate, run: &Run) -> bool {
    match pred {
        RunPredicate::Metric { key, op, value } => match run.data.metrics.get(key) {
            None => false,
            Some(m) => op.holds(m.value.partial_cmp(&value.value)),
        },
        RunPredicate::Param { key, test } => {
            string_test_holds(test, run.data.params.get(key).map(String::as_str))
        }
        RunPredicate::Tag { key, test } => {
            string_test_holds(test, run.data.tags.get(key).map(String::as_str))
        }
        RunPredicate::StringAttribute { attr, test } => {
            let info = &run.info;
            let v: &str = match attr {
                RunAttribute::RunId => &info.run_id,
                RunAttribute::RunName => run_name_of(run),
                RunAttribute::Status => info.status.as_str(),
                RunAttribute::UserId => &info.user_id,
                RunAttribute::ArtifactUri => &info.artifact_uri,
                RunAttribute::StartTime | RunAttribute::EndTime => return false,
            };
            string_test_holds(test, Some(v))
        }
        RunPredicate::NumericAttribute { attr, op, value } => {
            let v = match attr {
                RunAttribute::StartTime => run.info.start_time,
                RunAttribute::EndTime => run.info.end_time,
                _ => None,
            };
            match v {
                None => false,
                Some(v) => op.holds(value.cmp_int(v)),
            }
        }
        RunPredicate::Dataset { field, test } => match field {
            DatasetField::Name => run
                .inputs
                .dataset_inputs
                .iter()
                .any(|d| string_test_holds(test, Some(&d.dataset.name))),
            DatasetField::Digest => run
                .inputs
                .dataset_inputs
                .iter()
                .any(|d| string_test_holds(test, Some(&d.dataset.digest))),
            DatasetField::Context => run.inputs.dataset_inputs.iter().any(|d| {
                d.tags
                    .iter()
                    .filter(|t| t.key == crate::model::DATASET_CONTEXT_TAG)
                    .any(|t| string_test_holds(test, Some(&t.value)))
            }),
        },
    }
}

/// Evaluates `expr` with `holds` deciding each predicate.
pub fn eval_expr<P>(expr: &Expr<P>, holds: &impl Fn(&P) -> bool) -> bool {
    match expr {
        Expr::Pred(p) => holds(p),
        Expr::And(items) => items.iter().all(|e| eval_expr(e, holds)),
        Expr::Or(items) => items.iter().any(|e| eval_expr(e, holds)),
        Expr::Not(inner) => !eval_expr(inner, holds),
    }
}

/// Whether `run` matches `filter` (an empty filter matches everything).
pub fn run_matches(filter: &RunFilter, run: &Run) -> bool {
    match &filter.expr {
        None => true,
        Some(e) => eval_expr(e, &|p| run_predicate_holds(p, run)),
    }
}

/// Compares an experiment id with a filter value: as integers when both are integers (as
/// MLflow's SQL store does), else as strings.
fn experiment_id_eq(id: &str, value: &str) -> bool {
    match (parse_experiment_id(id), parse_experiment_id(value)) {
        (Some(a), Some(b)) => a == b,
        _ => id == value,
    }
}

/// Whether `experiment` satisfies `pred`.
pub fn experiment_predicate_holds(pred: &ExperimentPredicate, experiment: &Experiment) -> bool {
    match pred {
        ExperimentPredicate::Name(test) => string_test_holds(test, Some(&experiment.name)),
        ExperimentPredicate::ExperimentId(test) => {
            let id = experiment.experiment_id.as_str();
            match test {
                StringTest::Eq(v) => experiment_id_eq(id, v),
                StringTest::Ne(v) => !experiment_id_eq(id, v),
                StringTest::In(vs) => vs.iter().any(|v| experiment_id_eq(id, v)),
                StringTest::NotIn(vs) => !vs.iter().any(|v| experiment_id_eq(id, v)),
                other => string_test_holds(other, Some(id)),
            }
        }
        ExperimentPredicate::Time { attr, op, value } => {
            let v = match attr {
                ExperimentTimeAttribute::CreationTime => experiment.creation_time,
                ExperimentTimeAttribute::LastUpdateTime => experiment.last_update_time,
            };
            v.is_some_and(|v| op.holds(Some(v.cmp(value))))
        }
        ExperimentPredicate::Tag { key, test } => {
            string_test_holds(test, experiment.tags.get(key).map(String::as_str))
        }
    }
}

/// Whether `experiment` matches `filter`.
pub fn experiment_matches(filter: &ExperimentFilter, experiment: &Experiment) -> bool {
    match &filter.expr {
        None => true,
        Some(e) => eval_expr(e, &|p| experiment_predicate_holds(p, experiment)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like() {
        assert!(like_match("abc", "abc", false));
        assert!(!like_match("abc", "ABC", false));
        assert!(like_match("abc", "ABC", true));
        assert!(like_match("abc", "a%", false));
        assert!(like_match("abc", "%c", false));
        assert!(like_match("abc", "%b%", false));
        assert!(like_match("abc", "a_c", false));
        assert!(!like_match("abc", "a_", false));
        assert!(like_match("", "%", false));
        assert!(!like_match("", "_", false));
        assert!(like_match("a%b", "a%b", false));
        assert!(like_match("a\nb", "a%", false));
        assert!(like_match("ééé", "_é_", false));
        assert!(like_match("ÉCOLE", "éc%", true));
        assert!(like_match("aXbXc", "%b%c", false));
        assert!(!like_match("aXbXc", "%b%d", false));
        assert!(like_match("mississippi", "%iss%ppi", false));
        assert!(like_match("a.b", "a.b", false));
        assert!(!like_match("axb", "a.b", false));
        assert!(like_match(r"a\b", r"a\b", false));
    }

    #[test]
    fn missing_never_matches() {
        assert!(!string_test_holds(&StringTest::Ne("x".into()), None));
        assert!(string_test_holds(&StringTest::IsNull, None));
        assert!(!string_test_holds(&StringTest::IsNotNull, None));
        assert!(!string_test_holds(
            &StringTest::NotIn(vec!["x".into()]),
            None
        ));
    }
}
