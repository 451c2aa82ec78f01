//! Canonical printing of filters and `order_by` clauses.
//!
//! The output parses back to an equal tree (keys are quoted only when needed, with the first of
//! `` ` ``, `"`, `'` that can hold them; aliases are printed in canonical form, e.g.
//! `created` → `start_time`). A filter made only of `AND`s prints as MLflow-compatible text.

use std::fmt;

use super::ast::*;
use super::lexer::scan_quoted;

pub(crate) fn is_bare_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .split('.')
            .all(|seg| !seg.is_empty() && seg.chars().all(|c| c.is_alphanumeric() || c == '_'))
}

/// Whether `text` quoted with `q` lexes back to exactly `text` whatever follows it. A trailing
/// backslash would combine with the closing `'`/`"` (MLflow's `\'` rule) when another quote
/// follows later, so such text is only safe at the very end of a filter.
pub(crate) fn quoted_ok(text: &str, q: char) -> bool {
    if q != '`' && text.ends_with('\\') {
        return false;
    }
    let s = format!("{q}{text}{q}");
    scan_quoted(&s, 0, q) == Some(s.len())
}

/// Writes a key after `prefix.`, quoting it when it is not a plain dotted word.
fn write_key(f: &mut fmt::Formatter<'_>, prefix: &str, key: &str) -> fmt::Result {
    if is_bare_key(key) {
        return write!(f, "{prefix}.{key}");
    }
    for q in ['`', '"', '\''] {
        if quoted_ok(key, q) {
            return write!(f, "{prefix}.{q}{key}{q}");
        }
    }
    write!(f, "{prefix}.`{key}`")
}

/// Writes a string value, single-quoted when possible, else double-quoted.
fn write_str(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    let q = if quoted_ok(value, '\'') || !quoted_ok(value, '"') {
        '\''
    } else {
        '"'
    };
    write!(f, "{q}{value}{q}")
}

fn write_test(f: &mut fmt::Formatter<'_>, test: &StringTest) -> fmt::Result {
    match test {
        StringTest::Eq(v) | StringTest::Ne(v) | StringTest::Like(v) | StringTest::ILike(v) => {
            write!(f, " {} ", test.op_str())?;
            write_str(f, v)
        }
        StringTest::In(vs) | StringTest::NotIn(vs) => {
            write!(f, " {} (", test.op_str())?;
            for (i, v) in vs.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write_str(f, v)?;
            }
            f.write_str(")")
        }
        StringTest::IsNull | StringTest::IsNotNull => write!(f, " {}", test.op_str()),
    }
}

impl fmt::Display for RunPredicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunPredicate::Metric { key, op, value } => {
                write_key(f, "metrics", key)?;
                write!(f, " {op} {}", value.text)
            }
            RunPredicate::Param { key, test } => {
                write_key(f, "params", key)?;
                write_test(f, test)
            }
            RunPredicate::Tag { key, test } => {
                write_key(f, "tags", key)?;
                write_test(f, test)
            }
            RunPredicate::StringAttribute { attr, test } => {
                f.write_str(attr.as_str())?;
                write_test(f, test)
            }
            RunPredicate::NumericAttribute { attr, op, value } => {
                write!(f, "{} {op} {}", attr.as_str(), value.text)
            }
            RunPredicate::Dataset { field, test } => {
                write!(f, "datasets.{}", field.as_str())?;
                write_test(f, test)
            }
        }
    }
}

impl fmt::Display for ExperimentPredicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExperimentPredicate::Name(test) => {
                f.write_str("name")?;
                write_test(f, test)
            }
            ExperimentPredicate::ExperimentId(test) => {
                f.write_str("experiment_id")?;
                write_test(f, test)
            }
            ExperimentPredicate::Time { attr, op, value } => {
                write!(f, "{} {op} {value}", attr.as_str())
            }
            ExperimentPredicate::Tag { key, test } => {
                write_key(f, "tags", key)?;
                write_test(f, test)
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Ctx {
    Top,
    And,
    Or,
    Not,
}

fn write_expr<P: fmt::Display>(f: &mut fmt::Formatter<'_>, e: &Expr<P>, ctx: Ctx) -> fmt::Result {
    let parens = match e {
        Expr::Pred(_) | Expr::Not(_) => false,
        Expr::And(_) => matches!(ctx, Ctx::And | Ctx::Not),
        Expr::Or(_) => ctx != Ctx::Top,
    };
    if parens {
        f.write_str("(")?;
    }
    match e {
        Expr::Pred(p) => write!(f, "{p}")?,
        Expr::And(items) | Expr::Or(items) => {
            let (sep, inner) = if matches!(e, Expr::And(_)) {
                (" AND ", Ctx::And)
            } else {
                (" OR ", Ctx::Or)
            };
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(sep)?;
                }
                write_expr(f, item, inner)?;
            }
        }
        Expr::Not(inner) => {
            f.write_str("NOT ")?;
            write_expr(f, inner, Ctx::Not)?;
        }
    }
    if parens {
        f.write_str(")")?;
    }
    Ok(())
}

impl<P: fmt::Display> fmt::Display for Expr<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_expr(f, self, Ctx::Top)
    }
}

impl<P: fmt::Display> fmt::Display for Filter<P> {
    /// The canonical filter string (empty for an empty filter).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.expr {
            None => Ok(()),
            Some(e) => write!(f, "{e}"),
        }
    }
}

impl fmt::Display for RunOrderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunOrderKey::Metric(k) => write_key(f, "metrics", k),
            RunOrderKey::Param(k) => write_key(f, "params", k),
            RunOrderKey::Tag(k) => write_key(f, "tags", k),
            RunOrderKey::Attribute(a) => f.write_str(a.as_str()),
        }
    }
}

impl fmt::Display for ExperimentOrderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<K: fmt::Display> fmt::Display for OrderBy<K> {
    /// `<key> ASC` or `<key> DESC`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            self.key,
            if self.ascending { "ASC" } else { "DESC" }
        )
    }
}
