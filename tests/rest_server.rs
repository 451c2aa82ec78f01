//! The REST backend against a real `mlflow server` 3.17.2 (SQLite backend, proxied artifacts;
//! `tests/support_server`) and against tiny local HTTP responders for the failure cases a real
//! server does not produce on demand (401, a server that never answers, 503s).
//!
//! Every server and responder listens on 127.0.0.1 only; every loop is bounded. Without MLflow
//! the server tests skip LOUDLY (and fail with `MLSCOPE_REQUIRE_MLFLOW=1`); the responder tests
//! always run.

mod support;
mod support_server;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mlscope::artifacts::{ArtifactRepository, HttpArtifactRepository};
use mlscope::store::RestStore;
use mlscope::store::rest::{AsyncLogging, Auth, RestConfig};
use mlscope::{
    CreateRun, ErrorCode, Metric, Param, RunQuery, RunStatus, RunTag, TrackingClient,
    TrackingStore, model::tags,
};
use serde_json::{Value, json};
use support::*;
use support_server::MlflowServer;

// =============================================================================================
// Helpers
// =============================================================================================

/// The server shared by the tests of this binary that only add data of their own.
fn shared_server() -> Option<&'static MlflowServer> {
    static SERVER: OnceLock<Option<MlflowServer>> = OnceLock::new();
    SERVER
        .get_or_init(|| MlflowServer::start("rest_server (shared server)"))
        .as_ref()
}

/// A configuration for tests: short timeouts and quick retries.
fn quick_config(uri: &str) -> RestConfig {
    let mut cfg = RestConfig::new(uri).unwrap();
    cfg.timeout = Duration::from_secs(30);
    cfg.max_retries = 3;
    cfg.backoff_factor = 0.2;
    cfg.backoff_jitter = 0.0;
    cfg
}

fn new_run(store: &dyn TrackingStore, experiment_id: &str, name: &str) -> String {
    store
        .create_run(CreateRun {
            experiment_id: experiment_id.into(),
            user_id: "tester".into(),
            start_time: Some(1_700_000_000_000),
            tags: vec![],
            run_name: Some(name.into()),
        })
        .unwrap()
        .info
        .run_id
}

/// Peak resident memory of this process in kB (Linux), if known.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One request a [`Responder`] received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: String,
}

/// What a [`Responder`] does with a request.
enum Reply {
    /// Status, extra headers, body.
    Send(u16, Vec<(&'static str, String)>, String),
    /// Keep the connection open without answering for this long, then close it.
    Stall(Duration),
}

type Handler = dyn Fn(usize, &Seen) -> Reply + Send + Sync;

/// A tiny HTTP/1.1 server on 127.0.0.1 for failure cases: records every request and answers
/// with `handler(index, request)`. Stops on drop.
struct Responder {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Responder {
    fn start(handler: impl Fn(usize, &Seen) -> Reply + Send + Sync + 'static) -> Responder {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let thread = {
            let seen = Arc::clone(&seen);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let seen = Arc::clone(&seen);
                    let handler = Arc::clone(&handler);
                    let stop = Arc::clone(&stop);
                    std::thread::spawn(move || serve(conn, &seen, &*handler, &stop));
                }
            })
        };
        Responder {
            port,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn uri(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(conn: TcpStream, seen: &Mutex<Vec<Seen>>, handler: &Handler, stop: &AtomicBool) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut writer = conn;
    // Keep-alive: serve requests on this connection until it closes.
    for _ in 0..1000 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let mut headers = BTreeMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let request = Seen {
            method,
            path,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        let index = {
            let mut s = seen.lock().unwrap();
            s.push(request.clone());
            s.len() - 1
        };
        match handler(index, &request) {
            Reply::Send(status, extra, body) => {
                let mut out = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: application/json\r\n",
                    body.len()
                );
                for (k, v) in extra {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                out.push_str("\r\n");
                out.push_str(&body);
                if writer.write_all(out.as_bytes()).is_err() {
                    return;
                }
            }
            Reply::Stall(d) => {
                let until = Instant::now() + d;
                while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(50));
                }
                return;
            }
        }
    }
}

// =============================================================================================
// Examples through a server, read back by MLflow's own client
// =============================================================================================

