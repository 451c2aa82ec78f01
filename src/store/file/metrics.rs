//! Metric files: one line per logged value, `<timestamp_ms> <value> <step>\n`, with the value
//! in Python's `repr(float)` notation so the bytes match what MLflow writes.

use crate::model::Metric;

/// Python's `repr(float)`: shortest round-trip digits; fixed notation when the decimal exponent
/// `e` satisfies `-4 <= e < 16` (integral values get `.0`), else `d[.ddd]e±XX`; `nan`, `inf`,
/// `-inf`, `-0.0`.
pub(crate) fn python_float_repr(value: f64) -> String {
    if value.is_nan() {
        return "nan".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        }
        .to_string();
    }
    // Rust's `{:e}` prints the shortest digits that round-trip, e.g. `-1.2345678901234568e17`.
    let sci = format!("{value:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut out = String::with_capacity(digits.len() + 8);
    out.push_str(sign);
    if (-4..16).contains(&exponent) {
        if exponent >= 0 {
            let int_len = exponent as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', int_len - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exponent - 1) as usize));
            out.push_str(&digits);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exponent.unsigned_abs()));
    }
    out
}

/// The line MLflow appends for one metric value, newline included.
pub(crate) fn format_metric_line(metric: &Metric) -> String {
    format!(
        "{} {} {}\n",
        metric.timestamp,
        python_float_repr(metric.value),
        metric.step
    )
}

/// Parses a float the way Python's `float()` accepts it (`nan`, `NaN`, `inf`, `Infinity`,
/// `1_000.5`, surrounding spaces).
pub(crate) fn parse_python_float(text: &str) -> Option<f64> {
    let text = text.trim();
    if let Ok(v) = text.parse::<f64>() {
        return Some(v);
    }
    if text.contains('_') {
        let cleaned: String = text.chars().filter(|&c| c != '_').collect();
        return cleaned.parse::<f64>().ok();
    }
    None
}

fn parse_int(text: &str) -> Option<i64> {
    crate::store::file::yaml::parse_lenient_int(text)
}

/// Parses one metric line (without its line break). Accepts the 2-field legacy form (step 0),
/// the usual 3 fields and the 5-field form with a dataset name and digest (ignored); fields
/// after the third are ignored, so a dataset name with spaces does not spoil the value.
pub(crate) fn parse_metric_line(key: &str, line: &str) -> Result<Metric, String> {
    let (timestamp, value, step) = parse_metric_fields(line)?;
    Ok(Metric {
        key: key.to_string(),
        value,
        timestamp,
        step,
    })
}

/// The `(timestamp, value, step)` of a metric line, without allocating (listings parse every
/// line of every metric file to find the latest value).
fn parse_metric_fields(line: &str) -> Result<(i64, f64, i64), String> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut fields = line.split_ascii_whitespace();
    let (Some(ts_text), Some(value_text)) = (fields.next(), fields.next()) else {
        let found = line.split_ascii_whitespace().count();
        return Err(format!(
            "expected '<timestamp> <value> <step>', found {found} field(s)"
        ));
    };
    let timestamp = parse_int(ts_text).ok_or_else(|| format!("bad timestamp {ts_text:?}"))?;
    let value =
        parse_python_float(value_text).ok_or_else(|| format!("bad value {value_text:?}"))?;
    let step = match fields.next() {
        Some(text) => parse_int(text).ok_or_else(|| format!("bad step {text:?}"))?,
        None => 0,
    };
    Ok((timestamp, value, step))
}

/// What reading a metric file found.
#[derive(Debug, Default)]
pub(crate) struct MetricFile {
    /// Good values, in file order.
    pub history: Vec<Metric>,
    /// Number of malformed lines skipped.
    pub bad_lines: usize,
    /// First malformed line: 1-based number and what was wrong.
    pub first_problem: Option<(usize, String)>,
    /// Whether the file ended in a line without `\n` (being written, or cut short); ignored.
    pub incomplete_last_line: bool,
}

impl MetricFile {
    /// Parses a metric file's bytes tolerantly: bad lines are counted and skipped.
    pub(crate) fn parse(key: &str, bytes: &[u8]) -> MetricFile {
        Self::scan(key, bytes, true)
    }

