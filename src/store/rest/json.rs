//! Reading MLflow's REST responses (protobuf JSON) into mlscope's entities, tolerantly: int64
//! fields may be numbers or strings, doubles may be `"NaN"`, `"Infinity"`, `"-Infinity"`,
//! absent fields take protobuf's defaults. A response of the wrong shape is an error, never a
//! panic.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::error::{Error, ErrorCode, Result};
use crate::model::json::float_to_json;
use crate::model::{
    Dataset, DatasetInput, Experiment, InputTag, LifecycleStage, Metric, Param, Run, RunData,
    RunInfo, RunInputs, RunStatus, RunTag,
};

/// The error for a response that does not have the expected shape.
pub(crate) fn malformed(what: &str, detail: impl std::fmt::Display) -> Error {
    Error::Mlflow {
        code: ErrorCode::InternalError,
        message: format!("the tracking server sent a malformed {what}: {detail}"),
    }
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// An int64 as protobuf JSON writes it: a number or a decimal string.
pub(crate) fn int64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn opt_int64(v: &Value, key: &str) -> Option<i64> {
    v.get(key).and_then(int64)
}

/// A double as protobuf JSON writes it: a number or `"NaN"`, `"Infinity"`, `"-Infinity"`
/// (or a numeric string).
pub(crate) fn float(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" | "nan" => Some(f64::NAN),
            "Infinity" | "inf" => Some(f64::INFINITY),
            "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
            other => other.trim().parse().ok(),
        },
        _ => None,
    }
}

/// An array field (empty when absent).
pub(crate) fn array_field<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn key_values(v: &Value, key: &str) -> BTreeMap<String, String> {
    array_field(v, key)
        .iter()
        .filter_map(|kv| {
            let k = kv.get("key")?.as_str()?;
            Some((k.to_string(), str_field(kv, "value").to_string()))
        })
        .collect()
}

fn lifecycle(v: &Value) -> LifecycleStage {
    match str_field(v, "lifecycle_stage") {
        "deleted" => LifecycleStage::Deleted,
        _ => LifecycleStage::Active,
    }
}

