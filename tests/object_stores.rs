//! Artifacts in object stores, against real servers on 127.0.0.1 and real MLflow 3.17.2.
//!
//! * S3: `moto_server` (moto in server mode). MLflow writes to `s3://`, mlscope lists, previews
//!   and downloads byte-identical; mlscope writes (small and multipart uploads), MLflow's client
//!   lists and downloads byte-identical; an `mlflow server --no-serve-artifacts
//!   --default-artifact-root s3://…` whose clients write to S3 directly is read by mlscope
//!   through the server's run records; the CLI's errors name the variable to set.
//! * GCS: fake-gcs-server (`STORAGE_EMULATOR_HOST`), Azure Blob: Azurite
//!   (`AZURE_STORAGE_CONNECTION_STRING`, `wasbs://`): the same both-way checks, and the CLI's
//!   errors naming `STORAGE_EMULATOR_HOST`, `GOOGLE_APPLICATION_CREDENTIALS` and
//!   `AZURE_STORAGE_CONNECTION_STRING`.
//!
//! `scripts/emulators-venv.sh` installs the servers and puts boto3, google-cloud-storage and
//! azure-storage-blob into the MLflow venv. The tests skip LOUDLY when an emulator or MLflow is
//! missing and fail instead with `MLSCOPE_REQUIRE_MLFLOW=1` (CI). One server of each kind
//! serves every test of this file; the variables of all three stores are set once, before any
//! test reads them ([`emulator_env`]), and are the same for all tests.
#![cfg(feature = "s3")]

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use mlscope::TrackingClient;
use serde_json::Value;
use support::{MlflowVersion, mlflow_required, require_mlflow};

const BUCKET: &str = "mlscope-test";

/// Starts a command in its own process group behind a `sh` guard that stops the group when
/// the test process closes the guard's stdin (on drop, or when the process exits without
/// running destructors, as for the server kept in a `static`).
const GUARD: &str = r#"
log="$1"; shift
"$@" </dev/null >>"$log" 2>&1 &
cat >/dev/null
trap '' TERM
kill -s TERM -- -$$ 2>/dev/null
sleep 0.5
kill -s KILL -- -$$ 2>/dev/null
"#;

struct Guarded {
    guard: Child,
    stdin: Option<ChildStdin>,
    log: PathBuf,
}

impl Guarded {
    fn start(cmd: &[&std::ffi::OsStr], log: &Path, env: &[(&str, &str)]) -> Guarded {
        let mut c = Command::new("sh");
        c.arg("-c").arg(GUARD).arg("guard").arg(log).args(cmd);
        for (k, v) in env {
            c.env(k, v);
        }
        c.stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            c.process_group(0);
        }
        let mut guard = c
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let stdin = guard.stdin.take();
        Guarded {
            guard,
            stdin,
            log: log.to_path_buf(),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.guard.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One HTTP/1.1 request without a body; the status code, or `None` when nothing answers.
fn http_status(port: u16, method: &str, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(2),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

fn wait_until(what: &str, server: &Guarded, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < timeout,
            "{what} did not come up within {} s:\n{}",
            timeout.as_secs(),
            server.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn cache_dir() -> PathBuf {
    std::env::var_os("MLSCOPE_CACHE")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/mlscope")
        })
}

/// The ports of this process's emulators and the variables that point MLflow and mlscope at
/// them, set once for all three stores (see [`emulator_env`]).
struct EmulatorEnv {
    s3_port: u16,
    gcs_port: u16,
    azure_port: u16,
    _dir: tempfile::TempDir,
}

/// The account and key every Azurite has (public, well known).
const AZURITE_ACCOUNT: &str = "devstoreaccount1";
const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

fn azurite_connection_string(port: u16) -> String {
    format!(
        "DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};\
         BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};"
    )
}

/// Picks the emulators' ports and sets every store's variables, once, before any server starts
/// and before any test reads the environment: the S3 ones (`MLFLOW_S3_ENDPOINT_URL`, `AWS_*`),
/// `STORAGE_EMULATOR_HOST` (GCS) and `AZURE_STORAGE_CONNECTION_STRING` (Azure).
fn emulator_env() -> &'static EmulatorEnv {
    static ENV: OnceLock<EmulatorEnv> = OnceLock::new();
    ENV.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let no_file = dir.path().join("no-cloud-files");
        let (s3_port, gcs_port, azure_port) = (free_port(), free_port(), free_port());
        // SAFETY: set once, inside this OnceLock initialisation, which every test of this
        // file passes through (via s3(), gcs() or azure()) before it reads the environment or
        // starts threads that do.
        unsafe {
            std::env::set_var(
                "MLFLOW_S3_ENDPOINT_URL",
                format!("http://127.0.0.1:{s3_port}"),
            );
            std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
            std::env::set_var("AWS_DEFAULT_REGION", "us-east-1");
            std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", &no_file);
            std::env::set_var("AWS_CONFIG_FILE", &no_file);
            std::env::remove_var("AWS_SESSION_TOKEN");
            std::env::remove_var("AWS_PROFILE");
            std::env::remove_var("MLFLOW_S3_IGNORE_TLS");
            std::env::set_var(
                "STORAGE_EMULATOR_HOST",
                format!("http://127.0.0.1:{gcs_port}"),
            );
            std::env::remove_var("GOOGLE_APPLICATION_CREDENTIALS");
            std::env::set_var(
                "AZURE_STORAGE_CONNECTION_STRING",
                azurite_connection_string(azure_port),
            );
            std::env::remove_var("AZURE_STORAGE_ACCESS_KEY");
        }
        EmulatorEnv {
            s3_port,
            gcs_port,
            azure_port,
            _dir: dir,
        }
    })
}

