//! Object-store artifacts against a local S3 server (moto in server mode), mlscope vs MLflow's
//! client (boto3): downloading one large artifact and listing a folder of many small ones.
//!
//! ```sh
//! scripts/emulators-venv.sh                                  # moto, boto3 in the MLflow venv
//! cargo bench --no-default-features --features s3 --bench object_stores
//! MLSCOPE_BENCH_MB=50 MLSCOPE_BENCH_OBJECTS=2000 cargo bench … # smaller
//! ```
//!
//! Both sides read the same run of a SQLite store whose artifact root is `s3://bench/…`:
//! `big.bin` (200 MB by default) and `many/` (10,000 objects of 64 bytes by default, put there
//! by boto3 with 16 threads). Timed, best and median of 3 after one warm-up, inside each
//! process (no interpreter start or imports counted):
//!
//! * download `big.bin`: mlscope `download_artifacts` (one streamed `GET`) vs MLflow
//!   `MlflowClient.download_artifacts` (boto3's threaded ranged `GET`s);
//! * list `many/`: mlscope `list_artifacts` (delimited listing, 1,000 keys a page) vs MLflow
//!   `list_artifacts` (the same requests through boto3's paginator);
//! * mlscope's recursive listing of the whole run (one flat listing), for reference.

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use mlscope::TrackingClient;

/// Kills the server when the bench ends, also on a panic.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
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

/// Populates the run (`populate`) or times MLflow's client on it (`time`).
const PY: &str = r#"
import json, os, sys, time, statistics, tempfile, shutil
mode = sys.argv[1]
if mode == "populate":
    import boto3
    from concurrent.futures import ThreadPoolExecutor
    bucket, prefix, big, count = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    s3 = boto3.client("s3", endpoint_url=os.environ["MLFLOW_S3_ENDPOINT_URL"])
    s3.create_bucket(Bucket=bucket)
    path = os.path.join(tempfile.mkdtemp(), "big.bin")
    with open(path, "wb") as f:
        block = bytes(range(256)) * 4096
        for _ in range(big // len(block)):
            f.write(block)
        f.write(block[: big % len(block)])
    s3.upload_file(path, bucket, f"{prefix}/big.bin")
    os.remove(path)
    body = b"x" * 64
    def put(i):
        s3.put_object(Bucket=bucket, Key=f"{prefix}/many/f{i:05d}.txt", Body=body)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, range(count)))
    print(json.dumps({"ok": True}))
else:
    import mlflow
    from mlflow import MlflowClient
    tracking, run_id, repeats = sys.argv[2], sys.argv[3], int(sys.argv[4])
    client = MlflowClient(tracking_uri=tracking)
    def timed(f):
        f()
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            f()
            times.append(time.perf_counter() - t)
        return {"best": min(times), "median": statistics.median(times)}
    dst = tempfile.mkdtemp()
    def download():
        shutil.rmtree(dst, ignore_errors=True)
        os.makedirs(dst)
        client.download_artifacts(run_id, "big.bin", dst)
    n = []
    def listing():
        n.append(len(client.list_artifacts(run_id, "many")))
    out = {"download": timed(download), "list": timed(listing), "listed": n[-1]}
    shutil.rmtree(dst, ignore_errors=True)
    print(json.dumps(out))
"#;

