//! Stores copied between Windows and Linux/macOS, and Windows paths as store arguments.
//!
//! `tests/fixtures/windows-made-file` is a file store as MLflow on Windows writes it (artifact
//! locations `file:///C:/Users/…`, pathlib's form), with one run in the form mlscope's Windows
//! build wrote before 0.1 (`file:///C%3A/…`) and one of a store on a UNC share
//! (`file://nas/team/…`). `tests/fixtures/linux-made-file` is one made on Linux
//! (`file:///home/alice/…`). Both were made by hand from MLflow's format
//! (docs/mlflow-format.md): MLflow on Windows cannot run here. Every test here runs unchanged on
//! Linux (`cargo test`) and on the Windows build under Wine (`.ci/windows.sh`): a copy of either
//! store reads the same on both, its artifacts found relative to the store.

mod support;

use std::path::{Path, PathBuf};

use mlscope::artifacts::RootResolution;
use mlscope::{RunQuery, TrackingClient, ViewType};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
}

/// A temp copy of a fixture's `mlruns` (kept alive by the returned guard).
fn copied_store(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    copy_dir(&fixture(name).join("mlruns"), &root);
    (dir, root)
}

/// A run as read: name, recorded artifact URI, `loss` history, param `lr`, artifact files.
type RunSeen = (
    String,
    String,
    Vec<(i64, f64)>,
    String,
    Vec<(String, Vec<u8>)>,
);

/// Everything a reader sees of a run: name, recorded artifact URI, metric history, params, and
/// each artifact file with its content.
fn read_store(root: &Path) -> Vec<RunSeen> {
    let client = TrackingClient::new(&root.to_string_lossy()).unwrap();
    let mut query = RunQuery::new(
        client
            .list_all_experiments(ViewType::All)
            .unwrap()
            .items
            .into_iter()
            .map(|e| e.experiment_id),
    );
    query.view_type = ViewType::All;
    let mut runs = client.search_all_runs(&query).unwrap().items;
    runs.sort_by(|a, b| a.info.run_name.cmp(&b.info.run_name));
    let mut out = Vec::new();
    for run in runs {
        let id = &run.info.run_id;
        let history: Vec<(i64, f64)> = client
            .get_metric_history(id, "loss")
            .unwrap()
            .into_iter()
            .map(|m| (m.step, m.value))
            .collect();
        let lr = run.data.params.get("lr").cloned().unwrap_or_default();
        let artifacts = client.run_artifacts(id).unwrap();
        assert!(
            matches!(artifacts.root.resolution, RootResolution::Relocated { .. }),
            "run {}: the recorded {} does not exist here, so the store-relative folder must be \
             used: {:?}",
            run.info.run_name,
            run.info.artifact_uri,
            artifacts.root
        );
        assert_eq!(
            artifacts.root.local_root,
            root.join(&run.info.experiment_id)
                .join(id)
                .join("artifacts"),
            "run {}",
            run.info.run_name
        );
        let repo = artifacts.repository();
        let mut files = Vec::new();
        for info in repo.list_recursive("").unwrap() {
            if !info.is_dir {
                let bytes = repo.read_all(&info.path, 1 << 20).unwrap();
                files.push((info.path, bytes));
            }
        }
        out.push((
            run.info.run_name.clone(),
            run.info.artifact_uri.clone(),
            history,
            lr,
            files,
        ));
    }
    out
}

fn loss() -> Vec<(i64, f64)> {
    vec![(0, 1.0), (1, 0.5), (2, 1.0 / 3.0)]
}

