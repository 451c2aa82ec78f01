//! Byte-compatible renderings of what MLflow's Python client writes: `json.dump(…, indent=2)`
//! and `json.dumps(…)` (with `ensure_ascii`, Python float `repr`), and PyYAML's
//! `yaml.dump(…, indent=2, default_flow_style=False)` (sorted keys, YAML 1.1 quoting rules,
//! non-ASCII escaped, lines folded at 80 columns).
//!
//! JSON keeps the field order of the serialised value (struct fields, or insertion order of
//! ordered maps); YAML sorts keys as PyYAML does. Checked byte for byte against Python's
//! `json` and PyYAML 6 on a corpus of tricky values (`tests/artifacts.rs`). Known difference:
//! non-finite floats become `null` in JSON (serde cannot carry Python's `NaN`).

use std::io;

use serde::Serialize;
use serde_json::Value;
use serde_json::ser::{Formatter, PrettyFormatter};

use crate::error::{Error, Result};

// ----- JSON ---------------------------------------------------------------------------------

/// Python's `repr(float)`: shortest round-trip digits, fixed notation for exponents -4..16,
/// otherwise `1e-05` / `1.5e+16` style.
pub fn python_float_repr(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    let sci = format!("{:e}", v.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if v < 0.0 { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        let s = if exp >= 0 {
            let int_len = exp + 1;
            if n <= int_len {
                format!("{digits}{}.0", "0".repeat((int_len - n) as usize))
            } else {
                format!(
                    "{}.{}",
                    &digits[..int_len as usize],
                    &digits[int_len as usize..]
                )
            }
        } else {
            format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
        };
        format!("{sign}{s}")
    } else {
        let m = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits
        };
        let es = if exp < 0 { '-' } else { '+' };
        format!("{sign}{m}e{es}{:02}", exp.abs())
    }
}

fn write_ascii_escaped<W: ?Sized + io::Write>(writer: &mut W, fragment: &str) -> io::Result<()> {
    let mut start = 0;
    for (i, ch) in fragment.char_indices() {
        if ch.is_ascii() && ch != '\x7f' {
            continue;
        }
        writer.write_all(&fragment.as_bytes()[start..i])?;
        let mut buf = [0u16; 2];
        for unit in ch.encode_utf16(&mut buf) {
            write!(writer, "\\u{unit:04x}")?;
        }
        start = i + ch.len_utf8();
    }
    writer.write_all(&fragment.as_bytes()[start..])
}

/// `json.dump(obj, indent=2)` formatting (Python's defaults otherwise).
struct PyPretty<'a>(PrettyFormatter<'a>);

impl Formatter for PyPretty<'_> {
    fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, v: f64) -> io::Result<()> {
        w.write_all(python_float_repr(v).as_bytes())
    }
    fn write_f32<W: ?Sized + io::Write>(&mut self, w: &mut W, v: f32) -> io::Result<()> {
        // Python has only doubles: an f32 is widened.
        self.write_f64(w, f64::from(v))
    }
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        write_ascii_escaped(w, fragment)
    }
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// `json.dumps(obj)` formatting: separators `", "` and `": "`.
struct PyCompact;

impl Formatter for PyCompact {
    fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, v: f64) -> io::Result<()> {
        w.write_all(python_float_repr(v).as_bytes())
    }
    fn write_f32<W: ?Sized + io::Write>(&mut self, w: &mut W, v: f32) -> io::Result<()> {
        self.write_f64(w, f64::from(v))
    }
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        write_ascii_escaped(w, fragment)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
}

fn json_error(e: serde_json::Error) -> Error {
    Error::InvalidParameter(format!("the value cannot be written as JSON: {e}"))
}

/// `json.dumps(value, indent=2)` as MLflow's `log_dict` writes it (no trailing newline).
pub fn json_dumps_indent2<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        PyPretty(PrettyFormatter::with_indent(b"  ")),
    );
    value.serialize(&mut ser).map_err(json_error)?;
    String::from_utf8(out).map_err(|e| Error::InvalidParameter(e.to_string()))
}

/// `json.dumps(value)` with Python's default separators, as MLflow writes tag values.
pub fn json_dumps<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PyCompact);
    value.serialize(&mut ser).map_err(json_error)?;
    String::from_utf8(out).map_err(|e| Error::InvalidParameter(e.to_string()))
}

