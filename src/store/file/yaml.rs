//! `meta.yaml` text: a small emitter whose output PyYAML's `SafeLoader` reads back with the
//! intended types, and tolerant field readers on top of `serde_norway`.
//!
//! Writing: keys sorted, block style, like `yaml.safe_dump(sort_keys=True)`. A string is
//! written plain only when no YAML 1.1 or 1.2 resolver could take it for anything but a
//! string; otherwise it is single-quoted (or double-quoted with escapes when it holds control
//! characters). PyYAML resolves with YAML 1.1 rules, where plain `on`, `no`, `0x1F`, `1_000` or
//! `12:30` are not strings, so being conservative here is what keeps types intact.
//!
//! Reading: `serde_norway` hands the raw text of a plain scalar to a field that asks for a
//! string, so `experiment_id: 0` (legacy int) reads as `"0"` and a name `1e3` stays `"1e3"`.
//! The helpers below accept any scalar for string fields and parse numbers leniently.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

/// A value of a `meta.yaml` key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum YamlValue {
    /// A string (quoted as needed).
    Str(String),
    /// An integer, written plain.
    Int(i64),
    /// `null`.
    Null,
    /// `[]` (the legacy `tags: []` of run metadata).
    EmptyList,
    /// A string-to-string map, `{}` when empty, else an indented block.
    StrMap(BTreeMap<String, String>),
}

impl From<&str> for YamlValue {
    fn from(value: &str) -> Self {
        YamlValue::Str(value.to_string())
    }
}

impl From<String> for YamlValue {
    fn from(value: String) -> Self {
        YamlValue::Str(value)
    }
}

impl From<i64> for YamlValue {
    fn from(value: i64) -> Self {
        YamlValue::Int(value)
    }
}

impl From<Option<i64>> for YamlValue {
    fn from(value: Option<i64>) -> Self {
        value.map_or(YamlValue::Null, YamlValue::Int)
    }
}

impl From<Option<String>> for YamlValue {
    fn from(value: Option<String>) -> Self {
        value.map_or(YamlValue::Null, YamlValue::Str)
    }
}

/// A YAML mapping document; `BTreeMap` keeps the keys sorted as PyYAML writes them.
pub(crate) type YamlDoc = BTreeMap<&'static str, YamlValue>;

/// Renders a document as block-style YAML ending with a newline.
pub(crate) fn to_yaml(doc: &YamlDoc) -> String {
    let mut out = String::with_capacity(512);
    for (key, value) in doc {
        write_scalar(&mut out, key);
        out.push(':');
        match value {
            YamlValue::Str(s) => {
                out.push(' ');
                write_scalar(&mut out, s);
            }
            YamlValue::Int(i) => {
                out.push(' ');
                out.push_str(&i.to_string());
            }
            YamlValue::Null => out.push_str(" null"),
            YamlValue::EmptyList => out.push_str(" []"),
            YamlValue::StrMap(map) if map.is_empty() => out.push_str(" {}"),
            YamlValue::StrMap(map) => {
                for (k, v) in map {
                    out.push_str("\n  ");
                    write_scalar(&mut out, k);
                    out.push_str(": ");
                    write_scalar(&mut out, v);
                }
            }
        }
        out.push('\n');
    }
    out
}

/// How a string scalar is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScalarStyle {
    Plain,
    SingleQuoted,
    DoubleQuoted,
}

/// Appends `s` as a YAML scalar in the safest fitting style.
pub(crate) fn write_scalar(out: &mut String, s: &str) {
    match scalar_style(s) {
        ScalarStyle::Plain => out.push_str(s),
        ScalarStyle::SingleQuoted => {
            out.push('\'');
            out.push_str(&s.replace('\'', "''"));
            out.push('\'');
        }
        ScalarStyle::DoubleQuoted => write_double_quoted(out, s),
    }
}

/// Characters that cannot appear literally in a YAML stream (or only as line breaks).
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
        )
}

fn scalar_style(s: &str) -> ScalarStyle {
    if s.chars().any(needs_escape) {
        ScalarStyle::DoubleQuoted
    } else if is_safe_plain(s) {
        ScalarStyle::Plain
    } else {
        ScalarStyle::SingleQuoted
    }
}

/// Words YAML 1.1 (PyYAML) or 1.2 resolve to booleans or null when plain.
const RESERVED_WORDS: [&str; 9] = ["y", "n", "yes", "no", "true", "false", "on", "off", "null"];

