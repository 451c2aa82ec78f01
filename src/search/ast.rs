//! Typed syntax trees for run and experiment filters and `order_by` clauses.
//!
//! Aliases are resolved while parsing (`created` → [`RunAttribute::StartTime`],
//! `params.` → [`RunPredicate::Param`] …), so two spellings of the same filter give equal trees.

use std::fmt;

/// A boolean combination of predicates. MLflow itself only has `AND`; `OR`, `NOT` and
/// parentheses are mlscope extensions (see [`super::FilterSyntax`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Expr<P> {
    /// A single comparison.
    Pred(P),
    /// All of the operands hold (at least two operands).
    And(Vec<Expr<P>>),
    /// At least one operand holds (at least two operands; extension).
    Or(Vec<Expr<P>>),
    /// The operand does not hold (extension). Logic is two-valued: a comparison on a missing
    /// key is false, so `NOT metrics.x > 1` matches runs without metric `x`.
    Not(Box<Expr<P>>),
}

impl<P> Expr<P> {
    /// Whether the expression uses only MLflow's syntax (a conjunction of predicates).
    pub fn is_mlflow_compatible(&self) -> bool {
        match self {
            Expr::Pred(_) => true,
            Expr::And(items) => items.iter().all(|e| matches!(e, Expr::Pred(_))),
            Expr::Or(_) | Expr::Not(_) => false,
        }
    }

    /// Every predicate of the expression, in source order.
    pub fn predicates(&self) -> Vec<&P> {
        let mut out = Vec::new();
        fn walk<'a, P>(e: &'a Expr<P>, out: &mut Vec<&'a P>) {
            match e {
                Expr::Pred(p) => out.push(p),
                Expr::And(items) | Expr::Or(items) => items.iter().for_each(|i| walk(i, out)),
                Expr::Not(inner) => walk(inner, out),
            }
        }
        walk(self, &mut out);
        out
    }
}

/// A parsed filter; `expr` is `None` for an empty filter (everything matches).
#[derive(Debug, Clone, PartialEq)]
pub struct Filter<P> {
    /// The condition, if any.
    pub expr: Option<Expr<P>>,
}

impl<P> Default for Filter<P> {
    fn default() -> Self {
        Filter { expr: None }
    }
}

impl<P> Filter<P> {
    /// Whether the filter has no condition.
    pub fn is_empty(&self) -> bool {
        self.expr.is_none()
    }
}

/// A parsed `search_runs` filter.
pub type RunFilter = Filter<RunPredicate>;
/// A parsed `search_experiments` filter.
pub type ExperimentFilter = Filter<ExperimentPredicate>;

/// Numeric comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
}

impl CompareOp {
    /// The operator as written in filters and SQL.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "!=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
        }
    }

    /// Whether `ordering` (left operand compared with right) satisfies the operator;
    /// `None` (unordered, i.e. NaN) satisfies only `!=`.
    pub fn holds(self, ordering: Option<std::cmp::Ordering>) -> bool {
        use std::cmp::Ordering::*;
        match (self, ordering) {
            (CompareOp::Ne, None) => true,
            (_, None) => false,
            (CompareOp::Eq, Some(o)) => o == Equal,
            (CompareOp::Ne, Some(o)) => o != Equal,
            (CompareOp::Gt, Some(o)) => o == Greater,
            (CompareOp::Ge, Some(o)) => o != Less,
            (CompareOp::Lt, Some(o)) => o == Less,
            (CompareOp::Le, Some(o)) => o != Greater,
        }
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A numeric literal, keeping its spelling (for printing) and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Number {
    /// The literal as written, e.g. `-1`, `0.5`, `1e3`.
    pub text: String,
    /// The value as a double (Python's `float(text)`; may be ±inf for huge literals).
    pub value: f64,
    /// The exact value when the literal is an integer (no `.`, no exponent) within `i64`.
    pub integer: Option<i64>,
}

impl Number {
    /// A number from its literal text (`None` if it is not a valid literal).
    pub fn parse(text: &str) -> Option<Number> {
        let value: f64 = text.parse().ok()?;
        let is_int_syntax = !text.contains(['.', 'e', 'E']);
        Some(Number {
            text: text.to_string(),
            value,
            integer: if is_int_syntax {
                text.parse().ok()
            } else {
                None
            },
        })
    }

    /// Compares the integer `lhs` with this number exactly (no rounding of `lhs` to a
    /// double), as Python and SQLite compare an int with a float.
    pub fn cmp_int(&self, lhs: i64) -> Option<std::cmp::Ordering> {
        match self.integer {
            Some(i) => Some(lhs.cmp(&i)),
            None => cmp_i64_f64(lhs, self.value),
        }
    }
}

/// Exact comparison of an `i64` with an `f64` (`None` when `b` is NaN).
pub fn cmp_i64_f64(a: i64, b: f64) -> Option<std::cmp::Ordering> {
    use std::cmp::Ordering::*;
    if b.is_nan() {
        return None;
    }
    // 2^63 is exactly representable; every i64 is below it and at or above -2^63.
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if b >= TWO_63 {
        return Some(Less);
    }
    if b < -TWO_63 {
        return Some(Greater);
    }
    let t = b.trunc();
    // In range, so the cast is exact.
    let ti = t as i64;
    match a.cmp(&ti) {
        Equal => {
            let frac = b - t;
            Some(if frac > 0.0 {
                Less
            } else if frac < 0.0 {
                Greater
            } else {
                Equal
            })
        }
        other => Some(other),
    }
}

/// A test applied to a string value (param, tag, string attribute, dataset field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StringTest {
    /// `= 'v'` (case-sensitive)
    Eq(String),
    /// `!= 'v'` (case-sensitive)
    Ne(String),
    /// `LIKE 'pattern'` (case-sensitive; `%` any run, `_` one char, no escapes)
    Like(String),
    /// `ILIKE 'pattern'` (case-insensitive LIKE)
    ILike(String),
    /// `IN ('a', 'b')`
    In(Vec<String>),
    /// `NOT IN ('a', 'b')`
    NotIn(Vec<String>),
    /// `IS NULL`: the key is absent.
    IsNull,
    /// `IS NOT NULL`: the key is present.
    IsNotNull,
}

