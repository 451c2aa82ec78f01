//! Compilation of parsed filters and `order_by` lists to SQL over MLflow's SQLite schema
//! (`runs`, `latest_metrics`, `params`, `tags`, `datasets`, `inputs`, `input_tags`,
//! `experiments`, `experiment_tags`; MLflow 3.17 head `dc11669786a5`).
//!
//! The output is a parameterised fragment with anonymous `?` placeholders and the values to bind,
//! in order ([`SqlValue`]; map them to your driver's types). Fragments refer to the main table
//! through an alias (`r` for `runs`, `e` for `experiments` by default) and use only correlated
//! `EXISTS`/scalar subqueries, so no joins need to be added to the main query:
//!
//! ```text
//! let s = compile_run_search(&query, &SqlOptions::default())?;
//! // s.sql: SELECT r.run_uuid FROM runs AS r WHERE … ORDER BY … LIMIT ? OFFSET ?
//! // bind s.params in order, fetch the run ids (at most max_results + 1 rows), keep the first
//! // max_results, and take s.next_page_token(rows_fetched).
//! ```
//!
//! Semantics are those of the in-memory evaluation ([`super::eval`]), which follows MLflow:
//! comparisons on missing keys are false (two-valued logic, also under `NOT`); NaN latest metrics
//! (`is_nan = 1`) satisfy only `!=`; missing values sort last and NaN metrics after numbers, in
//! both directions. `LIKE` must be case-sensitive: with [`LikeStrategy::Like`] (the default,
//! MLflow's own SQL) the connection must run `PRAGMA case_sensitive_like = true` as MLflow does;
//! [`LikeStrategy::Glob`] compiles `LIKE` patterns to equivalent `GLOB` patterns, which are
//! case-sensitive whatever the pragma. `ILIKE` is `LOWER(x) LIKE LOWER(?)` (ASCII-only case
//! folding, as in MLflow's SQL store).

use super::ast::*;
use super::order_by::{effective_experiment_order, effective_run_order};
use super::parser::parse_experiment_id;
use super::{
    FilterSyntax, check_max_results, decode_page_token, next_page_token_after_fetch,
    parse_experiment_filter, parse_experiment_order_by, parse_run_filter, parse_run_order_by,
};
use crate::error::{Error, Result};
use crate::model::{DATASET_CONTEXT_TAG, LifecycleStage, ViewType, tags};
use crate::search::query::{ExperimentQuery, RunQuery};

/// A value to bind to a `?` placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// TEXT
    Text(String),
    /// INTEGER
    Integer(i64),
    /// REAL
    Real(f64),
}

/// A piece of SQL with its parameters, in placeholder order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SqlFragment {
    /// SQL text with `?` placeholders.
    pub sql: String,
    /// Values for the placeholders, in order.
    pub params: Vec<SqlValue>,
}

impl SqlFragment {
    fn push(&mut self, s: &str) {
        self.sql.push_str(s);
    }

    fn bind(&mut self, v: SqlValue) {
        self.sql.push('?');
        self.params.push(v);
    }

    fn bind_text(&mut self, s: &str) {
        self.bind(SqlValue::Text(s.to_string()));
    }

    fn append(&mut self, other: SqlFragment) {
        self.sql.push_str(&other.sql);
        self.params.extend(other.params);
    }
}

/// How `LIKE` (case-sensitive) is compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LikeStrategy {
    /// `x LIKE ?` — MLflow's SQL; needs `PRAGMA case_sensitive_like = true` on the connection
    /// (MLflow sets it on every connection).
    #[default]
    Like,
    /// `x GLOB ?` with the pattern translated (`%`→`*`, `_`→`?`, `*`/`?`/`[` bracketed):
    /// case-sensitive without any pragma.
    Glob,
}

/// Options of the SQL compilation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlOptions {
    /// Alias of the `runs` table in the main query (default `r`).
    pub runs_alias: String,
    /// Alias of the `experiments` table in the main query (default `e`).
    pub experiments_alias: String,
    /// How `LIKE` is compiled.
    pub like: LikeStrategy,
}