/// Skips LOUDLY, or panics with `MLSCOPE_REQUIRE_MLFLOW=1`, when `missing` names something.
fn skip_unless_installed(missing: Vec<String>) -> Option<()> {
    if missing.is_empty() {
        return Some(());
    }
    let msg = format!(
        "SKIPPED: {}; run scripts/emulators-venv.sh",
        missing.join("; ")
    );
    let banner = "!".repeat(100);
    let _ = writeln!(std::io::stderr(), "\n{banner}\n{msg}\n{banner}\n");
    if mlflow_required() {
        panic!("MLSCOPE_REQUIRE_MLFLOW=1 and {msg}");
    }
    None
}

/// What is missing of `program` and of the modules MLflow's venv must import.
fn missing_tools(program: &Path, modules: &str) -> Vec<String> {
    let mut missing = Vec::new();
    if !program.exists() {
        missing.push(format!("the emulator {} is missing", program.display()));
    }
    if let Ok(py) = MlflowVersion::V3_17_2.python() {
        let ok = Command::new(&py)
            .args(["-c", &format!("import {modules}")])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            missing.push(format!("{} cannot import {modules}", py.display()));
        }
    }
    missing
}

/// The moto server of this test process, with [`BUCKET`] created.
struct S3Server {
    port: u16,
    _dir: tempfile::TempDir,
    _server: Guarded,
}

impl S3Server {
    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// The shared S3 server, or `None` after a LOUD skip (a panic with `MLSCOPE_REQUIRE_MLFLOW=1`).
fn s3(test: &str) -> Option<&'static S3Server> {
    static SERVER: OnceLock<Option<S3Server>> = OnceLock::new();
    require_mlflow(MlflowVersion::V3_17_2, test)?;
    let port = emulator_env().s3_port;
    SERVER
        .get_or_init(|| {
            let moto = std::env::var_os("MLSCOPE_MOTO_SERVER")
                .map(PathBuf::from)
                .unwrap_or_else(|| cache_dir().join("venv-emulators/bin/moto_server"));
            skip_unless_installed(missing_tools(&moto, "boto3"))?;
            let dir = tempfile::tempdir().expect("temp dir");
            let server = Guarded::start(
                &[
                    moto.as_os_str(),
                    "-H".as_ref(),
                    "127.0.0.1".as_ref(),
                    "-p".as_ref(),
                    port.to_string().as_ref(),
                ],
                &dir.path().join("moto.log"),
                &[],
            );
            wait_until("moto_server", &server, Duration::from_secs(60), || {
                http_status(port, "GET", "/").is_some()
            });
            assert_eq!(
                http_status(port, "PUT", &format!("/{BUCKET}")),
                Some(200),
                "cannot create bucket {BUCKET}:\n{}",
                server.log()
            );
            Some(S3Server {
                port,
                _dir: dir,
                _server: server,
            })
        })
        .as_ref()
}

/// A GCS emulator (fake-gcs-server) of this test process, with [`BUCKET`] created.
struct GcsServer {
    _dir: tempfile::TempDir,
    _server: Guarded,
}

