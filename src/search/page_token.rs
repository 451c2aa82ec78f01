//! MLflow's page tokens: standard base64 of the JSON `{"offset": N}`.

use base64::Engine as _;

use crate::error::{Error, Result};
use crate::search::query::SEARCH_MAX_RESULTS_THRESHOLD;

/// MLflow's page token for `offset`: base64 of `{"offset": N}` (Python's `json.dumps`
/// separators), e.g. `eyJvZmZzZXQiOiAxMDAwfQ==` for 1000.
pub fn encode_page_token(offset: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{{\"offset\": {offset}}}"))
}

fn invalid(message: String) -> Error {
    Error::InvalidParameter(message)
}

/// Decodes base64 leniently as Python's `base64.b64decode` (non-validating) does: characters
/// outside the alphabet are skipped, data after complete padding is ignored.
fn lenient_b64decode(token: &str) -> Option<Vec<u8>> {
    let is_alpha = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/';
    let mut data = String::new();
    let mut pads = 0usize;
    for c in token.chars() {
        if c == '=' {
            if data.len() % 4 >= 2 {
                pads += 1;
                if data.len() % 4 + pads >= 4 {
                    break;
                }
            }
            // '=' where no padding can be is skipped by Python.
        } else if is_alpha(c) {
            if pads > 0 {
                // Python ignores data after a (partial) pad only when complete; be strict.
                return None;
            }
            data.push(c);
        }
    }
    match data.len() % 4 {
        0 => {}
        1 => return None,
        r => {
            if r + pads < 4 {
                return None;
            }
            data.push_str(&"=".repeat(4 - r));
        }
    }
    base64::engine::general_purpose::STANDARD.decode(data).ok()
}

/// Python's `repr` of a JSON value (for MLflow-identical messages).
fn py_repr(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{s}'"),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(py_repr).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("'{k}': {}", py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Decodes a page token into an offset (`None` or empty → 0), as MLflow's
/// `SearchUtils.parse_start_offset_from_page_token`: base64 → JSON object → `int(offset)`.
/// A missing or zero ("falsy") offset is an error, as are malformed tokens and negative
/// offsets.
pub fn decode_page_token(token: Option<&str>) -> Result<usize> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    let bytes = lenient_b64decode(token)
        .ok_or_else(|| invalid("Invalid page token, could not base64-decode".to_string()))?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| {
        invalid(format!(
            "Invalid page token, decoded value={}",
            String::from_utf8_lossy(&bytes)
        ))
    })?;
    let parsed_err = || {
        invalid(format!(
            "Invalid page token, parsed value={}",
            py_repr(&value)
        ))
    };
    let offset = value.as_object().and_then(|o| o.get("offset"));
    let offset: i128 = match offset {
        None | Some(serde_json::Value::Null) => return Err(parsed_err()),
        Some(serde_json::Value::Bool(b)) => i128::from(*b),
        Some(serde_json::Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                i128::from(i)
            } else if let Some(u) = n.as_u64() {
                i128::from(u)
            } else {
                let f = n.as_f64().unwrap_or(0.0);
                if f == 0.0 {
                    return Err(parsed_err());
                }
                if !f.is_finite() {
                    return Err(invalid(format!("Invalid page token, not stringable {f}")));
                }
                f.trunc() as i128
            }
        }
        Some(serde_json::Value::String(s)) => {
            if s.is_empty() {
                return Err(parsed_err());
            }
            let t = s.trim().replace('_', "");
            t.parse::<i128>()
                .map_err(|_| invalid(format!("Invalid page token, not stringable {s}")))?
        }
        Some(_) => return Err(parsed_err()),
    };
    if offset == 0 && !matches!(value.get("offset"), Some(serde_json::Value::String(_))) {
        return Err(parsed_err());
    }
    if offset < 0 {
        return Err(invalid(format!(
            "Invalid page token, negative offset {offset}"
        )));
    }
    usize::try_from(offset)
        .map_err(|_| invalid(format!("Invalid page token, offset {offset} is too large")))
}

/// Checks `max_results` as MLflow does (1 ≤ max_results ≤ 50,000).
pub fn check_max_results(max_results: usize) -> Result<()> {
    if max_results == 0 {
        return Err(invalid(format!(
            "Invalid value {max_results} for parameter 'max_results' supplied. It must be a positive integer"
        )));
    }
    if max_results > SEARCH_MAX_RESULTS_THRESHOLD {
        return Err(invalid(format!(
            "Invalid value {max_results} for parameter 'max_results' supplied. It must be at most {SEARCH_MAX_RESULTS_THRESHOLD}"
        )));
    }
    Ok(())
}