impl Default for SqlOptions {
    fn default() -> Self {
        SqlOptions {
            runs_alias: "r".into(),
            experiments_alias: "e".into(),
            like: LikeStrategy::Like,
        }
    }
}

fn check_alias(alias: &str) -> Result<&str> {
    let mut chars = alias.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(alias)
    } else {
        Err(Error::InvalidParameter(format!(
            "invalid SQL table alias '{alias}': expected [A-Za-z_][A-Za-z0-9_]*"
        )))
    }
}

/// Translates a `LIKE` pattern (`%`, `_`, no escapes) into an equivalent `GLOB` pattern.
pub fn like_to_glob(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    for c in pattern.chars() {
        match c {
            '%' => out.push('*'),
            '_' => out.push('?'),
            '*' => out.push_str("[*]"),
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            c => out.push(c),
        }
    }
    out
}

/// Appends `<column> <test>`; the column SQL must not contain placeholders bound later.
fn string_test_sql(out: &mut SqlFragment, column: &str, test: &StringTest, like: LikeStrategy) {
    match test {
        StringTest::Eq(v) => {
            out.push(&format!("{column} = "));
            out.bind_text(v);
        }
        StringTest::Ne(v) => {
            out.push(&format!("{column} != "));
            out.bind_text(v);
        }
        StringTest::Like(p) => match like {
            LikeStrategy::Like => {
                out.push(&format!("{column} LIKE "));
                out.bind_text(p);
            }
            LikeStrategy::Glob => {
                out.push(&format!("{column} GLOB "));
                out.bind_text(&like_to_glob(p));
            }
        },
        StringTest::ILike(p) => {
            let (op, pat) = match like {
                LikeStrategy::Like => ("LIKE", p.clone()),
                LikeStrategy::Glob => ("GLOB", like_to_glob(p)),
            };
            out.push(&format!("LOWER({column}) {op} LOWER("));
            out.bind_text(&pat);
            out.push(")");
        }
        StringTest::In(vs) | StringTest::NotIn(vs) => {
            let not = if matches!(test, StringTest::NotIn(_)) {
                "NOT "
            } else {
                ""
            };
            let values = vs.iter().map(|v| SqlValue::Text(v.clone())).collect();
            in_list_sql(out, &format!("{column} {not}IN "), values);
        }
        StringTest::IsNull => out.push(&format!("{column} IS NULL")),
        StringTest::IsNotNull => out.push(&format!("{column} IS NOT NULL")),
    }
}

/// `COALESCE(<cond>, 0)`: makes a comparison on a nullable column two-valued.
fn two_valued(out: &mut SqlFragment, inner: SqlFragment) {
    out.push("COALESCE(");
    out.append(inner);
    out.push(", 0)");
}

fn run_name_sql(r: &str) -> String {
    format!(
        "COALESCE((SELECT _rn.value FROM tags AS _rn WHERE _rn.run_uuid = {r}.run_uuid AND _rn.key = '{}'), {r}.name)",
        tags::RUN_NAME
    )
}

fn run_attribute_column(r: &str, attr: RunAttribute) -> String {
    match attr {
        RunAttribute::RunId => format!("{r}.run_uuid"),
        RunAttribute::RunName => run_name_sql(r),
        RunAttribute::Status => format!("{r}.status"),
        RunAttribute::UserId => format!("{r}.user_id"),
        RunAttribute::ArtifactUri => format!("{r}.artifact_uri"),
        RunAttribute::StartTime => format!("{r}.start_time"),
        RunAttribute::EndTime => format!("{r}.end_time"),
    }
}

fn number_value(n: &Number) -> SqlValue {
    match n.integer {
        Some(i) => SqlValue::Integer(i),
        None => SqlValue::Real(n.value),
    }
}