#[test]
fn a_windows_made_store_reads_the_same_everywhere() {
    let (_guard, root) = copied_store("windows-made-file");
    let exp = "274918223467100981";
    let uri = |run: &str| format!("mlruns/{exp}/{run}/artifacts");
    let got = read_store(&root);
    let want = vec![
        (
            "encoded-colon".to_string(),
            format!(
                "file:///C%3A/Users/me/proj/{}",
                uri("1b2c3d4e5f6a41829304b5c6d7e8f9a0")
            ),
            loss(),
            "0.01".to_string(),
            vec![(
                "note.txt".to_string(),
                b"written by mlscope's Windows build before 0.1\n".to_vec(),
            )],
        ),
        (
            "pathlib-uri".to_string(),
            format!(
                "file:///C:/Users/me/proj/{}",
                uri("0a1b2c3d4e5f40718293a4b5c6d7e8f9")
            ),
            loss(),
            "0.01".to_string(),
            vec![
                ("hello.txt".to_string(), b"hello from Windows\n".to_vec()),
                (
                    "plots/curve.csv".to_string(),
                    b"step,loss\n0,1.0\n1,0.5\n".to_vec(),
                ),
            ],
        ),
        (
            "unc-share".to_string(),
            format!(
                "file://nas/team/{}",
                uri("2c3d4e5f6a7b42930415c6d7e8f9a0b1")
            ),
            loss(),
            "0.01".to_string(),
            vec![(
                "model/weights.bin".to_string(),
                b"\x00\x01\x02weights\n".to_vec(),
            )],
        ),
    ];
    assert_eq!(got, want);
}

#[test]
fn a_linux_made_store_reads_the_same_everywhere() {
    let (_guard, root) = copied_store("linux-made-file");
    let exp = "518273645546372819";
    let got = read_store(&root);
    let want = vec![
        (
            "encoded-space".to_string(),
            format!(
                "file:///home/alice/my%20proj/mlruns/{exp}/4e5f6a7b8c9d44b52637e8f9a0b1c2d3/artifacts"
            ),
            loss(),
            "0.01".to_string(),
            vec![(
                "note.txt".to_string(),
                b"a space in the recorded path\n".to_vec(),
            )],
        ),
        (
            "posix-uri".to_string(),
            format!(
                "file:///home/alice/proj/mlruns/{exp}/3d4e5f6a7b8c43a41526d7e8f9a0b1c2/artifacts"
            ),
            loss(),
            "0.01".to_string(),
            vec![
                ("hello.txt".to_string(), b"hello from Linux\n".to_vec()),
                (
                    "plots/curve.csv".to_string(),
                    b"step,loss\n0,1.0\n1,0.5\n".to_vec(),
                ),
            ],
        ),
    ];
    assert_eq!(got, want);
}

/// What this platform writes as an experiment's artifact location: pathlib's `as_uri()`, so
/// MLflow on the same platform opens it (`file:///C:/…` on Windows, never `C%3A`).
#[test]
fn new_stores_record_mlflows_file_uris() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("my runs");
    let client = TrackingClient::new(&root.to_string_lossy()).unwrap();
    let id = client.create_experiment("paths", None, &[]).unwrap();
    let exp = client.get_experiment(&id).unwrap();
    let location = exp.artifact_location;
    assert!(!location.contains("%3A"), "{location}");
    assert!(
        location.ends_with(&format!("/my%20runs/{id}")),
        "{location}"
    );
    if cfg!(windows) {
        // file:///C:/…/my%20runs/<id>
        let b = location.as_bytes();
        assert!(location.starts_with("file:///"), "{location}");
        assert!(
            b[8].is_ascii_alphabetic() && b[9] == b':' && b[10] == b'/',
            "{location}"
        );
        assert!(!location.contains('\\'), "{location}");
    } else {
        assert_eq!(
            location,
            format!("file://{}/my%20runs/{id}", dir.path().display())
        );
    }
    // The run's artifact URI extends it, and logging through it lands in the store.
    let run = client.create_run(&id, Some("r"), &[], None).unwrap();
    assert!(
        run.info.artifact_uri.starts_with(&location),
        "{}",
        run.info.artifact_uri
    );
    client
        .log_text(&run.info.run_id, "hi", "notes/a.txt")
        .unwrap();
    let written = root
        .join(&id)
        .join(&run.info.run_id)
        .join("artifacts/notes/a.txt");
    assert_eq!(std::fs::read_to_string(&written).unwrap(), "hi");
}