/// An `Experiment` message.
pub(crate) fn experiment(v: &Value) -> Result<Experiment> {
    let id = v
        .get("experiment_id")
        .and_then(|id| match id {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .filter(|s| !s.is_empty())
        .ok_or_else(|| malformed("experiment", "it has no experiment_id"))?;
    Ok(Experiment {
        experiment_id: id,
        name: str_field(v, "name").to_string(),
        artifact_location: str_field(v, "artifact_location").to_string(),
        lifecycle_stage: lifecycle(v),
        tags: key_values(v, "tags"),
        creation_time: opt_int64(v, "creation_time"),
        last_update_time: opt_int64(v, "last_update_time"),
    })
}

/// A `Metric` message.
pub(crate) fn metric(v: &Value) -> Result<Metric> {
    let key = v
        .get("key")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("metric", "it has no key"))?;
    let value = match v.get("value") {
        None => 0.0,
        Some(x) => float(x).ok_or_else(|| malformed("metric", format!("value {x} of '{key}'")))?,
    };
    Ok(Metric {
        key: key.to_string(),
        value,
        timestamp: opt_int64(v, "timestamp").unwrap_or(0),
        step: opt_int64(v, "step").unwrap_or(0),
    })
}

/// A `RunInfo` message.
pub(crate) fn run_info(v: &Value) -> Result<RunInfo> {
    let run_id = [str_field(v, "run_id"), str_field(v, "run_uuid")]
        .into_iter()
        .find(|s| !s.is_empty())
        .ok_or_else(|| malformed("run", "it has no run_id"))?
        .to_string();
    let status = match v.get("status") {
        None => RunStatus::Running,
        Some(Value::String(s)) => s
            .parse()
            .map_err(|_| malformed("run", format!("status '{s}' of run {run_id}")))?,
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(RunStatus::from_int)
            .ok_or_else(|| malformed("run", format!("status {n} of run {run_id}")))?,
        Some(other) => return Err(malformed("run", format!("status {other} of run {run_id}"))),
    };
    let experiment_id = match v.get("experiment_id") {
        Some(Value::Number(n)) => n.to_string(),
        _ => str_field(v, "experiment_id").to_string(),
    };
    Ok(RunInfo {
        run_id,
        run_name: str_field(v, "run_name").to_string(),
        experiment_id,
        user_id: str_field(v, "user_id").to_string(),
        status,
        start_time: opt_int64(v, "start_time"),
        end_time: opt_int64(v, "end_time"),
        artifact_uri: str_field(v, "artifact_uri").to_string(),
        lifecycle_stage: lifecycle(v),
    })
}

fn dataset_input(v: &Value) -> Result<DatasetInput> {
    let d = v
        .get("dataset")
        .ok_or_else(|| malformed("dataset input", "it has no dataset"))?;
    let opt = |key: &str| d.get(key).and_then(Value::as_str).map(str::to_string);
    Ok(DatasetInput {
        dataset: Dataset {
            name: str_field(d, "name").to_string(),
            digest: str_field(d, "digest").to_string(),
            source_type: str_field(d, "source_type").to_string(),
            source: str_field(d, "source").to_string(),
            schema: opt("schema"),
            profile: opt("profile"),
        },
        tags: array_field(v, "tags")
            .iter()
            .filter_map(|t| {
                Some(InputTag {
                    key: t.get("key")?.as_str()?.to_string(),
                    value: str_field(t, "value").to_string(),
                })
            })
            .collect(),
    })
}

/// A `Run` message.
pub(crate) fn run(v: &Value) -> Result<Run> {
    let info = run_info(
        v.get("info")
            .ok_or_else(|| malformed("run", "it has no info"))?,
    )?;
    let empty = Value::Null;
    let data = v.get("data").unwrap_or(&empty);
    let mut metrics: BTreeMap<String, Metric> = BTreeMap::new();
    for m in array_field(data, "metrics") {
        let m = metric(m)?;
        match metrics.get(&m.key) {
            Some(cur) if !m.is_newer_than(cur) => {}
            _ => {
                metrics.insert(m.key.clone(), m);
            }
        }
    }
    let inputs = v.get("inputs").unwrap_or(&empty);
    Ok(Run {
        info,
        data: RunData {
            metrics,
            params: key_values(data, "params"),
            tags: key_values(data, "tags"),
        },
        inputs: RunInputs {
            dataset_inputs: array_field(inputs, "dataset_inputs")
                .iter()
                .map(dataset_input)
                .collect::<Result<_>>()?,
            model_inputs: array_field(inputs, "model_inputs")
                .iter()
                .filter_map(|m| m.get("model_id")?.as_str().map(str::to_string))
                .collect(),
        },
    })
}

/// A field of a response that must be present.
pub(crate) fn field<'a>(v: &'a Value, key: &str, what: &str) -> Result<&'a Value> {
    v.get(key)
        .ok_or_else(|| malformed(what, format!("the response has no '{key}'")))
}