/// Appends `EXISTS (...)`/`NOT EXISTS (...)` over a key/value table of runs.
fn kv_predicate(
    out: &mut SqlFragment,
    r: &str,
    table: &str,
    key: &str,
    test: &StringTest,
    like: LikeStrategy,
) {
    let head = |out: &mut SqlFragment, exists: &str| {
        out.push(&format!(
            "{exists} (SELECT 1 FROM {table} AS _kv WHERE _kv.run_uuid = {r}.run_uuid AND _kv.key = "
        ));
        out.bind_text(key);
    };
    match test {
        StringTest::IsNull => {
            head(out, "NOT EXISTS");
            out.push(")");
        }
        StringTest::IsNotNull => {
            head(out, "EXISTS");
            out.push(")");
        }
        _ => {
            head(out, "EXISTS");
            out.push(" AND ");
            string_test_sql(out, "_kv.value", test, like);
            out.push(")");
        }
    }
}

fn run_predicate_sql(out: &mut SqlFragment, p: &RunPredicate, r: &str, like: LikeStrategy) {
    match p {
        RunPredicate::Metric { key, op, value } => {
            out.push(&format!(
                "EXISTS (SELECT 1 FROM latest_metrics AS _m WHERE _m.run_uuid = {r}.run_uuid AND _m.key = "
            ));
            out.bind_text(key);
            if *op == CompareOp::Ne {
                out.push(" AND (_m.value != ");
                out.bind(SqlValue::Real(value.value));
                out.push(" OR _m.is_nan = 1))");
            } else {
                out.push(&format!(" AND _m.value {op} "));
                out.bind(SqlValue::Real(value.value));
                out.push(" AND _m.is_nan = 0)");
            }
        }
        RunPredicate::Param { key, test } => kv_predicate(out, r, "params", key, test, like),
        RunPredicate::Tag { key, test } => kv_predicate(out, r, "tags", key, test, like),
        RunPredicate::StringAttribute { attr, test } => {
            let column = run_attribute_column(r, *attr);
            let mut inner = SqlFragment::default();
            string_test_sql(&mut inner, &column, test, like);
            if *attr == RunAttribute::RunId {
                // run_uuid is NOT NULL: no need for COALESCE (keeps the primary-key index usable).
                out.push("(");
                out.append(inner);
                out.push(")");
            } else {
                two_valued(out, inner);
            }
        }
        RunPredicate::NumericAttribute { attr, op, value } => {
            let mut inner = SqlFragment::default();
            inner.push(&format!("{} {op} ", run_attribute_column(r, *attr)));
            inner.bind(number_value(value));
            two_valued(out, inner);
        }
        RunPredicate::Dataset { field, test } => {
            out.push(
                "EXISTS (SELECT 1 FROM inputs AS _i JOIN datasets AS _d ON _d.dataset_uuid = _i.source_id",
            );
            let column = match field {
                DatasetField::Name => "_d.name",
                DatasetField::Digest => "_d.digest",
                DatasetField::Context => {
                    out.push(
                        " JOIN input_tags AS _it ON _it.input_uuid = _i.input_uuid AND _it.name = ",
                    );
                    out.bind_text(DATASET_CONTEXT_TAG);
                    "_it.value"
                }
            };
            out.push(&format!(
                " WHERE _i.source_type = 'DATASET' AND _i.destination_type = 'RUN' AND _i.destination_id = {r}.run_uuid AND "
            ));
            string_test_sql(out, column, test, like);
            out.push(")");
        }
    }
}

/// IN lists longer than this are bound as one JSON array (`IN (SELECT value FROM
/// json_each(?))`) instead of one `?` per value, so that no filter the file store accepts runs
/// out of SQLite's bound-parameter limit (32,766).
const MAX_BOUND_IN_VALUES: usize = 64;

/// Operands of one `AND`/`OR` written flat, `(a AND b AND …)`; longer lists are split into
/// halves, so a chain of n operands nests about log2(n / 16) deep instead of n (SQLite refuses
/// expression trees deeper than 1000).
const MAX_FLAT_OPERANDS: usize = 16;

