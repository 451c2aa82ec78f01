//! System tags that `start_run` sets, as MLflow's run-context providers do
//! (`mlflow/tracking/context/`): user, source name and type, git commit, `MLFLOW_RUN_CONTEXT`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::model::tags;

/// The user MLflow would record: `MLFLOW_TRACKING_USERNAME`, else the login name as Python's
/// `getpass.getuser()` finds it (`LOGNAME`, `USER`, `LNAME`, `USERNAME`, then the password
/// database), else `unknown`.
pub fn current_user() -> String {
    [
        crate::env::MLFLOW_TRACKING_USERNAME,
        "LOGNAME",
        "USER",
        "LNAME",
        "USERNAME",
    ]
    .iter()
    .filter_map(|var| std::env::var(var).ok())
    .find(|v| !v.trim().is_empty())
    .or_else(login_name_of_uid)
    .unwrap_or_else(|| "unknown".to_string())
}

/// The password database's name for this process's user (containers and services often run
/// without `USER`/`LOGNAME`; `getpass.getuser()` then asks the database too).
#[cfg(unix)]
fn login_name_of_uid() -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: an all-zero `passwd` is a valid out-parameter; `getpwuid_r` writes the strings
    // into `buf`, which outlives `entry`, and sets `result` to `&entry` or null.
    unsafe {
        let mut entry: libc::passwd = std::mem::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(
            libc::getuid(),
            &mut entry,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        );
        if rc != 0 || result.is_null() || entry.pw_name.is_null() {
            return None;
        }
        let name = std::ffi::CStr::from_ptr(entry.pw_name)
            .to_string_lossy()
            .into_owned();
        (!name.is_empty()).then_some(name)
    }
}

#[cfg(not(unix))]
fn login_name_of_uid() -> Option<String> {
    None
}

/// The program as invoked (`argv[0]`), or `<console>` when empty.
pub fn source_name() -> String {
    std::env::args_os()
        .next()
        .map(|a| a.to_string_lossy().into_owned())
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "<console>".to_string())
}

/// Finds the git directory of the work tree containing `start` (handles `.git` files of
/// worktrees and submodules).
fn find_git_dir(start: &Path) -> Option<PathBuf> {
    let mut dir = if start.is_dir() {
        start.to_path_buf()
    } else {
        start.parent()?.to_path_buf()
    };
    loop {
        let dot_git = dir.join(".git");
        if dot_git.is_dir() {
            return Some(dot_git);
        }
        if dot_git.is_file() {
            let text = std::fs::read_to_string(&dot_git).ok()?;
            let target = text.trim().strip_prefix("gitdir:")?.trim();
            let path = Path::new(target);
            return Some(if path.is_absolute() {
                path.to_path_buf()
            } else {
                dir.join(path)
            });
        }
        if !dir.pop() {
            return None;
        }
    }
}

/// Resolves a ref name (e.g. `refs/heads/main`) to a commit in `git_dir`, looking at loose
/// refs, the common dir of a worktree, and `packed-refs`.
fn resolve_ref(git_dir: &Path, name: &str) -> Option<String> {
    let common = std::fs::read_to_string(git_dir.join("commondir"))
        .ok()
        .map(|c| git_dir.join(c.trim()));
    let dirs: Vec<&Path> = std::iter::once(git_dir).chain(common.as_deref()).collect();
    for dir in &dirs {
        if let Ok(text) = std::fs::read_to_string(dir.join(name)) {
            let sha = text.trim();
            if is_sha(sha) {
                return Some(sha.to_string());
            }
        }
    }
    for dir in &dirs {
        if let Ok(packed) = std::fs::read_to_string(dir.join("packed-refs")) {
            for line in packed.lines() {
                if let Some((sha, refname)) = line.split_once(' ')
                    && refname.trim() == name
                    && is_sha(sha)
                {
                    return Some(sha.to_string());
                }
            }
        }
    }
    None
}

fn is_sha(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// The commit checked out in the git work tree containing `path`, if any.
pub fn git_commit_of(path: &Path) -> Option<String> {
    let git_dir = find_git_dir(path)?;
    let head = std::fs::read_to_string(git_dir.join("HEAD")).ok()?;
    let head = head.trim();
    match head.strip_prefix("ref:") {
        Some(name) => resolve_ref(&git_dir, name.trim()),
        None if is_sha(head) => Some(head.to_string()),
        None => None,
    }
}

/// The tags MLflow's default context providers set for a new run.
pub fn default_run_tags() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    out.insert(tags::USER.to_string(), current_user());
    let source = source_name();
    out.insert(tags::SOURCE_NAME.to_string(), source.clone());
    out.insert(tags::SOURCE_TYPE.to_string(), "LOCAL".to_string());
    let program = std::env::current_exe()
        .ok()
        .unwrap_or_else(|| PathBuf::from(&source));
    if let Some(commit) = git_commit_of(&program)
        .or_else(|| std::env::current_dir().ok().and_then(|d| git_commit_of(&d)))
    {
        out.insert(tags::GIT_COMMIT.to_string(), commit);
    }
    if let Ok(json) = std::env::var(crate::env::MLFLOW_RUN_CONTEXT)
        && let Ok(serde_json::Value::Object(map)) = serde_json::from_str(&json)
    {
        for (k, v) in map {
            let value = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            out.insert(k, value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_password_database_names_this_user() {
        // The test runs as some user with an entry (root in CI): the name getpass would find.
        let name = login_name_of_uid().expect("a passwd entry for this uid");
        assert!(!name.is_empty() && !name.contains(':'), "{name}");
    }

    #[test]
    fn resolves_loose_and_packed_refs() {
        let dir = tempfile::tempdir().unwrap();
        let git = dir.path().join(".git");
        std::fs::create_dir_all(git.join("refs/heads")).unwrap();
        std::fs::write(git.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        let sha = "0123456789abcdef0123456789abcdef01234567";
        std::fs::write(
            git.join("packed-refs"),
            format!("# pack\n{sha} refs/heads/main\n"),
        )
        .unwrap();
        let sub = dir.path().join("src/deep");
        std::fs::create_dir_all(&sub).unwrap();
        assert_eq!(git_commit_of(&sub).as_deref(), Some(sha));
        let loose = "fedcba9876543210fedcba9876543210fedcba98";
        std::fs::write(git.join("refs/heads/main"), format!("{loose}\n")).unwrap();
        assert_eq!(git_commit_of(&sub).as_deref(), Some(loose));
    }

    #[test]
    fn no_git_means_no_commit() {
        let dir = tempfile::tempdir().unwrap();
        // A temp dir is normally outside any checkout; if it is not, the test says nothing.
        if find_git_dir(dir.path()).is_none() {
            assert_eq!(git_commit_of(dir.path()), None);
        }
    }

    #[test]
    fn default_tags_have_user_and_source() {
        let t = default_run_tags();
        assert!(!t[tags::USER].is_empty());
        assert!(!t[tags::SOURCE_NAME].is_empty());
        assert_eq!(t[tags::SOURCE_TYPE], "LOCAL");
    }
}
