//! Recursive-descent parser for run and experiment filters.
//!
//! Grammar (keywords case-insensitive):
//!
//! ```text
//! filter     := [or_expr]                 -- only ANDs / nothing = no filter
//! or_expr    := and_expr (OR and_expr)*                 -- extension
//! and_expr   := AND* unary (AND* unary)* AND*           -- MLflow tolerates stray/absent ANDs
//! unary      := NOT unary | '(' or_expr ')' | comparison  -- NOT and (…) are extensions
//! comparison := ident op value | ident IS [NOT] NULL | ident [NOT] IN '(' str (',' str)* [','] ')'
//! op         := = | != | > | >= | < | <= | LIKE | ILIKE
//! value      := 'str' | "str" | number
//! ```
//!
//! MLflow accepts two comparisons with nothing between them (`a = 1 b = 2`) as a conjunction,
//! a leading or trailing `AND`, and a filter made only of `AND`s (no filter); so does this parser.

use super::ast::*;
use super::lexer::{Quote, Segment, Token, TokenKind, tokenize};
use super::{FilterError, FilterSyntax};

/// Which grammar (runs or experiments) is being parsed.
trait Grammar {
    type Pred;
    fn comparison(&self, p: &mut Parser<'_>) -> Result<Self::Pred, FilterError>;
}

pub(crate) struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    syntax: FilterSyntax,
    depth: usize,
}

/// Nesting limit for parentheses and `NOT`, so that hostile input cannot overflow the stack.
const MAX_DEPTH: usize = 200;

/// Most comparisons in one filter. Every store answers filters up to this size the same way;
/// it keeps a compiled SQL filter within SQLite's limits (at most 3 bound values per
/// comparison, 32,766 in all; long `AND`/`OR` chains are nested as balanced trees).
pub const MAX_FILTER_COMPARISONS: usize = 10_000;

impl<'a> Parser<'a> {
    fn new(input: &'a str, syntax: FilterSyntax) -> Result<Self, FilterError> {
        Ok(Parser {
            input,
            tokens: tokenize(input)?,
            pos: 0,
            syntax,
            depth: 0,
        })
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn peek_keyword(&self, kw: &str) -> bool {
        self.peek().is_some_and(|t| t.is_keyword(kw))
    }

    fn end_offset(&self) -> usize {
        self.input.len()
    }

    fn unexpected(&self, t: Option<&Token>) -> FilterError {
        match t {
            Some(t) => FilterError::new(
                self.input,
                t.start,
                format!("unexpected '{}'", t.text(self.input)),
            ),
            None => FilterError::new(self.input, self.end_offset(), "unexpected end of filter"),
        }
    }

    fn error_at(&self, t: &Token, message: impl Into<String>) -> FilterError {
        FilterError::new(self.input, t.start, message)
    }

    fn extension(&self, t: &Token, what: &str) -> FilterError {
        self.error_at(
            t,
            format!(
                "{what} is not supported by MLflow's filter syntax (only AND of comparisons); \
                 it is an mlscope extension"
            ),
        )
    }

    fn parse_filter<G: Grammar>(&mut self, g: &G) -> Result<Option<Expr<G::Pred>>, FilterError> {
        // A filter of nothing but ANDs is no filter at all (MLflow: `"and"` → []).
        let only_ands = self.tokens.iter().all(|t| t.is_keyword("AND"));
        if only_ands {
            return Ok(None);
        }
        let e = self.or_expr(g)?;
        if let Some(t) = self.peek() {
            return Err(self.unexpected(Some(t)));
        }
        let comparisons = e.predicates().len();
        if comparisons > MAX_FILTER_COMPARISONS {
            return Err(FilterError::new(
                self.input,
                0,
                format!(
                    "the filter has {comparisons} comparisons; at most {MAX_FILTER_COMPARISONS} \
                     are supported"
                ),
            ));
        }
        Ok(Some(e))
    }

    fn or_expr<G: Grammar>(&mut self, g: &G) -> Result<Expr<G::Pred>, FilterError> {
        let mut items = vec![self.and_expr(g)?];
        while self.peek_keyword("OR") {
            let t = self.next().expect("peeked");
            if self.syntax == FilterSyntax::Mlflow {
                return Err(self.extension(&t, "'OR'"));
            }
            items.push(self.and_expr(g)?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Expr::Or(items)
        })
    }

    fn and_expr<G: Grammar>(&mut self, g: &G) -> Result<Expr<G::Pred>, FilterError> {
        while self.peek_keyword("AND") {
            self.pos += 1;
        }
        let mut items = vec![self.unary(g)?];
        loop {
            while self.peek_keyword("AND") {
                self.pos += 1;
            }
            match self.peek() {
                None => break,
                Some(t) if t.kind == TokenKind::RParen || t.is_keyword("OR") => break,
                Some(_) => items.push(self.unary(g)?),
            }
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Expr::And(items)
        })
    }

