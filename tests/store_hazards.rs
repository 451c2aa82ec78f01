//! Hostile or unusual store content, and what reading must never do:
//!
//! * directory symlink loops inside a run's metadata and artifact folders are not followed
//!   (listing finishes, the other runs are listed, each link is reported);
//! * reading never writes: a zero-length `mlflow.db` stays zero bytes under the CLI and the
//!   library ("empty, not an MLflow database"), a store folder without `.trash/` stays as it is,
//!   and a missing store is not created;
//! * a write into an artifact folder removes the temporary files that interrupted writes left
//!   there more than an hour ago, unless a live writer still holds them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use mlscope::{
    ArtifactRepository, ExperimentQuery, FileStore, LocalArtifactRepository, RunQuery,
    TrackingClient, TrackingStore,
};

mod support;

/// How long a listing may take before the test calls it a hang (it takes milliseconds; this
/// only turns an endless loop into a failure instead of a stuck test run).
const HANG_GUARD: Duration = Duration::from_secs(120);

/// Runs `f` on a thread; fails the test when it has not returned within [`HANG_GUARD`].
fn finishes<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(HANG_GUARD)
        .unwrap_or_else(|_| panic!("{what} did not finish: it follows a symlink loop"))
}

/// Runs the `mlscope` binary; fails the test when it has not exited within [`HANG_GUARD`].
fn mlscope(args: &[&str]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_mlscope"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the mlscope binary runs");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(HANG_GUARD) {
        Ok(output) => output.expect("mlscope's output"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("mlscope {args:?} did not finish: it follows a symlink loop")
        }
    }
}

/// Every path under `root` with its size and modification time (the whole state a read could
/// change).
fn tree_state(root: &Path) -> BTreeMap<PathBuf, (u64, Option<SystemTime>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let meta = std::fs::symlink_metadata(entry.path()).unwrap();
            out.insert(entry.path(), (meta.len(), meta.modified().ok()));
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    out
}

#[cfg(unix)]
#[test]
fn directory_symlink_loops_in_a_run_neither_hang_nor_hide_the_other_runs() {
    use std::os::unix::fs::symlink;

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let uri = root.display().to_string();
    let client = TrackingClient::new(&uri).unwrap();
    let exp = client.create_experiment("loops", None, &[]).unwrap();
    let mut ids = Vec::new();
    for name in ["looped", "plain"] {
        let id = client
            .create_run(&exp, Some(name), &[], None)
            .unwrap()
            .info
            .run_id;
        client.set_tag(&id, "t", "v").unwrap();
        client.log_metric(&id, "m", 1.0, None, Some(0)).unwrap();
        client.log_bytes(&id, b"x", "a.txt").unwrap();
        ids.push(id);
    }
    let run_dir = support::find_run_dir(&root, &ids[0]);
    symlink("..", run_dir.join("tags/cycle")).unwrap();
    symlink("..", run_dir.join("metrics/up")).unwrap();
    symlink(".", run_dir.join("artifacts/cycle")).unwrap();

    let listed = {
        let uri = uri.clone();
        let exp = exp.clone();
        finishes("search_runs", move || {
            let store = mlscope::open_store(&uri).unwrap();
            store.search_runs(&RunQuery::new([exp])).unwrap()
        })
    };
    let mut names: Vec<String> = listed
        .items
        .iter()
        .map(|r| r.info.run_name.clone())
        .collect();
    names.sort();
    assert_eq!(names, ["looped", "plain"]);
    let looped = listed
        .items
        .iter()
        .find(|r| r.info.run_id == ids[0])
        .unwrap();
    assert_eq!(looped.data.tags["t"], "v");
    assert_eq!(looped.data.metrics["m"].value, 1.0);

    let warnings = {
        let root = root.clone();
        let id = ids[0].clone();
        finishes("get_run", move || {
            FileStore::open(&root)
                .unwrap()
                .get_run_with_warnings(&id)
                .unwrap()
                .1
        })
    };
    for link in ["tags/cycle", "metrics/up"] {
        assert!(
            warnings.iter().any(|w| w.location.ends_with(link)),
            "a warning names {link}: {warnings:?}"
        );
    }

    let artifacts = {
        let client = client.clone();
        let id = ids[0].clone();
        finishes("list_artifacts", move || {
            client
                .run_artifacts(&id)
                .unwrap()
                .repository()
                .list_recursive("")
                .unwrap()
        })
    };
    assert!(artifacts.iter().any(|f| f.path == "a.txt"), "{artifacts:?}");

    let runs = mlscope(&["runs", &uri]);
    assert!(
        runs.status.success(),
        "{}",
        String::from_utf8_lossy(&runs.stderr)
    );
    let text = String::from_utf8_lossy(&runs.stdout);
    assert!(text.contains("looped") && text.contains("plain"), "{text}");
    for args in [["describe", &uri, &ids[0]], ["artifacts", &uri, &ids[0]]] {
        let out = mlscope(&args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_zero_length_mlflow_db_is_left_untouched_by_reading() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    std::fs::write(&db, b"").unwrap();
    let uri = format!("sqlite:///{}", db.display());

    for command in ["experiments", "runs"] {
        let out = mlscope(&[command, &uri]);
        assert!(!out.status.success(), "mlscope {command} on an empty file");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("empty, not an MLflow database"), "{err}");
        assert_eq!(
            std::fs::metadata(&db).unwrap().len(),
            0,
            "mlscope {command}"
        );
    }

    // The library reads it as the new MLflow database it becomes with the first write: only
    // the Default experiment, no runs.
    let client = TrackingClient::new(&uri).unwrap();
    let listed = client
        .search_experiments(&ExperimentQuery::default())
        .unwrap()
        .items;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "Default");
    assert!(
        client
            .search_runs(&RunQuery::new(["0"]))
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(
        client
            .get_experiment_by_name("Default")
            .unwrap()
            .unwrap()
            .experiment_id,
        "0"
    );
    assert_eq!(std::fs::metadata(&db).unwrap().len(), 0, "library reads");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names, ["mlflow.db"], "no journal or other file either");

    // Logging creates MLflow's schema, Default experiment included.
    client.create_experiment("first", None, &[]).unwrap();
    assert!(std::fs::metadata(&db).unwrap().len() > 0);
    assert_eq!(client.get_experiment("0").unwrap().name, "Default");
}