/// The shared GCS emulator, or `None` after a LOUD skip (a panic with
/// `MLSCOPE_REQUIRE_MLFLOW=1`).
fn gcs(test: &str) -> Option<&'static GcsServer> {
    static SERVER: OnceLock<Option<GcsServer>> = OnceLock::new();
    require_mlflow(MlflowVersion::V3_17_2, test)?;
    let port = emulator_env().gcs_port;
    SERVER
        .get_or_init(|| {
            let program = std::env::var_os("MLSCOPE_FAKE_GCS_SERVER")
                .map(PathBuf::from)
                .unwrap_or_else(|| cache_dir().join("venv-emulators/bin/fake-gcs-server"));
            skip_unless_installed(missing_tools(&program, "google.cloud.storage"))?;
            let dir = tempfile::tempdir().expect("temp dir");
            // A folder of the data directory is a bucket the server starts with.
            let data = dir.path().join("data");
            std::fs::create_dir_all(data.join(BUCKET)).unwrap();
            let server = Guarded::start(
                &[
                    program.as_os_str(),
                    "-scheme".as_ref(),
                    "http".as_ref(),
                    "-host".as_ref(),
                    "127.0.0.1".as_ref(),
                    "-port".as_ref(),
                    port.to_string().as_ref(),
                    "-backend".as_ref(),
                    "memory".as_ref(),
                    "-data".as_ref(),
                    data.as_os_str(),
                    // object_store speaks GCS's XML API, which fake-gcs-server serves only to
                    // requests for its public host.
                    "-public-host".as_ref(),
                    format!("127.0.0.1:{port}").as_ref(),
                    "-log-level".as_ref(),
                    "warn".as_ref(),
                ],
                &dir.path().join("fake-gcs-server.log"),
                &[],
            );
            wait_until("fake-gcs-server", &server, Duration::from_secs(60), || {
                http_status(port, "GET", &format!("/storage/v1/b/{BUCKET}")) == Some(200)
            });
            Some(GcsServer {
                _dir: dir,
                _server: server,
            })
        })
        .as_ref()
}

/// Azurite (its Blob service) of this test process, with container [`BUCKET`] created.
struct AzureServer {
    _dir: tempfile::TempDir,
    _server: Guarded,
}

/// The shared Azurite, or `None` after a LOUD skip (a panic with `MLSCOPE_REQUIRE_MLFLOW=1`).
fn azure(test: &str) -> Option<&'static AzureServer> {
    static SERVER: OnceLock<Option<AzureServer>> = OnceLock::new();
    require_mlflow(MlflowVersion::V3_17_2, test)?;
    let port = emulator_env().azure_port;
    SERVER
        .get_or_init(|| {
            let program = std::env::var_os("MLSCOPE_AZURITE_BLOB")
                .map(PathBuf::from)
                .unwrap_or_else(|| cache_dir().join("azurite/node_modules/.bin/azurite-blob"));
            skip_unless_installed(missing_tools(&program, "azure.storage.blob"))?;
            let dir = tempfile::tempdir().expect("temp dir");
            let server = Guarded::start(
                &[
                    program.as_os_str(),
                    "--blobHost".as_ref(),
                    "127.0.0.1".as_ref(),
                    "--blobPort".as_ref(),
                    port.to_string().as_ref(),
                    "--location".as_ref(),
                    dir.path().join("azurite").as_os_str(),
                    "--skipApiVersionCheck".as_ref(),
                    "--disableTelemetry".as_ref(),
                ],
                &dir.path().join("azurite.log"),
                &[],
            );
            wait_until("azurite-blob", &server, Duration::from_secs(60), || {
                http_status(port, "GET", &format!("/{AZURITE_ACCOUNT}?comp=list")).is_some()
            });
            // The container, made with MLflow's own Azure client.
            let py = MlflowVersion::V3_17_2.python().expect("MLflow 3.17.2");
            let out = Command::new(py)
                .args([
                    "-c",
                    "import os, sys\n\
                     from azure.storage.blob import BlobServiceClient\n\
                     BlobServiceClient.from_connection_string(\
                     os.environ['AZURE_STORAGE_CONNECTION_STRING']).create_container(sys.argv[1])",
                    BUCKET,
                ])
                .output()
                .expect("run python");
            assert!(
                out.status.success(),
                "cannot create container {BUCKET}: {}\n{}",
                String::from_utf8_lossy(&out.stderr),
                server.log()
            );
            Some(AzureServer {
                _dir: dir,
                _server: server,
            })
        })
        .as_ref()
}

