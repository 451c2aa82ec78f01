//! `autolog`: MLflow's `mlflow.autolog(...)` for Rust programs.
//!
//! MLflow's autolog patches Python training libraries. A Rust program links its training
//! library at compile time, so mlscope's autolog is two things:
//!
//! 1. **Environment capture.** After [`autolog`] (or the [`autolog!`](crate::autolog!) macro,
//!    which also records the calling crate), every run that the fluent API creates records
//!    where it came from, as tags:
//!
//!    | tag | value |
//!    |---|---|
//!    | `mlflow.source.git.commit` | commit checked out (also set without autolog) |
//!    | `mlflow.source.git.branch` | branch checked out (absent when detached) |
//!    | `mlflow.source.git.repoURL` | URL of the first remote, credentials removed |
//!    | `mlflow.source.git.dirty` | `true` when tracked files differ from the commit, else `false` |
//!    | `mlflow.source.name` / `mlflow.source.type` | the program and `LOCAL` (also set without autolog) |
//!    | `mlscope.crate.name`, `mlscope.crate.version` | the crate that called [`autolog!`](crate::autolog!) |
//!    | `mlscope.rustc.version` | `rustc --version` of the compiler that built the program |
//!    | `mlscope.version` | mlscope's version |
//!    | `mlscope.host` | the machine's host name |
//!    | `mlscope.target` | `<arch>-<os>` of the program |
//!
//!    The git tags describe the repository holding the calling crate's sources (when built on
//!    this machine), else the program, else the working directory; branch, remote and dirty
//!    state need the `git` command.
//! 2. **Training integrations.** With the `burn` feature, `mlscope::integrations::burn` logs
//!    burn-train's metrics, the training configuration, checkpoints and datasets; the options
//!    below configure it.
//!
//! | MLflow option | here |
//! |---|---|
//! | `disable` | turns environment capture and the integrations off (they log nothing) |
//! | `exclusive` | integrations do not log into a run the user started: they log only into runs they create themselves, and do nothing while a user run is active |
//! | `silent` | no warnings from autolog or the integrations on stderr |
//! | `extra_tags` | tags set on every run an integration creates |
//! | `log_models` | integrations log checkpoints (and final models) as artifacts |
//! | `log_datasets` | integrations log datasets as run inputs |
//! | `log_input_examples`, `log_model_signatures` | do not apply: they describe MLflow model flavors (pyfunc signatures and examples), and burn models are logged as checkpoint files, not as an MLflow model flavor |
//! | `log_traces` | does not apply: traces record GenAI calls, not training |
//! | `disable_for_unsupported_versions` | does not apply: the burn version is fixed at compile time by the `burn` feature, so an unsupported version cannot be linked |
//! | `exclude_flavors` | does not apply: burn is the only integration; leave the `burn` feature off, or pass `disable`, to exclude it |

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{LazyLock, Mutex, MutexGuard};

use crate::model::tags;
use crate::tracking::context::git_commit_of;

/// Tag with the branch checked out (MLflow's `MLFLOW_GIT_BRANCH`).
pub const GIT_BRANCH_TAG: &str = "mlflow.source.git.branch";
/// Tag with the remote URL (MLflow's `MLFLOW_GIT_REPO_URL`).
pub const GIT_REPO_URL_TAG: &str = "mlflow.source.git.repoURL";
/// Tag saying whether tracked files were modified (MLflow's `MLFLOW_GIT_DIRTY`).
pub const GIT_DIRTY_TAG: &str = "mlflow.source.git.dirty";
/// Tag naming the integration that created a run (MLflow's `MLFLOW_AUTOLOGGING`).
pub const AUTOLOGGING_TAG: &str = "mlflow.autologging";
/// Tag with the calling crate's name.
pub const CRATE_NAME_TAG: &str = "mlscope.crate.name";
/// Tag with the calling crate's version.
pub const CRATE_VERSION_TAG: &str = "mlscope.crate.version";
/// Tag with the compiler version.
pub const RUSTC_VERSION_TAG: &str = "mlscope.rustc.version";
/// Tag with mlscope's version.
pub const MLSCOPE_VERSION_TAG: &str = "mlscope.version";
/// Tag with the host name.
pub const HOST_TAG: &str = "mlscope.host";
/// Tag with the program's architecture and operating system.
pub const TARGET_TAG: &str = "mlscope.target";

/// Options of [`autolog`], MLflow's seed options that mean something in Rust (see the module
/// documentation for each one and for those that do not apply). Defaults are MLflow's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AutologOptions {
    /// Turn autologging off.
    pub disable: bool,
    /// Integrations log only into runs they create.
    pub exclusive: bool,
    /// No warnings on stderr.
    pub silent: bool,
    /// Tags set on every run an integration creates.
    pub extra_tags: BTreeMap<String, String>,
    /// Log checkpoints and models as artifacts.
    pub log_models: bool,
    /// Log datasets as run inputs.
    pub log_datasets: bool,
}

