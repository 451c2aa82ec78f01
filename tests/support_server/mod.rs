//! A real `mlflow server` (3.17.2, from the interop venv) for the REST tests: SQLite backend and
//! proxied artifacts in a temporary directory, a free port on 127.0.0.1, ready once `/health`
//! answers, stopped (with its whole process group) on drop.
//!
//! Use from a test crate that also declares `mod support;`:
//!
//! ```ignore
//! mod support;
//! mod support_server;
//! let Some(server) = support_server::MlflowServer::start("my test") else { return };
//! let store = mlscope::open_store(&server.uri()).unwrap();
//! ```
//!
//! The server is started through a small `sh` guard that is its process-group leader and reads
//! its standard input from the test process: when the test process ends — even without running
//! destructors, e.g. for a server kept in a `static` — the pipe closes and the guard stops the
//! whole group (TERM, then KILL). So no `mlflow server` outlives the tests.
#![allow(dead_code)] // every test crate uses a different subset

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{MlflowVersion, require_mlflow};

/// How long a server may take to answer `/health` (MLflow imports slowly on a busy machine).
const START_TIMEOUT: Duration = Duration::from_secs(180);

/// The guard: starts the server in the background, waits for EOF on stdin, then stops the
/// whole process group (and removes the server's directory when asked: `$2`).
const GUARD: &str = r#"
log="$1"; remove="$2"; shift 2
"$@" </dev/null >>"$log" 2>&1 &
server=$!
# EOF on stdin: the test process closed the pipe (stop() or process exit).
cat >/dev/null
trap '' TERM
kill -s TERM -- -$$ 2>/dev/null
i=0
while kill -0 "$server" 2>/dev/null && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i+1)); done
if [ -n "$remove" ]; then rm -rf -- "$remove"; fi
kill -s KILL -- -$$ 2>/dev/null
"#;

/// A running `mlflow server`.
pub struct MlflowServer {
    /// Directory holding `mlflow.db`, `artifacts/` and `server.log` (owned when created here).
    pub dir: PathBuf,
    _tempdir: Option<tempfile::TempDir>,
    /// The port on 127.0.0.1.
    pub port: u16,
    guard: Option<Child>,
    stdin: Option<ChildStdin>,
}

impl MlflowServer {
    /// Starts a server in a new temporary directory on a free port; `None` after a LOUD skip
    /// when MLflow 3.17.2 is not installed (panics instead with `MLSCOPE_REQUIRE_MLFLOW=1`).
    /// Panics when the server does not come up.
    #[track_caller]
    pub fn start(test: &str) -> Option<MlflowServer> {
        require_mlflow(MlflowVersion::V3_17_2, test)?;
        let tempdir = tempfile::Builder::new()
            .prefix("mlscope-server-")
            .tempdir()
            .expect("temp dir");
        let mut server = MlflowServer::launch(tempdir.path(), free_port(), true)
            .unwrap_or_else(|e| panic!("{e}"));
        server._tempdir = Some(tempdir);
        Some(server)
    }

    /// Starts a server on `port` with the database and artifacts in `dir` (e.g. again after
    /// [`MlflowServer::stop`], same port and data). MLflow must be available.
    pub fn start_in(dir: &Path, port: u16) -> Result<MlflowServer, String> {
        MlflowServer::launch(dir, port, false)
    }

    fn launch(dir: &Path, port: u16, remove_dir: bool) -> Result<MlflowServer, String> {
        let py = MlflowVersion::V3_17_2.python()?;
        let log = dir.join("server.log");
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(GUARD)
            .arg("mlflow-server-guard")
            .arg(&log)
            .arg(if remove_dir {
                dir.as_os_str()
            } else {
                "".as_ref()
            })
            .arg(&py)
            .args(["-m", "mlflow", "server"])
            .arg("--backend-store-uri")
            .arg(format!("sqlite:///{}", dir.join("mlflow.db").display()))
            .arg("--serve-artifacts")
            .arg("--artifacts-destination")
            .arg(dir.join("artifacts"))
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--workers", "1"])
            .current_dir(dir)
            .env("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
            .env("GIT_PYTHON_REFRESH", "quiet")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env_remove("MLFLOW_TRACKING_URI")
            .env_remove("MLFLOW_TRACKING_USERNAME")
            .env_remove("MLFLOW_TRACKING_PASSWORD")
            .env_remove("MLFLOW_TRACKING_TOKEN")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        let mut guard = cmd
            .spawn()
            .map_err(|e| format!("cannot start mlflow server: {e}"))?;
        let stdin = guard.stdin.take();
        let mut server = MlflowServer {
            dir: dir.to_path_buf(),
            _tempdir: None,
            port,
            guard: Some(guard),
            stdin,
        };
        server.wait_healthy()?;
        Ok(server)
    }

    /// The tracking URI, `http://127.0.0.1:<port>`.
    pub fn uri(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    fn wait_healthy(&mut self) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if health_ok(self.port) {
                return Ok(());
            }
            if let Some(guard) = self.guard.as_mut()
                && let Ok(Some(status)) = guard.try_wait()
            {
                return Err(format!(
                    "mlflow server on port {} exited ({status}) before answering /health:\n{}",
                    self.port,
                    self.log()
                ));
            }
            if start.elapsed() > START_TIMEOUT {
                let log = self.log();
                self.stop();
                return Err(format!(
                    "mlflow server on port {} did not answer /health within {} s:\n{log}",
                    self.port,
                    START_TIMEOUT.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops the server and every process it started; returns once the port is free.
    pub fn stop(&mut self) {
        drop(self.stdin.take());
        if let Some(mut guard) = self.guard.take() {
            let _ = guard.wait();
        }
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            && start.elapsed() < Duration::from_secs(10)
        {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for MlflowServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Whether `GET /health` answers 200.
fn health_ok(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(2),
    ) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap_or(0);
    let head = String::from_utf8_lossy(&buf[..n]);
    head.starts_with("HTTP/1.") && head.split_whitespace().nth(1) == Some("200")
}