/// Whether `s` reads back as the same string when written plain, under both YAML 1.1 and 1.2
/// resolvers. Conservative: anything unusual gets quoted.
fn is_safe_plain(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let allowed = |c: char| {
        c.is_alphanumeric()
            || matches!(c, '_' | '.' | '/' | '-' | ':' | ' ' | '(' | ')' | ',' | '+')
    };
    if !(first.is_alphanumeric() || first == '_' || first == '/') || !s.chars().all(allowed) {
        return false;
    }
    // ": " starts a mapping value, a trailing ':' too; trailing spaces would be lost.
    if s.contains(": ") || s.ends_with(':') || s.ends_with(' ') || s.contains("  ") {
        return false;
    }
    if RESERVED_WORDS.iter().any(|w| w.eq_ignore_ascii_case(s)) {
        return false;
    }
    if first.is_ascii_digit() {
        // Numbers, hex/octal/binary ints, sexagesimals, timestamps and floats all start with a
        // digit. A digit-led string is only plain when it is ASCII alphanumeric (no `.`, `-`,
        // `_`, `:`, `+`, space), has no radix prefix, and holds a letter other than an exponent
        // `e` — e.g. a hex run id `228f1e5c…`.
        let lower = s.to_ascii_lowercase();
        return s.chars().all(|c| c.is_ascii_alphanumeric())
            && !(lower.starts_with("0x") || lower.starts_with("0o") || lower.starts_with("0b"))
            && lower.chars().any(|c| c.is_ascii_alphabetic() && c != 'e');
    }
    true
}

