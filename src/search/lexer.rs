//! Tokenizer for filter strings and `order_by` clauses.
//!
//! The token rules follow the `sqlparse` regular expressions MLflow relies on, so that every
//! string MLflow accepts lexes the same way here:
//!
//! * `'…'` is a string value; `''` and `\'` inside do not end it and are kept verbatim
//!   (no escape processing). `"…"` is a value or a key, with `""` and `\"` likewise;
//!   `` `…` `` is a key, with ` `` ` kept.
//! * Numbers: `-?\d+(\.\d+)?[eE]-?\d+`, `-?(\d+\.\d*|\.\d+)` (floats) and `-?\d+`
//!   (integers), not directly followed by a letter or `_`.
//! * Words: runs of Unicode letters, digits and `_`. Dotted identifiers such as
//!   `tags.mlflow.runName` or ``metrics.`my key` `` form one token.
//! * Operators `= != < <= > >=` (and `==`, `<>`, which are recognised only to be rejected).
//!
//! Every token carries its byte offset; offsets always lie on `char` boundaries.

use super::FilterError;

/// How a quoted segment was quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quote {
    /// `'…'`
    Single,
    /// `"…"`
    Double,
    /// `` `…` ``
    Backtick,
}

impl Quote {
    pub(crate) fn char(self) -> char {
        match self {
            Quote::Single => '\'',
            Quote::Double => '"',
            Quote::Backtick => '`',
        }
    }
}

/// One part of a (possibly dotted) identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    /// The text, without the enclosing quotes (inner doubled quotes are kept verbatim).
    pub text: String,
    /// How the segment was quoted, if at all.
    pub quote: Option<Quote>,
}

/// Kinds of token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    /// A bare word or a dotted/quoted identifier: one or more segments separated by `.`.
    /// A lone double-quoted segment is also how a `"…"` string value lexes.
    Ident(Vec<Segment>),
    /// A single-quoted string; the text is the content without the outer quotes.
    Str(String),
    /// A numeric literal (text as written); `integer` when it has neither `.` nor exponent.
    Number { text: String, integer: bool },
    /// A comparison operator as written.
    Op(&'static str),
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `,`
    Comma,
}

/// A token with its byte span in the input.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    /// Byte offset of the first character.
    pub start: usize,
    /// Byte offset just past the last character.
    pub end: usize,
}

