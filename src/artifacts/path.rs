//! Artifact paths: validation of the run-relative POSIX paths callers pass, and confinement of
//! every file-system access to the artifact root (no `..`, no absolute paths, no symlink that
//! leads out of the root).

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// Prefix of the temporary files a write goes through (MLflow's `_TEMP_ARTIFACT_PREFIX`);
/// listings skip them and artifact names may not start with it.
pub const TEMP_ARTIFACT_PREFIX: &str = ".artifact.uploading.";

/// A validated, normalised run-relative artifact path: `/`-separated components, none empty,
/// `.` or `..`. The empty path is the artifact root.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ArtifactPath {
    parts: Vec<String>,
}

fn invalid(path: &str, why: &str) -> Error {
    Error::InvalidParameter(format!("Invalid artifact path '{path}': {why}"))
}

impl ArtifactPath {
    /// The artifact root itself.
    pub fn root() -> ArtifactPath {
        ArtifactPath::default()
    }

    /// Parses a run-relative path such as `plots/loss.png` (also `./a//b/`, normalised to
    /// `a/b`). Rejects absolute paths, `..` components, drive letters, backslashes and NUL.
    pub fn parse(path: &str) -> Result<ArtifactPath> {
        if path.contains('\0') {
            return Err(invalid(path, "it contains a NUL character"));
        }
        if path.starts_with('/') {
            return Err(invalid(
                path,
                "absolute paths are not allowed; give a path relative to the run's artifact root",
            ));
        }
        if path.contains('\\') {
            return Err(invalid(path, "use '/' as the separator, not '\\'"));
        }
        // `C:` and `C:/…` are absolute on Windows; there, any `X:` prefix is a drive.
        let bytes = path.as_bytes();
        let drive = bytes.len() >= 2
            && bytes[1] == b':'
            && bytes[0].is_ascii_alphabetic()
            && (cfg!(windows) || bytes.len() == 2 || bytes[2] == b'/');
        if drive {
            return Err(invalid(
                path,
                "absolute (drive-letter) paths are not allowed",
            ));
        }
        let mut parts = Vec::new();
        for part in path.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    return Err(invalid(
                        path,
                        "'..' components are not allowed (the path would leave the artifact root)",
                    ));
                }
                p => parts.push(p.to_string()),
            }
        }
        // Windows: `a:b` would write an NTFS alternate data stream, `CON` the console device.
        if cfg!(windows)
            && let Some(part) = parts.iter().find(|p| {
                p.contains(['<', '>', ':', '"', '|', '?', '*'])
                    || p.chars().any(char::is_control)
                    || crate::model::validation::is_windows_unsafe_file_name(p)
            })
        {
            return Err(invalid(
                path,
                &format!(
                    "'{part}' cannot be a file name on Windows (reserved device name, one of \
                     < > : \" | ? *, or a trailing dot or space)"
                ),
            ));
        }
        Ok(ArtifactPath { parts })
    }

    /// Parses an optional directory argument (`None` and `""` are the root).
    pub fn parse_opt(path: Option<&str>) -> Result<ArtifactPath> {
        match path {
            Some(p) => ArtifactPath::parse(p),
            None => Ok(ArtifactPath::root()),
        }
    }

    /// Whether this is the root.
    pub fn is_root(&self) -> bool {
        self.parts.is_empty()
    }

    /// The components.
    pub fn parts(&self) -> &[String] {
        &self.parts
    }

    /// The last component (`None` for the root).
    pub fn file_name(&self) -> Option<&str> {
        self.parts.last().map(String::as_str)
    }

    /// The path without its last component (the root's parent is the root).
    pub fn parent(&self) -> ArtifactPath {
        let mut parts = self.parts.clone();
        parts.pop();
        ArtifactPath { parts }
    }

    /// This path with `name` appended; `name` may itself hold several components.
    pub fn join(&self, name: &str) -> Result<ArtifactPath> {
        let tail = ArtifactPath::parse(name)?;
        let mut parts = self.parts.clone();
        parts.extend(tail.parts);
        Ok(ArtifactPath { parts })
    }

    /// This path under a local directory.
    pub fn to_local(&self, root: &Path) -> PathBuf {
        let mut p = root.to_path_buf();
        for part in &self.parts {
            p.push(part);
        }
        p
    }
}

impl std::fmt::Display for ArtifactPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.parts.join("/"))
    }
}

/// Makes a path absolute and lexically normal (no `.`/`..`), without touching the disk.
pub(crate) fn lexical_absolute(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The error for a path that resolves outside the root.
pub(crate) fn escape_error(path: &ArtifactPath, resolved: &Path) -> Error {
    Error::InvalidParameter(format!(
        "Invalid artifact path '{path}': it resolves outside the run's artifact root (through a \
         symbolic link) to {}",
        resolved.display()
    ))
}

/// Whether `candidate` (canonical) lies in `root` (canonical).
pub(crate) fn is_within(root: &Path, candidate: &Path) -> bool {
    candidate.starts_with(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_relative_paths() {
        assert_eq!(
            ArtifactPath::parse("a/b.txt").unwrap().to_string(),
            "a/b.txt"
        );
        assert_eq!(
            ArtifactPath::parse("./a//b/./c/").unwrap().to_string(),
            "a/b/c"
        );
        assert!(ArtifactPath::parse("").unwrap().is_root());
        assert!(ArtifactPath::parse(".").unwrap().is_root());
        assert_eq!(
            ArtifactPath::parse("images/a#b%step%1.png")
                .unwrap()
                .file_name(),
            Some("images/a#b%step%1.png".rsplit('/').next().unwrap())
        );
    }

    #[test]
    fn rejects_escapes() {
        for bad in [
            "..",
            "../x",
            "a/../../x",
            "a/..",
            "/etc/passwd",
            "C:/x",
            "c:",
            "a\\..\\b",
            "a\0b",
        ] {
            let err = ArtifactPath::parse(bad).unwrap_err();
            assert_eq!(
                err.error_code(),
                crate::ErrorCode::InvalidParameterValue,
                "{bad}"
            );
            assert!(err.to_string().contains("Invalid artifact path"), "{err}");
        }
    }

    #[test]
    fn colons_are_fine_in_names() {
        #[cfg(not(windows))]
        assert_eq!(ArtifactPath::parse("c:x").unwrap().to_string(), "c:x");
        #[cfg(not(windows))]
        assert_eq!(ArtifactPath::parse("dir/a:b.txt").unwrap().parts().len(), 2);
    }

    #[test]
    fn windows_refuses_names_it_cannot_store() {
        for bad in [
            "dir/a:b.txt",
            "CON",
            "logs/nul.txt",
            "what?.png",
            "a*b",
            "trailing.",
        ] {
            let parsed = ArtifactPath::parse(bad);
            if cfg!(windows) {
                let err = parsed.unwrap_err().to_string();
                assert!(
                    err.contains("cannot be a file name on Windows"),
                    "{bad}: {err}"
                );
            } else {
                assert!(parsed.is_ok(), "{bad}");
            }
        }
    }

    #[test]
    fn join_and_parent() {
        let p = ArtifactPath::parse("a/b").unwrap();
        assert_eq!(p.join("c/d.txt").unwrap().to_string(), "a/b/c/d.txt");
        assert!(p.join("../x").is_err());
        assert_eq!(p.parent().to_string(), "a");
        assert!(ArtifactPath::root().parent().is_root());
    }
}