    /// Like [`Self::parse`], keeping only the latest value in `history` (run listings): one
    /// allocation per file instead of one per line.
    pub(crate) fn parse_latest(key: &str, bytes: &[u8]) -> MetricFile {
        Self::scan(key, bytes, false)
    }

    fn scan(key: &str, bytes: &[u8], keep_history: bool) -> MetricFile {
        let mut file = MetricFile::default();
        // The latest value so far (key filled in at the end), when not keeping the history.
        let mut latest: Option<Metric> = None;
        let mut rest = bytes;
        let mut line_no = 0usize;
        while !rest.is_empty() {
            line_no += 1;
            let Some(end) = rest.iter().position(|&b| b == b'\n') else {
                file.incomplete_last_line = true;
                break;
            };
            let raw = &rest[..end];
            rest = &rest[end + 1..];
            let parsed = std::str::from_utf8(raw)
                .map_err(|_| "not UTF-8 text".to_string())
                .and_then(parse_metric_fields);
            match parsed {
                Ok((timestamp, value, step)) if keep_history => file.history.push(Metric {
                    key: key.to_string(),
                    value,
                    timestamp,
                    step,
                }),
                Ok((timestamp, value, step)) => {
                    let candidate = Metric {
                        key: String::new(),
                        value,
                        timestamp,
                        step,
                    };
                    // Same rule and tie-breaking as `latest`: later lines win only when newer.
                    if latest.as_ref().is_none_or(|l| candidate.is_newer_than(l)) {
                        latest = Some(candidate);
                    }
                }
                Err(problem) => {
                    file.bad_lines += 1;
                    if file.first_problem.is_none() {
                        file.first_problem = Some((line_no, problem));
                    }
                }
            }
        }
        if let Some(mut latest) = latest {
            latest.key = key.to_string();
            file.history.push(latest);
        }
        file
    }

    /// The latest value by MLflow's rule (greatest `(step, timestamp, value)`), applied in file
    /// order so ties keep the first line as Python's `max` does.
    pub(crate) fn latest(&self) -> Option<&Metric> {
        let mut latest: Option<&Metric> = None;
        for metric in &self.history {
            if latest.is_none_or(|current| metric.is_newer_than(current)) {
                latest = Some(metric);
            }
        }
        latest
    }