    fn unary<G: Grammar>(&mut self, g: &G) -> Result<Expr<G::Pred>, FilterError> {
        let Some(t) = self.peek().cloned() else {
            return Err(self.unexpected(None));
        };
        if self.depth >= MAX_DEPTH {
            return Err(self.error_at(&t, "filter is nested too deeply"));
        }
        if t.is_keyword("NOT") {
            if self.syntax == FilterSyntax::Mlflow {
                return Err(self.extension(&t, "'NOT'"));
            }
            self.pos += 1;
            self.depth += 1;
            let inner = self.unary(g);
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner?)));
        }
        if t.kind == TokenKind::LParen {
            if self.syntax == FilterSyntax::Mlflow {
                return Err(self.extension(&t, "a parenthesis"));
            }
            self.pos += 1;
            self.depth += 1;
            let inner = self.or_expr(g);
            self.depth -= 1;
            let inner = inner?;
            match self.next() {
                Some(c) if c.kind == TokenKind::RParen => {}
                other => {
                    return Err(match other {
                        Some(o) => self.error_at(
                            &o,
                            format!("expected ')' but found '{}'", o.text(self.input)),
                        ),
                        None => FilterError::new(
                            self.input,
                            self.end_offset(),
                            format!("unclosed '(' opened at byte {}", t.start),
                        ),
                    });
                }
            }
            return Ok(inner);
        }
        if t.is_keyword("OR") || t.kind == TokenKind::RParen {
            return Err(self.unexpected(Some(&t)));
        }
        Ok(Expr::Pred(g.comparison(self)?))
    }

    /// Reads `ident operator [value]` without interpreting the identifier.
    fn raw_comparison(&mut self) -> Result<RawComparison, FilterError> {
        let Some(ident_tok) = self.next() else {
            return Err(self.unexpected(None));
        };
        let segments = match &ident_tok.kind {
            TokenKind::Ident(segs) => segs.clone(),
            _ => {
                return Err(self.error_at(
                    &ident_tok,
                    format!(
                        "expected an identifier (e.g. metrics.loss, params.lr, tags.t, status) but found '{}'",
                        ident_tok.text(self.input)
                    ),
                ));
            }
        };
        let Some(op_tok) = self.next() else {
            return Err(FilterError::new(
                self.input,
                self.end_offset(),
                format!(
                    "expected a comparison operator after '{}'",
                    ident_tok.text(self.input)
                ),
            ));
        };
        let op = match &op_tok.kind {
            TokenKind::Op(op) => match *op {
                "=" => RawOp::Cmp(CompareOp::Eq),
                "!=" => RawOp::Cmp(CompareOp::Ne),
                ">" => RawOp::Cmp(CompareOp::Gt),
                ">=" => RawOp::Cmp(CompareOp::Ge),
                "<" => RawOp::Cmp(CompareOp::Lt),
                "<=" => RawOp::Cmp(CompareOp::Le),
                other => {
                    return Err(self.error_at(
                        &op_tok,
                        format!("invalid comparator '{other}' (use = or !=)"),
                    ));
                }
            },
            _ if op_tok.is_keyword("LIKE") => RawOp::Like,
            _ if op_tok.is_keyword("ILIKE") => RawOp::ILike,
            _ if op_tok.is_keyword("IN") => RawOp::In,
            _ if op_tok.is_keyword("IS") => {
                if self.peek_keyword("NULL") {
                    self.pos += 1;
                    RawOp::IsNull
                } else if self.peek_keyword("NOT") {
                    self.pos += 1;
                    if self.peek_keyword("NULL") {
                        self.pos += 1;
                        RawOp::IsNotNull
                    } else {
                        let t = self.peek().cloned();
                        return Err(self.unexpected(t.as_ref()));
                    }
                } else {
                    let t = self.peek().cloned();
                    return Err(self.unexpected(t.as_ref()));
                }
            }
            _ if op_tok.is_keyword("NOT") => {
                if self.peek_keyword("IN") {
                    self.pos += 1;
                    RawOp::NotIn
                } else if self.peek_keyword("LIKE") || self.peek_keyword("ILIKE") {
                    let t = self.peek().cloned().expect("peeked");
                    return Err(self.error_at(
                        &op_tok,
                        format!(
                            "invalid comparator 'NOT {}'",
                            t.text(self.input).to_ascii_uppercase()
                        ),
                    ));
                } else {
                    let t = self.peek().cloned();
                    return Err(self.unexpected(t.as_ref()));
                }
            }
            _ => {
                return Err(self.error_at(
                    &op_tok,
                    format!(
                        "expected a comparison operator after '{}' but found '{}'",
                        ident_tok.text(self.input),
                        op_tok.text(self.input)
                    ),
                ));
            }
        };
        let value = match op {
            RawOp::IsNull | RawOp::IsNotNull => RawValue::None,
            RawOp::In | RawOp::NotIn => self.string_list(&op_tok)?,
            _ => {
                let Some(v) = self.next() else {
                    return Err(FilterError::new(
                        self.input,
                        self.end_offset(),
                        format!("expected a value after '{}'", op_tok.text(self.input)),
                    ));
                };
                match &v.kind {
                    TokenKind::Str(s) => RawValue::Str(s.clone(), v),
                    TokenKind::Ident(segs)
                        if segs.len() == 1 && segs[0].quote == Some(Quote::Double) =>
                    {
                        RawValue::Str(segs[0].text.clone(), v)
                    }
                    TokenKind::Number { .. } => RawValue::Number(v),
                    TokenKind::Ident(_) => RawValue::Bare(v),
                    _ => return Err(self.unexpected(Some(&v))),
                }
            }
        };
        Ok(RawComparison {
            ident: ident_tok,
            segments,
            op,
            op_tok,
            value,
        })
    }

    /// `'(' str (',' str)* [','] ')'`
    fn string_list(&mut self, op_tok: &Token) -> Result<RawValue, FilterError> {
        let open = match self.next() {
            Some(t) if t.kind == TokenKind::LParen => t,
            other => {
                return Err(match other {
                    Some(t) => self.error_at(
                        &t,
                        format!(
                            "expected a parenthesised list of quoted strings after '{}' but found '{}'",
                            op_tok.text(self.input),
                            t.text(self.input)
                        ),
                    ),
                    None => FilterError::new(
                        self.input,
                        self.end_offset(),
                        format!("expected a list after '{}'", op_tok.text(self.input)),
                    ),
                });
            }
        };
        let mut items = Vec::new();
        let mut bad: Option<Token> = None;
        let close_end;
        loop {
            let Some(t) = self.next() else {
                return Err(FilterError::new(
                    self.input,
                    self.end_offset(),
                    format!("unclosed list opened at byte {}", open.start),
                ));
            };
            match &t.kind {
                TokenKind::RParen if items.is_empty() => {
                    return Err(self.error_at(
                        &open,
                        "While parsing a list in the query, expected a non-empty list of string values, but got empty list",
                    ));
                }
                TokenKind::RParen => {
                    close_end = t.end;
                    break;
                }
                TokenKind::Str(s) => items.push(s.clone()),
                TokenKind::Ident(segs)
                    if segs.len() == 1 && segs[0].quote == Some(Quote::Double) =>
                {
                    items.push(segs[0].text.clone())
                }
                TokenKind::Number { .. } | TokenKind::Ident(_) => {
                    // Reported only where a list is acceptable (see `list_items`); elsewhere the
                    // entity's own value error is clearer.
                    if bad.is_none() {
                        bad = Some(t.clone());
                    }
                }
                _ => return Err(self.unexpected(Some(&t))),
            }
            match self.next() {
                Some(c) if c.kind == TokenKind::Comma => {
                    if let Some(close) = self.peek().filter(|t| t.kind == TokenKind::RParen) {
                        close_end = close.end;
                        self.pos += 1;
                        break;
                    }
                }
                Some(c) if c.kind == TokenKind::RParen => {
                    close_end = c.end;
                    break;
                }
                Some(other) => {
                    return Err(self.error_at(
                        &other,
                        format!(
                            "expected ',' or ')' in list but found '{}'",
                            other.text(self.input)
                        ),
                    ));
                }
                None => {
                    return Err(FilterError::new(
                        self.input,
                        self.end_offset(),
                        format!("unclosed list opened at byte {}", open.start),
                    ));
                }
            }
        }
        let span = Token {
            kind: TokenKind::LParen,
            start: open.start,
            end: close_end,
        };
        Ok(RawValue::List(items, span, bad))
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum RawOp {
    Cmp(CompareOp),
    Like,
    ILike,
    In,
    NotIn,
    IsNull,
    IsNotNull,
}

impl RawOp {
    fn as_str(self) -> &'static str {
        match self {
            RawOp::Cmp(op) => op.as_str(),
            RawOp::Like => "LIKE",
            RawOp::ILike => "ILIKE",
            RawOp::In => "IN",
            RawOp::NotIn => "NOT IN",
            RawOp::IsNull => "IS NULL",
            RawOp::IsNotNull => "IS NOT NULL",
        }
    }
}

