//! Key and value validation, exactly as MLflow 3.17 does it (`mlflow/utils/validation.py`).
//!
//! Lengths are counted in Unicode code points, as Python does.

use super::{DatasetInput, Metric, Param, RunTag};
use crate::error::{Error, Result};

/// Longest metric, param or tag key.
pub const MAX_ENTITY_KEY_LENGTH: usize = 250;
/// Longest param value; longer values are truncated (MLflow's default) or rejected.
pub const MAX_PARAM_VAL_LENGTH: usize = 6000;
/// Longest run tag value; longer values are truncated.
pub const MAX_TAG_VAL_LENGTH: usize = 8000;
/// Longest experiment tag value (MLflow 3.16+).
pub const MAX_EXPERIMENT_TAG_VAL_LENGTH: usize = 20000;
/// Longest experiment name.
pub const MAX_EXPERIMENT_NAME_LENGTH: usize = 500;
/// Longest dataset name.
pub const MAX_DATASET_NAME_LENGTH: usize = 500;
/// Longest dataset digest.
pub const MAX_DATASET_DIGEST_LENGTH: usize = 36;
/// Longest dataset input tag key.
pub const MAX_INPUT_TAG_KEY_LENGTH: usize = 255;
/// Longest dataset input tag value.
pub const MAX_INPUT_TAG_VALUE_LENGTH: usize = 500;
/// Most metrics in one `log_batch`.
pub const MAX_METRICS_PER_BATCH: usize = 1000;
/// Most params in one `log_batch`.
pub const MAX_PARAMS_TAGS_PER_BATCH: usize = 100;
/// Most entities (metrics + params + tags) in one `log_batch`.
pub const MAX_ENTITIES_PER_BATCH: usize = 1000;

/// What kind of key is being validated; only changes the wording of errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A metric key.
    Metric,
    /// A param key.
    Param,
    /// A run tag key.
    Tag,
    /// An experiment tag key.
    ExperimentTag,
}

impl KeyKind {
    fn noun(self) -> &'static str {
        match self {
            KeyKind::Metric => "metric name",
            KeyKind::Param => "param name",
            KeyKind::Tag => "tag name",
            KeyKind::ExperimentTag => "experiment tag name",
        }
    }
}

/// Validates a metric/param/tag key: characters `[/\w.\- :]` (Unicode `\w`), a normalised
/// relative path (no `//`, `./`, `..`, leading or trailing `/`), at most 250 code points.
pub fn validate_key(kind: KeyKind, key: &str) -> Result<()> {
    let noun = kind.noun();
    // MLflow on Windows refuses colons (a key is a file name there), with this message.
    let colon_ok = !cfg!(windows);
    let bad_char = key.chars().find(|&c| {
        !(c.is_alphanumeric() || matches!(c, '_' | '/' | '.' | '-' | ' ') || (c == ':' && colon_ok))
    });
    if let Some(c) = bad_char {
        let colons = if colon_ok { ", colons (:)" } else { "" };
        return Err(Error::InvalidParameter(format!(
            "Invalid {noun}: '{key}'. Names may only contain alphanumerics, underscores (_), dashes (-), \
             periods (.), spaces ( ){colons} and slashes (/); found {c:?}"
        )));
    }
    if cfg!(windows)
        && let Some(part) = key.split('/').find(|p| is_windows_unsafe_file_name(p))
    {
        return Err(Error::InvalidParameter(format!(
            "Invalid {noun}: '{key}'. Names may be treated as files in certain cases, and must not \
             resolve to other names when treated as such. On Windows '{part}' is a reserved device \
             name or ends in a dot or space, which the file system drops"
        )));
    }
    if !is_normalized_relative_path(key) {
        return Err(Error::InvalidParameter(format!(
            "Invalid {noun}: '{key}'. Names may be treated as files in certain cases, and must not resolve \
             to other names when treated as such. This name would resolve to '{}'",
            normpath(key)
        )));
    }
    let len = key.chars().count();
    if len > MAX_ENTITY_KEY_LENGTH {
        return Err(Error::InvalidParameter(format!(
            "{noun} '{}…' had length {len}, which exceeded length limit of {MAX_ENTITY_KEY_LENGTH}",
            key.chars().take(40).collect::<String>()
        )));
    }
    Ok(())
}