#[test]
fn reading_a_missing_store_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for uri in [
        dir.path().join("mlruns").display().to_string(),
        format!("sqlite:///{}", dir.path().join("sub/mlflow.db").display()),
    ] {
        // Read as the new store the first write creates: the Default experiment, no runs.
        let client = TrackingClient::new(&uri).unwrap();
        let listed = client
            .search_experiments(&ExperimentQuery::default())
            .unwrap()
            .items;
        assert_eq!(listed.len(), 1, "{uri}");
        assert_eq!(client.get_experiment("0").unwrap().name, "Default");
        assert!(
            client
                .search_runs(&RunQuery::new(["0"]))
                .unwrap()
                .items
                .is_empty()
        );
        assert!(client.get_experiment_by_name("other").unwrap().is_none());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "{uri}");
    }
    // The first write creates MLflow's layout of a new store.
    let root = dir.path().join("mlruns");
    let client = TrackingClient::new(&root.display().to_string()).unwrap();
    let run = client.create_run("0", Some("first"), &[], None).unwrap();
    assert_eq!(run.info.experiment_id, "0");
    assert!(root.join("0/meta.yaml").is_file());
    assert!(root.join(".trash").is_dir());
}

#[test]
fn listing_a_store_folder_leaves_it_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let uri = root.display().to_string();
    let client = TrackingClient::new(&uri).unwrap();
    let exp = client.create_experiment("listed", None, &[]).unwrap();
    let id = client
        .create_run(&exp, Some("r"), &[], None)
        .unwrap()
        .info
        .run_id;
    client.log_metric(&id, "m", 1.0, None, Some(0)).unwrap();
    drop(client);
    // A store as another tool may leave it: no `.trash/` (MLflow creates it when opening).
    std::fs::remove_dir_all(root.join(".trash")).unwrap();
    let before = tree_state(&root);

    let store = FileStore::open(&root).unwrap();
    store
        .search_experiments(&ExperimentQuery::default())
        .unwrap();
    store.search_runs(&RunQuery::new([exp.clone()])).unwrap();
    store.get_run(&id).unwrap();
    store.get_metric_history(&id, "m").unwrap();
    for args in [
        vec!["experiments", uri.as_str()],
        vec!["runs", uri.as_str()],
        vec!["describe", uri.as_str(), id.as_str()],
        vec!["history", uri.as_str(), id.as_str(), "m"],
    ] {
        let out = mlscope(&args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(tree_state(&root), before, "reading changed the store");
}

#[test]
fn stale_temporary_artifact_files_are_removed_by_the_next_write_into_their_folder() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("artifacts");
    let folder = root.join("plots");
    std::fs::create_dir_all(&folder).unwrap();
    let two_hours_ago = SystemTime::now() - Duration::from_secs(2 * 3600);
    let temp = |name: &str, old: bool| {
        let path = folder.join(format!(".artifact.uploading.{name}"));
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(1 << 20).unwrap();
        if old {
            file.set_modified(two_hours_ago).unwrap();
        }
        (path, file)
    };
    let (stale, stale_file) = temp("interrupted", true);
    drop(stale_file);
    let (fresh, fresh_file) = temp("being-written-now", false);
    drop(fresh_file);
    // An old temporary file that a live writer still holds (a very long upload).
    let (held, held_file) = temp("slow-but-alive", true);
    held_file.lock().unwrap();
    let elsewhere = root.join(".artifact.uploading.other-folder");
    let other = std::fs::File::create(&elsewhere).unwrap();
    other.set_modified(two_hours_ago).unwrap();
    drop(other);

    let repo = LocalArtifactRepository::new(&root);
    repo.write_bytes("plots/loss.txt", b"0.1").unwrap();

    assert!(!stale.exists(), "the stale temporary file is removed");
    assert!(fresh.exists(), "a recent one may belong to a running write");
    assert!(held.exists(), "a locked one belongs to a live writer");
    assert!(
        elsewhere.exists(),
        "other folders are cleaned by writes into them"
    );
    assert_eq!(std::fs::read(folder.join("loss.txt")).unwrap(), b"0.1");
    drop(held_file);
}