/// `prefix` followed by the list of `values`: `(?, ?, …)`, or one JSON array for long lists.
fn in_list_sql(out: &mut SqlFragment, prefix: &str, values: Vec<SqlValue>) {
    out.push(prefix);
    if values.len() > MAX_BOUND_IN_VALUES {
        let json: Vec<serde_json::Value> = values
            .into_iter()
            .map(|v| match v {
                SqlValue::Text(s) => serde_json::Value::String(s),
                SqlValue::Integer(i) => serde_json::Value::from(i),
                SqlValue::Real(f) => serde_json::Value::from(f),
            })
            .collect();
        out.push("(SELECT value FROM json_each(");
        out.bind_text(&serde_json::Value::Array(json).to_string());
        out.push("))");
        return;
    }
    out.push("(");
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            out.push(", ");
        }
        out.bind(v);
    }
    out.push(")");
}

fn expr_sql<P>(out: &mut SqlFragment, e: &Expr<P>, pred: &impl Fn(&mut SqlFragment, &P)) {
    match e {
        Expr::Pred(p) => pred(out, p),
        Expr::And(items) => operands_sql(out, items, " AND ", pred),
        Expr::Or(items) => operands_sql(out, items, " OR ", pred),
        Expr::Not(inner) => {
            out.push("NOT (");
            expr_sql(out, inner, pred);
            out.push(")");
        }
    }
}

/// `(a <sep> b <sep> …)`, as a balanced tree of groups of at most [`MAX_FLAT_OPERANDS`].
fn operands_sql<P>(
    out: &mut SqlFragment,
    items: &[Expr<P>],
    sep: &str,
    pred: &impl Fn(&mut SqlFragment, &P),
) {
    out.push("(");
    if items.len() <= MAX_FLAT_OPERANDS {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(sep);
            }
            expr_sql(out, item, pred);
        }
    } else {
        let (left, right) = items.split_at(items.len() / 2);
        operands_sql(out, left, sep, pred);
        out.push(sep);
        operands_sql(out, right, sep, pred);
    }
    out.push(")");
}

/// Compiles a runs filter to a boolean SQL expression over `runs AS <runs_alias>` (`1` for an
/// empty filter). Use it as `WHERE … AND (<fragment>)`.
pub fn compile_run_filter(filter: &RunFilter, options: &SqlOptions) -> Result<SqlFragment> {
    let r = check_alias(&options.runs_alias)?;
    let mut out = SqlFragment::default();
    match &filter.expr {
        None => out.push("1"),
        Some(e) => expr_sql(&mut out, e, &|o, p| {
            run_predicate_sql(o, p, r, options.like)
        }),
    }
    Ok(out)
}

fn order_dir(ascending: bool) -> &'static str {
    if ascending { "ASC" } else { "DESC" }
}

/// Compiles a runs `order_by` list, plus MLflow's implicit `start_time DESC, run_id ASC` tail, to
/// the list that follows `ORDER BY`. Missing values sort last and NaN metrics after numbers in
/// both directions.
pub fn compile_run_order_by(
    order: &[OrderBy<RunOrderKey>],
    options: &SqlOptions,
) -> Result<SqlFragment> {
    let r = check_alias(&options.runs_alias)?;
    let mut out = SqlFragment::default();
    for (i, o) in effective_run_order(order).iter().enumerate() {
        if i > 0 {
            out.push(", ");
        }
        let dir = order_dir(o.ascending);
        match &o.key {
            RunOrderKey::Metric(k) => {
                let sub = |out: &mut SqlFragment, col: &str| {
                    out.push(&format!(
                        "(SELECT _m.{col} FROM latest_metrics AS _m WHERE _m.run_uuid = {r}.run_uuid AND _m.key = "
                    ));
                    out.bind_text(k);
                    out.push(")");
                };
                // 0 = number, 1 = NaN, 2 = missing.
                out.push("COALESCE(");
                sub(&mut out, "is_nan");
                out.push(", 2) ASC, ");
                sub(&mut out, "value");
                out.push(&format!(" {dir}"));
            }
            RunOrderKey::Param(k) | RunOrderKey::Tag(k) => {
                let table = if matches!(o.key, RunOrderKey::Param(_)) {
                    "params"
                } else {
                    "tags"
                };
                let sub = |out: &mut SqlFragment| {
                    out.push(&format!(
                        "(SELECT _kv.value FROM {table} AS _kv WHERE _kv.run_uuid = {r}.run_uuid AND _kv.key = "
                    ));
                    out.bind_text(k);
                    out.push(")");
                };
                sub(&mut out);
                out.push(" IS NULL ASC, ");
                sub(&mut out);
                out.push(&format!(" {dir}"));
            }
            RunOrderKey::Attribute(attr) => {
                let col = run_attribute_column(r, *attr);
                if *attr == RunAttribute::RunId {
                    out.push(&format!("{col} {dir}"));
                } else {
                    out.push(&format!("{col} IS NULL ASC, {col} {dir}"));
                }
            }
        }
    }
    Ok(out)
}

