//! Entities as MLflow's REST API writes them in JSON (`{"runs":[{"info":…,"data":…}]}` etc.).
//!
//! Non-finite floats are written as MLflow's JSON writer does: the strings `"NaN"`,
//! `"Infinity"` and `"-Infinity"`. Missing optional fields are left out, as protobuf JSON does.

use serde_json::{Map, Value, json};

use super::{DatasetInput, Experiment, Metric, Run, RunInfo};

/// A float as MLflow's JSON writes it.
pub fn float_to_json(value: f64) -> Value {
    if value.is_nan() {
        Value::String("NaN".into())
    } else if value == f64::INFINITY {
        Value::String("Infinity".into())
    } else if value == f64::NEG_INFINITY {
        Value::String("-Infinity".into())
    } else {
        json!(value)
    }
}

fn key_values<'a>(pairs: impl Iterator<Item = (&'a String, &'a String)>) -> Value {
    Value::Array(pairs.map(|(k, v)| json!({"key": k, "value": v})).collect())
}

/// `Experiment` message.
pub fn experiment_to_json(e: &Experiment) -> Value {
    let mut m = Map::new();
    m.insert("experiment_id".into(), json!(e.experiment_id));
    m.insert("name".into(), json!(e.name));
    m.insert("artifact_location".into(), json!(e.artifact_location));
    m.insert("lifecycle_stage".into(), json!(e.lifecycle_stage.as_str()));
    if let Some(t) = e.last_update_time {
        m.insert("last_update_time".into(), json!(t));
    }
    if let Some(t) = e.creation_time {
        m.insert("creation_time".into(), json!(t));
    }
    if !e.tags.is_empty() {
        m.insert("tags".into(), key_values(e.tags.iter()));
    }
    Value::Object(m)
}

/// `Metric` message.
pub fn metric_to_json(m: &Metric) -> Value {
    json!({
        "key": m.key,
        "value": float_to_json(m.value),
        "timestamp": m.timestamp,
        "step": m.step,
    })
}

/// `RunInfo` message (with the legacy `run_uuid` field MLflow still sends).
pub fn run_info_to_json(info: &RunInfo) -> Value {
    let mut m = Map::new();
    m.insert("run_id".into(), json!(info.run_id));
    m.insert("run_uuid".into(), json!(info.run_id));
    m.insert("run_name".into(), json!(info.run_name));
    m.insert("experiment_id".into(), json!(info.experiment_id));
    m.insert("user_id".into(), json!(info.user_id));
    m.insert("status".into(), json!(info.status.as_str()));
    if let Some(t) = info.start_time {
        m.insert("start_time".into(), json!(t));
    }
    if let Some(t) = info.end_time {
        m.insert("end_time".into(), json!(t));
    }
    m.insert("artifact_uri".into(), json!(info.artifact_uri));
    m.insert(
        "lifecycle_stage".into(),
        json!(info.lifecycle_stage.as_str()),
    );
    Value::Object(m)
}

fn dataset_input_to_json(d: &DatasetInput) -> Value {
    let mut ds = Map::new();
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
        "tags": d.tags.iter().map(|t| json!({"key": t.key, "value": t.value})).collect::<Vec<_>>(),
        "dataset": Value::Object(ds),
    })
}

/// `Run` message: `{"info":…, "data":{"metrics":[…],"params":[…],"tags":[…]}, "inputs":{…}}`.
pub fn run_to_json(run: &Run) -> Value {
    let mut inputs = Map::new();
    if !run.inputs.dataset_inputs.is_empty() {
        inputs.insert(
            "dataset_inputs".into(),
            Value::Array(
                run.inputs
                    .dataset_inputs
                    .iter()
                    .map(dataset_input_to_json)
                    .collect(),
            ),
        );
    }
    if !run.inputs.model_inputs.is_empty() {
        inputs.insert(
            "model_inputs".into(),
            Value::Array(
                run.inputs
                    .model_inputs
                    .iter()
                    .map(|id| json!({"model_id": id}))
                    .collect(),
            ),
        );
    }
    json!({
        "info": run_info_to_json(&run.info),
        "data": {
            "metrics": run.data.metrics.values().map(metric_to_json).collect::<Vec<_>>(),
            "params": key_values(run.data.params.iter()),
            "tags": key_values(run.data.tags.iter()),
        },
        "inputs": Value::Object(inputs),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LifecycleStage, RunData, RunInputs, RunStatus};

    #[test]
    fn non_finite_floats_are_strings() {
        assert_eq!(float_to_json(f64::NAN), json!("NaN"));
        assert_eq!(float_to_json(f64::INFINITY), json!("Infinity"));
        assert_eq!(float_to_json(f64::NEG_INFINITY), json!("-Infinity"));
        assert_eq!(float_to_json(0.5), json!(0.5));
    }

    #[test]
    fn run_has_rest_shape() {
        let mut data = RunData::default();
        data.metrics
            .insert("m".into(), Metric::new("m", f64::NAN, 5, 1));
        data.params.insert("p".into(), "1".into());
        let run = Run {
            info: RunInfo {
                run_id: "abc".into(),
                run_name: "r".into(),
                experiment_id: "0".into(),
                user_id: "u".into(),
                status: RunStatus::Finished,
                start_time: Some(1),
                end_time: None,
                artifact_uri: "file:///x".into(),
                lifecycle_stage: LifecycleStage::Active,
            },
            data,
            inputs: RunInputs::default(),
        };
        let v = run_to_json(&run);
        assert_eq!(v["info"]["status"], "FINISHED");
        assert!(v["info"].get("end_time").is_none());
        assert_eq!(v["data"]["metrics"][0]["value"], "NaN");
        assert_eq!(v["data"]["params"][0], json!({"key": "p", "value": "1"}));
    }
}