#[test]
fn examples_log_through_the_server_and_mlflow_reads_them() {
    let Some(server) = MlflowServer::start("examples through mlflow server") else {
        return;
    };
    let uri = server.uri();
    let cwd = tempfile::tempdir().unwrap();
    run_example("basic_tracking", &uri, cwd.path());
    run_example("nested_runs", &uri, cwd.path());
    // Nothing was written locally: everything went to the server.
    assert!(!cwd.path().join("mlruns").exists());
    assert!(!cwd.path().join("mlflow.db").exists());

    let client = TrackingClient::new(&uri).unwrap();
    let basic = runs_by_name(&client, "housing-price-prediction");
    let run = &basic["random-forest-experiment"];
    assert_eq!(run.info.status, RunStatus::Finished);
    assert_eq!(run.data.params["n_estimators"], "100");
    assert!(run.info.artifact_uri.starts_with("mlflow-artifacts:/"));
    let nested = runs_by_name(&client, "hyperparameter-tuning");
    assert_eq!(nested.len(), 10);
    let parent = &nested["hyperparameter-tuning-parent"];
    for (name, child) in &nested {
        if name != "hyperparameter-tuning-parent" {
            assert_eq!(child.data.tags[tags::PARENT_RUN_ID], parent.info.run_id);
            assert_eq!(child.info.status, RunStatus::Finished);
        }
    }

    // The artifacts the example logged are on the server, readable through the proxy.
    let arts = client.run_artifacts(&run.info.run_id).unwrap();
    let listing: Vec<String> = arts
        .repository()
        .list_recursive("")
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert!(
        listing.contains(&"config/model.json".to_string()),
        "{listing:?}"
    );
    let config: Value = serde_json::from_slice(
        &arts
            .repository()
            .read_all("config/model.json", 1 << 20)
            .unwrap(),
    )
    .unwrap();
    assert!(config.is_object());
    assert!(
        server
            .dir
            .join("artifacts")
            .join(&run.info.experiment_id)
            .join(&run.info.run_id)
            .join("artifacts/config/model.json")
            .is_file()
    );

    // MLflow's own client reads the server exactly as mlscope does (every experiment, run,
    // metric history), and lists (and downloads: --hash-artifacts) the same artifacts.
    let (code, stdout, stderr) = run_python(
        MlflowVersion::V3_17_2,
        "mlflow_read_check.py",
        &[&uri, "--hash-artifacts"],
    );
    assert_eq!(code, 0, "MLflow could not read {uri}:\n{stderr}");
    let mut theirs = parse_json_exact(&stdout).unwrap();
    let store = mlscope::open_store(&uri).unwrap();
    let mut checks = Checks::default();
    for e in theirs["experiments"].as_array().unwrap() {
        for r in e["runs"].as_array().unwrap() {
            let run_id = r["run_id"].as_str().unwrap();
            let ours: Vec<Value> = client
                .run_artifacts(run_id)
                .unwrap()
                .repository()
                .list_recursive("")
                .unwrap()
                .into_iter()
                .map(|f| json!({"path": f.path, "is_dir": f.is_dir, "file_size": f.file_size}))
                .collect();
            let mlflows: Vec<Value> = r["artifacts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| json!({"path": a["path"], "is_dir": a["is_dir"], "file_size": a["file_size"]}))
                .collect();
            checks.json(
                &json!(ours),
                &json!(mlflows),
                &format!("artifacts of run {run_id}: mlscope vs MLflow"),
            );
        }
    }
    strip_artifacts(&mut theirs);
    let ours = read_canonical(store.as_ref(), CanonOptions::default()).unwrap();
    checks.check(ours.warnings.is_empty(), "no warnings");
    checks.json(
        &ours.doc,
        &theirs,
        "mlscope reading the server vs MLflow reading the server",
    );
    checks.finish();
}

// =============================================================================================
// The server goes away mid-run and comes back
// =============================================================================================

#[test]
fn server_stopped_mid_run_loses_nothing() {
    let Some(mut server) = MlflowServer::start("server stopped mid-run") else {
        return;
    };
    let port = server.port;
    let dir = tempfile::tempdir().unwrap();
    // The data must survive the server: keep it in a directory of our own.
    let data = dir.path().to_path_buf();
    server.stop();
    let mut server = MlflowServer::start_in(&data, port).unwrap();
    let uri = server.uri();

    let mut cfg = quick_config(&uri);
    // Synchronous calls ride out a restart with MLflow-style retries: 0, 1, 2, 4, 8, 16 s…
    cfg.max_retries = 8;
    cfg.backoff_factor = 0.5;
    cfg.timeout = Duration::from_secs(20);
    let background = RestStore::with_config(cfg.clone())
        .unwrap()
        .with_async_logging(AsyncLogging {
            max_queued: 5_000,
            max_retry_interval: Duration::from_millis(500),
            ..AsyncLogging::default()
        })
        .unwrap();
    let sync = RestStore::with_config(cfg).unwrap();
    let exp = sync.create_experiment("restart", None, &[]).unwrap();
    let run_id = new_run(&sync, &exp, "survivor");

    const TOTAL: i64 = 20_000;
    let logger = {
        let run_id = run_id.clone();
        std::thread::spawn(move || {
            for i in 0..TOTAL {
                background
                    .log_metric(&run_id, &Metric::new("loss", i as f64, 1_000 + i, i))
                    .unwrap();
                if i % 1000 == 0 {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            background
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    server.stop();
    // While the server is down: a synchronous call from another thread waits for it.
    let sync = Arc::new(sync);
    let sync_call = {
        let sync = Arc::clone(&sync);
        let run_id = run_id.clone();
        std::thread::spawn(move || {
            sync.log_batch(
                &run_id,
                &[Metric::new("during_outage", 1.0, 5, 0)],
                &[Param::new("p", "kept")],
                &[RunTag::new("t", "kept")],
            )
        })
    };
    std::thread::sleep(Duration::from_secs(2));
    let restarted = Instant::now();
    let server = MlflowServer::start_in(&data, port).unwrap();
    eprintln!("server back after {:?}", restarted.elapsed());
    let background = logger.join().unwrap();
    sync_call.join().unwrap().unwrap();
    // Ending the run delivers everything queued first.
    background
        .update_run_info(&run_id, Some(RunStatus::Finished), Some(2_000_000), None)
        .unwrap();
    assert_eq!(background.pending_metrics(), 0);

    let history = sync.get_metric_history(&run_id, "loss").unwrap();
    assert_eq!(history.len(), TOTAL as usize, "every value arrived");
    let mut steps: Vec<i64> = history.iter().map(|m| m.step).collect();
    steps.sort_unstable();
    steps.dedup();
    // A batch whose answer was lost in the outage may have been stored and sent again, but no
    // step is missing.
    assert_eq!(steps.len(), TOTAL as usize);
    let run = sync.get_run(&run_id).unwrap();
    assert_eq!(run.info.status, RunStatus::Finished);
    assert_eq!(run.data.params["p"], "kept");
    assert_eq!(run.data.metrics["loss"].value, (TOTAL - 1) as f64);
    drop(server);
}

// =============================================================================================
// Failure cases with local responders
// =============================================================================================

#[test]
fn unauthorized_is_a_clear_error_and_credentials_are_sent() {
    let responder = Responder::start(|_, _| {
        Reply::Send(
            401,
            vec![("WWW-Authenticate", "Basic realm=\"mlflow\"".into())],
            "You are not authenticated. Please see the documentation.".into(),
        )
    });
    let mut cfg = quick_config(&responder.uri());
    let store = RestStore::with_config(cfg.clone()).unwrap();
    let err = store.get_experiment("0").unwrap_err();
    let text = err.to_string();
    assert_eq!(err.error_code(), mlscope::ErrorCode::Unauthenticated);
    assert!(text.starts_with("UNAUTHENTICATED: "), "{text}");
    assert!(text.contains("401"), "{text}");
    assert!(text.contains("MLFLOW_TRACKING_USERNAME"), "{text}");
    assert!(text.contains("no credentials were sent"), "{text}");
    assert!(text.contains("You are not authenticated"), "{text}");
    // 401 is not retried.
    assert_eq!(responder.seen().len(), 1);
    assert!(!responder.seen()[0].headers.contains_key("authorization"));

    cfg.auth = Auth::Basic {
        username: "alice".into(),
        password: "wrong".into(),
    };
    let err = RestStore::with_config(cfg.clone())
        .unwrap()
        .get_experiment("0")
        .unwrap_err();
    assert!(err.to_string().contains("basic credentials"), "{err}");
    assert_eq!(
        responder.seen()[1].headers["authorization"],
        "Basic YWxpY2U6d3Jvbmc="
    );
    cfg.auth = Auth::Bearer("tok3n".into());
    RestStore::with_config(cfg)
        .unwrap()
        .get_experiment("0")
        .unwrap_err();
    assert_eq!(responder.seen()[2].headers["authorization"], "Bearer tok3n");

    // Through open_store and MLflow's variables, as the viewer and the CLI open servers.
    let cfg = RestConfig::new(&format!("http://bob:pw@127.0.0.1:{}", responder.port)).unwrap();
    assert_eq!(
        cfg.auth,
        Auth::Basic {
            username: "bob".into(),
            password: "pw".into()
        }
    );
}

#[test]
fn slow_server_times_out_within_bounds() {
    let responder = Responder::start(|_, _| Reply::Stall(Duration::from_secs(20)));
    let mut cfg = quick_config(&responder.uri());
    cfg.timeout = Duration::from_millis(700);
    cfg.max_retries = 1;
    let store = RestStore::with_config(cfg).unwrap();
    let start = Instant::now();
    let err = store
        .get_run("0123456789abcdef0123456789abcdef")
        .unwrap_err();
    let elapsed = start.elapsed();
    let text = err.to_string();
    assert!(text.contains("MLFLOW_HTTP_REQUEST_TIMEOUT"), "{text}");
    assert!(text.contains("after 1 retries"), "{text}");
    // Two attempts of 0.7 s (the first retry is immediate), plus slack for a loaded machine.
    assert!(elapsed < Duration::from_secs(6), "{elapsed:?}");
    assert!(elapsed >= Duration::from_millis(1400), "{elapsed:?}");
    assert_eq!(responder.seen().len(), 2);
}

#[test]
fn transient_statuses_are_retried_and_mlflow_errors_are_mapped() {
    let responder = Responder::start(|i, req| {
        if req.path.contains("experiments/get-by-name") {
            return Reply::Send(
                404,
                vec![],
                r#"{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Could not find experiment with name 'x'"}"#.into(),
            );
        }
        if req.path.contains("runs/update") {
            return Reply::Send(
                500,
                vec![],
                r#"{"error_code": "INVALID_STATE", "message": "nope"}"#.into(),
            );
        }
        if req.path.contains("runs/delete") {
            return Reply::Send(404, vec![], "<html>not here</html>".into());
        }
        match i {
            0 => Reply::Send(503, vec![("Retry-After", "0".into())], "busy".into()),
            1 => Reply::Send(429, vec![], "slow down".into()),
            _ => Reply::Send(
                200,
                vec![],
                r#"{"experiment": {"experiment_id": "7", "name": "e", "lifecycle_stage": "active", "creation_time": "12"}}"#.into(),
            ),
        }
    });
    let store = RestStore::with_config(quick_config(&responder.uri())).unwrap();
    let exp = store.get_experiment("7").unwrap();
    assert_eq!(exp.name, "e");
    assert_eq!(exp.creation_time, Some(12));
    assert_eq!(responder.seen().len(), 3);
    assert_eq!(
        responder.seen()[0].path,
        "/api/2.0/mlflow/experiments/get?experiment_id=7"
    );

    // RESOURCE_DOES_NOT_EXIST from get-by-name means "no such experiment".
    assert!(store.get_experiment_by_name("x").unwrap().is_none());
    // INVALID_STATE (sent as 500 by MLflow) is final, not retried.
    let before = responder.seen().len();
    let err = store
        .update_run_info("r", Some(RunStatus::Killed), None, None)
        .unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidState);
    assert_eq!(responder.seen().len(), before + 1);
    // A 404 that is not MLflow's is not "resource does not exist".
    let err = store.delete_run("r").unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InternalError);
    assert!(err.to_string().contains("MLflow tracking server?"), "{err}");
}

#[test]
fn unreachable_server_is_a_clear_error() {
    let port = support_server::free_port(); // nothing listens there
    let mut cfg = quick_config(&format!("http://127.0.0.1:{port}"));
    cfg.max_retries = 2;
    let start = Instant::now();
    let err = RestStore::with_config(cfg)
        .unwrap()
        .search_experiments(&Default::default())
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("cannot reach the tracking server"), "{text}");
    assert!(text.contains("is the server running?"), "{text}");
    assert!(text.contains("after 2 retries"), "{text}");
    assert!(start.elapsed() < Duration::from_secs(10));
    // open_store itself makes no request: opening an unreachable server succeeds, the first
    // call says what is wrong.
    assert!(mlscope::open_store(&format!("http://127.0.0.1:{port}")).is_ok());
}

#[test]
fn extension_filters_are_never_sent() {
    let responder = Responder::start(|_, _| Reply::Send(200, vec![], r#"{"runs": []}"#.into()));
    let store = RestStore::with_config(quick_config(&responder.uri())).unwrap();
    let mut query = RunQuery::new(["1"]);
    query.filter = "metrics.acc > 0.5 AND (params.a = 'x' OR tags.t = 'y')".into();
    store.search_runs(&query).unwrap();
    query.filter = "NOT status = 'FAILED'".into();
    store.search_runs(&query).unwrap();
    query.filter = "metrics.acc > 0.5 AND params.a = 'x'".into();
    store.search_runs(&query).unwrap();
    query.filter = "metrics.acc >> 0.5".into();
    assert_eq!(
        store.search_runs(&query).unwrap_err().error_code(),
        ErrorCode::InvalidParameterValue
    );
    let sent: Vec<Value> = responder
        .seen()
        .iter()
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    assert_eq!(sent.len(), 3, "the invalid filter was not sent");
    assert!(responder.seen().iter().all(|r| r.method == "POST"
        && r.path == "/api/2.0/mlflow/runs/search"
        && r.headers["content-type"] == "application/json"));
    assert_eq!(sent[0]["filter"], "metrics.acc > 0.5");
    assert_eq!(sent[0]["max_results"], 50_000);
    assert_eq!(sent[1]["filter"], "");
    assert_eq!(sent[2]["filter"], "metrics.acc > 0.5 AND params.a = 'x'");
    assert_eq!(sent[2]["max_results"], 1000);
    // max_results is checked before anything is sent.
    query.max_results = 0;
    assert!(store.search_runs(&query).is_err());
    assert_eq!(responder.seen().len(), 3);
}

// =============================================================================================
// Against the shared server
// =============================================================================================

#[test]
fn extension_filters_are_evaluated_client_side() {
    let Some(server) = shared_server() else {
        return;
    };
    let store = RestStore::with_config(quick_config(&server.uri())).unwrap();
    let exp = store.create_experiment("ext-filter", None, &[]).unwrap();
    let mut expected = Vec::new();
    for i in 0..6 {
        let id = new_run(&store, &exp, &format!("r{i}"));
        store
            .log_batch(
                &id,
                &[Metric::new("acc", i as f64 / 10.0, 1, 0)],
                &[Param::new("kind", if i % 2 == 0 { "even" } else { "odd" })],
                &[],
            )
            .unwrap();
        if i >= 4 || i == 1 {
            expected.push(format!("r{i}"));
        }
    }
    let mut query = RunQuery::new([exp.as_str()]);
    query.filter = "metrics.acc >= 0.4 OR (params.kind = 'odd' AND metrics.acc < 0.2)".into();
    query.order_by = vec!["metrics.acc DESC".into()];
    query.max_results = 2;
    let mut names = Vec::new();
    loop {
        let page = store.search_runs(&query).unwrap();
        names.extend(page.items.into_iter().map(|r| r.info.run_name));
        match page.next_page_token {
            Some(t) => query.page_token = Some(t),
            None => break,
        }
    }
    assert_eq!(names, ["r5", "r4", "r1"]);
    expected.sort();
    names.sort();
    assert_eq!(names, expected);
    // The same through MLflow's syntax goes to the server.
    let mut q = RunQuery::new([exp.as_str()]);
    q.filter = "params.kind = 'odd' AND metrics.acc > 0.2".into();
    // Explicit order: runs created in the same millisecond tie on the default start_time order.
    q.order_by = vec!["metrics.acc DESC".into()];
    let got: Vec<String> = store
        .search_runs(&q)
        .unwrap()
        .items
        .into_iter()
        .map(|r| r.info.run_name)
        .collect();
    assert_eq!(got, ["r5", "r3"]);
    // Experiments too.
    let q = mlscope::ExperimentQuery {
        filter: "name = 'ext-filter' OR name = 'no-such'".into(),
        ..Default::default()
    };
    let found = store.search_experiments(&q).unwrap().items;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].experiment_id, exp);
}

#[test]
fn long_histories_are_paged() {
    let Some(server) = shared_server() else {
        return;
    };
    let store = RestStore::with_config(quick_config(&server.uri())).unwrap();
    let run_id = new_run(&store, "0", "long-history");
    const N: i64 = 26_000; // more than one 25,000-value page
    for chunk in 0..(N / 1000) {
        let metrics: Vec<Metric> = (chunk * 1000..(chunk + 1) * 1000)
            .map(|i| {
                let v = match i {
                    7 => f64::NAN,
                    8 => f64::INFINITY,
                    _ => i as f64 * 0.5,
                };
                Metric::new("m", v, 10 + i, i)
            })
            .collect();
        store.log_batch(&run_id, &metrics, &[], &[]).unwrap();
    }
    let (first, token) = store
        .get_metric_history_page(&run_id, "m", 25_000, None)
        .unwrap();
    assert_eq!(first.len(), 25_000);
    assert!(token.is_some());
    let history = store.get_metric_history(&run_id, "m").unwrap();
    assert_eq!(history.len(), N as usize);
    let by_step: BTreeMap<i64, f64> = history.iter().map(|m| (m.step, m.value)).collect();
    assert_eq!(by_step.len(), N as usize);
    assert!(by_step[&7].is_nan());
    // The SQL store clamps infinity to the largest double, as MLflow does.
    assert!(by_step[&8] == f64::INFINITY || by_step[&8] == f64::MAX);
    assert_eq!(by_step[&(N - 1)], (N - 1) as f64 * 0.5);
}

#[test]
fn background_logging_reports_rejected_batches() {
    let Some(server) = shared_server() else {
        return;
    };
    let store = RestStore::with_config(quick_config(&server.uri()))
        .unwrap()
        .with_async_logging(AsyncLogging::default())
        .unwrap();
    let run_id = new_run(&store, "0", "background");
    for i in 0..2500 {
        store
            .log_metric(&run_id, &Metric::new("x", i as f64, 5, i))
            .unwrap();
    }
    // Invalid values are refused at once, not queued.
    let err = store
        .log_metric(&run_id, &Metric::new("bad//key", 1.0, 5, 0))
        .unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
    // Reads see what was queued before them.
    assert_eq!(store.get_metric_history(&run_id, "x").unwrap().len(), 2500);

    // A run that does not exist: the server rejects the batch; the failure is reported by
    // flush (and only once).
    let missing = "0123456789abcdef0123456789abcdef";
    store
        .log_metric(missing, &Metric::new("x", 1.0, 5, 0))
        .unwrap();
    let err = store.flush().unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::ResourceDoesNotExist, "{err}");
    assert!(err.to_string().contains(missing), "{err}");
    assert!(err.to_string().contains("background logging of 1"), "{err}");
    store.flush().unwrap();

    // A deleted run: reported by the next call, which then does nothing.
    let deleted = new_run(&store, "0", "background-deleted");
    store.delete_run(&deleted).unwrap();
    store
        .log_metric(&deleted, &Metric::new("x", 1.0, 5, 0))
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let start = Instant::now();
    let err = loop {
        match store.set_tag(&run_id, &RunTag::new("after", "1")) {
            Err(e) => break e,
            Ok(()) if start.elapsed() < Duration::from_secs(20) => {
                std::thread::sleep(Duration::from_millis(100))
            }
            Ok(()) => panic!("the rejected batch was never reported"),
        }
    };
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue, "{err}");
    store
        .update_run_info(&run_id, Some(RunStatus::Finished), Some(9), None)
        .unwrap();
    assert_eq!(
        store.get_run(&run_id).unwrap().data.metrics["x"].value,
        2499.0
    );
}

#[test]
fn artifacts_through_the_proxy() {
    let Some(server) = shared_server() else {
        return;
    };
    let uri = server.uri();
    let store = RestStore::with_config(quick_config(&uri)).unwrap();
    let run = store
        .create_run(CreateRun {
            experiment_id: "0".into(),
            run_name: Some("artifacts".into()),
            ..Default::default()
        })
        .unwrap();
    let artifact_uri = run.info.artifact_uri.clone();
    assert!(
        artifact_uri.starts_with("mlflow-artifacts:/0/"),
        "{artifact_uri}"
    );
    let repo = HttpArtifactRepository::new(&artifact_uri, &uri).unwrap();
    assert_eq!(repo.artifact_uri(), artifact_uri);
    assert!(repo.list("").unwrap().is_empty());

    repo.write_bytes("notes/hello world.txt", b"hello, server")
        .unwrap();
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("bundle/sub")).unwrap();
    std::fs::write(src.path().join("bundle/a.csv"), "x,y\n1,2\n").unwrap();
    std::fs::write(src.path().join("bundle/sub/b.json"), "{}").unwrap();
    std::fs::write(src.path().join("één.bin"), [0u8, 1, 2, 255]).unwrap();
    repo.log_file(&src.path().join("één.bin"), Some("data"))
        .unwrap();
    repo.log_dir(&src.path().join("bundle"), Some("bundle"))
        .unwrap();

    let top: Vec<(String, bool)> = repo
        .list("")
        .unwrap()
        .into_iter()
        .map(|f| (f.path, f.is_dir))
        .collect();
    assert_eq!(
        top,
        [
            ("bundle".to_string(), true),
            ("data".to_string(), true),
            ("notes".to_string(), true)
        ]
    );
    let all: Vec<String> = repo
        .list_recursive("")
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(
        all,
        [
            "bundle",
            "bundle/a.csv",
            "bundle/sub",
            "bundle/sub/b.json",
            "data",
            "data/één.bin",
            "notes",
            "notes/hello world.txt"
        ]
    );
    let info = repo.stat("notes/hello world.txt").unwrap();
    assert_eq!(info.file_size, Some(13));
    assert!(!info.is_dir);
    assert!(repo.stat("notes").unwrap().is_dir);
    assert!(repo.list("notes/hello world.txt").unwrap().is_empty());
    assert_eq!(
        repo.read_all("notes/hello world.txt", 100).unwrap(),
        b"hello, server"
    );
    assert_eq!(
        repo.read_range("notes/hello world.txt", 7, 6).unwrap(),
        b"server"
    );
    assert_eq!(
        repo.read_range("notes/hello world.txt", 10, 100).unwrap(),
        b"ver"
    );
    assert!(
        repo.read_range("notes/hello world.txt", 100, 5)
            .unwrap()
            .is_empty()
    );
    assert_eq!(repo.read_all("data/één.bin", 10).unwrap(), [0u8, 1, 2, 255]);
    let err = repo.open("missing.txt").err().unwrap();
    assert_eq!(err.error_code(), ErrorCode::ResourceDoesNotExist, "{err}");
    assert!(!repo.exists("missing.txt").unwrap());
    assert!(repo.open("notes").is_err());
    assert!(repo.write_bytes("../escape.txt", b"x").is_err());

    let dst = tempfile::tempdir().unwrap();
    let got = repo.download("bundle", dst.path()).unwrap();
    assert_eq!(got, dst.path().join("bundle"));
    assert_eq!(
        std::fs::read_to_string(dst.path().join("bundle/sub/b.json")).unwrap(),
        "{}"
    );
    let one = repo.download("data/één.bin", dst.path()).unwrap();
    assert_eq!(std::fs::read(one).unwrap(), [0u8, 1, 2, 255]);

    // The files are where MLflow's server keeps them.
    let on_disk = server
        .dir
        .join("artifacts/0")
        .join(&run.info.run_id)
        .join("artifacts/bundle/a.csv");
    assert_eq!(std::fs::read_to_string(on_disk).unwrap(), "x,y\n1,2\n");

    // The tracking client's helpers use the same repository for server runs.
    let client = TrackingClient::from_store(Arc::new(store));
    client
        .log_text(&run.info.run_id, "via client", "client/text.txt")
        .unwrap();
    let listed: Vec<String> = client
        .list_artifacts(&run.info.run_id, Some("client"))
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(listed, ["client/text.txt"]);
    let arts = client.run_artifacts(&run.info.run_id).unwrap();
    assert_eq!(
        arts.root.resolution,
        mlscope::artifacts::RootResolution::Remote
    );
    // open_artifact_repository resolves mlflow-artifacts: through an explicit http URL too.
    let http_url = repo.resolved_url();
    let by_url = mlscope::artifacts::open_artifact_repository(&http_url).unwrap();
    assert_eq!(
        by_url.read_all("client/text.txt", 100).unwrap(),
        b"via client"
    );
}