/// The `wasbs://` URI of `path` in the test container (the account of the connection string).
fn wasbs(path: &str) -> String {
    format!("wasbs://{BUCKET}@{AZURITE_ACCOUNT}.blob.core.windows.net/{path}")
}

/// MLflow's side: `write` logs a run's artifacts, `read` lists and downloads them.
const MLFLOW_SIDE: &str = r#"
import json, os, sys
import mlflow
from mlflow import MlflowClient

def listing(client, run_id, path=None):
    out = []
    for f in client.list_artifacts(run_id, path):
        out.append({"path": f.path, "is_dir": f.is_dir, "file_size": f.file_size})
        if f.is_dir:
            out.extend(listing(client, run_id, f.path))
    return out

mode, tracking_uri = sys.argv[1], sys.argv[2]
mlflow.set_tracking_uri(tracking_uri)
client = MlflowClient()
if mode == "write":
    artifact_location, src, dst = sys.argv[3], sys.argv[4], sys.argv[5]
    exp = client.create_experiment("s3-mlflow", artifact_location=artifact_location or None)
    with mlflow.start_run(experiment_id=exp) as run:
        mlflow.log_artifact(os.path.join(src, "big.bin"))
        mlflow.log_artifact(os.path.join(src, "a b#c.txt"), "docs")
        mlflow.log_artifacts(os.path.join(src, "tree"), "nested")
        mlflow.log_text("hello from mlflow\n", "notes/hello.txt")
        mlflow.log_dict({"lr": 0.1, "layers": [1, 2]}, "config.json")
        mlflow.log_table({"x": [1, 2, 3], "y": ["a", "b", "c"]}, "tables/t.json")
        from PIL import Image
        mlflow.log_image(Image.new("RGB", (8, 6), (200, 30, 10)), "images/red.png")
    run_id = run.info.run_id
else:
    run_id, dst = sys.argv[3], sys.argv[4]
got = client.download_artifacts(run_id, "", dst)
print(json.dumps({
    "run_id": run_id,
    "artifact_uri": client.get_run(run_id).info.artifact_uri,
    "listing": sorted(listing(client, run_id), key=lambda f: f["path"]),
    "downloaded": got,
}))
"#;

fn mlflow_side(args: &[&str]) -> Value {
    let py = MlflowVersion::V3_17_2.python().expect("MLflow 3.17.2");
    let cwd = tempfile::tempdir().expect("temp dir");
    let script = cwd.path().join("mlflow_side.py");
    std::fs::write(&script, MLFLOW_SIDE).expect("write script");
    let out = Command::new(py)
        .arg(&script)
        .args(args)
        .current_dir(cwd.path())
        .env_remove("MLFLOW_TRACKING_URI")
        .env("MLFLOW_ALLOW_FILE_STORE", "true")
        .env("GIT_PYTHON_REFRESH", "quiet")
        .env("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("run MLflow");
    assert!(
        out.status.success(),
        "MLflow {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("MLflow printed {stdout}: {e}"))
}

/// Deterministic bytes (a simple LCG), so failures are reproducible.
fn pseudo_random(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 56) as u8
        })
        .collect()
}

/// The source files both sides log: a 3 MiB binary, a name with a space and `#`, a tree.
fn make_sources(dir: &Path, big: usize) -> PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("tree/deeper")).unwrap();
    std::fs::write(src.join("big.bin"), pseudo_random(big, 7)).unwrap();
    std::fs::write(src.join("a b#c.txt"), "spaces and hash\n").unwrap();
    std::fs::write(src.join("tree/one.txt"), "one\n").unwrap();
    std::fs::write(src.join("tree/deeper/two.csv"), "a,b\n1,2\n").unwrap();
    std::fs::write(src.join("tree/empty.bin"), b"").unwrap();
    src
}