fn python(py: &PathBuf, args: &[&str]) -> serde_json::Value {
    let out = Command::new(py)
        .arg("-c")
        .arg(PY)
        .args(args)
        .env("GIT_PYTHON_REFRESH", "quiet")
        .stderr(Stdio::inherit())
        .output()
        .expect("run python");
    assert!(out.status.success(), "python {args:?} failed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("python's JSON")
}

/// Best and median seconds of `repeats` runs of `f` after one warm-up.
fn timed(repeats: usize, mut f: impl FnMut()) -> (f64, f64) {
    f();
    let mut times: Vec<f64> = (0..repeats)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (times[0], times[times.len() / 2])
}

fn main() {
    // `cargo test --all-targets` runs harness-less benches as tests: only measure under
    // `cargo bench` (which passes --bench).
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let mb = common::env_usize("MLSCOPE_BENCH_MB", 200);
    let count = common::env_usize("MLSCOPE_BENCH_OBJECTS", 10_000);
    let repeats = 3;
    let moto = std::env::var_os("MLSCOPE_MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join("venv-emulators/bin/moto_server"));
    let py = std::env::var_os("MLSCOPE_MLFLOW_PYTHON_317")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join("venv-mlflow-3.17.2/bin/python"));
    if !moto.exists() || !py.exists() {
        println!(
            "object_stores bench: {} or {} missing; run scripts/mlflow-venv.sh and \
             scripts/emulators-venv.sh",
            moto.display(),
            py.display()
        );
        return;
    }
    let port = TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let dir = tempfile::tempdir().expect("temp dir");
    let log = std::fs::File::create(dir.path().join("moto.log")).expect("moto log");
    let _server = Server(
        Command::new(&moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start moto_server"),
    );
    // SAFETY: single-threaded here; nothing has read the environment yet.
    unsafe {
        std::env::set_var("MLFLOW_S3_ENDPOINT_URL", format!("http://127.0.0.1:{port}"));
        std::env::set_var("AWS_ACCESS_KEY_ID", "bench");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "bench");
        std::env::set_var("AWS_DEFAULT_REGION", "us-east-1");
    }
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "moto_server did not start"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let tracking = format!("sqlite:///{}", dir.path().join("mlflow.db").display());
    let client = TrackingClient::new(&tracking).expect("store");
    let exp = client
        .create_experiment("bench", Some("s3://bench/exp"), &[])
        .expect("experiment");
    let run = client.create_run(&exp, None, &[], None).expect("run");
    let run_id = run.info.run_id.clone();
    let prefix = run
        .info
        .artifact_uri
        .strip_prefix("s3://bench/")
        .expect("s3 artifact uri")
        .to_string();
    let big = mb * 1_000_000;
    print!("populating: {mb} MB big.bin and {count} objects under many/ … ");
    let _ = std::io::stdout().flush();
    let t = Instant::now();
    python(
        &py,
        &[
            "populate",
            "bench",
            &prefix,
            &big.to_string(),
            &count.to_string(),
        ],
    );
    println!("{:.1} s", t.elapsed().as_secs_f64());

    let arts = client.run_artifacts(&run_id).expect("run artifacts");
    let repo = arts.repository();
    let dst = tempfile::tempdir().expect("temp dir");
    let ours_download = timed(repeats, || {
        let got = client
            .download_artifacts(&run_id, "big.bin", Some(dst.path()))
            .expect("download");
        assert_eq!(std::fs::metadata(got).expect("file").len(), big as u64);
    });
    let ours_list = timed(repeats, || {
        assert_eq!(repo.list("many").expect("list").len(), count);
    });
    let ours_recursive = timed(repeats, || {
        assert_eq!(repo.list_recursive("").expect("list").len(), count + 2);
    });
    let theirs = python(&py, &["time", &tracking, &run_id, &repeats.to_string()]);
    assert_eq!(theirs["listed"].as_u64(), Some(count as u64));
    let t = |k: &str, m: &str| theirs[k][m].as_f64().unwrap_or(f64::NAN);

    println!(
        "\n| operation (moto on 127.0.0.1, best / median of {repeats}) | mlscope | MLflow 3.17.2 (boto3) |"
    );
    println!("|---|---|---|");
    println!(
        "| download {mb} MB `big.bin` | {:.2} s / {:.2} s ({:.0} MB/s) | {:.2} s / {:.2} s ({:.0} MB/s) |",
        ours_download.0,
        ours_download.1,
        mb as f64 / ours_download.0,
        t("download", "best"),
        t("download", "median"),
        mb as f64 / t("download", "best"),
    );
    println!(
        "| list `many/` ({count} objects) | {:.2} s / {:.2} s | {:.2} s / {:.2} s |",
        ours_list.0,
        ours_list.1,
        t("list", "best"),
        t("list", "median"),
    );
    println!(
        "| recursive listing of the run (mlscope only) | {:.2} s / {:.2} s | — |",
        ours_recursive.0, ours_recursive.1,
    );
}