impl Default for AutologOptions {
    fn default() -> Self {
        AutologOptions {
            disable: false,
            exclusive: false,
            silent: false,
            extra_tags: BTreeMap::new(),
            log_models: true,
            log_datasets: true,
        }
    }
}

impl AutologOptions {
    /// MLflow's defaults: enabled, not exclusive, not silent, models and datasets logged.
    pub fn new() -> Self {
        AutologOptions::default()
    }
    /// Sets `disable`.
    pub fn disable(mut self, disable: bool) -> Self {
        self.disable = disable;
        self
    }
    /// Sets `exclusive`.
    pub fn exclusive(mut self, exclusive: bool) -> Self {
        self.exclusive = exclusive;
        self
    }
    /// Sets `silent`.
    pub fn silent(mut self, silent: bool) -> Self {
        self.silent = silent;
        self
    }
    /// Adds an extra tag for runs created by integrations.
    pub fn extra_tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_tags.insert(key.into(), value.into());
        self
    }
    /// Sets `log_models`.
    pub fn log_models(mut self, log_models: bool) -> Self {
        self.log_models = log_models;
        self
    }
    /// Sets `log_datasets`.
    pub fn log_datasets(mut self, log_datasets: bool) -> Self {
        self.log_datasets = log_datasets;
        self
    }
}

/// The crate that turned autolog on, as captured by [`autolog!`](crate::autolog!).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrateInfo {
    /// `CARGO_PKG_NAME` of the calling crate.
    pub name: String,
    /// `CARGO_PKG_VERSION` of the calling crate.
    pub version: String,
    /// `CARGO_MANIFEST_DIR` of the calling crate (where its sources were when it was built).
    pub manifest_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
struct Config {
    options: AutologOptions,
    krate: Option<CrateInfo>,
}

static CONFIG: LazyLock<Mutex<Option<Config>>> = LazyLock::new(Mutex::default);

fn config() -> MutexGuard<'static, Option<Config>> {
    CONFIG.lock().unwrap_or_else(|p| p.into_inner())
}

/// Turns autologging on (or off with `disable`) with `options`, like `mlflow.autolog(...)`.
/// Prefer the [`autolog!`](crate::autolog!) macro, which also records the calling crate's name
/// and version.
pub fn autolog(options: AutologOptions) {
    set_config(options, None);
}

/// [`autolog`] with the calling crate's identity; what [`autolog!`](crate::autolog!) expands to.
#[doc(hidden)]
pub fn autolog_for_crate(options: AutologOptions, name: &str, version: &str, manifest_dir: &str) {
    let krate = CrateInfo {
        name: name.to_string(),
        version: version.to_string(),
        manifest_dir: (!manifest_dir.is_empty()).then(|| PathBuf::from(manifest_dir)),
    };
    set_config(options, Some(krate));
}

fn set_config(options: AutologOptions, krate: Option<CrateInfo>) {
    *config() = Some(Config { options, krate });
}

/// The options of the last [`autolog`] call, `None` when autolog was never called.
pub fn autolog_options() -> Option<AutologOptions> {
    config().as_ref().map(|c| c.options.clone())
}

/// Whether autolog was turned on (called without `disable`).
pub fn autolog_enabled() -> bool {
    config().as_ref().is_some_and(|c| !c.options.disable)
}

/// The options integrations follow: those of the last [`autolog`] call, else the defaults.
pub fn integration_options() -> AutologOptions {
    autolog_options().unwrap_or_default()
}

/// Prints an mlscope warning on stderr unless autolog is `silent`.
pub fn warn(message: &str) {
    if !integration_options().silent {
        eprintln!("mlscope: {message}");
    }
}

/// Forgets the autolog configuration. For tests.
#[doc(hidden)]
pub fn reset_autolog_for_tests() {
    *config() = None;
}

/// The environment tags new fluent runs get: empty unless autolog is on.
pub(crate) fn environment_tags() -> BTreeMap<String, String> {
    let krate = match config().as_ref() {
        Some(c) if !c.options.disable => c.krate.clone(),
        _ => return BTreeMap::new(),
    };
    capture_environment(krate.as_ref())
}