/// Returns the page of `items` starting at `offset`, and the token for the next page when
/// more items remain.
pub fn paginate<T>(items: Vec<T>, offset: usize, max_results: usize) -> (Vec<T>, Option<String>) {
    let total = items.len();
    let end = offset.saturating_add(max_results).min(total);
    let page: Vec<T> = items
        .into_iter()
        .skip(offset)
        .take(end.saturating_sub(offset))
        .collect();
    let token = (offset.saturating_add(max_results) < total).then(|| encode_page_token(end));
    (page, token)
}

/// The next page token for an SQL query that fetched `fetched` rows with
/// `LIMIT max_results + 1 OFFSET offset` (MLflow's SQL store technique): a token exists only when
/// the extra row came back.
pub fn next_page_token_after_fetch(
    offset: usize,
    max_results: usize,
    fetched: usize,
) -> Option<String> {
    (fetched > max_results).then(|| encode_page_token(offset.saturating_add(max_results)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(json: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(json)
    }

    #[test]
    fn round_trip() {
        assert_eq!(encode_page_token(1000), "eyJvZmZzZXQiOiAxMDAwfQ==");
        assert_eq!(
            decode_page_token(Some("eyJvZmZzZXQiOiAxMDAwfQ==")).unwrap(),
            1000
        );
        assert_eq!(decode_page_token(None).unwrap(), 0);
        assert_eq!(decode_page_token(Some("")).unwrap(), 0);
        for n in [1usize, 7, 25, 999, 50_000, 123_456_789] {
            assert_eq!(decode_page_token(Some(&encode_page_token(n))).unwrap(), n);
        }
    }

    #[test]
    fn python_leniency() {
        // Unpadded is an error in Python ("Incorrect padding").
        assert!(decode_page_token(Some("eyJvZmZzZXQiOiAxMDAwfQ")).is_err());
        // Non-alphabet characters are skipped.
        assert_eq!(
            decode_page_token(Some("eyJvZmZz ZXQiOiAxMDAwfQ==\n")).unwrap(),
            1000
        );
        // Compact JSON and string offsets are accepted.
        assert_eq!(decode_page_token(Some(&tok(r#"{"offset":5}"#))).unwrap(), 5);
        assert_eq!(
            decode_page_token(Some(&tok(r#"{"offset": "12"}"#))).unwrap(),
            12
        );
        assert_eq!(
            decode_page_token(Some(&tok(r#"{"offset": 1.7}"#))).unwrap(),
            1
        );
        // Extra padding and data after complete padding are ignored.
        assert_eq!(
            decode_page_token(Some("eyJvZmZzZXQiOiAxMDAwfQ===")).unwrap(),
            1000
        );
        assert_eq!(
            decode_page_token(Some("eyJvZmZzZXQiOiAxMDAwfQ==AAAA")).unwrap(),
            1000
        );
    }

    #[test]
    fn invalid_tokens() {
        for t in [
            tok(r#"{"offset": 0}"#),
            tok(r#"{"offset": null}"#),
            tok(r#"{"offset": -3}"#),
            tok(r#"{"offset": [1]}"#),
            tok(r#"{"offset": 1.5e400}"#),
            tok(r#"{"offset": "abc"}"#),
            tok(r#"{"other": 3}"#),
            tok("[1]"),
            tok("not json"),
            "!!!!".to_string(),
            "a".to_string(),
        ] {
            let e = decode_page_token(Some(&t)).unwrap_err();
            assert!(matches!(e, Error::InvalidParameter(_)), "{t}");
            assert!(e.to_string().contains("Invalid page token"), "{e}");
        }
    }

    #[test]
    fn mlflow_messages() {
        let e = decode_page_token(Some("eyJvZmZzZXQiOiAwfQ==")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "INVALID_PARAMETER_VALUE: Invalid page token, parsed value={'offset': 0}"
        );
    }

    #[test]
    fn max_results() {
        assert!(check_max_results(0).is_err());
        assert!(check_max_results(1).is_ok());
        assert!(check_max_results(50_000).is_ok());
        let e = check_max_results(50_001).unwrap_err().to_string();
        assert!(e.contains("It must be at most 50000"), "{e}");
    }

    #[test]
    fn paging() {
        let items: Vec<u32> = (0..5).collect();
        let (p, t) = paginate(items.clone(), 0, 2);
        assert_eq!(p, vec![0, 1]);
        assert_eq!(decode_page_token(t.as_deref()).unwrap(), 2);
        let (p, t) = paginate(items.clone(), 4, 2);
        assert_eq!(p, vec![4]);
        assert!(t.is_none());
        let (p, t) = paginate(items.clone(), 3, 2);
        assert_eq!(p, vec![3, 4]);
        assert!(t.is_none());
        let (p, t) = paginate(items, 10, 2);
        assert!(p.is_empty() && t.is_none());
        assert_eq!(
            next_page_token_after_fetch(0, 2, 3).as_deref(),
            Some("eyJvZmZzZXQiOiAyfQ==")
        );
        assert_eq!(next_page_token_after_fetch(0, 2, 2), None);
    }
}