#[derive(Debug, Clone)]
enum RawValue {
    None,
    Str(String, Token),
    Number(Token),
    Bare(Token),
    /// Items, span of the whole list, first item that is not a quoted string.
    List(Vec<String>, Token, Option<Token>),
}

struct RawComparison {
    ident: Token,
    segments: Vec<Segment>,
    op: RawOp,
    op_tok: Token,
    value: RawValue,
}

/// An identifier split on its first dot: (entity as written, key, whether an entity was given).
struct SplitIdent {
    entity: Option<String>,
    key: String,
}

/// Splits identifier segments on the first dot, as MLflow's `identifier.split(".", 1)`.
fn split_ident(
    p: &Parser<'_>,
    c_ident: &Token,
    segments: &[Segment],
) -> Result<SplitIdent, FilterError> {
    match segments {
        [] => Err(p.unexpected(Some(c_ident))),
        [only] => Ok(SplitIdent {
            entity: None,
            key: only.text.clone(),
        }),
        [first, rest @ ..] => {
            if first.quote == Some(Quote::Double) || first.quote == Some(Quote::Single) {
                let q = first.quote.map(Quote::char).unwrap_or('"');
                return Err(p.error_at(
                    c_ident,
                    format!(
                        "Invalid entity type '{q}{}{q}'. Valid values are {}",
                        first.text, VALID_RUN_ENTITIES
                    ),
                ));
            }
            let key = if rest.len() == 1 {
                rest[0].text.clone()
            } else if rest.iter().all(|s| s.quote.is_none()) {
                rest.iter()
                    .map(|s| s.text.as_str())
                    .collect::<Vec<_>>()
                    .join(".")
            } else {
                return Err(p.error_at(
                    c_ident,
                    format!(
                        "invalid key '{}': quote the whole key, e.g. {}.`a.b`",
                        c_ident
                            .text(p.input)
                            .split_once('.')
                            .map(|x| x.1)
                            .unwrap_or(""),
                        first.text
                    ),
                ));
            };
            if key.is_empty() && rest.len() == 1 && rest[0].quote.is_none() {
                return Err(p.error_at(c_ident, "expected a key after '.'"));
            }
            Ok(SplitIdent {
                entity: Some(first.text.clone()),
                key,
            })
        }
    }
}

