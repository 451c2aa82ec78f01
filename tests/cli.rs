//! The `mlscope` binary end to end: table, JSON and CSV output, exit codes, errors on stderr.

use std::path::Path;
use std::process::{Command, Output};

use mlscope::{Metric, Param, RunStatus, RunTag, TrackingClient};

fn mlscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlscope"))
        .args(args)
        .output()
        .expect("the mlscope binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A store with two experiments and three runs, one with NaN and infinite metrics.
fn make_store(root: &Path) -> (String, Vec<String>) {
    let uri = root.to_string_lossy().into_owned();
    let client = TrackingClient::new(&uri).unwrap();
    let exp = client
        .create_experiment("cli-exp", None, &[("team", "ml")])
        .unwrap();
    let mut ids = Vec::new();
    for (i, name) in ["alpha", "beta"].iter().enumerate() {
        let run = client
            .create_run(
                &exp,
                Some(name),
                &[("mlflow.user", "tester")],
                Some(1_700_000_000_000 + i as i64),
            )
            .unwrap();
        let id = run.info.run_id;
        client
            .log_batch(
                &id,
                &[
                    Metric::new("loss", 0.5 / (i + 1) as f64, 1_700_000_000_100, 0),
                    Metric::new("loss", 0.25 / (i + 1) as f64, 1_700_000_000_200, 1),
                    Metric::new(
                        "weird",
                        if i == 0 { f64::NAN } else { f64::INFINITY },
                        1_700_000_000_300,
                        0,
                    ),
                ],
                &[Param::new("lr", format!("0.0{}", i + 1))],
                &[RunTag::new("note", "line1\nline2, with comma")],
            )
            .unwrap();
        client
            .set_terminated(&id, RunStatus::Finished, Some(1_700_000_060_000))
            .unwrap();
        ids.push(id);
    }
    let run = client
        .create_run("0", Some("default-run"), &[], Some(1_600_000_000_000))
        .unwrap();
    ids.push(run.info.run_id);
    (uri, ids)
}

#[test]
fn runs_table_lists_every_experiment_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let (uri, ids) = make_store(&dir.path().join("mlruns"));
    let out = mlscope(&["runs", &uri]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("run_id"), "{text}");
    assert_eq!(lines.len(), 2 + 3, "{text}");
    for id in &ids {
        assert!(text.contains(id.as_str()), "{text}");
    }
    assert!(text.contains("FINISHED") && text.contains("RUNNING"));
    assert!(text.contains("2023-11-14 22:13:20"), "{text}");

    let out = mlscope(&[
        "runs",
        &uri,
        "--experiment-name",
        "cli-exp",
        "--columns",
        "metrics.loss,params.lr",
    ]);
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 2 + 2, "{text}");
    assert!(
        text.contains("metrics.loss") && text.contains("0.125") && text.contains("0.02"),
        "{text}"
    );
}