#[test]
fn large_artifacts_stream_in_constant_memory() {
    let Some(server) = shared_server() else {
        return;
    };
    const SIZE: u64 = 96 * 1024 * 1024;
    let uri = server.uri();
    let store = RestStore::with_config(quick_config(&uri)).unwrap();
    let run = store
        .create_run(CreateRun {
            experiment_id: "0".into(),
            run_name: Some("big-artifacts".into()),
            ..Default::default()
        })
        .unwrap();
    let repo = HttpArtifactRepository::new(&run.info.artifact_uri, &uri).unwrap();
    let src_dir = tempfile::tempdir().unwrap();
    let src = src_dir.path().join("big.bin");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&src).unwrap());
        let mut chunk = vec![0u8; 1 << 20];
        for i in 0..(SIZE >> 20) {
            chunk
                .iter_mut()
                .enumerate()
                .for_each(|(j, b)| *b = (i as usize + j) as u8);
            w.write_all(&chunk).unwrap();
        }
    }
    let before = peak_rss_kb();
    repo.log_file(&src, Some("big")).unwrap();
    // A generic reader: sent chunked, counted.
    let mut reader = std::io::BufReader::new(std::fs::File::open(&src).unwrap());
    assert_eq!(
        repo.write_stream("big/stream.bin", &mut reader).unwrap(),
        SIZE
    );
    let dst = tempfile::tempdir().unwrap();
    let got = repo.download("big/big.bin", dst.path()).unwrap();
    let mut streamed = 0u64;
    let mut r = repo.open("big/stream.bin").unwrap();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        streamed += n as u64;
    }
    let after = peak_rss_kb();
    assert_eq!(streamed, SIZE);
    assert_eq!(std::fs::metadata(&got).unwrap().len(), SIZE);
    assert_eq!(repo.stat("big/big.bin").unwrap().file_size, Some(SIZE));
    let tail = repo.read_range("big/big.bin", SIZE - 3, 10).unwrap();
    let expected_tail: Vec<u8> = (SIZE - 3..SIZE)
        .map(|k| ((k >> 20) as usize + (k & 0xFFFFF) as usize) as u8)
        .collect();
    assert_eq!(tail, expected_tail);
    if let (Some(b), Some(a)) = (before, after) {
        // Other tests run in parallel in this process; a buffered copy would add ~96 MB.
        assert!(
            a.saturating_sub(b) < 48 * 1024,
            "peak RSS grew by {} kB",
            a - b
        );
    }
}