/// Whether Windows cannot store a file of this name as given: a device name (`CON`, `PRN`,
/// `AUX`, `NUL`, `COM1`-`COM9`, `LPT1`-`LPT9`, with any extension, any case; opening one opens
/// the device) or a name ending in `.` or ` ` (Windows drops them, so `loss.` would be `loss`).
pub fn is_windows_unsafe_file_name(name: &str) -> bool {
    if name.ends_with('.') && name != "." && name != ".." || name.ends_with(' ') {
        return true;
    }
    let stem = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
    let upper = stem.to_ascii_uppercase();
    matches!(upper.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || (upper.len() == 4
            && (upper.starts_with("COM") || upper.starts_with("LPT"))
            && upper.as_bytes()[3].is_ascii_digit()
            && upper.as_bytes()[3] != b'0')
}

/// Python's `posixpath.normpath`, for error messages and the path-uniqueness rule.
fn normpath(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// MLflow's "path must be unique" rule.
fn is_normalized_relative_path(key: &str) -> bool {
    let norm = normpath(key);
    norm == key && norm != "." && !norm.starts_with("..") && !norm.starts_with('/')
}

/// Truncates `value` to `limit` code points, as MLflow does by default
/// (`MLFLOW_TRUNCATE_LONG_VALUES=true`). Returns whether it was cut.
pub fn truncate_value(value: &mut String, limit: usize) -> bool {
    if let Some((byte_index, _)) = value.char_indices().nth(limit) {
        value.truncate(byte_index);
        true
    } else {
        false
    }
}

/// Whether over-long param/tag values are truncated (default) or rejected, from
/// `MLFLOW_TRUNCATE_LONG_VALUES`.
pub fn truncate_long_values() -> bool {
    match std::env::var(crate::env::MLFLOW_TRUNCATE_LONG_VALUES) {
        Ok(v) => !matches!(v.trim().to_ascii_lowercase().as_str(), "false" | "0" | "no"),
        Err(_) => true,
    }
}

/// Applies MLflow's length rule to a param or tag value: truncate (default) or reject.
pub fn limit_value(kind: KeyKind, key: &str, value: &mut String, limit: usize) -> Result<()> {
    let len = value.chars().count();
    if len <= limit {
        return Ok(());
    }
    if truncate_long_values() {
        truncate_value(value, limit);
        Ok(())
    } else {
        Err(Error::InvalidParameter(format!(
            "{} '{key}' had length {len}, which exceeded length limit of {limit}",
            match kind {
                KeyKind::Param => "Param value",
                _ => "Tag value",
            }
        )))
    }
}

/// Validates an experiment name: 1..=500 code points.
pub fn validate_experiment_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::InvalidParameter(
            "Invalid experiment name: ''. Experiment name must not be empty".into(),
        ));
    }
    let len = name.chars().count();
    if len > MAX_EXPERIMENT_NAME_LENGTH {
        return Err(Error::InvalidParameter(format!(
            "Experiment name had length {len}, which exceeded length limit of {MAX_EXPERIMENT_NAME_LENGTH}"
        )));
    }
    Ok(())
}

/// Validates an experiment tag value length (error, never truncated).
pub fn validate_experiment_tag_value(key: &str, value: &str) -> Result<()> {
    let len = value.chars().count();
    if len > MAX_EXPERIMENT_TAG_VAL_LENGTH {
        return Err(Error::InvalidParameter(format!(
            "Experiment tag '{key}' had value length {len}, which exceeded length limit of {MAX_EXPERIMENT_TAG_VAL_LENGTH}"
        )));
    }
    Ok(())
}

/// Validates a run id: `^[a-zA-Z0-9][\w\-]{0,255}$` (ASCII word chars).
pub fn validate_run_id(run_id: &str) -> Result<()> {
    let mut chars = run_id.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && run_id.len() <= 256
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidParameter(format!(
            "Invalid run ID: '{run_id}'"
        )))
    }
}

/// Validates an experiment id: `^[a-zA-Z0-9][\w\-]{0,63}$`.
pub fn validate_experiment_id(experiment_id: &str) -> Result<()> {
    let mut chars = experiment_id.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && experiment_id.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidParameter(format!(
            "Invalid experiment ID: '{experiment_id}'"
        )))
    }
}

/// Validates a metric's timestamp (≥ 0) and value (any float; the type system excludes bools).
pub fn validate_metric(key: &str, timestamp: i64) -> Result<()> {
    validate_key(KeyKind::Metric, key)?;
    if timestamp < 0 {
        return Err(Error::InvalidParameter(format!(
            "Got invalid timestamp {timestamp} for metric '{key}'. Timestamp must be a non-negative integer (ms)"
        )));
    }
    Ok(())
}