fn experiment_predicate_sql(
    out: &mut SqlFragment,
    p: &ExperimentPredicate,
    e: &str,
    like: LikeStrategy,
) {
    match p {
        ExperimentPredicate::Name(test) => {
            let mut inner = SqlFragment::default();
            string_test_sql(&mut inner, &format!("{e}.name"), test, like);
            two_valued(out, inner);
        }
        ExperimentPredicate::ExperimentId(test) => {
            let col = format!("{e}.experiment_id");
            let id = |out: &mut SqlFragment, v: &str| match parse_experiment_id(v) {
                Some(i) => out.bind(SqlValue::Integer(i)),
                None => {
                    out.push("CAST(");
                    out.bind_text(v);
                    out.push(" AS TEXT)");
                }
            };
            match test {
                StringTest::Eq(v) | StringTest::Ne(v) => {
                    out.push(&format!("{col} {} ", test.op_str()));
                    id(out, v);
                }
                StringTest::In(vs) | StringTest::NotIn(vs) if vs.len() > MAX_BOUND_IN_VALUES => {
                    // Ids as integers; a value that is no id cannot equal one.
                    let values = vs
                        .iter()
                        .map(|v| match parse_experiment_id(v) {
                            Some(i) => SqlValue::Integer(i),
                            None => SqlValue::Text(v.clone()),
                        })
                        .collect();
                    in_list_sql(out, &format!("{col} {} ", test.op_str()), values);
                }
                StringTest::In(vs) | StringTest::NotIn(vs) => {
                    out.push(&format!("{col} {} (", test.op_str()));
                    for (i, v) in vs.iter().enumerate() {
                        if i > 0 {
                            out.push(", ");
                        }
                        id(out, v);
                    }
                    out.push(")");
                }
                other => {
                    let mut inner = SqlFragment::default();
                    string_test_sql(&mut inner, &format!("CAST({col} AS TEXT)"), other, like);
                    two_valued(out, inner);
                }
            }
        }
        ExperimentPredicate::Time { attr, op, value } => {
            let mut inner = SqlFragment::default();
            inner.push(&format!("{e}.{} {op} ", attr.as_str()));
            inner.bind(SqlValue::Integer(*value));
            two_valued(out, inner);
        }
        ExperimentPredicate::Tag { key, test } => {
            let head = |out: &mut SqlFragment, exists: &str| {
                out.push(&format!(
                    "{exists} (SELECT 1 FROM experiment_tags AS _et WHERE _et.experiment_id = {e}.experiment_id AND _et.key = "
                ));
                out.bind_text(key);
            };
            match test {
                StringTest::IsNull => {
                    head(out, "NOT EXISTS");
                    out.push(")");
                }
                StringTest::IsNotNull => {
                    head(out, "EXISTS");
                    out.push(")");
                }
                _ => {
                    head(out, "EXISTS");
                    out.push(" AND ");
                    string_test_sql(out, "_et.value", test, like);
                    out.push(")");
                }
            }
        }
    }
}