/// Windows store arguments: `C:\…`, `C:/…`, UNC-style and `\\?\` long paths all open the same
/// store (only on Windows, where they are paths).
#[cfg(windows)]
#[test]
fn windows_path_forms_open_the_same_store() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::path::absolute(dir.path().join("mlruns")).unwrap();
    let native = root.to_string_lossy().to_string();
    assert!(native.as_bytes()[1] == b':', "a drive path: {native}");
    let client = TrackingClient::new(&native).unwrap();
    let id = client.create_experiment("forms", None, &[]).unwrap();
    let drive = &native[..1];
    let mut forms = vec![
        native.clone(),
        native.replace('\\', "/"),
        format!(r"\\?\{native}"),
        mlscope_file_uri(&native),
        mlscope_file_uri(&native)
            .replacen(':', "%3A", 2)
            .replacen("file%3A", "file:", 1),
    ];
    // The administrative share of the drive: a UNC path to the same folder. Wine has no
    // SMB server behind `\\localhost\C$`, so the form is tried on real Windows only.
    if !support::skip_under_wine(
        "windows_path_forms_open_the_same_store (\\\\localhost\\C$ form only)",
        "Wine serves no administrative shares",
    ) {
        forms.push(format!(r"\\localhost\{drive}$\{}", &native[3..]));
    }
    for form in forms {
        let c = TrackingClient::new(&form).unwrap_or_else(|e| panic!("{form}: {e}"));
        let exp = c
            .get_experiment_by_name("forms")
            .unwrap_or_else(|e| panic!("{form}: {e}"));
        assert_eq!(exp.map(|e| e.experiment_id), Some(id.clone()), "{form}");
    }
}

#[cfg(windows)]
fn mlscope_file_uri(native: &str) -> String {
    format!("file:///{}", native.replace('\\', "/").replace(' ', "%20"))
}

/// A file store and one run in it, in a temp dir.
fn store_with_run() -> (tempfile::TempDir, PathBuf, TrackingClient, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let client = TrackingClient::new(&root.to_string_lossy()).unwrap();
    let exp = client.create_experiment("semantics", None, &[]).unwrap();
    let run = client.create_run(&exp, Some("r"), &[], None).unwrap();
    let run_id = run.info.run_id;
    (dir, root, client, exp, run_id)
}

/// Files another process has open (a viewer reading them, opened as Rust's std opens files)
/// are replaced and deleted all the same: `meta.yaml` rewritten over an open one, a tag
/// replaced and deleted while open, an experiment moved to the trash with a file in it open.
#[test]
fn files_held_open_by_a_reader_are_replaced_and_deleted() {
    if support::skip_under_wine(
        "files_held_open_by_a_reader_are_replaced_and_deleted",
        "Wine refuses to rename a file over one another handle holds open (Access denied), \
         even with FILE_SHARE_DELETE, which Windows allows",
    ) {
        return;
    }
    let (_dir, root, client, exp, run_id) = store_with_run();
    let run_dir = root.join(&exp).join(&run_id);
    client.set_tag(&run_id, "note", "first").unwrap();

    let meta = std::fs::File::open(run_dir.join("meta.yaml")).unwrap();
    let tag = std::fs::File::open(run_dir.join("tags/note")).unwrap();
    client
        .update_run(&run_id, None, Some("renamed while open"))
        .unwrap();
    client.set_tag(&run_id, "note", "second").unwrap();
    assert_eq!(
        client.get_run(&run_id).unwrap().info.run_name,
        "renamed while open"
    );
    assert_eq!(
        client
            .get_run(&run_id)
            .unwrap()
            .data
            .tags
            .get("note")
            .map(String::as_str),
        Some("second")
    );
    let tag2 = std::fs::File::open(run_dir.join("tags/note")).unwrap();
    client.delete_tag(&run_id, "note").unwrap();
    assert!(
        !client
            .get_run(&run_id)
            .unwrap()
            .data
            .tags
            .contains_key("note")
    );
    drop((meta, tag, tag2));

    let metric_reader = {
        client
            .log_metric(&run_id, "loss", 1.0, None, Some(0))
            .unwrap();
        std::fs::File::open(run_dir.join("metrics/loss")).unwrap()
    };
    // Appending to a metric another process is reading.
    client
        .log_metric(&run_id, "loss", 0.5, None, Some(1))
        .unwrap();
    assert_eq!(client.get_metric_history(&run_id, "loss").unwrap().len(), 2);
    client.delete_experiment(&exp).unwrap();
    drop(metric_reader);
    assert!(root.join(".trash").join(&exp).join(&run_id).is_dir());
    client.restore_experiment(&exp).unwrap();
    assert_eq!(client.get_metric_history(&run_id, "loss").unwrap().len(), 2);
}