const VALID_RUN_ENTITIES: &str = "['metric', 'parameter', 'tag', 'attribute', 'dataset']";

/// Entity kinds of the runs grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entity {
    Metric,
    Param,
    Tag,
    Attribute,
    Dataset,
}

impl Entity {
    fn from_prefix(s: &str) -> Option<Entity> {
        Some(match s {
            "metric" | "metrics" => Entity::Metric,
            "parameter" | "parameters" | "param" | "params" => Entity::Param,
            "tag" | "tags" => Entity::Tag,
            "attribute" | "attributes" | "attr" | "run" => Entity::Attribute,
            "dataset" | "datasets" => Entity::Dataset,
            _ => return None,
        })
    }

    fn mlflow_name(self) -> &'static str {
        match self {
            Entity::Metric => "metric",
            Entity::Param => "parameter",
            Entity::Tag => "tag",
            Entity::Attribute => "attribute",
            Entity::Dataset => "dataset",
        }
    }
}

const RUN_SEARCH_ATTRIBUTES: &str = "['artifact_uri', 'created', 'Created', 'end_time', 'run_id', 'run_name', 'run name', 'Run name', 'Run Name', 'start_time', 'status', 'user_id']";
const RUN_ORDER_ATTRIBUTES: &str = "['artifact_uri', 'created', 'Created', 'end_time', 'run_id', 'run_name', 'start_time', 'status', 'user_id']";

fn run_attribute(key: &str, for_order_by: bool) -> Option<RunAttribute> {
    Some(match key {
        "run_id" => RunAttribute::RunId,
        "run_name" => RunAttribute::RunName,
        "run name" | "Run name" | "Run Name" if !for_order_by => RunAttribute::RunName,
        "status" => RunAttribute::Status,
        "user_id" => RunAttribute::UserId,
        "artifact_uri" => RunAttribute::ArtifactUri,
        "start_time" | "created" | "Created" => RunAttribute::StartTime,
        "end_time" => RunAttribute::EndTime,
        _ => return None,
    })
}