    /// A description of the problems, if any, for a warning.
    pub(crate) fn problem_summary(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some((line, problem)) = &self.first_problem {
            if self.bad_lines == 1 {
                parts.push(format!("malformed line {line} skipped ({problem})"));
            } else {
                parts.push(format!(
                    "{} malformed lines skipped (first: line {line}, {problem})",
                    self.bad_lines
                ));
            }
        }
        if self.incomplete_last_line {
            parts.push("incomplete last line (no line break) ignored".to_string());
        }
        if self.history.is_empty() && parts.is_empty() {
            parts.push("metric file is empty".to_string());
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repr_matches_python_examples() {
        let cases: [(f64, &str); 27] = [
            (3.0, "3.0"),
            (0.25, "0.25"),
            (0.5, "0.5"),
            (0.01, "0.01"),
            (0.0001, "0.0001"),
            (1e-5, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.2345678901234568e17, "1.2345678901234568e+17"),
            (1e20, "1e+20"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (f64::NAN, "nan"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (1e-300, "1e-300"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (0.1 + 0.2, "0.30000000000000004"),
            (123456.789, "123456.789"),
            (-2.5, "-2.5"),
            (9999999999999998.0, "9999999999999998.0"),
            (0.00012345, "0.00012345"),
            (0.000012345, "1.2345e-05"),
            (100.0, "100.0"),
            (1.0 / 3.0, "0.3333333333333333"),
        ];
        for (value, expected) in cases {
            assert_eq!(python_float_repr(value), expected, "{value:e}");
        }
    }

    #[test]
    fn repr_round_trips() {
        for value in [
            1e-300,
            5e-324,
            2.2250738585072014e-308,
            1.0 / 7.0,
            -1e22,
            4.35e15,
        ] {
            assert_eq!(parse_python_float(&python_float_repr(value)), Some(value));
        }
    }

    #[test]
    fn lines_in_all_mlflow_forms_parse() {
        let m = parse_metric_line("k", "1796040727289 0.25 1").unwrap();
        assert_eq!((m.timestamp, m.value, m.step), (1796040727289, 0.25, 1));
        let m = parse_metric_line("k", "100 1.5").unwrap();
        assert_eq!((m.timestamp, m.value, m.step), (100, 1.5, 0));
        let m = parse_metric_line("k", "100 2.0 3 ds 1a2b3c").unwrap();
        assert_eq!((m.value, m.step), (2.0, 3));
        let m = parse_metric_line("k", "100 2.0 3 my data set 1a2b3c\r").unwrap();
        assert_eq!(m.step, 3);
        for text in [
            "nan",
            "NaN",
            "Infinity",
            "-Infinity",
            "inf",
            "-inf",
            "-0.0",
            "1e+16",
        ] {
            assert!(
                parse_metric_line("k", &format!("1 {text} 0")).is_ok(),
                "{text}"
            );
        }
        assert!(
            parse_metric_line("k", "1 -0.0 0")
                .unwrap()
                .value
                .is_sign_negative()
        );
        for bad in ["", "1", "x 1.0 0", "1 abc 0", "1 1.0 x"] {
            assert!(parse_metric_line("k", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn files_keep_good_lines_and_report_bad_ones() {
        let file = MetricFile::parse("k", b"1 1.0 0\ngarbage\n2 2.0 1\n3 3.0 2\n4 4.");
        assert_eq!(file.history.len(), 3);
        assert_eq!(file.bad_lines, 1);
        assert!(file.incomplete_last_line);
        let summary = file.problem_summary().unwrap();
        assert!(summary.contains("line 2"), "{summary}");
        assert!(summary.contains("incomplete"), "{summary}");
        let empty = MetricFile::parse("k", b"");
        assert_eq!(
            empty.problem_summary().as_deref(),
            Some("metric file is empty")
        );
        let binary = MetricFile::parse("k", &[0, 159, 146, 150, b'\n', 0xff, b'\n']);
        assert_eq!(binary.bad_lines, 2);
        assert!(binary.history.is_empty());
    }

    #[test]
    fn latest_follows_step_timestamp_value() {
        let file = MetricFile::parse("k", b"10 5.0 2\n20 1.0 1\n5 7.0 2\n10 6.0 2\n10 nan 2\n");
        let latest = file.latest().unwrap();
        assert_eq!((latest.timestamp, latest.value, latest.step), (10, 6.0, 2));
        let negative = MetricFile::parse("k", b"1 1.0 -5\n2 2.0 -7\n");
        assert_eq!(negative.latest().unwrap().step, -5);
        let nan_first = MetricFile::parse("k", b"1 nan 0\n1 3.0 0\n");
        assert!(nan_first.latest().unwrap().value.is_nan());
    }

    #[test]
    fn latest_only_parsing_agrees_with_the_full_parse() {
        for bytes in [
            &b"10 5.0 2\n20 1.0 1\n5 7.0 2\n10 6.0 2\n10 nan 2\n"[..],
            b"1 1.0 -5\n2 2.0 -7\n",
            b"1 nan 0\n1 3.0 0\n",
            b"1 1.0 0\ngarbage\n2 2.0 1\n3 3.0 2\n4 4.",
            b"",
            b"x\n",
        ] {
            let full = MetricFile::parse("k", bytes);
            let latest = MetricFile::parse_latest("k", bytes);
            let same = |a: Option<&Metric>, b: Option<&Metric>| match (a, b) {
                (Some(a), Some(b)) => {
                    a.key == b.key
                        && a.step == b.step
                        && a.timestamp == b.timestamp
                        && a.value.to_bits() == b.value.to_bits()
                }
                (None, None) => true,
                _ => false,
            };
            assert!(same(full.latest(), latest.latest()), "{bytes:?}");
            assert_eq!(full.problem_summary(), latest.problem_summary());
        }
    }
}
