//! Progress bars of long CLI work: drawn on a terminal, absent (no escape code, no carriage
//! return) when the output is piped, and the work done is the same either way.

use std::path::Path;
use std::process::{Command, Output};

fn mlscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlscope"))
        .args(args)
        .output()
        .expect("the mlscope binary runs")
}

/// A store with 120 runs (a listing) and one run with 30 artifact files in folders.
fn make_store(root: &Path, files: &Path) -> (String, String) {
    let uri = root.to_string_lossy().into_owned();
    let client = mlscope::TrackingClient::new(&uri).unwrap();
    let exp = client.create_experiment("many", None, &[]).unwrap();
    let mut last = String::new();
    for i in 0..120 {
        let run = client
            .create_run(
                &exp,
                Some(&format!("run-{i}")),
                &[],
                Some(1_700_000_000_000 + i),
            )
            .unwrap();
        client
            .log_metric(
                &run.info.run_id,
                "loss",
                1.0 / (i + 1) as f64,
                Some(0),
                Some(0),
            )
            .unwrap();
        last = run.info.run_id;
    }
    for i in 0..30 {
        let dir = files.join(format!("part-{}", i % 3));
        std::fs::create_dir_all(&dir).unwrap();
        let bytes: Vec<u8> = (0..200_000u32).map(|b| (b * 7 + i) as u8).collect();
        std::fs::write(dir.join(format!("shard-{i}.bin")), bytes).unwrap();
    }
    client.log_artifacts(&last, files, Some("data")).unwrap();
    (uri, last)
}

fn assert_same_tree(a: &Path, b: &Path) {
    let mut names: Vec<_> = std::fs::read_dir(a).unwrap().map(|e| e.unwrap()).collect();
    names.sort_by_key(|e| e.file_name());
    let count_b = std::fs::read_dir(b).unwrap().count();
    assert_eq!(names.len(), count_b, "{} vs {}", a.display(), b.display());
    for e in names {
        let other = b.join(e.file_name());
        if e.path().is_dir() {
            assert_same_tree(&e.path(), &other);
        } else {
            assert_eq!(
                std::fs::read(e.path()).unwrap(),
                std::fs::read(&other).unwrap()
            );
        }
    }
}

#[test]
fn piped_output_has_no_progress_and_no_escape_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let (uri, run) = make_store(&tmp.path().join("mlruns"), &tmp.path().join("src"));
    let out_dir = tmp.path().join("dl");
    let svg = tmp.path().join("p.svg");
    let commands: [Vec<&str>; 3] = [
        vec!["artifacts", &uri, &run, "--out", out_dir.to_str().unwrap()],
        vec!["runs", &uri],
        vec![
            "plot",
            &uri,
            "--experiment",
            "many",
            "--metric",
            "loss",
            "--out",
            svg.to_str().unwrap(),
        ],
    ];
    for args in commands {
        let out = mlscope(&args);
        assert!(out.status.success(), "{args:?}");
        for (what, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            assert!(
                !bytes.iter().any(|b| *b == 0x1b || *b == b'\r'),
                "{args:?}: {what} has control codes: {:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }
    assert_same_tree(&tmp.path().join("src"), &out_dir.join("data"));
}

/// On a terminal (a pseudo-terminal made by util-linux's `script`) the download shows its
/// progress, and writes the same files.
#[cfg(target_os = "linux")]
#[test]
fn a_terminal_gets_a_progress_bar() {
    let tmp = tempfile::tempdir().unwrap();
    let (uri, run) = make_store(&tmp.path().join("mlruns"), &tmp.path().join("src"));
    let out_dir = tmp.path().join("dl");
    let command = format!(
        "'{}' artifacts '{uri}' {run} --out '{}'",
        env!("CARGO_BIN_EXE_mlscope"),
        out_dir.display()
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("util-linux's script runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("downloading"), "no progress drawn: {text:?}");
    // The bar is redrawn in place and cleared at the end (erase-line escapes).
    assert!(text.contains("\u{1b}[2K"), "{text:?}");
    assert_same_tree(&tmp.path().join("src"), &out_dir.join("data"));
}