/// Resolves a runs identifier into (entity, key) with MLflow's checks.
fn resolve_run_ident(
    p: &Parser<'_>,
    tok: &Token,
    segments: &[Segment],
    for_order_by: bool,
) -> Result<(Entity, String), FilterError> {
    let split = split_ident(p, tok, segments)?;
    let entity = match &split.entity {
        None => Entity::Attribute,
        Some(e) => Entity::from_prefix(e).ok_or_else(|| {
            p.error_at(
                tok,
                format!("Invalid entity type '{e}'. Valid values are {VALID_RUN_ENTITIES}"),
            )
        })?,
    };
    match entity {
        Entity::Attribute if run_attribute(&split.key, for_order_by).is_none() => Err(p.error_at(
            tok,
            format!(
                "Invalid attribute key '{}' specified. Valid keys are {}",
                split.key,
                if for_order_by {
                    RUN_ORDER_ATTRIBUTES
                } else {
                    RUN_SEARCH_ATTRIBUTES
                }
            ),
        )),
        Entity::Dataset if !matches!(split.key.as_str(), "name" | "digest" | "context") => {
            Err(p.error_at(
                tok,
                format!(
                    "Invalid dataset key '{}' specified. Valid keys are ['name', 'digest', 'context']",
                    split.key
                ),
            ))
        }
        _ => Ok((entity, split.key)),
    }
}

fn string_test(op: RawOp, value: Option<String>, list: Option<Vec<String>>) -> Option<StringTest> {
    Some(match op {
        RawOp::Cmp(CompareOp::Eq) => StringTest::Eq(value?),
        RawOp::Cmp(CompareOp::Ne) => StringTest::Ne(value?),
        RawOp::Like => StringTest::Like(value?),
        RawOp::ILike => StringTest::ILike(value?),
        RawOp::In => StringTest::In(list?),
        RawOp::NotIn => StringTest::NotIn(list?),
        RawOp::IsNull => StringTest::IsNull,
        RawOp::IsNotNull => StringTest::IsNotNull,
        RawOp::Cmp(_) => return None,
    })
}