/// Compiles an experiments filter to a boolean SQL expression over
/// `experiments AS <experiments_alias>` (`1` for an empty filter).
pub fn compile_experiment_filter(
    filter: &ExperimentFilter,
    options: &SqlOptions,
) -> Result<SqlFragment> {
    let e = check_alias(&options.experiments_alias)?;
    let mut out = SqlFragment::default();
    match &filter.expr {
        None => out.push("1"),
        Some(x) => expr_sql(&mut out, x, &|o, p| {
            experiment_predicate_sql(o, p, e, options.like)
        }),
    }
    Ok(out)
}

/// Compiles an experiments `order_by` list (as returned by [`parse_experiment_order_by`], which
/// supplies MLflow's default) plus the `experiment_id DESC` tie-breaker. Missing times sort
/// last in both directions; `experiment_id` sorts as an integer.
pub fn compile_experiment_order_by(
    order: &[OrderBy<ExperimentOrderKey>],
    options: &SqlOptions,
) -> Result<SqlFragment> {
    let e = check_alias(&options.experiments_alias)?;
    let mut out = SqlFragment::default();
    for (i, o) in effective_experiment_order(order).iter().enumerate() {
        if i > 0 {
            out.push(", ");
        }
        let col = format!("{e}.{}", o.key.as_str());
        let dir = order_dir(o.ascending);
        match o.key {
            ExperimentOrderKey::CreationTime | ExperimentOrderKey::LastUpdateTime => {
                out.push(&format!("{col} IS NULL ASC, {col} {dir}"));
            }
            _ => out.push(&format!("{col} {dir}")),
        }
    }
    Ok(out)
}

/// A complete, paged search statement.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlSearch {
    /// `SELECT <alias>.<id column> FROM … WHERE … ORDER BY … LIMIT ? OFFSET ?`.
    pub sql: String,
    /// Parameters of `sql`, in order (the last two are the limit, `max_results + 1`, and the
    /// offset).
    pub params: Vec<SqlValue>,
    /// The filter alone (without `WHERE`), for callers building their own statement.
    pub filter: SqlFragment,
    /// The ordering alone (without `ORDER BY`).
    pub order_by: SqlFragment,
    /// Offset decoded from the page token.
    pub offset: usize,
    /// Requested page size.
    pub max_results: usize,
}

impl SqlSearch {
    /// The next page token, given how many rows the statement returned (it asks for one more
    /// than `max_results`; keep only the first `max_results`).
    pub fn next_page_token(&self, rows_fetched: usize) -> Option<String> {
        next_page_token_after_fetch(self.offset, self.max_results, rows_fetched)
    }
}

fn lifecycle_stages(view: ViewType) -> Vec<LifecycleStage> {
    [LifecycleStage::Active, LifecycleStage::Deleted]
        .into_iter()
        .filter(|s| s.matches(view))
        .collect()
}

fn finish_search(
    mut stmt: SqlFragment,
    filter: SqlFragment,
    order_by: SqlFragment,
    offset: usize,
    max_results: usize,
) -> SqlSearch {
    stmt.push(" AND (");
    stmt.append(filter.clone());
    stmt.push(") ORDER BY ");
    stmt.append(order_by.clone());
    stmt.push(" LIMIT ");
    stmt.bind(SqlValue::Integer(
        i64::try_from(max_results.saturating_add(1)).unwrap_or(i64::MAX),
    ));
    stmt.push(" OFFSET ");
    stmt.bind(SqlValue::Integer(i64::try_from(offset).unwrap_or(i64::MAX)));
    SqlSearch {
        sql: stmt.sql,
        params: stmt.params,
        filter,
        order_by,
        offset,
        max_results,
    }
}

/// Compiles a whole `search_runs` request (extended filter syntax) to a statement selecting
/// `run_uuid`s of the requested page (plus one extra row to detect a next page). Validates
/// `max_results`, the page token, experiment ids (integers), the filter and `order_by`.
pub fn compile_run_search(query: &RunQuery, options: &SqlOptions) -> Result<SqlSearch> {
    compile_run_search_with(query, options, FilterSyntax::Extended)
}