impl Token {
    /// The token's text in `input` (the span is always on char boundaries).
    pub(crate) fn text<'a>(&self, input: &'a str) -> &'a str {
        input.get(self.start..self.end).unwrap_or("")
    }

    /// Whether this token is the bare keyword `kw` (ASCII case-insensitive).
    pub(crate) fn is_keyword(&self, kw: &str) -> bool {
        match &self.kind {
            TokenKind::Ident(segs) => {
                segs.len() == 1 && segs[0].quote.is_none() && segs[0].text.eq_ignore_ascii_case(kw)
            }
            _ => false,
        }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Characters that may not directly follow a number (`sqlparse`'s `(?![_A-ZÀ-Ü])`).
fn blocks_number(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

/// Byte-level view with char-safe helpers.
struct Cursor<'a> {
    s: &'a str,
}

impl<'a> Cursor<'a> {
    fn char_at(&self, pos: usize) -> Option<char> {
        self.s.get(pos..).and_then(|rest| rest.chars().next())
    }

    fn byte(&self, pos: usize) -> Option<u8> {
        self.s.as_bytes().get(pos).copied()
    }

    fn digits_end(&self, mut pos: usize) -> usize {
        while self.byte(pos).is_some_and(|b| b.is_ascii_digit()) {
            pos += 1;
        }
        pos
    }
}

/// Finds the end (exclusive) of a quoted token starting at `start` (which holds `quote`),
/// with `sqlparse`'s regex semantics: `q(qq|\q|[^q])*q` for `'` and `"`, `` `(``|[^`])*` ``
/// for backticks, including the regex engine's backtracking. Returns `None` when unterminated.
pub(crate) fn scan_quoted(s: &str, start: usize, quote: char) -> Option<usize> {
    let bytes = s.as_bytes();
    let q = quote as u8;
    let backslash = quote != '`';
    let body = start + 1;
    let n = bytes.len();
    if body > n {
        return None;
    }
    // The regex engine's first try is the greedy path; it needs backtracking only when that path
    // runs off the end of the input, so take the linear fast path first.
    let mut p = body;
    while p < n {
        let b = bytes[p];
        let next = bytes.get(p + 1).copied();
        if b == q {
            if next == Some(q) {
                p += 2;
                continue;
            }
            return Some(p + 1);
        }
        if backslash && b == b'\\' && next == Some(q) {
            p += 2;
            continue;
        }
        p += 1;
    }
    // ok[p] = Some(end) if the tail starting at p (inside the body) can complete the match,
    // trying alternatives in regex order: qq, \q, [^q] (each followed by the rest), then the
    // closing quote.
    let mut ok: Vec<Option<usize>> = vec![None; n - body + 2];
    for p in (body..=n).rev() {
        let idx = p - body;
        let mut res = None;
        if bytes.get(p) == Some(&q) && bytes.get(p + 1) == Some(&q) {
            res = ok.get(idx + 2).copied().flatten();
        }
        if res.is_none()
            && backslash
            && bytes.get(p) == Some(&b'\\')
            && bytes.get(p + 1) == Some(&q)
        {
            res = ok.get(idx + 2).copied().flatten();
        }
        if res.is_none()
            && let Some(&b) = bytes.get(p)
            && b != q
        {
            // Advance by one whole character (UTF-8 continuation bytes never equal q).
            res = ok.get(idx + utf8_width(b)).copied().flatten();
        }
        if res.is_none() && bytes.get(p) == Some(&q) {
            res = Some(p + 1);
        }
        ok[idx] = res;
    }
    ok[0]
}

fn utf8_width(b: u8) -> usize {
    match b {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 1,
    }
}

/// Tokenizes `input`. Errors name the offending character and its byte offset.
pub(crate) fn tokenize(input: &str) -> Result<Vec<Token>, FilterError> {
    let cur = Cursor { s: input };
    let mut tokens = Vec::new();
    let mut pos = 0;
    while let Some(c) = cur.char_at(pos) {
        if c.is_whitespace() {
            pos += c.len_utf8();
            continue;
        }
        let start = pos;
        let single = |kind: TokenKind, len: usize| Token {
            kind,
            start,
            end: start + len,
        };
        match c {
            '(' => {
                tokens.push(single(TokenKind::LParen, 1));
                pos += 1;
            }
            ')' => {
                tokens.push(single(TokenKind::RParen, 1));
                pos += 1;
            }
            ',' => {
                tokens.push(single(TokenKind::Comma, 1));
                pos += 1;
            }
            '=' | '!' | '<' | '>' => {
                let next = cur.byte(pos + 1);
                let (op, len): (&'static str, usize) = match (c, next) {
                    ('=', Some(b'=')) => ("==", 2),
                    ('=', _) => ("=", 1),
                    ('!', Some(b'=')) => ("!=", 2),
                    ('<', Some(b'=')) => ("<=", 2),
                    ('<', Some(b'>')) => ("<>", 2),
                    ('<', _) => ("<", 1),
                    ('>', Some(b'=')) => (">=", 2),
                    ('>', _) => (">", 1),
                    _ => return Err(FilterError::unexpected(input, start)),
                };
                tokens.push(single(TokenKind::Op(op), len));
                pos += len;
            }
            '\'' => {
                let end = scan_quoted(input, pos, '\'').ok_or_else(|| {
                    FilterError::new(input, start, "unterminated string starting with '")
                })?;
                let text = input.get(pos + 1..end - 1).unwrap_or("").to_string();
                tokens.push(Token {
                    kind: TokenKind::Str(text),
                    start,
                    end,
                });
                pos = end;
            }
            '"' | '`' => {
                let (segments, end) = lex_identifier(input, pos)?;
                tokens.push(Token {
                    kind: TokenKind::Ident(segments),
                    start,
                    end,
                });
                pos = end;
            }
            '-' | '.' | '0'..='9' => {
                if let Some((end, integer)) = lex_number(&cur, pos) {
                    let followed_by_word = cur.char_at(end).is_some_and(is_word_char);
                    if followed_by_word {
                        // e.g. `1x`, `1e3x`, `1_000`: one bad word, reported by the parser.
                        let end = word_end(&cur, end);
                        tokens.push(Token {
                            kind: TokenKind::Ident(vec![Segment {
                                text: input.get(start..end).unwrap_or("").to_string(),
                                quote: None,
                            }]),
                            start,
                            end,
                        });
                        pos = end;
                    } else {
                        tokens.push(Token {
                            kind: TokenKind::Number {
                                text: input.get(start..end).unwrap_or("").to_string(),
                                integer,
                            },
                            start,
                            end,
                        });
                        pos = end;
                    }
                } else {
                    return Err(FilterError::unexpected(input, start));
                }
            }
            c if is_word_char(c) => {
                let (segments, end) = lex_identifier(input, pos)?;
                tokens.push(Token {
                    kind: TokenKind::Ident(segments),
                    start,
                    end,
                });
                pos = end;
            }
            _ => return Err(FilterError::unexpected(input, start)),
        }
    }
    Ok(tokens)
}

fn word_end(cur: &Cursor<'_>, mut pos: usize) -> usize {
    while let Some(c) = cur.char_at(pos) {
        if !is_word_char(c) {
            break;
        }
        pos += c.len_utf8();
    }
    pos
}

/// Matches a number at `pos` with sqlparse's rules; returns (end, is_integer).
fn lex_number(cur: &Cursor<'_>, pos: usize) -> Option<(usize, bool)> {
    let mut p = pos;
    if cur.byte(p) == Some(b'-') {
        p += 1;
    }
    let int_end = cur.digits_end(p);
    let has_int = int_end > p;
    // 1. -?\d+(\.\d+)?[eE]-?\d+
    if has_int {
        let mut q = int_end;
        if cur.byte(q) == Some(b'.') {
            let frac_end = cur.digits_end(q + 1);
            if frac_end > q + 1 {
                q = frac_end;
            }
        }
        if matches!(cur.byte(q), Some(b'e' | b'E')) {
            let mut r = q + 1;
            if cur.byte(r) == Some(b'-') {
                r += 1;
            }
            let exp_end = cur.digits_end(r);
            if exp_end > r {
                return Some((exp_end, false));
            }
        }
    }
    let not_blocked = |end: usize| !cur.char_at(end).is_some_and(blocks_number);
    // 2. -?(\d+\.\d*|\.\d+) not followed by a letter/underscore
    if has_int && cur.byte(int_end) == Some(b'.') {
        let end = cur.digits_end(int_end + 1);
        if not_blocked(end) {
            return Some((end, false));
        }
    } else if !has_int && cur.byte(p) == Some(b'.') {
        let end = cur.digits_end(p + 1);
        if end > p + 1 && not_blocked(end) {
            return Some((end, false));
        }
    }
    // 3. -?\d+ not followed by a letter/underscore
    if has_int {
        if not_blocked(int_end) {
            return Some((int_end, true));
        }
        // Followed by a letter: the caller turns it into a bad word.
        return Some((int_end, true));
    }
    None
}

/// Lexes an identifier starting at `pos`: segments (bare words, `` `…` ``, `"…"`, and after a
/// dot also `'…'`) joined by dots with no whitespace.
fn lex_identifier(input: &str, pos: usize) -> Result<(Vec<Segment>, usize), FilterError> {
    let cur = Cursor { s: input };
    let mut segments = Vec::new();
    let mut p = pos;
    let mut first = true;
    loop {
        let c = match cur.char_at(p) {
            Some(c) => c,
            None => return Err(FilterError::new(input, p, "expected a key after '.'")),
        };
        let seg_start = p;
        match c {
            '`' | '"' => {
                let end = scan_quoted(input, p, c).ok_or_else(|| {
                    FilterError::new(
                        input,
                        seg_start,
                        format!("unterminated quoted name starting with {c}"),
                    )
                })?;
                segments.push(Segment {
                    text: input.get(p + 1..end - 1).unwrap_or("").to_string(),
                    quote: Some(if c == '`' {
                        Quote::Backtick
                    } else {
                        Quote::Double
                    }),
                });
                p = end;
            }
            '\'' if !first => {
                let end = scan_quoted(input, p, '\'').ok_or_else(|| {
                    FilterError::new(input, seg_start, "unterminated quoted name starting with '")
                })?;
                segments.push(Segment {
                    text: input.get(p + 1..end - 1).unwrap_or("").to_string(),
                    quote: Some(Quote::Single),
                });
                p = end;
            }
            c if is_word_char(c) => {
                let end = word_end(&cur, p);
                segments.push(Segment {
                    text: input.get(p..end).unwrap_or("").to_string(),
                    quote: None,
                });
                p = end;
            }
            _ => {
                return Err(FilterError::new(
                    input,
                    seg_start,
                    if first {
                        format!("unexpected '{c}'")
                    } else {
                        "expected a key after '.'".to_string()
                    },
                ));
            }
        }
        first = false;
        if cur.byte(p) == Some(b'.') {
            p += 1;
            continue;
        }
        return Ok((segments, p));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<TokenKind> {
        tokenize(s).unwrap().into_iter().map(|t| t.kind).collect()
    }

    fn num(text: &str, integer: bool) -> TokenKind {
        TokenKind::Number {
            text: text.into(),
            integer,
        }
    }

    #[test]
    fn quoted_scanning_matches_sqlparse() {
        assert_eq!(scan_quoted("'abc'", 0, '\''), Some(5));
        assert_eq!(scan_quoted("'it''s' x", 0, '\''), Some(7));
        assert_eq!(scan_quoted("'' AND 'x'", 0, '\''), Some(2));
        assert_eq!(scan_quoted(r"'C:\'", 0, '\''), Some(5));
        assert_eq!(scan_quoted(r"'a\'b'", 0, '\''), Some(6));
        assert_eq!(scan_quoted("'abc''", 0, '\''), Some(5));
        assert_eq!(scan_quoted("'abc", 0, '\''), None);
        assert_eq!(scan_quoted("'", 0, '\''), None);
        assert_eq!(scan_quoted("`a``b`", 0, '`'), Some(6));
        assert_eq!(scan_quoted(r"`a\`", 0, '`'), Some(4));
        assert_eq!(scan_quoted("'é'", 0, '\''), Some(4));
    }

    #[test]
    fn numbers() {
        assert_eq!(kinds("1"), vec![num("1", true)]);
        assert_eq!(kinds("-1"), vec![num("-1", true)]);
        assert_eq!(kinds("1.5"), vec![num("1.5", false)]);
        assert_eq!(kinds("1."), vec![num("1.", false)]);
        assert_eq!(kinds(".5"), vec![num(".5", false)]);
        assert_eq!(kinds("-.5"), vec![num("-.5", false)]);
        assert_eq!(kinds("1e3"), vec![num("1e3", false)]);
        assert_eq!(kinds("1.5E-3"), vec![num("1.5E-3", false)]);
        assert_eq!(kinds("00012"), vec![num("00012", true)]);
        // `1x` and `1_000` are single bad words
        assert!(matches!(&kinds("1x")[0], TokenKind::Ident(s) if s[0].text == "1x"));
        assert!(matches!(&kinds("1_000")[0], TokenKind::Ident(s) if s[0].text == "1_000"));
        assert!(tokenize("- 1").is_err());
        assert!(tokenize("1e+3").is_err());
    }

    #[test]
    fn identifiers() {
        let t = kinds("tags.mlflow.runName");
        assert!(matches!(&t[0], TokenKind::Ident(s) if s.len() == 3));
        let t = kinds("metrics.`x y`");
        assert!(
            matches!(&t[0], TokenKind::Ident(s) if s[1].text == "x y" && s[1].quote == Some(Quote::Backtick))
        );
        let t = kinds("metrics.'x y'");
        assert!(matches!(&t[0], TokenKind::Ident(s) if s[1].quote == Some(Quote::Single)));
        assert!(tokenize("metrics.").is_err());
        assert!(tokenize("metrics.$x").is_err());
    }

    #[test]
    fn operators_and_offsets() {
        let t = tokenize("metrics.x >> 1").unwrap();
        assert_eq!(t[1].kind, TokenKind::Op(">"));
        assert_eq!(t[1].start, 10);
        assert_eq!(t[2].kind, TokenKind::Op(">"));
        assert_eq!(t[2].start, 11);
        assert_eq!(kinds("<>")[0], TokenKind::Op("<>"));
        assert!(tokenize("a ; b").is_err());
        assert!(tokenize("!").is_err());
    }

    #[test]
    fn never_panics_on_odd_input() {
        for s in [
            "'",
            "\"",
            "`",
            "é'",
            "-",
            ".",
            "'\u{1F600}",
            "\u{1F600}.",
            "a.\u{0301}",
        ] {
            let _ = tokenize(s);
        }
    }
}