/// Every file under `root`, relative path → bytes.
fn files_under(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// mlscope's recursive listing in MLflow's JSON shape.
fn mlscope_listing(client: &TrackingClient, run_id: &str) -> Value {
    let list = client.list_artifacts_recursive(run_id, None).unwrap();
    Value::Array(
        list.into_iter()
            .map(|f| {
                serde_json::json!({
                    "path": f.path,
                    "is_dir": f.is_dir,
                    "file_size": f.file_size,
                })
            })
            .collect(),
    )
}

fn assert_same_files(ours: &Path, theirs: &Path) {
    let a = files_under(ours);
    let b = files_under(theirs);
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "downloaded file names differ"
    );
    for (k, v) in &a {
        assert!(v == &b[k], "downloaded bytes of {k} differ");
    }
}

/// Checks everything mlscope can do with a run MLflow wrote: listing equal to MLflow's,
/// previews (ranged reads, the logged table, the text) and downloads byte-identical.
fn check_mlscope_reads_mlflow_run(
    client: &TrackingClient,
    written: &Value,
    src: &Path,
    root: &str,
) {
    let run_id = written["run_id"].as_str().unwrap();
    let uri = written["artifact_uri"].as_str().unwrap();
    assert!(uri.starts_with(&format!("{root}/")), "{uri}");
    support::assert_json_eq(
        &mlscope_listing(client, run_id),
        &written["listing"],
        "recursive artifact listing (mlscope vs MLflow)",
    );
    let arts = client.run_artifacts(run_id).unwrap();
    let repo = arts.repository();
    assert_eq!(repo.artifact_uri(), uri);
    // Previews read only what they show: a range from the middle of the 3 MiB file.
    let big = std::fs::read(src.join("big.bin")).unwrap();
    let part = repo.read_range("big.bin", 1_000_000, 4096).unwrap();
    assert_eq!(part, big[1_000_000..1_004_096]);
    let tail = repo
        .read_range("big.bin", big.len() as u64 - 10, 4096)
        .unwrap();
    assert_eq!(tail, big[big.len() - 10..]);
    assert!(
        repo.read_range("big.bin", big.len() as u64 + 5, 10)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        repo.read_all("notes/hello.txt", 1 << 20).unwrap(),
        b"hello from mlflow\n"
    );
    let table = client.load_table(run_id, "tables/t.json").unwrap();
    assert_eq!(table.columns, ["x", "y"]);
    assert_eq!(table.data.len(), 3);
    let png = repo.read_range("images/red.png", 0, 8).unwrap();
    assert_eq!(png, b"\x89PNG\r\n\x1a\n");
    // A single-file listing, a missing file, a directory stat.
    assert!(repo.list("big.bin").unwrap().is_empty());
    assert!(matches!(
        repo.stat("nope.txt"),
        Err(mlscope::Error::NotFound(_))
    ));
    assert!(repo.stat("nested/deeper").unwrap().is_dir);
    let mut streamed = Vec::new();
    repo.open("big.bin")
        .unwrap()
        .read_to_end(&mut streamed)
        .unwrap();
    assert!(streamed == big, "streamed big.bin differs");
    // Downloads: everything, byte-identical to what MLflow downloaded.
    let ours = tempfile::tempdir().unwrap();
    let got = client
        .download_artifacts(run_id, "", Some(ours.path()))
        .unwrap();
    assert_same_files(&got, Path::new(written["downloaded"].as_str().unwrap()));
    let one = tempfile::tempdir().unwrap();
    let file = client
        .download_artifacts(run_id, "docs/a b#c.txt", Some(one.path()))
        .unwrap();
    assert_eq!(
        std::fs::read(file).unwrap(),
        std::fs::read(src.join("a b#c.txt")).unwrap()
    );
}

/// MLflow logs a run's artifacts under `location`; mlscope lists, previews and downloads them.
fn mlflow_writes_and_mlscope_reads(location: &str) {
    let dir = tempfile::tempdir().unwrap();
    let src = make_sources(dir.path(), 3 << 20);
    let uri = format!("sqlite:///{}", dir.path().join("mlflow.db").display());
    let dst = dir.path().join("mlflow-download");
    std::fs::create_dir_all(&dst).unwrap();
    let written = mlflow_side(&[
        "write",
        &uri,
        location,
        &src.to_string_lossy(),
        &dst.to_string_lossy(),
    ]);
    let client = TrackingClient::new(&uri).unwrap();
    check_mlscope_reads_mlflow_run(&client, &written, &src, location);
}