impl StringTest {
    /// The operator as written (upper case), e.g. `LIKE`, `IS NOT NULL`.
    pub fn op_str(&self) -> &'static str {
        match self {
            StringTest::Eq(_) => "=",
            StringTest::Ne(_) => "!=",
            StringTest::Like(_) => "LIKE",
            StringTest::ILike(_) => "ILIKE",
            StringTest::In(_) => "IN",
            StringTest::NotIn(_) => "NOT IN",
            StringTest::IsNull => "IS NULL",
            StringTest::IsNotNull => "IS NOT NULL",
        }
    }
}

/// Run attributes that can be filtered as strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunAttribute {
    /// `run_id` (SQL column `run_uuid`).
    RunId,
    /// `run_name` (aliases `run name`, `Run name`, `Run Name`): the `mlflow.runName` tag,
    /// falling back to the run's name.
    RunName,
    /// `status`: `RUNNING`, `SCHEDULED`, `FINISHED`, `FAILED` or `KILLED`.
    Status,
    /// `user_id`
    UserId,
    /// `artifact_uri`
    ArtifactUri,
    /// `start_time` (aliases `created`, `Created`), epoch ms.
    StartTime,
    /// `end_time`, epoch ms.
    EndTime,
}

impl RunAttribute {
    /// MLflow's canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunAttribute::RunId => "run_id",
            RunAttribute::RunName => "run_name",
            RunAttribute::Status => "status",
            RunAttribute::UserId => "user_id",
            RunAttribute::ArtifactUri => "artifact_uri",
            RunAttribute::StartTime => "start_time",
            RunAttribute::EndTime => "end_time",
        }
    }

    /// Whether the attribute is numeric (compared with numbers).
    pub fn is_numeric(self) -> bool {
        matches!(self, RunAttribute::StartTime | RunAttribute::EndTime)
    }
}

/// Dataset fields usable in `dataset.*` filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatasetField {
    /// The dataset's name.
    Name,
    /// The dataset's digest.
    Digest,
    /// The input's `mlflow.data.context` tag (e.g. `training`).
    Context,
}

impl DatasetField {
    /// The key as written after `dataset.`.
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetField::Name => "name",
            DatasetField::Digest => "digest",
            DatasetField::Context => "context",
        }
    }
}

/// One comparison of a runs filter.
#[derive(Debug, Clone, PartialEq)]
pub enum RunPredicate {
    /// `metrics.<key> <op> <number>`: compares the latest value as a double.
    Metric {
        /// Metric key.
        key: String,
        /// Operator.
        op: CompareOp,
        /// Right-hand side.
        value: Number,
    },
    /// `params.<key> …`
    Param {
        /// Param key.
        key: String,
        /// The test.
        test: StringTest,
    },
    /// `tags.<key> …`
    Tag {
        /// Tag key.
        key: String,
        /// The test.
        test: StringTest,
    },
    /// A string attribute (`run_id`, `run_name`, `status`, `user_id`, `artifact_uri`).
    StringAttribute {
        /// The attribute (never a numeric one).
        attr: RunAttribute,
        /// The test (`IN`/`NOT IN` only for `run_id`).
        test: StringTest,
    },
    /// A numeric attribute (`start_time`, `end_time`).
    NumericAttribute {
        /// The attribute (`StartTime` or `EndTime`).
        attr: RunAttribute,
        /// Operator.
        op: CompareOp,
        /// Right-hand side.
        value: Number,
    },
    /// `datasets.<field> …`: true when any dataset input of the run passes.
    Dataset {
        /// The field.
        field: DatasetField,
        /// The test (never `IS NULL`/`IS NOT NULL`).
        test: StringTest,
    },
}

