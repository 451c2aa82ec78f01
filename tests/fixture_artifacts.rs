//! Artifacts of the MLflow-made fixtures: every run's recursive listing (paths, directories,
//! sizes) equals what MLflow's own `list_artifacts` recorded in `expected.json`, even though the
//! fixtures were copied away from where MLflow wrote them (the recorded absolute artifact paths
//! no longer exist, so roots are resolved relative to the store). Image series and tables of the
//! showcase run are read too.

mod support;

use mlscope::{RunQuery, TrackingClient, ViewType};
use serde_json::{Value, json};
use support::*;

fn listing_json(infos: &[mlscope::artifacts::FileInfo]) -> Value {
    let mut rows: Vec<Value> = infos
        .iter()
        .map(|f| json!({"path": f.path, "is_dir": f.is_dir, "file_size": f.file_size}))
        .collect();
    rows.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
    Value::Array(rows)
}

#[test]
fn fixture_artifact_listings_match_mlflow() {
    for fixture in FIXTURES {
        let store = fixture.copy();
        let client = TrackingClient::new(&store.uri()).unwrap();
        let expected = fixture.expected();
        let mut compared_files = 0;
        for exp in expected["experiments"].as_array().unwrap() {
            for run in exp["runs"].as_array().unwrap() {
                let Some(want) = run.get("artifacts") else {
                    continue;
                };
                let run_id = run["run_id"].as_str().unwrap();
                let got = client
                    .list_artifacts_recursive(run_id, None)
                    .unwrap_or_else(|e| panic!("{}: run {run_id}: {e}", fixture.name));
                let mut want_sorted = want.as_array().unwrap().clone();
                want_sorted.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
                assert_eq!(
                    listing_json(&got),
                    Value::Array(want_sorted),
                    "{}: artifacts of run {} ({run_id})",
                    fixture.name,
                    run["run_name"]
                );
                compared_files += got.iter().filter(|f| !f.is_dir).count();
            }
        }
        assert_eq!(
            compared_files as u64,
            expected["counts"]["artifact_files"].as_u64().unwrap(),
            "{}",
            fixture.name
        );
    }
}

#[test]
fn fixture_image_series_and_tables_are_read() {
    for fixture in FIXTURES {
        let store = fixture.copy();
        let client = TrackingClient::new(&store.uri()).unwrap();
        let exp = client
            .get_experiment_by_name("fixtures/classification")
            .unwrap()
            .unwrap();
        let mut query = RunQuery::new([exp.experiment_id]);
        query.view_type = ViewType::All;
        let runs = client.search_all_runs(&query).unwrap().items;
        let showcase = runs
            .iter()
            .find(|r| r.info.run_name == "artifacts-showcase")
            .unwrap();
        let id = &showcase.info.run_id;
        let artifacts = client.run_artifacts(id).unwrap();
        // Where MLflow wrote the fixture (under /tmp) may or may not exist on this machine.
        let recorded = showcase.info.artifact_uri.trim_start_matches("file://");
        if !std::path::Path::new(recorded).exists() {
            assert!(
                artifacts.note().is_some(),
                "{}: the recorded artifact location {recorded} does not exist here; the note says \
                 how it was resolved",
                fixture.name
            );
        }
        let series = client.image_series(id).unwrap();
        let keys: Vec<&str> = series.keys().map(String::as_str).collect();
        assert!(
            keys.contains(&"samples/train") && keys.contains(&"heatmap"),
            "{}: {keys:?}",
            fixture.name
        );
        for (key, steps) in &series {
            assert_eq!(steps.len(), 3, "{}: {key}", fixture.name);
        }
        let table = client.load_table(id, "tables/predictions.json").unwrap();
        assert_eq!(
            table.columns,
            ["id", "label", "prediction", "score"],
            "{}",
            fixture.name
        );
        assert_eq!(table.data.len(), 10);
    }
}