/// Keys and artifact paths Windows cannot store are refused with MLflow's errors there, and
/// nothing is written; elsewhere they are ordinary names.
#[test]
fn names_windows_cannot_store_are_refused_there() {
    let (_dir, root, client, exp, run_id) = store_with_run();
    let run_dir = root.join(&exp).join(&run_id);
    let colon = client.log_metric(&run_id, "train:loss", 1.0, None, None);
    let device = client.log_param(&run_id, "CON", 1);
    let device_dir = client.set_tag(&run_id, "aux/x", "v");
    let artifact = client.log_text(&run_id, "x", "plots/a:b.txt");
    let reserved_artifact = client.log_text(&run_id, "x", "NUL.txt");
    let wildcard = client.log_text(&run_id, "x", "what?.txt");
    if cfg!(windows) {
        for (what, result) in [
            ("colon key", colon.map(|_| ())),
            ("device key", device.map(|_| ())),
            ("device folder key", device_dir),
            ("colon artifact", artifact),
            ("device artifact", reserved_artifact),
            ("wildcard artifact", wildcard),
        ] {
            let err = result.expect_err(what);
            assert_eq!(
                err.error_code(),
                mlscope::ErrorCode::InvalidParameterValue,
                "{what}: {err}"
            );
        }
        let names: Vec<_> = std::fs::read_dir(run_dir.join("metrics"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(names.is_empty(), "{names:?}");
        assert!(!run_dir.join("params/CON").exists());
    } else {
        colon.unwrap();
        device.unwrap();
        device_dir.unwrap();
        artifact.unwrap();
        reserved_artifact.unwrap();
        wildcard.unwrap();
        assert!(run_dir.join("artifacts/plots/a:b.txt").is_file());
    }
}

/// A reader that opens files the way Python (MLflow) does on Windows, without
/// `FILE_SHARE_DELETE`, makes replacing the file fail while it holds it; the writer waits a
/// moment and retries instead of failing the logging call (MLflow reads a `meta.yaml` in
/// milliseconds).
#[cfg(windows)]
#[test]
fn a_python_style_reader_only_delays_a_replace() {
    use std::os::windows::fs::OpenOptionsExt;
    const FILE_SHARE_READ: u32 = 1;
    const FILE_SHARE_WRITE: u32 = 2;
    let (_dir, root, client, exp, run_id) = store_with_run();
    let meta = root.join(&exp).join(&run_id).join("meta.yaml");
    let reader = std::fs::OpenOptions::new()
        .read(true)
        .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE)
        .open(&meta)
        .unwrap();
    // The reader closes the file 200 ms after the writer started.
    let closer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(200));
        drop(reader);
    });
    client
        .update_run(&run_id, None, Some("after the reader"))
        .expect("the replace waits for the reader");
    closer.join().unwrap();
    let text = std::fs::read_to_string(&meta).unwrap();
    assert!(text.contains("run_name: after the reader"), "{text}");
}