/// Experiment attributes compared with integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExperimentTimeAttribute {
    /// `creation_time`
    CreationTime,
    /// `last_update_time`
    LastUpdateTime,
}

impl ExperimentTimeAttribute {
    /// The attribute's name (also its SQL column).
    pub fn as_str(self) -> &'static str {
        match self {
            ExperimentTimeAttribute::CreationTime => "creation_time",
            ExperimentTimeAttribute::LastUpdateTime => "last_update_time",
        }
    }
}

/// One comparison of an experiments filter.
#[derive(Debug, Clone, PartialEq)]
pub enum ExperimentPredicate {
    /// `name = | != | LIKE | ILIKE '…'`
    Name(StringTest),
    /// `experiment_id = | != '1'`, `experiment_id [NOT] IN ('1', '2')`; values are integer
    /// strings (checked while parsing).
    ExperimentId(StringTest),
    /// `creation_time` / `last_update_time` compared with an integer.
    Time {
        /// The attribute.
        attr: ExperimentTimeAttribute,
        /// Operator.
        op: CompareOp,
        /// Right-hand side.
        value: i64,
    },
    /// `tags.<key> …`
    Tag {
        /// Tag key.
        key: String,
        /// The test (`= != LIKE ILIKE IS NULL IS NOT NULL`).
        test: StringTest,
    },
}

/// One `order_by` clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy<K> {
    /// What to sort by.
    pub key: K,
    /// `ASC` (default) or `DESC`.
    pub ascending: bool,
}

/// What a runs `order_by` clause sorts by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RunOrderKey {
    /// Latest value of a metric (doubles; NaN after numbers, missing last).
    Metric(String),
    /// A param (strings, missing last).
    Param(String),
    /// A tag (strings, missing last).
    Tag(String),
    /// An attribute (missing last).
    Attribute(RunAttribute),
}

/// What an experiments `order_by` clause sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExperimentOrderKey {
    /// `name`
    Name,
    /// `experiment_id` (strings in memory, integers in SQL, as MLflow does)
    ExperimentId,
    /// `creation_time`
    CreationTime,
    /// `last_update_time`
    LastUpdateTime,
}

impl ExperimentOrderKey {
    /// The key's name (also its SQL column).
    pub fn as_str(self) -> &'static str {
        match self {
            ExperimentOrderKey::Name => "name",
            ExperimentOrderKey::ExperimentId => "experiment_id",
            ExperimentOrderKey::CreationTime => "creation_time",
            ExperimentOrderKey::LastUpdateTime => "last_update_time",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::*;

    #[test]
    fn int_float_comparison_is_exact() {
        assert_eq!(cmp_i64_f64(1, 1.5), Some(Less));
        assert_eq!(cmp_i64_f64(2, 1.5), Some(Greater));
        assert_eq!(cmp_i64_f64(-1, -1.5), Some(Greater));
        assert_eq!(cmp_i64_f64(-2, -1.5), Some(Less));
        assert_eq!(cmp_i64_f64(5, 5.0), Some(Equal));
        assert_eq!(cmp_i64_f64(i64::MAX, i64::MAX as f64), Some(Less));
        assert_eq!(
            cmp_i64_f64(9_007_199_254_740_993, 9_007_199_254_740_992.0),
            Some(Greater)
        );
        assert_eq!(cmp_i64_f64(i64::MIN, i64::MIN as f64), Some(Equal));
        assert_eq!(cmp_i64_f64(0, f64::INFINITY), Some(Less));
        assert_eq!(cmp_i64_f64(0, f64::NEG_INFINITY), Some(Greater));
        assert_eq!(cmp_i64_f64(0, f64::NAN), None);
    }

    #[test]
    fn numbers() {
        let n = Number::parse("99999999999999999999999").unwrap();
        assert_eq!(n.integer, None);
        assert_eq!(n.cmp_int(i64::MAX), Some(Less));
        let n = Number::parse("-5").unwrap();
        assert_eq!(n.integer, Some(-5));
        assert_eq!(Number::parse("1e400").unwrap().value, f64::INFINITY);
        assert_eq!(Number::parse("1.").unwrap().value, 1.0);
        assert_eq!(Number::parse(".5").unwrap().value, 0.5);
    }

    #[test]
    fn compare_op_holds() {
        assert!(CompareOp::Ne.holds(None));
        assert!(!CompareOp::Eq.holds(None));
        assert!(CompareOp::Ge.holds(Some(Equal)));
        assert!(!CompareOp::Gt.holds(Some(Equal)));
    }
}