#[test]
fn runs_json_uses_mlflow_rest_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let (uri, ids) = make_store(&dir.path().join("mlruns"));
    let out = mlscope(&[
        "runs",
        &uri,
        "--format",
        "json",
        "--experiment-name",
        "cli-exp",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    let alpha = runs
        .iter()
        .find(|r| r["info"]["run_id"] == ids[0].as_str())
        .unwrap();
    assert_eq!(alpha["info"]["status"], "FINISHED");
    assert_eq!(alpha["info"]["run_name"], "alpha");
    assert_eq!(alpha["info"]["user_id"], "tester");
    let metrics = alpha["data"]["metrics"].as_array().unwrap();
    let weird = metrics.iter().find(|m| m["key"] == "weird").unwrap();
    assert_eq!(weird["value"], "NaN");
    let loss = metrics.iter().find(|m| m["key"] == "loss").unwrap();
    assert_eq!(loss["value"], 0.25);
    assert_eq!(loss["step"], 1);
    assert!(
        alpha["data"]["params"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!({"key": "lr", "value": "0.01"}))
    );
    let beta = runs
        .iter()
        .find(|r| r["info"]["run_id"] == ids[1].as_str())
        .unwrap();
    let inf = beta["data"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["key"] == "weird")
        .unwrap()
        .clone();
    assert_eq!(inf["value"], "Infinity");
}

#[test]
fn runs_csv_flattens_metrics_params_tags() {
    let dir = tempfile::tempdir().unwrap();
    let (uri, _) = make_store(&dir.path().join("mlruns"));
    let out = mlscope(&["runs", &uri, "--format", "csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    for col in [
        "run_id",
        "status",
        "metrics.loss",
        "metrics.weird",
        "params.lr",
        "tags.note",
    ] {
        assert!(header.contains(&col.to_string()), "{header:?}");
    }
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 3);
    let note = header.iter().position(|h| h == "tags.note").unwrap();
    assert!(rows.iter().any(|r| &r[note] == "line1\nline2, with comma"));
}

#[test]
fn experiments_describe_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let (uri, ids) = make_store(&dir.path().join("mlruns"));

    let out = mlscope(&["experiments", &uri, "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Default") && names.contains(&"cli-exp"),
        "{names:?}"
    );

    let out = mlscope(&["describe", &uri, &ids[0]]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("alpha") && text.contains("lr") && text.contains("loss"),
        "{text}"
    );

    let out = mlscope(&["describe", &uri, &ids[0], "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["run"]["info"]["run_id"], ids[0].as_str());

    let out = mlscope(&["history", &uri, &ids[0], "loss", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let values: Vec<f64> = v["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_f64().unwrap())
        .collect();
    assert_eq!(values, vec![0.5, 0.25]);

    let out = mlscope(&["history", &uri, &ids[0], "loss", "--format", "csv"]);
    assert_eq!(stdout(&out).lines().next(), Some("step,timestamp,value"));
}

#[test]
fn errors_exit_non_zero_with_message_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let (uri, _) = make_store(&dir.path().join("mlruns"));

    let out = mlscope(&["describe", &uri, "0123456789abcdef0123456789abcdef"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("RESOURCE_DOES_NOT_EXIST"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());

    let missing = dir.path().join("nope");
    let out = mlscope(&["runs", missing.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    assert!(!missing.exists(), "listing must not create a store");

    let out = mlscope(&["runs", &uri, "--experiment-name", "no-such-exp"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no-such-exp"));

    let out = mlscope(&["runs", &uri, "--view", "sideways"]);
    assert!(!out.status.success());
}

mod support;

/// `mlscope runs` on every MLflow-made fixture, in the three formats: every run MLflow lists is
/// there, with the same status.
#[test]
fn runs_on_mlflow_fixtures_in_every_format() {
    for fixture in support::FIXTURES {
        let store = fixture.copy();
        let uri = store.uri();
        let expected = fixture.expected();
        let mut want: Vec<(String, String)> = Vec::new();
        for exp in expected["experiments"].as_array().unwrap() {
            for run in exp["runs"].as_array().unwrap() {
                want.push((
                    run["run_id"].as_str().unwrap().to_string(),
                    run["status"].as_str().unwrap().to_string(),
                ));
            }
        }
        want.sort();

        let out = mlscope(&["runs", &uri, "--view", "all", "--format", "json"]);
        assert!(out.status.success(), "{}: {}", fixture.name, stderr(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut got: Vec<(String, String)> = v["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["info"]["run_id"].as_str().unwrap().to_string(),
                    r["info"]["status"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        got.sort();
        assert_eq!(got, want, "{}", fixture.name);

        let out = mlscope(&["runs", &uri, "--view", "all", "--format", "csv"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
        assert_eq!(reader.records().count(), want.len(), "{}", fixture.name);

        let out = mlscope(&["runs", &uri, "--view", "all"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        assert_eq!(
            text.lines().count(),
            2 + want.len(),
            "{}:\n{text}",
            fixture.name
        );
        assert!(
            text.contains("grid-search") && text.contains("edge-cases"),
            "{text}"
        );
    }
}

/// A damaged copy still lists every healthy run; each problem is named on stderr.
#[test]
fn damaged_fixture_lists_healthy_runs_and_names_problems() {
    let fixture = support::FIXTURES
        .into_iter()
        .find(|f| f.name == "mlflow-3.17.2-file")
        .unwrap();
    let store = fixture.copy();
    let root = store.root();
    let expected = fixture.expected();
    let exp = expected["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "Regression exp ✓ (unicode, spaces)")
        .unwrap();
    let exp_dir = root.join(exp["experiment_id"].as_str().unwrap());
    let runs = exp["runs"].as_array().unwrap();
    let run_dir = |i: usize| exp_dir.join(runs[i]["run_id"].as_str().unwrap());
    // Truncate one run's meta.yaml; break a metric line in another; a stray file in a third.
    let meta = run_dir(0).join("meta.yaml");
    let text = std::fs::read_to_string(&meta).unwrap();
    std::fs::write(&meta, &text[..text.len() / 3]).unwrap();
    std::fs::write(run_dir(1).join("metrics/rmse"), "garbage line\n").unwrap();
    std::fs::write(run_dir(2).join("metrics/.DS_Store"), [0u8, 1, 2]).unwrap();

    let uri = store.uri();
    let out = mlscope(&["runs", &uri, "--view", "all", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let total: usize = expected["counts"]["runs"].as_u64().unwrap() as usize;
    assert_eq!(v["runs"].as_array().unwrap().len(), total - 1);
    let err = stderr(&out);
    assert!(err.contains(meta.to_str().unwrap()), "{err}");
    assert!(err.contains("rmse"), "{err}");
    assert!(err.contains(".DS_Store"), "{err}");
}

#[test]
fn sqlite_uris_work_like_folders_and_are_never_created() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    let uri = format!("sqlite:///{}", db.display());
    let out = mlscope(&["runs", &uri]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    assert!(!db.exists(), "listing must not create a database");

    let client = TrackingClient::new(&uri).unwrap();
    let run = client
        .create_run("0", Some("in-sqlite"), &[], None)
        .unwrap();
    client
        .log_metric(&run.info.run_id, "loss", 0.5, Some(1), Some(0))
        .unwrap();
    let out = mlscope(&["runs", &uri, "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["runs"][0]["info"]["run_name"], "in-sqlite");
    let out = mlscope(&["history", &uri, &run.info.run_id, "loss"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("0.5"));
}

/// `mlscope runs ./project` opens the `mlruns/` or `mlflow.db` inside the project folder, as the
/// viewer does, and says which on stderr; a folder holding no store is refused in words.
#[test]
fn a_project_folder_opens_the_store_inside_it_and_an_unrelated_folder_is_refused() {
    let files = tempfile::tempdir().unwrap();
    make_store(&files.path().join("mlruns"));
    std::fs::write(files.path().join("train.py"), "print('hi')\n").unwrap();
    let out = mlscope(&["runs", files.path().to_str().unwrap(), "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut names: Vec<&str> = v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["info"]["run_name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["alpha", "beta", "default-run"]);
    let err = stderr(&out);
    assert!(err.contains("mlruns/ found inside"), "{err}");
    assert!(
        err.contains(files.path().join("mlruns").to_str().unwrap()),
        "{err}"
    );

    let database = tempfile::tempdir().unwrap();
    let db = database.path().join("mlflow.db");
    let client = TrackingClient::new(&format!("sqlite:///{}", db.display())).unwrap();
    client
        .create_run("0", Some("in-the-database"), &[], None)
        .unwrap();
    drop(client);
    let out = mlscope(&["runs", database.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("in-the-database"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("mlflow.db found inside"),
        "{}",
        stderr(&out)
    );

    let unrelated = tempfile::tempdir().unwrap();
    std::fs::write(unrelated.path().join("notes.txt"), "nothing to see\n").unwrap();
    for command in ["runs", "experiments"] {
        let out = mlscope(&[command, unrelated.path().to_str().unwrap()]);
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(err.contains("not an MLflow store"), "{command}: {err}");
        assert!(err.contains("no mlruns/ folder"), "{command}: {err}");
        assert!(stdout(&out).is_empty());
    }
    let listed: Vec<_> = std::fs::read_dir(unrelated.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(listed, ["notes.txt"], "refusing writes nothing");
}