/// Validates the size of a `log_batch` request.
pub fn validate_batch_size(metrics: usize, params: usize, tags: usize) -> Result<()> {
    let check = |count: usize, limit: usize, what: &str| {
        if count > limit {
            Err(Error::InvalidParameter(format!(
                "A batch logging request can contain at most {limit} {what}. Got {count} {what}. \
                 Please split up the request into multiple requests"
            )))
        } else {
            Ok(())
        }
    };
    check(metrics, MAX_METRICS_PER_BATCH, "metrics")?;
    check(params, MAX_PARAMS_TAGS_PER_BATCH, "params")?;
    check(tags, MAX_PARAMS_TAGS_PER_BATCH, "tags")?;
    check(
        metrics + params + tags,
        MAX_ENTITIES_PER_BATCH,
        "total metrics, params and tags",
    )
}

/// Longest dataset source (MLflow's `MAX_DATASET_SOURCE_SIZE`).
pub const MAX_DATASET_SOURCE_LENGTH: usize = 65_535;
/// Longest dataset schema (MLflow's `MAX_DATASET_SCHEMA_SIZE`).
pub const MAX_DATASET_SCHEMA_LENGTH: usize = 1_048_575;
/// Longest dataset profile (MLflow's `MAX_DATASET_PROFILE_SIZE`).
pub const MAX_DATASET_PROFILE_LENGTH: usize = 16_777_215;

/// A `log_batch` request that passed MLflow's validation, with param and tag values truncated
/// where `MLFLOW_TRUNCATE_LONG_VALUES` allows it. Metrics are unchanged.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedBatch {
    /// The params, each key once, values within [`MAX_PARAM_VAL_LENGTH`].
    pub params: Vec<Param>,
    /// The tags, in request order (a later value of a key wins), values within
    /// [`MAX_TAG_VAL_LENGTH`].
    pub tags: Vec<RunTag>,
}

/// MLflow's validation of a `log_batch` request (`_validate_batch_log_data`, the batch limits
/// and `_validate_param_keys_unique`), shared by every local backend: run id, batch size,
/// metric keys and timestamps, param and tag keys and values, and no param key twice.
pub fn check_log_batch(
    run_id: &str,
    metrics: &[Metric],
    params: &[Param],
    tags: &[RunTag],
) -> Result<ValidatedBatch> {
    validate_run_id(run_id)?;
    validate_batch_size(metrics.len(), params.len(), tags.len())?;
    for m in metrics {
        validate_metric(&m.key, m.timestamp)?;
    }
    let mut checked_params = Vec::with_capacity(params.len());
    for p in params {
        validate_key(KeyKind::Param, &p.key)?;
        let mut value = p.value.clone();
        limit_value(KeyKind::Param, &p.key, &mut value, MAX_PARAM_VAL_LENGTH)?;
        checked_params.push(Param {
            key: p.key.clone(),
            value,
        });
    }
    let mut seen: Vec<&str> = Vec::with_capacity(params.len());
    let mut dupes: Vec<&str> = Vec::new();
    for p in params {
        if seen.contains(&p.key.as_str()) {
            dupes.push(&p.key);
        } else {
            seen.push(&p.key);
        }
    }
    if !dupes.is_empty() {
        return Err(Error::InvalidParameter(format!(
            "Duplicate parameter keys have been submitted: {dupes:?}. Please ensure the request \
             contains only one param value per param key."
        )));
    }
    Ok(ValidatedBatch {
        params: checked_params,
        tags: check_tags(tags)?,
    })
}

/// MLflow's `_validate_tag` for run tags: key rules, value within [`MAX_TAG_VAL_LENGTH`]
/// (truncated when allowed); returns the tags with their checked values.
pub fn check_tags(tags: &[RunTag]) -> Result<Vec<RunTag>> {
    tags.iter()
        .map(|t| {
            validate_key(KeyKind::Tag, &t.key)?;
            let mut value = t.value.clone();
            limit_value(KeyKind::Tag, &t.key, &mut value, MAX_TAG_VAL_LENGTH)?;
            Ok(RunTag {
                key: t.key.clone(),
                value,
            })
        })
        .collect()
}