/// `next_page_token`, `None` when absent or empty.
pub(crate) fn next_page_token(v: &Value) -> Option<String> {
    v.get("next_page_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

// ----- requests ----------------------------------------------------------------------------

/// `[{"key":…, "value":…}]`.
pub(crate) fn tags_json<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Value {
    Value::Array(pairs.map(|(k, v)| json!({"key": k, "value": v})).collect())
}

/// A `Metric` message for a request (non-finite values as strings).
pub(crate) fn metric_json(m: &Metric) -> Value {
    json!({
        "key": m.key,
        "value": float_to_json(m.value),
        "timestamp": m.timestamp,
        "step": m.step,
    })
}

/// A `LogBatch` request.
pub(crate) fn log_batch_json(
    run_id: &str,
    metrics: &[Metric],
    params: &[Param],
    tags: &[RunTag],
) -> Value {
    json!({
        "run_id": run_id,
        "metrics": metrics.iter().map(metric_json).collect::<Vec<_>>(),
        "params": tags_json(params.iter().map(|p| (p.key.as_str(), p.value.as_str()))),
        "tags": tags_json(tags.iter().map(|t| (t.key.as_str(), t.value.as_str()))),
    })
}

/// A `DatasetInput` message for a request.
pub(crate) fn dataset_input_json(d: &DatasetInput) -> Value {
    let mut ds = serde_json::Map::new();
    ds.insert("name".into(), json!(d.dataset.name));
    ds.insert("digest".into(), json!(d.dataset.digest));
    ds.insert("source_type".into(), json!(d.dataset.source_type));
    ds.insert("source".into(), json!(d.dataset.source));
    if let Some(s) = &d.dataset.schema {
        ds.insert("schema".into(), json!(s));
    }
    if let Some(p) = &d.dataset.profile {
        ds.insert("profile".into(), json!(p));
    }
    json!({
        "tags": tags_json(d.tags.iter().map(|t| (t.key.as_str(), t.value.as_str()))),
        "dataset": Value::Object(ds),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_protobuf_json_tolerantly() {
        let v = json!({
            "info": {"run_uuid": "abc", "experiment_id": 3, "status": "FINISHED",
                     "start_time": "17", "lifecycle_stage": "deleted"},
            "data": {"metrics": [
                {"key": "m", "value": "NaN", "timestamp": 1, "step": "2"},
                {"key": "i", "value": "-Infinity"},
                {"key": "m", "value": 1.5, "timestamp": 0, "step": 1}
            ], "params": [{"key": "p"}], "tags": [{"key": "t", "value": "v"}]},
            "inputs": {"dataset_inputs": [{"dataset": {"name": "d", "digest": "x"},
                                           "tags": [{"key": "mlflow.data.context", "value": "training"}]}]}
        });
        let r = run(&v).unwrap();
        assert_eq!(r.info.run_id, "abc");
        assert_eq!(r.info.experiment_id, "3");
        assert_eq!(r.info.start_time, Some(17));
        assert_eq!(r.info.status, RunStatus::Finished);
        assert_eq!(r.info.lifecycle_stage, LifecycleStage::Deleted);
        assert!(r.data.metrics["m"].value.is_nan());
        assert_eq!(r.data.metrics["m"].step, 2);
        assert_eq!(r.data.metrics["i"].value, f64::NEG_INFINITY);
        assert_eq!(r.data.params["p"], "");
        assert_eq!(r.inputs.dataset_inputs[0].context(), Some("training"));
    }

    #[test]
    fn malformed_responses_are_errors() {
        for bad in [
            json!({}),
            json!({"info": {}}),
            json!({"info": {"run_id": "a", "status": "WEIRD"}}),
            json!({"info": {"run_id": "a"}, "data": {"metrics": [{"key": "m", "value": []}]}}),
            json!({"info": {"run_id": "a"}, "data": {"metrics": [{"value": 1}]}}),
            json!([1, 2]),
        ] {
            assert!(run(&bad).is_err(), "{bad}");
        }
        assert!(experiment(&json!({"name": "x"})).is_err());
        assert_eq!(int64(&json!(1e3)), Some(1000));
        assert_eq!(float(&json!("1.5")), Some(1.5));
        assert_eq!(float(&json!(true)), None);
    }

    #[test]
    fn doubles_parse_exactly() {
        // 17-digit values MLflow wrote: serde_json's `float_roundtrip` keeps them bit-exact.
        for text in [
            "0.10887156863541467",
            "0.10660999202262453",
            "5e-324",
            "1.7976931348623157e308",
        ] {
            let v: Value = serde_json::from_str(text).unwrap();
            assert_eq!(float(&v), Some(text.parse::<f64>().unwrap()), "{text}");
        }
    }

    #[test]
    fn requests_write_non_finite_floats_as_mlflow() {
        let v = log_batch_json(
            "r",
            &[Metric::new("m", f64::INFINITY, 1, 2)],
            &[Param::new("p", "1")],
            &[],
        );
        assert_eq!(v["metrics"][0]["value"], "Infinity");
        assert_eq!(v["params"][0], json!({"key": "p", "value": "1"}));
        assert_eq!(v["tags"], json!([]));
    }
}
