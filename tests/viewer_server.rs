//! The viewer on an MLflow tracking server: a real `mlflow server` 3.17.2 (`tests/support_server`)
//! opened by its `http://` URI, with runs, metric histories and proxied artifacts; live refresh by
//! polling; and the failures a user meets first (nothing listening, refused credentials), which
//! must come up quickly and in words.
//!
//! Driven with egui_kittest (no display needed). Without MLflow the server test skips LOUDLY
//! (and fails with `MLSCOPE_REQUIRE_MLFLOW=1`); the failure tests always run.

#![cfg(feature = "viewer")]

mod support;
mod support_server;
mod support_viewer;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use mlscope::viewer::testing::{Command, SelectMode, Tab};
use mlscope::viewer::{App, Persisted, ViewerOptions};
use mlscope::{CreateRun, Metric, Param, RunStatus, TrackingClient, TrackingStore};
use support_server::MlflowServer;

use support_viewer::harness;

/// Steps frames until `done` holds, at most `limit`.
fn step_until(
    h: &mut Harness<'static, App>,
    limit: Duration,
    what: &str,
    done: impl Fn(&Harness<'static, App>) -> bool,
) {
    if support_viewer::step_until_done(h, limit, done) {
        return;
    }
    panic!("{what}: not within {limit:?}");
}

fn has_label(h: &Harness<'static, App>, text: &str) -> bool {
    h.query_all_by_label_contains(text).next().is_some()
}

fn open(uri: &str) -> Harness<'static, App> {
    let app = App::new(
        ViewerOptions {
            store: Some(uri.to_string()),
            read_only: false,
        },
        Persisted::default(),
    );
    harness(app)
}

fn new_run(store: &dyn TrackingStore, experiment_id: &str, name: &str) -> String {
    store
        .create_run(CreateRun {
            experiment_id: experiment_id.into(),
            user_id: "tester".into(),
            start_time: Some(mlscope::model::now_ms()),
            tags: vec![],
            run_name: Some(name.into()),
        })
        .unwrap()
        .info
        .run_id
}

#[test]
fn browses_runs_curves_and_proxied_artifacts_of_a_server_and_follows_new_runs() {
    let Some(server) = MlflowServer::start("viewer_server") else {
        return;
    };
    // Polled every second instead of every 5 s (the only variable this test binary sets).
    // SAFETY: set before the viewer's threads start; no other test here reads it.
    unsafe { std::env::set_var("MLSCOPE_SERVER_POLL_SECS", "1") };
    let uri = server.uri();
    let client = TrackingClient::new(&uri).unwrap();
    let store = client.store();
    let exp = store.create_experiment("served", None, &[]).unwrap();
    let mut ids = Vec::new();
    for (i, lr) in ["0.1", "0.01"].iter().enumerate() {
        let id = new_run(store.as_ref(), &exp, &format!("lr-{lr}"));
        let loss: Vec<Metric> = (0..200)
            .map(|s: i64| {
                Metric::new(
                    "loss",
                    1.0 / (s + 1 + i as i64) as f64,
                    1_700_000_000_000 + s,
                    s,
                )
            })
            .collect();
        store
            .log_batch(&id, &loss, &[Param::new("lr", *lr)], &[])
            .unwrap();
        client
            .log_text(&id, &format!("notes of run {i}\n"), "notes.txt")
            .unwrap();
        store
            .update_run_info(
                &id,
                Some(RunStatus::Finished),
                Some(mlscope::model::now_ms()),
                None,
            )
            .unwrap();
        ids.push(id);
    }

    let mut h = open(&uri);
    step_until(
        &mut h,
        Duration::from_secs(60),
        "the runs of the server",
        |h| {
            let names = h.state().shown_run_names();
            names.contains(&"lr-0.1".to_string()) && names.contains(&"lr-0.01".to_string())
        },
    );
    assert!(has_label(&h, "served"));

    // A curve: every point of the history comes from the server.
    h.state_mut().send(Command::SelectRun {
        run_id: ids[0].clone(),
        mode: SelectMode::Replace,
    });
    h.state_mut().send(Command::SetTab(Tab::Charts));
    step_until(&mut h, Duration::from_secs(30), "the loss history", |h| {
        h.state()
            .histories()
            .get(&(ids[0].clone(), "loss".to_string()))
            .and_then(|e| e.ready())
            .is_some_and(|s| s.values.len() == 200)
    });

    // Artifacts through the server's proxy: listed and previewed.
    h.state_mut().send(Command::SetTab(Tab::Artifacts));
    step_until(&mut h, Duration::from_secs(30), "the artifact list", |h| {
        has_label(h, "notes.txt")
    });
    h.get_by_label_contains("notes.txt").click();
    step_until(&mut h, Duration::from_secs(30), "the text preview", |h| {
        has_label(h, "notes of run 0")
    });

    // A run started on the server while the viewer is open appears by polling.
    let late = new_run(store.as_ref(), &exp, "started-later");
    step_until(&mut h, Duration::from_secs(30), "the new run", |h| {
        h.state()
            .shown_run_names()
            .contains(&"started-later".to_string())
    });
    assert!(
        has_label(&h, "polling every 1.0 s"),
        "the status bar shows the interval"
    );
    store
        .update_run_info(
            &late,
            Some(RunStatus::Finished),
            Some(mlscope::model::now_ms()),
            None,
        )
        .unwrap();
    drop(h);
    drop(server);
}

#[test]
fn an_unreachable_server_is_reported_within_seconds() {
    // A port nothing listens on.
    let port = support_server::free_port();
    let started = Instant::now();
    let mut h = open(&format!("http://127.0.0.1:{port}"));
    step_until(&mut h, Duration::from_secs(60), "the failure", |h| {
        has_label(h, "connection refused")
    });
    assert!(has_label(&h, &format!("127.0.0.1:{port}")));
    // Measured, not asserted as a limit: MLflow's client defaults would take minutes.
    eprintln!("unreachable server reported after {:?}", started.elapsed());
}

#[test]
fn refused_credentials_are_reported_with_what_to_set() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(20) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let body = "You are not authenticated.";
            let _ = write!(
                stream,
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"mlflow\"\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let mut h = open(&format!("http://127.0.0.1:{port}"));
    step_until(&mut h, Duration::from_secs(60), "the failure", |h| {
        has_label(h, "UNAUTHENTICATED")
    });
    assert!(has_label(&h, "MLFLOW_TRACKING_USERNAME"));
}