fn fmt_set(ops: &[&str]) -> String {
    format!(
        "{{{}}}",
        ops.iter()
            .map(|o| format!("'{o}'"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

const NUMERIC_OPS: &[&str] = &["=", "!=", ">", ">=", "<", "<="];
const PARAM_TAG_OPS: &[&str] = &["=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"];
const STRING_ATTR_OPS: &[&str] = &["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"];

struct RunGrammar;

impl Grammar for RunGrammar {
    type Pred = RunPredicate;

    fn comparison(&self, p: &mut Parser<'_>) -> Result<RunPredicate, FilterError> {
        let c = p.raw_comparison()?;
        let (entity, key) = resolve_run_ident(p, &c.ident, &c.segments, false)?;
        let attr = if entity == Entity::Attribute {
            run_attribute(&key, false)
        } else {
            None
        };
        let op_err = |allowed: &[&str], what: String| {
            p.error_at(
                &c.op_tok,
                format!(
                    "Invalid comparator '{}' for {what}, not one of '{}'",
                    c.op.as_str(),
                    fmt_set(allowed)
                ),
            )
        };
        // IS [NOT] NULL: tags and params only.
        if matches!(c.op, RawOp::IsNull | RawOp::IsNotNull)
            && !matches!(entity, Entity::Param | Entity::Tag)
        {
            return Err(p.error_at(
                &c.op_tok,
                format!(
                    "IS NULL / IS NOT NULL is only supported for tags and params, not for '{}' '{}'",
                    entity.mlflow_name(),
                    key
                ),
            ));
        }
        match entity {
            Entity::Metric => {
                let value = match &c.value {
                    RawValue::Number(t) => number_of(p, t)?,
                    other => {
                        return Err(value_error(
                            p,
                            other,
                            &format!(
                                "Expected numeric value type for metric. Found {}",
                                raw_text(p, other)
                            ),
                        ));
                    }
                };
                let RawOp::Cmp(op) = c.op else {
                    return Err(op_err(NUMERIC_OPS, format!("metric '{key}'")));
                };
                Ok(RunPredicate::Metric { key, op, value })
            }
            Entity::Param | Entity::Tag => {
                let value = match &c.value {
                    RawValue::Str(s, _) => Some(s.clone()),
                    RawValue::None => None,
                    other => {
                        return Err(value_error(
                            p,
                            other,
                            &format!(
                                "Expected a quoted string value for {} (e.g. 'my-value'). Got value {}",
                                entity.mlflow_name(),
                                raw_text(p, other)
                            ),
                        ));
                    }
                };
                let test = string_test(c.op, value, None)
                    .filter(|_| !matches!(c.op, RawOp::In | RawOp::NotIn))
                    .ok_or_else(|| {
                        op_err(PARAM_TAG_OPS, format!("{} '{key}'", entity.mlflow_name()))
                    })?;
                Ok(if entity == Entity::Param {
                    RunPredicate::Param { key, test }
                } else {
                    RunPredicate::Tag { key, test }
                })
            }
            Entity::Attribute => {
                let attr = attr.unwrap_or(RunAttribute::RunId);
                if attr.is_numeric() {
                    let value = match &c.value {
                        RawValue::Number(t) => number_of(p, t)?,
                        other => {
                            return Err(value_error(
                                p,
                                other,
                                &format!(
                                    "Expected numeric value type for numeric attribute: {key}. Found {}",
                                    raw_text(p, other)
                                ),
                            ));
                        }
                    };
                    let RawOp::Cmp(op) = c.op else {
                        return Err(op_err(NUMERIC_OPS, format!("attribute '{key}'")));
                    };
                    return Ok(RunPredicate::NumericAttribute { attr, op, value });
                }
                let (value, list) = match &c.value {
                    RawValue::Str(s, _) => (Some(s.clone()), None),
                    RawValue::List(items, t, bad) => {
                        if attr != RunAttribute::RunId {
                            return Err(p.error_at(
                                t,
                                "Only ['run_id'] attributes support comparison with a list of quoted string values",
                            ));
                        }
                        (None, Some(list_items(p, items, bad)?))
                    }
                    other => {
                        return Err(value_error(
                            p,
                            other,
                            &format!(
                                "Expected a quoted string value for attributes. Got value {}",
                                raw_text(p, other)
                            ),
                        ));
                    }
                };
                let test = string_test(c.op, value, list)
                    .ok_or_else(|| op_err(STRING_ATTR_OPS, format!("attribute '{key}'")))?;
                Ok(RunPredicate::StringAttribute { attr, test })
            }
            Entity::Dataset => {
                let field = match key.as_str() {
                    "name" => DatasetField::Name,
                    "digest" => DatasetField::Digest,
                    _ => DatasetField::Context,
                };
                let (value, list) = match &c.value {
                    RawValue::Str(s, _) => (Some(s.clone()), None),
                    RawValue::List(items, _, bad) => (None, Some(list_items(p, items, bad)?)),
                    other => {
                        return Err(value_error(
                            p,
                            other,
                            &format!(
                                "Expected a quoted string value for dataset attributes. Got value {}",
                                raw_text(p, other)
                            ),
                        ));
                    }
                };
                let test = string_test(c.op, value, list)
                    .ok_or_else(|| op_err(STRING_ATTR_OPS, format!("dataset '{key}'")))?;
                Ok(RunPredicate::Dataset { field, test })
            }
        }
    }
}

fn raw_text(p: &Parser<'_>, v: &RawValue) -> String {
    match v {
        RawValue::None => String::new(),
        RawValue::Str(_, t) | RawValue::Number(t) | RawValue::Bare(t) | RawValue::List(_, t, _) => {
            t.text(p.input).to_string()
        }
    }
}

fn value_error(p: &Parser<'_>, v: &RawValue, message: &str) -> FilterError {
    match v {
        RawValue::Str(_, t) | RawValue::Number(t) | RawValue::Bare(t) | RawValue::List(_, t, _) => {
            p.error_at(t, message.to_string())
        }
        RawValue::None => FilterError::new(p.input, p.end_offset(), message.to_string()),
    }
}

/// The items of a list in a place where lists are allowed: every item must be a quoted string.
fn list_items(
    p: &Parser<'_>,
    items: &[String],
    bad: &Option<Token>,
) -> Result<Vec<String>, FilterError> {
    match bad {
        Some(t) => Err(p.error_at(
            t,
            format!(
                "While parsing a list in the query, expected string value, punctuation, or whitespace, but got '{}'",
                t.text(p.input)
            ),
        )),
        None => Ok(items.to_vec()),
    }
}

fn number_of(p: &Parser<'_>, t: &Token) -> Result<Number, FilterError> {
    let text = t.text(p.input);
    Number::parse(text).ok_or_else(|| p.error_at(t, format!("invalid number '{text}'")))
}

struct ExperimentGrammar;

const VALID_EXPERIMENT_ENTITIES: &str = "('attribute', 'tag', 'tags')";
const EXPERIMENT_ATTRIBUTES: &str =
    "['creation_time', 'experiment_id', 'last_update_time', 'name']";

/// Resolves an experiments identifier: `Ok((is_tag, key))`.
fn resolve_experiment_ident(
    p: &Parser<'_>,
    tok: &Token,
    segments: &[Segment],
) -> Result<(bool, String), FilterError> {
    let split = split_ident(p, tok, segments).map_err(|e| {
        if e.message.starts_with("Invalid entity type") {
            let entity = segments.first().map(|s| s.text.as_str()).unwrap_or("");
            p.error_at(
                tok,
                format!(
                    "Invalid entity type '{entity}'. Valid entity types are {VALID_EXPERIMENT_ENTITIES}"
                ),
            )
        } else {
            e
        }
    })?;
    let is_tag = match split.entity.as_deref() {
        None | Some("attribute") => false,
        Some("tag" | "tags") => true,
        Some(other) => {
            return Err(p.error_at(
                tok,
                format!(
                    "Invalid entity type '{other}'. Valid entity types are {VALID_EXPERIMENT_ENTITIES}"
                ),
            ));
        }
    };
    if !is_tag
        && !matches!(
            split.key.as_str(),
            "name" | "experiment_id" | "creation_time" | "last_update_time"
        )
    {
        return Err(p.error_at(
            tok,
            format!(
                "Invalid attribute key '{}' specified. Valid keys are {EXPERIMENT_ATTRIBUTES}",
                split.key
            ),
        ));
    }
    Ok((is_tag, split.key))
}

/// Parses an experiment id the way MLflow's `_parse_experiment_id` (`int(x)`) does.
pub(crate) fn parse_experiment_id(s: &str) -> Option<i64> {
    let t = s.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

impl Grammar for ExperimentGrammar {
    type Pred = ExperimentPredicate;

    fn comparison(&self, p: &mut Parser<'_>) -> Result<ExperimentPredicate, FilterError> {
        let c = p.raw_comparison()?;
        let (is_tag, key) = resolve_experiment_ident(p, &c.ident, &c.segments)?;
        if matches!(c.op, RawOp::IsNull | RawOp::IsNotNull) && !is_tag {
            return Err(p.error_at(
                &c.op_tok,
                format!(
                    "IS NULL / IS NOT NULL is only supported for tags, not for attribute '{key}'"
                ),
            ));
        }
        let op_err = |what: &str| {
            p.error_at(
                &c.op_tok,
                format!("Invalid comparator for {what}: {}", c.op.as_str()),
            )
        };
        if is_tag {
            let value = match &c.value {
                RawValue::Str(s, _) => Some(s.clone()),
                RawValue::None => None,
                other => {
                    return Err(value_error(
                        p,
                        other,
                        &format!(
                            "Expected a quoted string value for tag (e.g. 'my-value'). Got value {}",
                            raw_text(p, other)
                        ),
                    ));
                }
            };
            let test = string_test(c.op, value, None)
                .filter(|_| !matches!(c.op, RawOp::In | RawOp::NotIn))
                .ok_or_else(|| op_err("tag"))?;
            return Ok(ExperimentPredicate::Tag { key, test });
        }
        match key.as_str() {
            "creation_time" | "last_update_time" => {
                let attr = if key == "creation_time" {
                    ExperimentTimeAttribute::CreationTime
                } else {
                    ExperimentTimeAttribute::LastUpdateTime
                };
                let value = match &c.value {
                    RawValue::Number(t) => {
                        let n = number_of(p, t)?;
                        n.integer.ok_or_else(|| {
                            p.error_at(
                                t,
                                format!(
                                    "Invalid value for numeric attribute '{key}': '{}'",
                                    t.text(p.input)
                                ),
                            )
                        })?
                    }
                    other => {
                        return Err(value_error(
                            p,
                            other,
                            &format!(
                                "Expected numeric value type for numeric attribute: {key}. Found {}",
                                raw_text(p, other)
                            ),
                        ));
                    }
                };
                let RawOp::Cmp(op) = c.op else {
                    return Err(op_err("numeric attribute"));
                };
                Ok(ExperimentPredicate::Time { attr, op, value })
            }
            _ => {
                let is_id = key == "experiment_id";
                let (value, list) = match &c.value {
                    RawValue::Str(s, _) => (Some(s.clone()), None),
                    RawValue::List(items, t, bad) => {
                        if !is_id {
                            return Err(p.error_at(
                                t,
                                "Only ['experiment_id'] attributes support comparison with a list of quoted string values",
                            ));
                        }
                        (None, Some(list_items(p, items, bad)?))
                    }
                    other => {
                        return Err(value_error(
                            p,
                            other,
                            &format!(
                                "Expected a quoted string value for attributes. Got value {}",
                                raw_text(p, other)
                            ),
                        ));
                    }
                };
                if is_id {
                    if !matches!(
                        c.op,
                        RawOp::Cmp(CompareOp::Eq | CompareOp::Ne) | RawOp::In | RawOp::NotIn
                    ) {
                        return Err(op_err("experiment_id"));
                    }
                    let check = |v: &str, t: &Token| {
                        parse_experiment_id(v).map(|_| ()).ok_or_else(|| {
                            p.error_at(
                                t,
                                format!(
                                    "Invalid experiment ID '{v}'. Experiment ID must be a valid integer"
                                ),
                            )
                        })
                    };
                    match &c.value {
                        RawValue::Str(s, t) => check(s, t)?,
                        RawValue::List(items, t, _) => {
                            for v in items {
                                check(v, t)?;
                            }
                        }
                        _ => {}
                    }
                    let test =
                        string_test(c.op, value, list).ok_or_else(|| op_err("experiment_id"))?;
                    return Ok(ExperimentPredicate::ExperimentId(test));
                }
                let test = string_test(c.op, value, list)
                    .filter(|_| !matches!(c.op, RawOp::In | RawOp::NotIn))
                    .ok_or_else(|| op_err("string attribute"))?;
                Ok(ExperimentPredicate::Name(test))
            }
        }
    }
}

/// Parses a runs filter.
pub(crate) fn parse_run_filter(
    input: &str,
    syntax: FilterSyntax,
) -> Result<RunFilter, FilterError> {
    let mut p = Parser::new(input, syntax)?;
    Ok(Filter {
        expr: p.parse_filter(&RunGrammar)?,
    })
}

/// Parses an experiments filter.
pub(crate) fn parse_experiment_filter(
    input: &str,
    syntax: FilterSyntax,
) -> Result<ExperimentFilter, FilterError> {
    let mut p = Parser::new(input, syntax)?;
    Ok(Filter {
        expr: p.parse_filter(&ExperimentGrammar)?,
    })
}

/// Parses `<ident> [ASC|DESC]` into (identifier token, segments, ascending).
fn order_by_clause(p: &mut Parser<'_>) -> Result<(Token, Vec<Segment>, bool), FilterError> {
    let Some(t) = p.next() else {
        return Err(p.unexpected(None));
    };
    let segments = match &t.kind {
        TokenKind::Ident(segs) => segs.clone(),
        _ => return Err(p.unexpected(Some(&t))),
    };
    let ascending = match p.next() {
        None => true,
        Some(d) if d.is_keyword("ASC") => true,
        Some(d) if d.is_keyword("DESC") => false,
        Some(d) => {
            return Err(p.error_at(
                &d,
                format!(
                    "Invalid ordering key '{}' (expected ASC or DESC)",
                    d.text(p.input)
                ),
            ));
        }
    };
    if let Some(extra) = p.next() {
        return Err(p.unexpected(Some(&extra)));
    }
    Ok((t, segments, ascending))
}

/// Parses one runs `order_by` clause.
pub(crate) fn parse_run_order_by(input: &str) -> Result<OrderBy<RunOrderKey>, FilterError> {
    let mut p = Parser::new(input, FilterSyntax::Mlflow)?;
    let (t, segments, ascending) = order_by_clause(&mut p)?;
    let (entity, key) = resolve_run_ident(&p, &t, &segments, true)?;
    let key = match entity {
        Entity::Metric => RunOrderKey::Metric(key),
        Entity::Param => RunOrderKey::Param(key),
        Entity::Tag => RunOrderKey::Tag(key),
        Entity::Attribute => {
            RunOrderKey::Attribute(run_attribute(&key, true).unwrap_or(RunAttribute::RunId))
        }
        Entity::Dataset => {
            return Err(p.error_at(&t, "Invalid order_by entity type 'dataset'"));
        }
    };
    Ok(OrderBy { key, ascending })
}

/// Parses one experiments `order_by` clause.
pub(crate) fn parse_experiment_order_by(
    input: &str,
) -> Result<OrderBy<ExperimentOrderKey>, FilterError> {
    let mut p = Parser::new(input, FilterSyntax::Mlflow)?;
    let (t, segments, ascending) = order_by_clause(&mut p)?;
    let (is_tag, key) = resolve_experiment_ident(&p, &t, &segments)?;
    if is_tag {
        return Err(p.error_at(&t, "Invalid order_by entity: tag"));
    }
    let key = match key.as_str() {
        "name" => ExperimentOrderKey::Name,
        "experiment_id" => ExperimentOrderKey::ExperimentId,
        "creation_time" => ExperimentOrderKey::CreationTime,
        _ => ExperimentOrderKey::LastUpdateTime,
    };
    Ok(OrderBy { key, ascending })
}