/// [`compile_run_search`] with an explicit filter syntax.
pub fn compile_run_search_with(
    query: &RunQuery,
    options: &SqlOptions,
    syntax: FilterSyntax,
) -> Result<SqlSearch> {
    check_max_results(query.max_results)?;
    let r = check_alias(&options.runs_alias)?;
    let filter = compile_run_filter(&parse_run_filter(&query.filter, syntax)?, options)?;
    let order_by = compile_run_order_by(&parse_run_order_by(&query.order_by)?, options)?;
    let offset = decode_page_token(query.page_token.as_deref())?;
    let mut stmt = SqlFragment::default();
    stmt.push(&format!(
        "SELECT {r}.run_uuid FROM runs AS {r} WHERE {r}.experiment_id IN ("
    ));
    if query.experiment_ids.is_empty() {
        stmt.push("NULL");
    }
    for (i, id) in query.experiment_ids.iter().enumerate() {
        if i > 0 {
            stmt.push(", ");
        }
        let n = parse_experiment_id(id).ok_or_else(|| {
            Error::InvalidParameter(format!(
                "Invalid experiment ID '{id}'. Experiment ID must be a valid integer."
            ))
        })?;
        stmt.bind(SqlValue::Integer(n));
    }
    stmt.push(&format!(") AND {r}.lifecycle_stage IN ("));
    for (i, s) in lifecycle_stages(query.view_type).iter().enumerate() {
        if i > 0 {
            stmt.push(", ");
        }
        stmt.bind_text(s.as_str());
    }
    stmt.push(")");
    Ok(finish_search(
        stmt,
        filter,
        order_by,
        offset,
        query.max_results,
    ))
}

/// Compiles a whole `search_experiments` request (extended filter syntax) to a statement
/// selecting `experiment_id`s of the requested page (plus one extra row).
pub fn compile_experiment_search(
    query: &ExperimentQuery,
    options: &SqlOptions,
) -> Result<SqlSearch> {
    check_max_results(query.max_results)?;
    let e = check_alias(&options.experiments_alias)?;
    let filter = compile_experiment_filter(
        &parse_experiment_filter(&query.filter, FilterSyntax::Extended)?,
        options,
    )?;
    let order_by =
        compile_experiment_order_by(&parse_experiment_order_by(&query.order_by)?, options)?;
    let offset = decode_page_token(query.page_token.as_deref())?;
    let mut stmt = SqlFragment::default();
    stmt.push(&format!(
        "SELECT {e}.experiment_id FROM experiments AS {e} WHERE {e}.lifecycle_stage IN ("
    ));
    for (i, s) in lifecycle_stages(query.view_type).iter().enumerate() {
        if i > 0 {
            stmt.push(", ");
        }
        stmt.bind_text(s.as_str());
    }
    stmt.push(")");
    Ok(finish_search(
        stmt,
        filter,
        order_by,
        offset,
        query.max_results,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_translation() {
        assert_eq!(like_to_glob("a%b_c"), "a*b?c");
        assert_eq!(like_to_glob("*?[x]"), "[*][?][[]x]");
    }

    #[test]
    fn metric_filter_sql() {
        let f = parse_run_filter("metrics.x > 1", FilterSyntax::Mlflow).unwrap();
        let s = compile_run_filter(&f, &SqlOptions::default()).unwrap();
        assert_eq!(
            s.sql,
            "EXISTS (SELECT 1 FROM latest_metrics AS _m WHERE _m.run_uuid = r.run_uuid AND _m.key = ? AND _m.value > ? AND _m.is_nan = 0)"
        );
        assert_eq!(
            s.params,
            vec![SqlValue::Text("x".into()), SqlValue::Real(1.0)]
        );
    }

    #[test]
    fn bad_alias() {
        let opts = SqlOptions {
            runs_alias: "r; DROP".into(),
            ..SqlOptions::default()
        };
        assert!(compile_run_filter(&RunFilter::default(), &opts).is_err());
    }
}