#[test]
fn mlflow_writes_to_s3_and_mlscope_reads_it() {
    let Some(server) = s3("mlflow_writes_to_s3_and_mlscope_reads_it") else {
        return;
    };
    mlflow_writes_and_mlscope_reads(&format!("s3://{BUCKET}/mlflow-written"));
    let _ = server.endpoint();
}

#[test]
fn mlflow_writes_to_gcs_and_mlscope_reads_it() {
    let Some(_server) = gcs("mlflow_writes_to_gcs_and_mlscope_reads_it") else {
        return;
    };
    mlflow_writes_and_mlscope_reads(&format!("gs://{BUCKET}/mlflow-written"));
}

#[test]
fn mlflow_writes_to_azure_and_mlscope_reads_it() {
    let Some(_server) = azure("mlflow_writes_to_azure_and_mlscope_reads_it") else {
        return;
    };
    mlflow_writes_and_mlscope_reads(&wasbs("mlflow-written"));
}

#[test]
fn mlscope_writes_to_s3_and_mlflow_reads_it() {
    let Some(_server) = s3("mlscope_writes_to_s3_and_mlflow_reads_it") else {
        return;
    };
    mlscope_writes_and_mlflow_reads(&format!("s3://{BUCKET}/mlscope-written"));
}

#[test]
fn mlscope_writes_to_gcs_and_mlflow_reads_it() {
    let Some(_server) = gcs("mlscope_writes_to_gcs_and_mlflow_reads_it") else {
        return;
    };
    mlscope_writes_and_mlflow_reads(&format!("gs://{BUCKET}/mlscope-written"));
}

#[test]
fn mlscope_writes_to_azure_and_mlflow_reads_it() {
    let Some(_server) = azure("mlscope_writes_to_azure_and_mlflow_reads_it") else {
        return;
    };
    mlscope_writes_and_mlflow_reads(&wasbs("mlscope-written"));
}

/// mlscope logs artifacts under `location` (one through a multipart upload); MLflow's client
/// lists and downloads them byte-identical.
fn mlscope_writes_and_mlflow_reads(location: &str) {
    let dir = tempfile::tempdir().unwrap();
    // 19 MiB: larger than one part, so log_artifact goes through a multipart upload.
    let src = make_sources(dir.path(), 19 << 20);
    let uri = format!("sqlite:///{}", dir.path().join("mlflow.db").display());
    let client = TrackingClient::new(&uri).unwrap();
    let exp = client
        .create_experiment("s3-mlscope", Some(location), &[])
        .unwrap();
    let run = client.create_run(&exp, Some("writer"), &[], None).unwrap();
    let run_id = run.info.run_id.clone();
    assert!(
        run.info.artifact_uri.starts_with(location),
        "{}",
        run.info.artifact_uri
    );
    client
        .log_artifact(&run_id, src.join("big.bin"), None)
        .unwrap();
    client
        .log_artifact(&run_id, src.join("a b#c.txt"), Some("docs"))
        .unwrap();
    client
        .log_artifacts(&run_id, src.join("tree"), Some("nested"))
        .unwrap();
    client
        .log_text(&run_id, "hello from mlscope\n", "notes/hello.txt")
        .unwrap();
    let mut table = mlscope::artifacts::table::Table::new(["x", "y"]);
    table
        .push_row([serde_json::json!(1), serde_json::json!("a")])
        .unwrap();
    client.log_table(&run_id, &table, "tables/t.json").unwrap();
    let before = client.list_artifacts_recursive(&run_id, None).unwrap();
    // Appending to the table reads it back from the store first.
    client.log_table(&run_id, &table, "tables/t.json").unwrap();
    assert_eq!(
        client
            .load_table(&run_id, "tables/t.json")
            .unwrap()
            .data
            .len(),
        2
    );
    assert!(!before.is_empty());

    let dst = dir.path().join("mlflow-download");
    std::fs::create_dir_all(&dst).unwrap();
    let read = mlflow_side(&["read", &uri, &run_id, &dst.to_string_lossy()]);
    support::assert_json_eq(
        &mlscope_listing(&client, &run_id),
        &read["listing"],
        "recursive artifact listing (mlscope vs MLflow) of an mlscope-written run",
    );
    let theirs = files_under(Path::new(read["downloaded"].as_str().unwrap()));
    let expected: BTreeMap<&str, Vec<u8>> = [
        ("big.bin", std::fs::read(src.join("big.bin")).unwrap()),
        (
            "docs/a b#c.txt",
            std::fs::read(src.join("a b#c.txt")).unwrap(),
        ),
        ("nested/one.txt", b"one\n".to_vec()),
        ("nested/deeper/two.csv", b"a,b\n1,2\n".to_vec()),
        ("nested/empty.bin", Vec::new()),
        ("notes/hello.txt", b"hello from mlscope\n".to_vec()),
    ]
    .into_iter()
    .collect();
    for (path, bytes) in &expected {
        let got = theirs
            .get(*path)
            .unwrap_or_else(|| panic!("MLflow did not download {path}: {:?}", theirs.keys()));
        assert!(got == bytes, "MLflow's copy of {path} differs");
    }
    assert!(theirs.contains_key("tables/t.json"));
}