/// Reads the environment tags listed in the module documentation now (without the
/// `mlflow.source.name`/`type` tags every run gets anyway).
pub fn capture_environment(krate: Option<&CrateInfo>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(k) = krate {
        out.insert(CRATE_NAME_TAG.to_string(), k.name.clone());
        out.insert(CRATE_VERSION_TAG.to_string(), k.version.clone());
    }
    let rustc = env!("MLSCOPE_RUSTC_VERSION");
    if !rustc.is_empty() {
        out.insert(RUSTC_VERSION_TAG.to_string(), rustc.to_string());
    }
    out.insert(
        MLSCOPE_VERSION_TAG.to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    );
    if let Ok(host) = sysinfo::System::host_name()
        && !host.is_empty()
    {
        out.insert(HOST_TAG.to_string(), host);
    }
    out.insert(
        TARGET_TAG.to_string(),
        format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS),
    );
    if let Some(dir) = source_dir(krate) {
        out.extend(git_tags(&dir));
    }
    out
}

/// Where to look for the git repository: the crate's sources, the program, the working
/// directory, the first that is inside a checkout.
fn source_dir(krate: Option<&CrateInfo>) -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = krate.and_then(|k| k.manifest_dir.clone()) {
        candidates.push(dir);
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(parent) = exe.parent()
    {
        candidates.push(parent.to_path_buf());
    }
    if let Ok(cwd) = std::env::current_dir() {
        candidates.push(cwd);
    }
    candidates
        .into_iter()
        .find(|d| d.is_dir() && git_commit_of(d).is_some())
}

/// Runs `git -C dir args…`; its trimmed output when it succeeds.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim_end().to_string())
}

/// Commit, branch, remote URL and dirty state of the checkout holding `dir`.
fn git_tags(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(commit) = git_commit_of(dir) {
        out.insert(tags::GIT_COMMIT.to_string(), commit);
    }
    if let Some(branch) = git(dir, &["symbolic-ref", "--short", "-q", "HEAD"])
        && !branch.is_empty()
    {
        out.insert(GIT_BRANCH_TAG.to_string(), branch);
    }
    let first_remote = git(dir, &["remote"])
        .and_then(|r| r.lines().next().map(str::to_string))
        .filter(|r| !r.is_empty());
    if let Some(remote) = first_remote
        && let Some(url) = git(dir, &["remote", "get-url", &remote])
        && !url.is_empty()
    {
        out.insert(GIT_REPO_URL_TAG.to_string(), strip_credentials(&url));
    }
    if let Some(status) = git(dir, &["status", "--porcelain", "--untracked-files=no"]) {
        out.insert(GIT_DIRTY_TAG.to_string(), (!status.is_empty()).to_string());
    }
    out
}

/// Removes `user:password@` from a URL, as MLflow does before recording a remote.
pub fn strip_credentials(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}{}", &url[..scheme_end + 3], &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// Turns autologging on like [`autolog`](crate::tracking::autolog::autolog), recording the
/// calling crate's name, version and source folder (`CARGO_PKG_NAME`, `CARGO_PKG_VERSION`,
/// `CARGO_MANIFEST_DIR`) for the runs' environment tags.
///
/// ```no_run
/// mlscope::autolog!(); // MLflow's defaults
/// mlscope::autolog!(mlscope::AutologOptions::new().log_models(false).extra_tag("team", "vision"));
/// ```
#[macro_export]
macro_rules! autolog {
    () => {
        $crate::autolog!($crate::AutologOptions::default())
    };
    ($options:expr $(,)?) => {
        $crate::tracking::autolog::autolog_for_crate(
            $options,
            ::core::env!("CARGO_PKG_NAME"),
            ::core::env!("CARGO_PKG_VERSION"),
            ::core::env!("CARGO_MANIFEST_DIR"),
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_credentials_of_http_remotes_only() {
        assert_eq!(
            strip_credentials("https://user:tok@github.com/o/r.git"),
            "https://github.com/o/r.git"
        );
        assert_eq!(
            strip_credentials("https://github.com/o/r.git"),
            "https://github.com/o/r.git"
        );
        assert_eq!(
            strip_credentials("git@github.com:o/r.git"),
            "git@github.com:o/r.git"
        );
        assert_eq!(
            strip_credentials("ssh://git@host/x/y@z"),
            "ssh://host/x/y@z"
        );
    }

    #[test]
    fn environment_has_build_and_host_facts() {
        let env = capture_environment(Some(&CrateInfo {
            name: "demo".into(),
            version: "1.2.3".into(),
            manifest_dir: Some(PathBuf::from(env!("CARGO_MANIFEST_DIR"))),
        }));
        assert_eq!(env[CRATE_NAME_TAG], "demo");
        assert_eq!(env[CRATE_VERSION_TAG], "1.2.3");
        assert!(env[RUSTC_VERSION_TAG].starts_with("rustc "), "{env:?}");
        assert_eq!(env[MLSCOPE_VERSION_TAG], env!("CARGO_PKG_VERSION"));
        assert!(env.contains_key(TARGET_TAG));
    }
}