// ----- YAML ---------------------------------------------------------------------------------

const BEST_WIDTH: usize = 80;
const BEST_INDENT: usize = 2;

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_ws_or_end(c: Option<char>) -> bool {
    matches!(
        c,
        None | Some('\0' | ' ' | '\t' | '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
    )
}

/// PyYAML's `ScalarAnalysis` (the fields its style choice uses).
#[derive(Debug)]
struct Analysis {
    empty: bool,
    multiline: bool,
    allow_block_plain: bool,
    allow_single_quoted: bool,
}

fn analyze(scalar: &str) -> Analysis {
    if scalar.is_empty() {
        return Analysis {
            empty: true,
            multiline: false,
            allow_block_plain: true,
            allow_single_quoted: true,
        };
    }
    let chars: Vec<char> = scalar.chars().collect();
    let n = chars.len();
    let mut block_indicators = false;
    let mut line_breaks = false;
    let mut special = false;
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    if scalar.starts_with("---") || scalar.starts_with("...") {
        block_indicators = true;
    }
    let mut preceded_by_ws = true;
    let mut followed_by_ws = n == 1 || is_ws_or_end(chars.get(1).copied());
    let (mut prev_space, mut prev_break) = (false, false);
    for (index, &ch) in chars.iter().enumerate() {
        if index == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(ch) {
                block_indicators = true;
            }
            if (ch == '?' || ch == ':') && followed_by_ws {
                block_indicators = true;
            }
            if ch == '-' && followed_by_ws {
                block_indicators = true;
            }
        } else {
            if ch == ':' && followed_by_ws {
                block_indicators = true;
            }
            if ch == '#' && preceded_by_ws {
                block_indicators = true;
            }
        }
        if is_break(ch) {
            line_breaks = true;
        }
        if !(ch == '\n' || (' '..='~').contains(&ch)) {
            // Without allow_unicode every other character needs escaping.
            special = true;
        }
        if ch == ' ' {
            if index == 0 {
                leading_space = true;
            }
            if index == n - 1 {
                trailing_space = true;
            }
            if prev_break {
                break_space = true;
            }
            prev_space = true;
            prev_break = false;
        } else if is_break(ch) {
            if index == 0 {
                leading_break = true;
            }
            if index == n - 1 {
                trailing_break = true;
            }
            if prev_space {
                space_break = true;
            }
            prev_space = false;
            prev_break = true;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_by_ws = is_ws_or_end(Some(ch));
        followed_by_ws = index + 2 >= n || is_ws_or_end(chars.get(index + 2).copied());
    }
    let mut allow_block_plain = true;
    let mut allow_single_quoted = true;
    if leading_space || leading_break || trailing_space || trailing_break {
        allow_block_plain = false;
    }
    if break_space {
        allow_block_plain = false;
        allow_single_quoted = false;
    }
    if space_break || special {
        allow_block_plain = false;
        allow_single_quoted = false;
    }
    if line_breaks || block_indicators {
        allow_block_plain = false;
    }
    Analysis {
        empty: false,
        multiline: line_breaks,
        allow_block_plain,
        allow_single_quoted,
    }
}

fn all_match(s: &str, f: impl Fn(char) -> bool) -> bool {
    s.chars().all(f)
}

fn strip_sign(s: &str) -> &str {
    s.strip_prefix(['-', '+']).unwrap_or(s)
}

/// `[0-9][0-9_]*(?::[0-5]?[0-9])+` (sexagesimal) after an optional sign was removed.
fn is_sexagesimal(s: &str) -> bool {
    let mut parts = s.split(':');
    let Some(head) = parts.next() else {
        return false;
    };
    let mut any = false;
    if !(head.starts_with(|c: char| c.is_ascii_digit())
        && all_match(head, |c| c.is_ascii_digit() || c == '_'))
    {
        return false;
    }
    for p in parts {
        any = true;
        let b = p.as_bytes();
        let ok = match b.len() {
            1 => b[0].is_ascii_digit(),
            2 => (b'0'..=b'5').contains(&b[0]) && b[1].is_ascii_digit(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    any
}

fn is_yaml11_int(s: &str) -> bool {
    let t = strip_sign(s);
    if let Some(r) = t.strip_prefix("0b") {
        return !r.is_empty() && all_match(r, |c| c == '0' || c == '1' || c == '_');
    }
    if let Some(r) = t.strip_prefix("0x") {
        return !r.is_empty() && all_match(r, |c| c.is_ascii_hexdigit() || c == '_');
    }
    if t == "0" {
        return true;
    }
    if let Some(r) = t.strip_prefix('0') {
        return !r.is_empty() && all_match(r, |c| ('0'..='7').contains(&c) || c == '_');
    }
    if t.starts_with(|c: char| ('1'..='9').contains(&c)) {
        if all_match(t, |c| c.is_ascii_digit() || c == '_') {
            return true;
        }
        return is_sexagesimal(t);
    }
    false
}

/// `[eE][-+][0-9]+` optional suffix check: returns the part before it if well formed.
fn split_exponent(s: &str) -> Option<&str> {
    match s.find(['e', 'E']) {
        None => Some(s),
        Some(i) => {
            let e = &s[i + 1..];
            let digits = e.strip_prefix(['-', '+'])?;
            (!digits.is_empty() && all_match(digits, |c| c.is_ascii_digit())).then_some(&s[..i])
        }
    }
}

fn is_yaml11_float(s: &str) -> bool {
    if matches!(s, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let t = strip_sign(s);
    if matches!(t, ".inf" | ".Inf" | ".INF") {
        return true;
    }
    // [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    if let Some((head, frac)) = t.rsplit_once('.')
        && head.contains(':')
        && is_sexagesimal(head)
        && all_match(frac, |c| c.is_ascii_digit() || c == '_')
    {
        return true;
    }
    // \.[0-9][0-9_]*(exp)?  (no sign allowed)
    if let Some(r) = s.strip_prefix('.') {
        return split_exponent(r).is_some_and(|m| {
            m.starts_with(|c: char| c.is_ascii_digit())
                && all_match(m, |c| c.is_ascii_digit() || c == '_')
        });
    }
    // [-+]?[0-9][0-9_]*\.[0-9_]*(exp)?
    let Some(m) = split_exponent(t) else {
        return false;
    };
    let Some((int, frac)) = m.split_once('.') else {
        return false;
    };
    int.starts_with(|c: char| c.is_ascii_digit())
        && all_match(int, |c| c.is_ascii_digit() || c == '_')
        && all_match(frac, |c| c.is_ascii_digit() || c == '_')
}

fn is_yaml11_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let d = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    if b.len() == 10
        && d(0)
        && d(1)
        && d(2)
        && d(3)
        && b[4] == b'-'
        && d(5)
        && d(6)
        && b[7] == b'-'
        && d(8)
        && d(9)
    {
        return true;
    }
    // yyyy-m[m]-d[d](T|t|[ \t]+)h[h]:mm:ss(.frac)?([ \t]*(Z|[-+]h[h](:mm)?))?
    let mut i = 0;
    let digits = |i: &mut usize, min: usize, max: usize| -> bool {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() && *i - start < max {
            *i += 1;
        }
        *i - start >= min
    };
    let lit = |i: &mut usize, c: u8| -> bool {
        if b.get(*i) == Some(&c) {
            *i += 1;
            true
        } else {
            false
        }
    };
    if !(digits(&mut i, 4, 4)
        && lit(&mut i, b'-')
        && digits(&mut i, 1, 2)
        && lit(&mut i, b'-')
        && digits(&mut i, 1, 2))
    {
        return false;
    }
    if lit(&mut i, b'T') || lit(&mut i, b't') {
    } else {
        let start = i;
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    if !(digits(&mut i, 1, 2)
        && lit(&mut i, b':')
        && digits(&mut i, 2, 2)
        && lit(&mut i, b':')
        && digits(&mut i, 2, 2))
    {
        return false;
    }
    if lit(&mut i, b'.') {
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i == b.len() {
        return true;
    }
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    if lit(&mut i, b'Z') {
        return i == b.len();
    }
    if lit(&mut i, b'-') || lit(&mut i, b'+') {
        if !digits(&mut i, 1, 2) {
            return false;
        }
        if lit(&mut i, b':') && !digits(&mut i, 2, 2) {
            return false;
        }
        return i == b.len();
    }
    false
}

/// Whether PyYAML's resolver reads the plain scalar `s` as a string (YAML 1.1 rules).
fn resolves_as_str(s: &str) -> bool {
    let other = matches!(
        s,
        "" | "~"
            | "null"
            | "Null"
            | "NULL"
            | "<<"
            | "="
            | "!"
            | "&"
            | "*"
            | "yes"
            | "Yes"
            | "YES"
            | "no"
            | "No"
            | "NO"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    ) || is_yaml11_int(s)
        || is_yaml11_float(s)
        || is_yaml11_timestamp(s);
    !other
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Plain,
    Single,
    Double,
}

/// A port of the parts of PyYAML's `Emitter` that `yaml.dump` of JSON-like data uses.
struct Emitter {
    out: String,
    column: usize,
    whitespace: bool,
    indention: bool,
    open_ended: bool,
    indent: Option<usize>,
    indents: Vec<Option<usize>>,
    root_context: bool,
    mapping_context: bool,
    simple_key_context: bool,
}

impl Emitter {
    fn new() -> Self {
        Emitter {
            out: String::new(),
            column: 0,
            whitespace: true,
            indention: true,
            open_ended: false,
            indent: None,
            indents: Vec::new(),
            root_context: false,
            mapping_context: false,
            simple_key_context: false,
        }
    }

    fn write(&mut self, s: &str) {
        self.column += s.chars().count();
        self.out.push_str(s);
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        match self.indent {
            None => self.indent = Some(if flow { BEST_INDENT } else { 0 }),
            Some(i) if !indentless => self.indent = Some(i + BEST_INDENT),
            Some(_) => {}
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().flatten();
    }

    fn write_line_break(&mut self) {
        self.whitespace = true;
        self.indention = true;
        self.column = 0;
        self.out.push('\n');
    }

    fn write_indent(&mut self) {
        let indent = self.indent.unwrap_or(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.write_line_break();
        }
        if self.column < indent {
            self.whitespace = true;
            let pad = " ".repeat(indent - self.column);
            self.column = indent;
            self.out.push_str(&pad);
        }
    }

    fn write_indicator(
        &mut self,
        indicator: &str,
        need_whitespace: bool,
        whitespace: bool,
        indention: bool,
    ) {
        let data = if self.whitespace || !need_whitespace {
            indicator.to_string()
        } else {
            format!(" {indicator}")
        };
        self.whitespace = whitespace;
        self.indention = self.indention && indention;
        self.open_ended = false;
        self.write(&data);
    }

    fn node(&mut self, value: &Value, root: bool, mapping: bool, simple_key: bool) {
        self.root_context = root;
        self.mapping_context = mapping;
        self.simple_key_context = simple_key;
        match value {
            Value::Array(items) if items.is_empty() => self.empty_flow("[", "]"),
            Value::Object(map) if map.is_empty() => self.empty_flow("{", "}"),
            Value::Array(items) => {
                let indentless = self.mapping_context && !self.indention;
                self.increase_indent(false, indentless);
                for item in items {
                    self.write_indent();
                    self.write_indicator("-", true, false, true);
                    self.node(item, false, false, false);
                }
                self.pop_indent();
            }
            Value::Object(map) => {
                self.increase_indent(false, false);
                for (k, v) in map {
                    self.write_indent();
                    let a = analyze(k);
                    if k.chars().count() < 128 && !a.empty && !a.multiline {
                        self.scalar_str(k, false, false, true);
                        self.write_indicator(":", false, false, false);
                    } else {
                        self.write_indicator("?", true, false, true);
                        self.scalar_str(k, false, true, false);
                        self.write_indent();
                        self.write_indicator(":", true, false, true);
                    }
                    self.node(v, false, true, false);
                }
                self.pop_indent();
            }
            Value::String(s) => self.scalar_str(s, root, mapping, simple_key),
            Value::Null => self.scalar_plain("null"),
            Value::Bool(b) => self.scalar_plain(if *b { "true" } else { "false" }),
            Value::Number(n) => {
                let text = if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
                    yaml_float(f)
                } else {
                    n.to_string()
                };
                self.scalar_plain(&text);
            }
        }
    }

    fn empty_flow(&mut self, open: &str, close: &str) {
        self.write_indicator(open, true, true, false);
        self.increase_indent(true, false);
        self.pop_indent();
        self.write_indicator(close, false, false, false);
    }

    fn scalar_plain(&mut self, text: &str) {
        self.increase_indent(true, false);
        let split = !self.simple_key_context;
        self.write_plain(text, split);
        self.pop_indent();
    }

    fn scalar_str(&mut self, s: &str, root: bool, mapping: bool, simple_key: bool) {
        self.root_context = root;
        self.mapping_context = mapping;
        self.simple_key_context = simple_key;
        let a = analyze(s);
        let style = if resolves_as_str(s)
            && !(simple_key && (a.empty || a.multiline))
            && a.allow_block_plain
        {
            Style::Plain
        } else if a.allow_single_quoted && !(simple_key && a.multiline) {
            Style::Single
        } else {
            Style::Double
        };
        self.increase_indent(true, false);
        let split = !simple_key;
        match style {
            Style::Plain => self.write_plain(s, split),
            Style::Single => self.write_single_quoted(s, split),
            Style::Double => self.write_double_quoted(s, split),
        }
        self.pop_indent();
    }

    fn write_plain(&mut self, text: &str, split: bool) {
        if self.root_context {
            self.open_ended = true;
        }
        if text.is_empty() {
            return;
        }
        if !self.whitespace {
            self.write(" ");
        }
        self.whitespace = false;
        self.indention = false;
        let chars: Vec<char> = text.chars().collect();
        let (mut spaces, mut breaks) = (false, false);
        let (mut start, mut end) = (0, 0);
        while end <= chars.len() {
            let ch = chars.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end && self.column > BEST_WIDTH && split {
                        self.write_indent();
                        self.whitespace = false;
                        self.indention = false;
                    } else {
                        let data: String = chars[start..end].iter().collect();
                        self.write(&data);
                    }
                    start = end;
                }
            } else if breaks {
                if !ch.is_some_and(is_break) {
                    if chars[start] == '\n' {
                        self.write_line_break();
                    }
                    for _ in start..end {
                        self.write_line_break();
                    }
                    self.write_indent();
                    self.whitespace = false;
                    self.indention = false;
                    start = end;
                }
            } else if ch.is_none_or(|c| c == ' ' || is_break(c)) {
                let data: String = chars[start..end].iter().collect();
                self.write(&data);
                start = end;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
                breaks = is_break(c);
            }
            end += 1;
        }
    }

    fn write_single_quoted(&mut self, text: &str, split: bool) {
        self.write_indicator("'", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let n = chars.len();
        let (mut spaces, mut breaks) = (false, false);
        let (mut start, mut end) = (0, 0);
        while end <= n {
            let ch = chars.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end
                        && self.column > BEST_WIDTH
                        && split
                        && start != 0
                        && end != n
                    {
                        self.write_indent();
                    } else {
                        let data: String = chars[start..end].iter().collect();
                        self.write(&data);
                    }
                    start = end;
                }
            } else if breaks {
                if !ch.is_some_and(is_break) {
                    if chars[start] == '\n' {
                        self.write_line_break();
                    }
                    for _ in start..end {
                        self.write_line_break();
                    }
                    self.write_indent();
                    start = end;
                }
            } else if (ch.is_none_or(|c| c == ' ' || is_break(c) || c == '\'')) && start < end {
                let data: String = chars[start..end].iter().collect();
                self.write(&data);
                start = end;
            }
            if ch == Some('\'') {
                self.write("''");
                start = end + 1;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
                breaks = is_break(c);
            }
            end += 1;
        }
        self.write_indicator("'", false, false, false);
    }

    fn write_double_quoted(&mut self, text: &str, split: bool) {
        self.write_indicator("\"", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let n = chars.len();
        let (mut start, mut end) = (0, 0);
        while end <= n {
            let ch = chars.get(end).copied();
            let needs_escape = match ch {
                None => true,
                Some(c) => {
                    matches!(
                        c,
                        '"' | '\\' | '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{FEFF}'
                    ) || !(' '..='~').contains(&c)
                }
            };
            if needs_escape {
                if start < end {
                    let data: String = chars[start..end].iter().collect();
                    self.write(&data);
                    start = end;
                }
                if let Some(c) = ch {
                    let data = match c {
                        '\0' => "\\0".to_string(),
                        '\x07' => "\\a".into(),
                        '\x08' => "\\b".into(),
                        '\t' => "\\t".into(),
                        '\n' => "\\n".into(),
                        '\x0B' => "\\v".into(),
                        '\x0C' => "\\f".into(),
                        '\r' => "\\r".into(),
                        '\x1B' => "\\e".into(),
                        '"' => "\\\"".into(),
                        '\\' => "\\\\".into(),
                        '\u{85}' => "\\N".into(),
                        '\u{A0}' => "\\_".into(),
                        '\u{2028}' => "\\L".into(),
                        '\u{2029}' => "\\P".into(),
                        c if (c as u32) <= 0xFF => format!("\\x{:02X}", c as u32),
                        c if (c as u32) <= 0xFFFF => format!("\\u{:04X}", c as u32),
                        c => format!("\\U{:08X}", c as u32),
                    };
                    self.write(&data);
                    start = end + 1;
                }
            }
            if end > 0
                && end + 1 < n
                && (ch == Some(' ') || start >= end)
                && self.column + end.saturating_sub(start) > BEST_WIDTH
                && split
            {
                let mut data: String = chars[start.min(end)..end].iter().collect();
                data.push('\\');
                if start < end {
                    start = end;
                }
                self.write(&data);
                self.write_indent();
                self.whitespace = false;
                self.indention = false;
                if chars.get(start) == Some(&' ') {
                    self.write("\\");
                }
            }
            end += 1;
        }
        self.write_indicator("\"", false, false, false);
    }

    fn finish(mut self) -> String {
        // Document end, then stream end (`...` after a plain root scalar).
        self.write_indent();
        if self.open_ended {
            self.write_indicator("...", true, false, false);
            self.write_indent();
        }
        self.out
    }
}

/// PyYAML's float representation (`repr` lower-cased, `.0` added before a bare exponent).
fn yaml_float(v: f64) -> String {
    if v.is_nan() {
        return ".nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    let r = python_float_repr(v).to_lowercase();
    if !r.contains('.') && r.contains('e') {
        r.replacen('e', ".0e", 1)
    } else {
        r
    }
}

/// `yaml.dump(value, indent=2, default_flow_style=False)` as MLflow's `log_dict` writes it.
pub fn yaml_dump<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    let value = serde_json::to_value(value).map_err(json_error)?;
    let mut e = Emitter::new();
    e.node(&value, true, false, false);
    Ok(e.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn float_repr_matches_python() {
        for (v, s) in [
            (0.001, "0.001"),
            (1.0, "1.0"),
            (100.0, "100.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789012345.6, "123456789012345.6"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (-2.5e-7, "-2.5e-07"),
            (0.1 + 0.2, "0.30000000000000004"),
            (-0.0, "-0.0"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (9999999999999998.0, "9999999999999998.0"),
        ] {
            assert_eq!(python_float_repr(v), s, "{v:e}");
        }
    }

    #[test]
    fn json_matches_python_json_dump() {
        // Bytes of the fixture's config/params.json (written by MLflow 3.17.2).
        let cfg = json!({"flag": true, "lr": 0.001, "model": {"layers": [64, 128, 256], "name": "resnet"}, "tags": ["a", "b"]});
        let got = json_dumps_indent2(&cfg).unwrap();
        assert_eq!(
            got,
            "{\n  \"flag\": true,\n  \"lr\": 0.001,\n  \"model\": {\n    \"layers\": [\n      64,\n      128,\n      256\n    ],\n    \"name\": \"resnet\"\n  },\n  \"tags\": [\n    \"a\",\n    \"b\"\n  ]\n}"
        );
        assert_eq!(
            json_dumps_indent2(&json!({"e": {}, "l": [], "u": "ünï ✓ 😀\u{7f}", "n": null}))
                .unwrap(),
            "{\n  \"e\": {},\n  \"l\": [],\n  \"n\": null,\n  \"u\": \"\\u00fcn\\u00ef \\u2713 \\ud83d\\ude00\\u007f\"\n}"
        );
        assert_eq!(
            json_dumps(&json!([{"path": "t.json", "type": "table"}, 1.0, 1e-7])).unwrap(),
            "[{\"path\": \"t.json\", \"type\": \"table\"}, 1.0, 1e-07]"
        );
        // Struct field order is kept, as Python keeps dict insertion order.
        #[derive(Serialize)]
        struct S {
            z: i32,
            a: &'static str,
        }
        assert_eq!(
            json_dumps(&S { z: 1, a: "x\n\"" }).unwrap(),
            "{\"z\": 1, \"a\": \"x\\n\\\"\"}"
        );
    }

    #[test]
    fn yaml_matches_pyyaml_dump() {
        // Bytes of the fixture's config/params.yaml (written by MLflow 3.17.2).
        let cfg = json!({"model": {"name": "resnet", "layers": [64, 128, 256]}, "lr": 0.001, "tags": ["a", "b"], "flag": true});
        assert_eq!(
            yaml_dump(&cfg).unwrap(),
            "flag: true\nlr: 0.001\nmodel:\n  layers:\n  - 64\n  - 128\n  - 256\n  name: resnet\ntags:\n- a\n- b\n"
        );
    }

    /// Expected outputs produced with PyYAML 6 (`yaml.dump(v, indent=2, default_flow_style=False)`).
    #[test]
    fn yaml_scalars_and_nesting_match_pyyaml() {
        let cases: Vec<(Value, &str)> = vec![
            (json!({}), "{}\n"),
            (json!([]), "[]\n"),
            (json!("abc"), "abc\n...\n"),
            (json!(1), "1\n...\n"),
            (json!(null), "null\n...\n"),
            (
                json!({"a": null, "b": 1e17, "c": 1e-5, "d": -0.5, "e": 3}),
                "a: null\nb: 1.0e+17\nc: 1.0e-05\nd: -0.5\ne: 3\n",
            ),
            (
                json!({"s": ["true", "on", "no", "1", "1.5", "0x1F", "1_000", "2026-11-30", "1e3", "", " x", "x ", "~", "null", ".inf", "-", "- a", "a: b", "a #b", "#c", "it's"]}),
                "s:\n- 'true'\n- 'on'\n- 'no'\n- '1'\n- '1.5'\n- '0x1F'\n- '1_000'\n- '2026-11-30'\n- 1e3\n- ''\n- ' x'\n- 'x '\n- '~'\n- 'null'\n- '.inf'\n- '-'\n- '- a'\n- 'a: b'\n- 'a #b'\n- '#c'\n- it's\n",
            ),
            (
                json!({"u": "ünï", "t": "a\tb", "n": "l1\nl2", "q": "say \"hi\""}),
                "n: 'l1\n\n  l2'\nq: say \"hi\"\nt: \"a\\tb\"\nu: \"\\xFCn\\xEF\"\n",
            ),
            (
                json!([[1, 2], {"a": 1, "b": [3]}, [], {}]),
                "- - 1\n  - 2\n- a: 1\n  b:\n  - 3\n- []\n- {}\n",
            ),
            (json!({"k": {"e": {}, "l": []}}), "k:\n  e: {}\n  l: []\n"),
        ];
        for (v, want) in cases {
            assert_eq!(yaml_dump(&v).unwrap(), want, "{v}");
        }
    }

    #[test]
    fn yaml_folds_long_lines_like_pyyaml() {
        let long = "word ".repeat(30).trim_end().to_string();
        let got = yaml_dump(&json!({ "k": long })).unwrap();
        assert_eq!(
            got,
            "k: word word word word word word word word word word word word word word word word\n  word word word word word word word word word word word word word word\n"
        );
    }

    #[test]
    fn yaml11_resolver_rules() {
        for s in [
            "1",
            "-1",
            "+0b101",
            "017",
            "0x_1F",
            "1_000",
            "1:30",
            "190:20:30",
        ] {
            assert!(is_yaml11_int(s), "{s}");
        }
        for s in ["1e3", "a", "08", "0b", "1:60", "1:"] {
            assert!(!is_yaml11_int(s), "{s}");
        }
        for s in [
            "1.5", "1.", ".5", "-1.5e+3", "1_0.5", ".inf", "-.Inf", ".NaN", "1:30.5",
        ] {
            assert!(is_yaml11_float(s), "{s}");
        }
        for s in ["1e3", ".", "-.5", "1.5e3", "1.5e", "abc", "-.nan"] {
            assert!(!is_yaml11_float(s), "{s}");
        }
        for s in [
            "2026-11-30",
            "2001-12-14t21:59:43.10-05:00",
            "2001-12-14 21:59:43.10",
            "2001-1-2T1:02:03Z",
        ] {
            assert!(is_yaml11_timestamp(s), "{s}");
        }
        for s in [
            "2026-11-3",
            "2026/11/30",
            "2001-12-14 21:59",
            "2001-12-14T21:59:43 X",
        ] {
            assert!(!is_yaml11_timestamp(s), "{s}");
        }
    }
}