#[test]
fn mlflow_server_without_artifact_proxy_and_s3_root() {
    let Some(_server) = s3("mlflow_server_without_artifact_proxy_and_s3_root") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let py = MlflowVersion::V3_17_2.python().unwrap();
    let port = free_port();
    let db = format!("sqlite:///{}", dir.path().join("server.db").display());
    let root = format!("s3://{BUCKET}/server-root");
    let server = Guarded::start(
        &[
            py.as_os_str(),
            "-m".as_ref(),
            "mlflow".as_ref(),
            "server".as_ref(),
            "--backend-store-uri".as_ref(),
            db.as_ref(),
            "--default-artifact-root".as_ref(),
            root.as_ref(),
            "--no-serve-artifacts".as_ref(),
            "--host".as_ref(),
            "127.0.0.1".as_ref(),
            "--port".as_ref(),
            port.to_string().as_ref(),
            "--workers".as_ref(),
            "1".as_ref(),
        ],
        &dir.path().join("server.log"),
        &[
            ("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false"),
            ("GIT_PYTHON_REFRESH", "quiet"),
        ],
    );
    wait_until("mlflow server", &server, Duration::from_secs(180), || {
        http_status(port, "GET", "/health") == Some(200)
    });
    let tracking = format!("http://127.0.0.1:{port}");
    let src = make_sources(dir.path(), 3 << 20);
    let dst = dir.path().join("mlflow-download");
    std::fs::create_dir_all(&dst).unwrap();
    // The client writes to S3 itself: the server only records s3:// artifact URIs.
    let written = mlflow_side(&[
        "write",
        &tracking,
        "",
        &src.to_string_lossy(),
        &dst.to_string_lossy(),
    ]);
    assert!(
        written["artifact_uri"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{root}/")),
        "{written}"
    );
    let client = TrackingClient::new(&tracking).unwrap();
    check_mlscope_reads_mlflow_run(&client, &written, &src, &root);
}

#[test]
fn cli_lists_s3_artifacts_and_names_the_variable_when_unreachable() {
    let Some(server) = s3("cli_lists_s3_artifacts_and_names_the_variable_when_unreachable") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite:///{}", dir.path().join("mlflow.db").display());
    let client = TrackingClient::new(&uri).unwrap();
    let exp = client
        .create_experiment("cli", Some(&format!("s3://{BUCKET}/cli")), &[])
        .unwrap();
    let run = client.create_run(&exp, None, &[], None).unwrap();
    client
        .log_text(&run.info.run_id, "cli text\n", "dir/t.txt")
        .unwrap();
    let bin = env!("CARGO_BIN_EXE_mlscope");
    let cli = |env: &[(&str, &str)], remove: &[&str]| {
        let mut c = Command::new(bin);
        c.args(["artifacts", &uri, &run.info.run_id, "--format", "json"]);
        for (k, v) in env {
            c.env(k, v);
        }
        for k in remove {
            c.env_remove(k);
        }
        c.output().expect("run mlscope")
    };
    let ok = cli(&[], &[]);
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(stdout.contains("dir/t.txt"), "{stdout}");

    // Nothing listens there: a prompt error naming MLFLOW_S3_ENDPOINT_URL.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let down = cli(&[("MLFLOW_S3_ENDPOINT_URL", &closed)], &[]);
    let stderr = String::from_utf8_lossy(&down.stderr);
    assert!(!down.status.success(), "{stderr}");
    assert!(stderr.contains("MLFLOW_S3_ENDPOINT_URL"), "{stderr}");

    // No credentials anywhere: the error names the variables to set.
    let home = tempfile::tempdir().unwrap();
    let none = cli(
        &[("HOME", &home.path().to_string_lossy())],
        &[
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_CONFIG_FILE",
        ],
    );
    let stderr = String::from_utf8_lossy(&none.stderr);
    assert!(!none.status.success(), "{stderr}");
    assert!(stderr.contains("AWS_ACCESS_KEY_ID"), "{stderr}");
    let _ = server.endpoint();
}

/// `mlscope artifacts` on a run whose artifact URI is `artifact_root/…`, with `env` set and
/// `remove` unset: (success, stdout + stderr).
fn cli_artifacts(artifact_root: &str, env: &[(&str, &str)], remove: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite:///{}", dir.path().join("mlflow.db").display());
    let client = TrackingClient::new(&uri).unwrap();
    let exp = client
        .create_experiment("cli", Some(artifact_root), &[])
        .unwrap();
    let run = client.create_run(&exp, None, &[], None).unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_mlscope"));
    c.args(["artifacts", &uri, &run.info.run_id, "--format", "json"]);
    for (k, v) in env {
        c.env(k, v);
    }
    for k in remove {
        c.env_remove(k);
    }
    let out = c.output().expect("run mlscope");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn cli_names_the_gcs_and_azure_variables_to_set() {
    // No emulator needed: nothing listens on the ports, or no credentials are set.
    let _ = emulator_env();
    let home = tempfile::tempdir().unwrap();
    let home = home.path().to_string_lossy().to_string();
    let closed = free_port();

    let gs = format!("gs://{BUCKET}/cli");
    let (ok, text) = cli_artifacts(
        &gs,
        &[("STORAGE_EMULATOR_HOST", &format!("127.0.0.1:{closed}"))],
        &[],
    );
    assert!(!ok, "{text}");
    assert!(text.contains("STORAGE_EMULATOR_HOST"), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{closed}")), "{text}");
    let (ok, text) = cli_artifacts(
        &gs,
        &[("HOME", &home)],
        &[
            "STORAGE_EMULATOR_HOST",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "CLOUDSDK_CONFIG",
        ],
    );
    assert!(!ok, "{text}");
    assert!(text.contains("GOOGLE_APPLICATION_CREDENTIALS"), "{text}");

    let wasbs_root = wasbs("cli");
    let (ok, text) = cli_artifacts(
        &wasbs_root,
        &[(
            "AZURE_STORAGE_CONNECTION_STRING",
            &azurite_connection_string(closed),
        )],
        &[],
    );
    assert!(!ok, "{text}");
    assert!(text.contains("AZURE_STORAGE_CONNECTION_STRING"), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{closed}")), "{text}");
    let (ok, text) = cli_artifacts(
        &wasbs_root,
        &[],
        &[
            "AZURE_STORAGE_CONNECTION_STRING",
            "AZURE_STORAGE_ACCESS_KEY",
            "AZURE_STORAGE_SAS_TOKEN",
            "AZURE_CLIENT_ID",
        ],
    );
    assert!(!ok, "{text}");
    assert!(text.contains("AZURE_STORAGE_CONNECTION_STRING"), "{text}");
    assert!(text.contains("AZURE_STORAGE_ACCESS_KEY"), "{text}");
}

#[test]
fn abfss_uris_reach_the_same_blobs_as_wasbs() {
    // Azurite has no Data Lake (dfs) endpoint, so MLflow's abfss:// client cannot be run here;
    // mlscope reaches an abfss:// file system through the account's Blob endpoint, where a
    // wasbs:// URI of the same container sees exactly what it wrote.
    let Some(_server) = azure("abfss_uris_reach_the_same_blobs_as_wasbs") else {
        return;
    };
    let abfss = format!("abfss://{BUCKET}@{AZURITE_ACCOUNT}.dfs.core.windows.net/abfss%20root");
    let repo = mlscope::artifacts::open_artifact_repository(&abfss).unwrap();
    repo.write_bytes("dir/a.txt", b"via abfss\n").unwrap();
    let same = mlscope::artifacts::open_artifact_repository(&wasbs("abfss root")).unwrap();
    let listed: Vec<String> = same
        .list_recursive("")
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(listed, ["dir", "dir/a.txt"]);
    assert_eq!(same.read_all("dir/a.txt", 100).unwrap(), b"via abfss\n");
    assert_eq!(repo.read_range("dir/a.txt", 4, 5).unwrap(), b"abfss");
}