#[test]
fn open_store_speaks_to_the_server() {
    let Some(server) = shared_server() else {
        return;
    };
    let store = mlscope::open_store(&format!("{}/", server.uri())).unwrap();
    assert_eq!(store.tracking_uri(), server.uri());
    let default = store.get_experiment("0").unwrap();
    assert_eq!(default.name, "Default");
    assert!(default.artifact_location.starts_with("mlflow-artifacts:"));
    // The fluent API through MLFLOW_TRACKING_URI-style URIs.
    let client = TrackingClient::new(&server.uri()).unwrap();
    let exp = client.create_experiment("client-exp", None, &[]).unwrap();
    let run = client
        .create_run(&exp, Some("fluent"), &[("k", "v")], None)
        .unwrap();
    client
        .log_metric(&run.info.run_id, "m", 1.5, Some(3), Some(2))
        .unwrap();
    client.log_param(&run.info.run_id, "p", 7).unwrap();
    client
        .set_terminated(&run.info.run_id, RunStatus::Finished, None)
        .unwrap();
    let got = client.get_run(&run.info.run_id).unwrap();
    assert_eq!(got.data.metrics["m"].value, 1.5);
    assert_eq!(got.data.params["p"], "7");
    assert_eq!(got.data.tags["k"], "v");
    assert_eq!(got.info.status, RunStatus::Finished);
}