#[test]
fn long_filters_get_the_same_answer_from_every_store() {
    let dir = tempfile::tempdir().unwrap();
    for uri in [
        dir.path().join("mlruns").display().to_string(),
        format!("sqlite:///{}", dir.path().join("mlflow.db").display()),
    ] {
        let client = TrackingClient::new(&uri).unwrap();
        let exp = client.create_experiment("long-filters", None, &[]).unwrap();
        let mut ids = Vec::new();
        for i in 0..3 {
            let id = client
                .create_run(&exp, Some(&format!("r{i}")), &[], None)
                .unwrap()
                .info
                .run_id;
            client
                .log_metric(&id, "m", f64::from(i), None, Some(0))
                .unwrap();
            ids.push(id);
        }
        let names = |filter: String| -> mlscope::Result<Vec<String>> {
            let page = client.search_runs(&RunQuery {
                filter,
                ..RunQuery::new([exp.clone()])
            })?;
            let mut names: Vec<String> = page.items.into_iter().map(|r| r.info.run_name).collect();
            names.sort();
            Ok(names)
        };
        let max = mlscope::search::MAX_FILTER_COMPARISONS;
        let and_chain = vec!["metrics.m >= 1"; max].join(" AND ");
        assert_eq!(names(and_chain).unwrap(), ["r1", "r2"], "{uri}: AND chain");
        let or_chain = (0..max)
            .map(|i| format!("metrics.m = {}", i % 2))
            .collect::<Vec<_>>()
            .join(" OR ");
        assert_eq!(names(or_chain).unwrap(), ["r0", "r1"], "{uri}: OR chain");
        // One comparison with 40,000 values: more than SQLite's 32,766 bound parameters.
        let values: Vec<String> = (0..40_000)
            .map(|i| format!("'{:032x}'", i))
            .chain(ids.iter().map(|id| format!("'{id}'")))
            .collect();
        let long_in = format!(
            "attributes.run_id IN ({}) AND metrics.m < 2",
            values.join(", ")
        );
        assert_eq!(names(long_in).unwrap(), ["r0", "r1"], "{uri}: long IN list");

        let too_long = vec!["metrics.m >= 1"; max + 1].join(" AND ");
        let err = names(too_long).unwrap_err();
        assert_eq!(
            err.error_code(),
            mlscope::ErrorCode::InvalidParameterValue,
            "{uri}"
        );
        assert!(err.to_string().contains(&max.to_string()), "{uri}: {err}");
    }
}

#[test]
fn long_experiment_filters_get_the_same_answer_from_every_store() {
    let dir = tempfile::tempdir().unwrap();
    for uri in [
        dir.path().join("mlruns").display().to_string(),
        format!("sqlite:///{}", dir.path().join("mlflow.db").display()),
    ] {
        let client = TrackingClient::new(&uri).unwrap();
        for name in ["alpha", "beta"] {
            client.create_experiment(name, None, &[]).unwrap();
        }
        let max = mlscope::search::MAX_FILTER_COMPARISONS;
        let or_chain = (0..max)
            .map(|i| format!("name = 'x{i}'"))
            .chain(["name = 'beta'".to_string()])
            .skip(1)
            .collect::<Vec<_>>()
            .join(" OR ");
        let page = client
            .search_experiments(&ExperimentQuery {
                filter: or_chain,
                ..ExperimentQuery::default()
            })
            .unwrap();
        let names: Vec<String> = page.items.into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["beta"], "{uri}");
    }
}