/// MLflow's `_validate_dataset_inputs`: dataset name, digest, source, schema and profile, then
/// input tag keys and values, within MLflow's lengths (code points).
pub fn check_dataset_inputs(datasets: &[DatasetInput]) -> Result<()> {
    let check = |what: &str, value: &str, limit: usize| {
        if value.chars().count() > limit {
            Err(Error::InvalidParameter(format!(
                "'{what}' exceeds the maximum length of {limit} characters"
            )))
        } else {
            Ok(())
        }
    };
    for input in datasets {
        let d = &input.dataset;
        check("name", &d.name, MAX_DATASET_NAME_LENGTH)?;
        check("digest", &d.digest, MAX_DATASET_DIGEST_LENGTH)?;
        check("source", &d.source, MAX_DATASET_SOURCE_LENGTH)?;
        if let Some(schema) = &d.schema {
            check("schema", schema, MAX_DATASET_SCHEMA_LENGTH)?;
        }
        if let Some(profile) = &d.profile {
            check("profile", profile, MAX_DATASET_PROFILE_LENGTH)?;
        }
        for t in &input.tags {
            check("key", &t.key, MAX_INPUT_TAG_KEY_LENGTH)?;
            check("value", &t.value, MAX_INPUT_TAG_VALUE_LENGTH)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_mlflow_legal_keys() {
        for key in [
            "loss",
            "train/loss",
            "a/b/c",
            "eval score",
            "a.b.c",
            "unicode_метрика",
            "größe",
            &"m".repeat(250),
        ] {
            validate_key(KeyKind::Metric, key).unwrap_or_else(|e| panic!("{key}: {e}"));
        }
        // Legal on Linux/macOS; on Windows MLflow refuses colons, and mlscope trailing dots
        // (colons_and_device_names_follow_the_platform).
        if !cfg!(windows) {
            for key in ["eval:auc", "x.."] {
                validate_key(KeyKind::Metric, key).unwrap_or_else(|e| panic!("{key}: {e}"));
            }
        }
    }

    #[test]
    fn rejects_what_mlflow_rejects() {
        for key in [
            "", "a//b", "a/", "./a", "a/./b", "a/../b", "/a", "..x", ".", "..", "a\nb", "k\n",
            "a=b", "a,b", "...x", "a#b", "a\tb",
        ] {
            let err = validate_key(KeyKind::Param, key).unwrap_err();
            assert_eq!(
                err.error_code().as_str(),
                "INVALID_PARAMETER_VALUE",
                "{key:?}"
            );
        }
        assert!(validate_key(KeyKind::Tag, &"t".repeat(251)).is_err());
    }

    #[test]
    fn normpath_matches_python() {
        assert_eq!(normpath("a//b"), "a/b");
        assert_eq!(normpath("a/../b"), "b");
        assert_eq!(normpath("../a"), "../a");
        assert_eq!(normpath("/a/"), "/a");
        assert_eq!(normpath(""), ".");
        assert_eq!(normpath("a/b/.."), "a");
    }

    #[test]
    fn truncation_counts_code_points() {
        let mut v = "é".repeat(10);
        assert!(truncate_value(&mut v, 4));
        assert_eq!(v, "éééé");
        let mut short = "abc".to_string();
        assert!(!truncate_value(&mut short, 4));
    }

    #[test]
    fn run_and_experiment_ids() {
        assert!(validate_run_id("0123abcd").is_ok());
        assert!(validate_run_id("_x").is_err());
        assert!(validate_run_id("../x").is_err());
        assert!(validate_experiment_id("455643779590749074").is_ok());
        assert!(validate_experiment_id("").is_err());
    }

    #[test]
    fn batch_limits() {
        assert!(validate_batch_size(1000, 0, 0).is_ok());
        assert!(validate_batch_size(1001, 0, 0).is_err());
        assert!(validate_batch_size(0, 101, 0).is_err());
        assert!(validate_batch_size(950, 50, 1).is_err());
    }

    #[test]
    fn windows_unsafe_file_names_are_recognised() {
        for bad in [
            "CON",
            "con",
            "Nul.txt",
            "aux.tar.gz",
            "COM1",
            "lpt9.log",
            "loss.",
            "a ",
        ] {
            assert!(is_windows_unsafe_file_name(bad), "{bad}");
        }
        for good in [
            "console", "CONX", "COM0", "COM10", "nul_rate", "loss", ".", "..", "a.b",
        ] {
            assert!(!is_windows_unsafe_file_name(good), "{good}");
        }
    }

    #[test]
    fn colons_and_device_names_follow_the_platform() {
        let colon = validate_key(KeyKind::Metric, "train:loss");
        let device = validate_key(KeyKind::Metric, "eval/CON");
        if cfg!(windows) {
            let err = colon.unwrap_err().to_string();
            assert!(err.contains("spaces ( ) and slashes (/)"), "{err}");
            let err = device.unwrap_err().to_string();
            assert!(err.contains("'CON' is a reserved device name"), "{err}");
            assert!(validate_key(KeyKind::Param, "lr.").is_err());
        } else {
            colon.unwrap();
            device.unwrap();
            validate_key(KeyKind::Param, "lr.").unwrap();
        }
    }
}