fn write_double_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if needs_escape(c) => {
                let code = c as u32;
                if code <= 0xff {
                    out.push_str(&format!("\\x{code:02X}"));
                } else {
                    out.push_str(&format!("\\u{code:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

// ----- tolerant reading ----------------------------------------------------------------------

/// A scalar read as text whatever type YAML would give it; `None` for `null`, `~` or nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Text(pub Option<String>);

impl Text {
    /// The text, if present and not null.
    pub(crate) fn into_option(self) -> Option<String> {
        self.0
    }

    /// The text, or `""` when null or absent.
    pub(crate) fn into_string(self) -> String {
        self.0.unwrap_or_default()
    }

    /// The text as an integer (ms times, statuses): accepts `12`, `+12`, `1_000`, `12.0`.
    pub(crate) fn to_int(&self) -> Option<Result<i64, String>> {
        let raw = self.0.as_deref()?;
        Some(parse_lenient_int(raw).ok_or_else(|| raw.to_string()))
    }
}

/// Parses an integer the way a Python reader of the value would accept it.
pub(crate) fn parse_lenient_int(raw: &str) -> Option<i64> {
    let trimmed = raw.trim();
    if let Ok(v) = trimmed.parse::<i64>() {
        return Some(v);
    }
    let no_underscores: String = trimmed.chars().filter(|&c| c != '_').collect();
    if let Ok(v) = no_underscores.parse::<i64>() {
        return Some(v);
    }
    let float = no_underscores.parse::<f64>().ok()?;
    (float.is_finite() && float.fract() == 0.0 && float.abs() < 9.2e18).then_some(float as i64)
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scalar")
    }

    fn visit_none<E: de::Error>(self) -> Result<Text, E> {
        Ok(Text(None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Text, E> {
        Ok(Text(None))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Text, D::Error> {
        deserializer.deserialize_str(TextVisitor)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
        Ok(Text(Some(v.to_string())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
        Ok(Text(Some(v)))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
        Ok(Text(Some(if v { "True" } else { "False" }.to_string())))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
        Ok(Text(Some(v.to_string())))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
        Ok(Text(Some(v.to_string())))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
        Ok(Text(Some(v.to_string())))
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_option(TextVisitor)
    }
}

/// A string-to-string map read tolerantly (keys and values of any scalar type; null → `""`).
/// A `null` or absent map is empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TextMap(pub BTreeMap<String, String>);

struct TextMapVisitor;

impl<'de> Visitor<'de> for TextMapVisitor {
    type Value = TextMap;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of strings")
    }

    fn visit_none<E: de::Error>(self) -> Result<TextMap, E> {
        Ok(TextMap::default())
    }

    fn visit_unit<E: de::Error>(self) -> Result<TextMap, E> {
        Ok(TextMap::default())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<TextMap, D::Error> {
        deserializer.deserialize_map(TextMapVisitor)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<TextMap, A::Error> {
        let mut map = BTreeMap::new();
        while let Some((key, value)) = access.next_entry::<Text, Text>()? {
            map.insert(key.into_string(), value.into_string());
        }
        Ok(TextMap(map))
    }
}

impl<'de> Deserialize<'de> for TextMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_option(TextMapVisitor)
    }
}

/// Deepest flow-collection nesting (`[[[…`) accepted; `serde_norway` refuses more than 128
/// levels anyway.
const MAX_FLOW_DEPTH: usize = 128;

/// Whether flow collections nest deeper than [`MAX_FLOW_DEPTH`] outside quoted scalars and
/// comments. libyaml's scanner is quadratic in that depth (100,000 `[` take ~20 s), so such
/// files are rejected before parsing. The scan is approximate (an apostrophe inside a plain
/// scalar hides what follows), which can only let a file through, never reject a sane one.
fn flow_nesting_too_deep(text: &str) -> bool {
    #[derive(PartialEq)]
    enum State {
        Plain,
        Single,
        Double,
        Comment,
    }
    let mut state = State::Plain;
    let mut depth = 0usize;
    let mut escaped = false;
    let mut previous = '\n';
    for c in text.chars() {
        match state {
            State::Plain => match c {
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return true;
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                '\'' => state = State::Single,
                '"' => state = State::Double,
                '#' if previous.is_whitespace() => state = State::Comment,
                _ => {}
            },
            State::Single if c == '\'' => state = State::Plain,
            State::Double if escaped => escaped = false,
            State::Double if c == '\\' => escaped = true,
            State::Double if c == '"' => state = State::Plain,
            State::Comment if c == '\n' => state = State::Plain,
            _ => {}
        }
        previous = c;
    }
    false
}

/// Parses a `meta.yaml` text into `T`, with a one-line error message on failure.
pub(crate) fn parse<T: for<'de> Deserialize<'de> + Default>(text: &str) -> Result<T, String> {
    if text.trim().is_empty() {
        return Err("file is empty".to_string());
    }
    if flow_nesting_too_deep(text) {
        return Err(format!(
            "YAML nests collections more than {MAX_FLOW_DEPTH} levels deep"
        ));
    }
    serde_norway::from_str::<T>(text).map_err(|e| format!("invalid YAML: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    struct Probe {
        v: Text,
        m: TextMap,
    }

    fn round_trip(s: &str) -> String {
        let mut doc = YamlDoc::new();
        doc.insert("v", YamlValue::Str(s.to_string()));
        let text = to_yaml(&doc);
        let probe: Probe = parse(&text).unwrap_or_else(|e| panic!("{s:?}: {e}\n{text}"));
        probe
            .v
            .into_option()
            .unwrap_or_else(|| panic!("{s:?} read as null"))
    }

    #[test]
    fn ambiguous_strings_are_quoted_and_round_trip() {
        let cases = [
            "on",
            "On",
            "ON",
            "off",
            "yes",
            "no",
            "y",
            "n",
            "true",
            "False",
            "null",
            "Null",
            "~",
            "",
            "1_000",
            "12:30",
            "0x1F",
            "0o17",
            "0b101",
            "1e3",
            "1.5",
            ".inf",
            "-.inf",
            ".NaN",
            "nan",
            "0",
            "007",
            "2026-11-30",
            "2001-12-14t21:59:43.10-05:00",
            "=",
            "<<",
            "'",
            "it's",
            "-",
            "- a",
            "-x",
            "a: b",
            "a:",
            "a #b",
            "#x",
            " a",
            "a ",
            "a  b",
            "[x]",
            "{x}",
            "*x",
            "&x",
            "!x",
            "|",
            ">",
            "%x",
            "@x",
            "`x",
            "?",
            "?x",
            ",",
            "\"q\"",
            "a\nb",
            "a\tb",
            "x\r\n",
            "\u{85}",
            "\u{2028}",
            "é",
            "Regression exp ✓ (unicode, spaces)",
            "file:///tmp/a%20b/0",
            "228f1e5c3ae1470ea635a146d1c42db1",
            "1234e5",
            "a run name with spaces: and colon",
            "+1",
            "1:2:3",
            "-0",
            "0.",
            "\\",
            "\u{7f}",
        ];
        for case in cases {
            assert_eq!(round_trip(case), case, "{case:?}");
        }
    }

    #[test]
    fn quoting_styles_match_pyyaml_where_it_matters() {
        let style = |s: &str| {
            let mut out = String::new();
            write_scalar(&mut out, s);
            out
        };
        assert_eq!(style("0"), "'0'");
        assert_eq!(style(""), "''");
        assert_eq!(style("on"), "'on'");
        assert_eq!(style("1_000"), "'1_000'");
        assert_eq!(style("12:30"), "'12:30'");
        assert_eq!(style("it's"), "'it''s'");
        assert_eq!(style("a\nb"), "\"a\\nb\"");
        assert_eq!(style("active"), "active");
        assert_eq!(
            style("228f1e5c3ae1470ea635a146d1c42db1"),
            "228f1e5c3ae1470ea635a146d1c42db1"
        );
        assert_eq!(style("file:///r/mlruns/0"), "file:///r/mlruns/0");
        assert_eq!(style("455643779590749074"), "'455643779590749074'");
    }

    #[test]
    fn documents_have_sorted_keys_and_pyyaml_shapes() {
        let mut doc = YamlDoc::new();
        doc.insert("tags", YamlValue::EmptyList);
        doc.insert("end_time", YamlValue::Null);
        doc.insert("status", YamlValue::Int(1));
        doc.insert("experiment_id", "0".into());
        let mut tags = BTreeMap::new();
        tags.insert("team".to_string(), "a".to_string());
        tags.insert("nested/tag".to_string(), "v".to_string());
        doc.insert("map", YamlValue::StrMap(tags));
        doc.insert("empty", YamlValue::StrMap(BTreeMap::new()));
        assert_eq!(
            to_yaml(&doc),
            "empty: {}\nend_time: null\nexperiment_id: '0'\nmap:\n  nested/tag: v\n  team: a\nstatus: 1\ntags: []\n"
        );
    }

    #[test]
    fn reading_coerces_scalars_to_text() {
        let p: Probe = parse("v: 0\nm:\n  k: 1\n  n: null\n  yes: on\n").unwrap();
        assert_eq!(p.v.0.as_deref(), Some("0"));
        assert_eq!(p.m.0.get("k").map(String::as_str), Some("1"));
        assert_eq!(p.m.0.get("n").map(String::as_str), Some(""));
        assert_eq!(p.m.0.get("yes").map(String::as_str), Some("on"));
        let p: Probe = parse("v: null\nm: {}\n").unwrap();
        assert_eq!(p.v, Text(None));
        let p: Probe = parse("v: 1e3\n").unwrap();
        assert_eq!(p.v.0.as_deref(), Some("1e3"));
        let p: Probe = parse("v: folded\n  line\n").unwrap();
        assert_eq!(p.v.0.as_deref(), Some("folded line"));
        assert!(parse::<Probe>("").is_err());
        assert!(parse::<Probe>("v: [1\n").is_err());
        assert!(parse::<Probe>("v: [1]\n").is_err());
    }

    #[test]
    fn hostile_yaml_is_an_error_not_a_crash() {
        let deep = format!("v: {}\n", "[".repeat(100_000));
        let started = std::time::Instant::now();
        assert!(parse::<Probe>(&deep).is_err());
        assert!(
            started.elapsed().as_secs() < 2,
            "deep nesting must be refused quickly"
        );
        let quoted = format!("v: '{}'\n", "[".repeat(10_000));
        assert_eq!(parse::<Probe>(&quoted).unwrap().v.0.unwrap().len(), 10_000);
        let mut laughs = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
        for i in 0..12 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("l{}", i - 1)
            };
            laughs.push_str(&format!("l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        laughs.push_str("m:\n  k: *l11\n");
        let _ = parse::<Probe>(&laughs);
        assert!(parse::<Probe>("\u{feff}v: x\r\n").is_ok());
        assert!(parse::<Probe>("v: \"unterminated\n").is_err());
    }

    #[test]
    fn lenient_ints() {
        assert_eq!(parse_lenient_int("1796040728341"), Some(1796040728341));
        assert_eq!(parse_lenient_int("1_000"), Some(1000));
        assert_eq!(parse_lenient_int("3.0"), Some(3));
        assert_eq!(parse_lenient_int("3.5"), None);
        assert_eq!(parse_lenient_int("x"), None);
    }
}
