//! `mlscope install-desktop`: a per-user launcher entry and icon under `$XDG_DATA_HOME`, and
//! `--uninstall`, without touching anything else.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::process::{Command, Output};

fn install(data_home: &Path, home: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlscope"))
        .arg("install-desktop")
        .args(extra)
        .env("XDG_DATA_HOME", data_home)
        .env("HOME", home)
        .output()
        .expect("the mlscope binary runs")
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn installs_a_launcher_entry_and_icon_and_uninstalls_them() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let out = install(&data, &home, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        files_under(&data),
        [
            "applications/mlscope.desktop",
            "icons/hicolor/256x256/apps/mlscope.png"
        ]
    );
    let entry = std::fs::read_to_string(data.join("applications/mlscope.desktop")).unwrap();
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_mlscope")).unwrap();
    assert!(entry.starts_with("[Desktop Entry]\n"), "{entry}");
    assert!(
        entry.contains(&format!("\nExec={} %f\n", exe.display())),
        "{entry}"
    );
    assert!(entry.contains("\nIcon=mlscope\n") && entry.contains("\nType=Application\n"));
    let mime = entry
        .lines()
        .find_map(|l| l.strip_prefix("MimeType="))
        .unwrap_or_default();
    for m in [
        "inode/directory",
        "application/vnd.sqlite3",
        "application/x-sqlite3",
    ] {
        assert!(mime.split(';').any(|x| x == m), "{m} not in {mime}");
    }
    let icon = image::open(data.join("icons/hicolor/256x256/apps/mlscope.png")).unwrap();
    assert_eq!((icon.width(), icon.height()), (256, 256));
    // The freedesktop validator, where it is installed (desktop-file-utils).
    if let Ok(v) = Command::new("desktop-file-validate")
        .arg(data.join("applications/mlscope.desktop"))
        .output()
    {
        assert!(
            v.status.success() && v.stdout.is_empty(),
            "{}",
            String::from_utf8_lossy(&v.stdout)
        );
    }
    // Installing again replaces the files; nothing is left beside them.
    assert!(install(&data, &home, &[]).status.success());
    assert_eq!(files_under(&data).len(), 2);
    // Nothing went to $HOME while XDG_DATA_HOME was set.
    assert!(files_under(&home).is_empty());

    let out = install(&data, &home, &["--uninstall"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed"));
    assert!(files_under(&data).is_empty());
    let out = install(&data, &home, &["--uninstall"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to remove"));
}

/// A relative XDG_DATA_HOME is ignored, as the specification says: `$HOME/.local/share`.
#[test]
fn a_relative_xdg_data_home_falls_back_to_home() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let out = install(Path::new("relative/dir"), &home, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        home.join(".local/share/applications/mlscope.desktop")
            .is_file()
    );
    assert!(!Path::new("relative").exists());
}
