//! [`LocalArtifactRepository`]: artifacts in a directory on this machine (MLflow's
//! `LocalArtifactRepository`).

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use super::path::{ArtifactPath, TEMP_ARTIFACT_PREFIX, escape_error, is_within};
use super::{ArtifactRepository, FileInfo, download_listed, require_download_dir};
use crate::error::{Error, Result};

/// A temporary file of an interrupted write this old, not locked by a live writer, is removed
/// by the next write into its folder.
pub const STALE_TEMP_FILE_AGE: Duration = Duration::from_secs(3600);

/// Folders of this process already swept for stale temporary files (each is swept once: a
/// folder of many artifacts is not listed again for every file written into it).
static SWEPT_FOLDERS: LazyLock<Mutex<HashSet<PathBuf>>> = LazyLock::new(Mutex::default);
/// Bound of [`SWEPT_FOLDERS`]; past it the set starts over (a folder is then swept again).
const MAX_SWEPT_FOLDERS: usize = 10_000;

/// Removes the temporary files (`.artifact.uploading.*`) that interrupted writes left in `dir`:
/// those older than [`STALE_TEMP_FILE_AGE`] whose writer is gone (no lock held on them). Runs
/// once per folder per process; failures are ignored (a leftover file is harmless: listings
/// skip it).
fn remove_stale_temp_files_once(dir: &Path) {
    {
        let mut swept = SWEPT_FOLDERS.lock().unwrap_or_else(|p| p.into_inner());
        if swept.len() >= MAX_SWEPT_FOLDERS {
            swept.clear();
        }
        if !swept.insert(dir.to_path_buf()) {
            return;
        }
    }
    remove_stale_temp_files(dir);
}

/// See [`remove_stale_temp_files_once`].
fn remove_stale_temp_files(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(TEMP_ARTIFACT_PREFIX))
        {
            continue;
        }
        // Not following links: only plain files this repository itself would have made.
        let Ok(meta) = entry.metadata() else { continue };
        let stale = meta.is_file()
            && meta
                .modified()
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age >= STALE_TEMP_FILE_AGE);
        if !stale {
            continue;
        }
        let path = entry.path();
        let Ok(file) = OpenOptions::new().write(true).open(&path) else {
            continue;
        };
        if file.try_lock().is_ok() {
            drop(file);
            let _ = fs::remove_file(&path);
        }
    }
}

/// Files (relative parts, local path) and empty directories (relative parts) to log.
/// Files as (relative parts, path) and empty directories as relative parts.
pub(crate) type SourceTree = (Vec<(Vec<String>, PathBuf)>, Vec<Vec<String>>);

/// Artifacts stored as plain files under a local root directory.
///
/// Writes go to a hidden temporary file beside the destination (`.artifact.uploading.*`, as
/// MLflow does) and are renamed over it when complete, so readers never see half a file and a
/// failed write leaves the previous content in place. The root is created on the first write.
#[derive(Debug, Clone)]
pub struct LocalArtifactRepository {
    root: PathBuf,
    uri: String,
}

impl LocalArtifactRepository {
    /// A repository rooted at `root`; its URI is the root's `file:` URI (`file:///C:/…` on
    /// Windows).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let uri = crate::store::uri::path_to_file_uri(&root);
        LocalArtifactRepository { root, uri }
    }

    /// A repository rooted at `root` that reports `uri` as its artifact URI (e.g. the URI
    /// recorded for a run whose artifacts were found elsewhere).
    pub fn with_uri(root: impl Into<PathBuf>, uri: impl Into<String>) -> Self {
        LocalArtifactRepository {
            root: root.into(),
            uri: uri.into(),
        }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The canonical root, or `None` when it does not exist.
    fn canonical_root(&self) -> Result<Option<PathBuf>> {
        match fs::canonicalize(&self.root) {
            Ok(p) => Ok(Some(p)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(
                "cannot open the artifact root",
                self.root.clone(),
                e,
            )),
        }
    }

    fn not_found(path: &ArtifactPath) -> Error {
        Error::NotFound(format!("No such artifact: '{path}'"))
    }

    /// The real path of an existing artifact, checked to lie inside the root.
    fn resolve_existing(&self, path: &ArtifactPath) -> Result<PathBuf> {
        let Some(root) = self.canonical_root()? else {
            return Err(Self::not_found(path));
        };
        let local = path.to_local(&root);
        let real = match fs::canonicalize(&local) {
            Ok(p) => p,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Self::not_found(path)),
            Err(e) => return Err(Error::io("cannot open artifact", local, e)),
        };
        if !is_within(&root, &real) {
            return Err(escape_error(path, &real));
        }
        Ok(real)
    }

    /// Creates directory `dir` (and its parents) inside the root, refusing to pass through a
    /// symbolic link that leads out of the root. Returns its real path.
    fn ensure_dir(&self, dir: &ArtifactPath) -> Result<PathBuf> {
        fs::create_dir_all(&self.root)
            .map_err(|e| Error::io("cannot create the artifact root", self.root.clone(), e))?;
        let root = fs::canonicalize(&self.root)
            .map_err(|e| Error::io("cannot open the artifact root", self.root.clone(), e))?;
        let mut cur = root.clone();
        for part in dir.parts() {
            let next = cur.join(part);
            match fs::symlink_metadata(&next) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    let target = fs::canonicalize(&next).map_err(|e| {
                        Error::io("cannot follow symbolic link in artifact path", &next, e)
                    })?;
                    if !is_within(&root, &target) {
                        return Err(escape_error(dir, &target));
                    }
                    if !target.is_dir() {
                        return Err(Error::InvalidParameter(format!(
                            "Invalid artifact path '{dir}': '{part}' is a file, not a directory"
                        )));
                    }
                    cur = target;
                }
                Ok(meta) if meta.is_dir() => cur = next,
                Ok(_) => {
                    return Err(Error::InvalidParameter(format!(
                        "Invalid artifact path '{dir}': '{part}' is a file, not a directory"
                    )));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    match fs::create_dir(&next) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && next.is_dir() => {}
                        Err(e) => {
                            return Err(Error::io("cannot create artifact directory", next, e));
                        }
                    }
                    cur = next;
                }
                Err(e) => return Err(Error::io("cannot inspect artifact directory", next, e)),
            }
        }
        Ok(cur)
    }

    /// Writes the file `dest` through a temporary file: `fill` writes the content.
    fn write_atomic(
        &self,
        dest: &ArtifactPath,
        fill: &mut dyn FnMut(&mut File) -> Result<u64>,
    ) -> Result<u64> {
        let Some(name) = dest.file_name() else {
            return Err(Error::InvalidParameter(
                "Invalid artifact path '': a file name is required".into(),
            ));
        };
        if name.starts_with(TEMP_ARTIFACT_PREFIX) {
            return Err(Error::InvalidParameter(format!(
                "Invalid artifact file name: '{name}'. Artifact names starting with \
                 '{TEMP_ARTIFACT_PREFIX}' are reserved."
            )));
        }
        let dir = self.ensure_dir(&dest.parent())?;
        let target = dir.join(name);
        if let Ok(meta) = fs::symlink_metadata(&target)
            && meta.is_dir()
        {
            return Err(Error::InvalidParameter(format!(
                "Invalid artifact path '{dest}': a directory of that name exists"
            )));
        }
        remove_stale_temp_files_once(&dir);
        let tmp = dir.join(format!(
            "{TEMP_ARTIFACT_PREFIX}{}",
            uuid::Uuid::new_v4().simple()
        ));
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| Error::io("cannot create artifact file", tmp.clone(), e))?;
        // Held while the file is written: a later cleanup of stale temporary files in this
        // folder (another process's) sees the lock and leaves the file alone. Where the file
        // system has no locks the write goes on unprotected.
        let _ = file.try_lock();
        let result = fill(&mut file);
        drop(file);
        let written = match result {
            Ok(n) => n,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        };
        if let Err(e) = fs::rename(&tmp, &target) {
            let _ = fs::remove_file(&tmp);
            return Err(Error::io("cannot store artifact file", target, e));
        }
        Ok(written)
    }

    fn info_for(&self, path: &ArtifactPath, real: &Path) -> Result<FileInfo> {
        let meta = fs::metadata(real).map_err(|e| Error::io("cannot read artifact", real, e))?;
        Ok(FileInfo {
            path: path.to_string(),
            is_dir: meta.is_dir(),
            file_size: (!meta.is_dir()).then_some(meta.len()),
        })
    }

    /// Lists a directory; entries that are symbolic links leading out of the root (or nowhere)
    /// are left out. `visited` guards recursive listings against link cycles.
    fn list_dir(
        &self,
        dir: &ArtifactPath,
        root: &Path,
        visited: Option<&mut HashSet<PathBuf>>,
    ) -> Result<Vec<(FileInfo, PathBuf)>> {
        let real_dir = match self.resolve_existing(dir) {
            Ok(p) => p,
            Err(Error::NotFound(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        if !real_dir.is_dir() {
            return Ok(Vec::new());
        }
        if let Some(visited) = visited
            && !visited.insert(real_dir.clone())
        {
            return Ok(Vec::new());
        }
        let entries = fs::read_dir(&real_dir)
            .map_err(|e| Error::io("cannot list artifacts", real_dir.clone(), e))?;
        let mut out = Vec::new();
        for entry in entries {
            let entry =
                entry.map_err(|e| Error::io("cannot list artifacts", real_dir.clone(), e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                continue; // not representable as an artifact path
            };
            if name.starts_with(TEMP_ARTIFACT_PREFIX) {
                continue;
            }
            let child = dir.join(name)?;
            let mut real = entry.path();
            let is_link = entry.file_type().map(|t| t.is_symlink()).unwrap_or(false);
            if is_link {
                match fs::canonicalize(&real) {
                    Ok(target) if is_within(root, &target) => real = target,
                    _ => continue,
                }
            }
            let Ok(meta) = fs::metadata(&real) else {
                continue;
            };
            out.push((
                FileInfo {
                    path: child.to_string(),
                    is_dir: meta.is_dir(),
                    file_size: (!meta.is_dir()).then_some(meta.len()),
                },
                real,
            ));
        }
        out.sort_by(|a, b| a.0.path.cmp(&b.0.path));
        Ok(out)
    }

    fn copy_file_in(&self, dest: &ArtifactPath, src: &Path) -> Result<u64> {
        let mut source =
            File::open(src).map_err(|e| Error::io("cannot read file to log", src, e))?;
        self.write_atomic(dest, &mut |out| {
            io::copy(&mut source, out).map_err(|e| Error::io("cannot copy file to log", src, e))
        })
    }
}

impl ArtifactRepository for LocalArtifactRepository {
    fn artifact_uri(&self) -> String {
        self.uri.clone()
    }

    fn list(&self, path: &str) -> Result<Vec<FileInfo>> {
        let dir = ArtifactPath::parse(path)?;
        let Some(root) = self.canonical_root()? else {
            return Ok(Vec::new());
        };
        Ok(self
            .list_dir(&dir, &root, None)?
            .into_iter()
            .map(|(info, _)| info)
            .collect())
    }

    fn list_recursive(&self, path: &str) -> Result<Vec<FileInfo>> {
        let dir = ArtifactPath::parse(path)?;
        let Some(root) = self.canonical_root()? else {
            return Ok(Vec::new());
        };
        let mut visited = HashSet::new();
        let mut out = Vec::new();
        let mut stack = vec![dir];
        while let Some(d) = stack.pop() {
            for (info, _) in self.list_dir(&d, &root, Some(&mut visited))? {
                if info.is_dir {
                    stack.push(ArtifactPath::parse(&info.path)?);
                }
                out.push(info);
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    fn stat(&self, path: &str) -> Result<FileInfo> {
        let p = ArtifactPath::parse(path)?;
        let real = self.resolve_existing(&p)?;
        self.info_for(&p, &real)
    }

    fn open(&self, path: &str) -> Result<Box<dyn Read + Send>> {
        let p = ArtifactPath::parse(path)?;
        let real = self.resolve_existing(&p)?;
        if real.is_dir() {
            return Err(Error::InvalidParameter(format!(
                "artifact '{p}' is a directory, not a file"
            )));
        }
        let file = File::open(&real).map_err(|e| Error::io("cannot open artifact", real, e))?;
        Ok(Box::new(file))
    }

    fn read_range(&self, path: &str, offset: u64, max_len: usize) -> Result<Vec<u8>> {
        let p = ArtifactPath::parse(path)?;
        let real = self.resolve_existing(&p)?;
        if real.is_dir() {
            return Err(Error::InvalidParameter(format!(
                "artifact '{p}' is a directory, not a file"
            )));
        }
        let mut file =
            File::open(&real).map_err(|e| Error::io("cannot open artifact", real.clone(), e))?;
        let size = file
            .metadata()
            .map_err(|e| Error::io("cannot read artifact", real.clone(), e))?
            .len();
        if offset >= size {
            return Ok(Vec::new());
        }
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| Error::io("cannot read artifact", real.clone(), e))?;
        let want = (size - offset).min(max_len as u64);
        let mut buf = Vec::with_capacity(want as usize);
        file.take(want)
            .read_to_end(&mut buf)
            .map_err(|e| Error::io("cannot read artifact", real, e))?;
        Ok(buf)
    }

    fn write_stream(&self, artifact_file: &str, reader: &mut dyn Read) -> Result<u64> {
        let dest = ArtifactPath::parse(artifact_file)?;
        self.write_atomic(&dest, &mut |out| {
            copy_chunked(reader, out)
                .map_err(|e| Error::io("cannot write artifact", artifact_file, e))
        })
    }

    fn log_file(&self, local_file: &Path, artifact_dir: Option<&str>) -> Result<()> {
        let dir = ArtifactPath::parse_opt(artifact_dir)?;
        let meta = fs::metadata(local_file)
            .map_err(|e| Error::io("cannot read file to log", local_file, e))?;
        if meta.is_dir() {
            return Err(Error::InvalidParameter(format!(
                "{} is a directory; use log_artifacts to log a directory",
                local_file.display()
            )));
        }
        let name = local_file
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| {
                Error::InvalidParameter(format!(
                    "cannot log {}: its file name is missing or not valid UTF-8",
                    local_file.display()
                ))
            })?;
        let dest = dir.join(name)?;
        // Logging a file onto itself is a no-op, as in MLflow.
        if let (Ok(a), Ok(b)) = (
            fs::canonicalize(local_file),
            fs::canonicalize(dest.to_local(&self.root)),
        ) && a == b
        {
            return Ok(());
        }
        self.copy_file_in(&dest, local_file).map(|_| ())
    }

    fn log_dir(&self, local_dir: &Path, artifact_dir: Option<&str>) -> Result<()> {
        let dir = ArtifactPath::parse_opt(artifact_dir)?;
        let meta = fs::metadata(local_dir)
            .map_err(|e| Error::io("cannot read directory to log", local_dir, e))?;
        if !meta.is_dir() {
            return Err(Error::InvalidParameter(format!(
                "{} is not a directory",
                local_dir.display()
            )));
        }
        // Everything is read-checked before anything is written.
        let (files, empty_dirs) = collect_source(local_dir)?;
        self.ensure_dir(&dir)?;
        for parts in empty_dirs {
            let mut d = dir.clone();
            for p in &parts {
                d = d.join(p)?;
            }
            self.ensure_dir(&d)?;
        }
        for (parts, src) in files {
            let mut dest = dir.clone();
            for p in &parts {
                dest = dest.join(p)?;
            }
            self.copy_file_in(&dest, &src)?;
        }
        Ok(())
    }

    fn download(&self, path: &str, dst_dir: &Path) -> Result<PathBuf> {
        let p = ArtifactPath::parse(path)?;
        require_download_dir(dst_dir)?;
        let target = p.to_local(dst_dir);
        if p.is_root() && self.canonical_root()?.is_none() {
            return Ok(target);
        }
        let real = self.resolve_existing(&p)?;
        if !real.is_dir() {
            copy_out(&real, &target)?;
            return Ok(target);
        }
        download_listed(self.list_recursive(path)?, dst_dir, target, |rel, local| {
            copy_out(&self.resolve_existing(rel)?, local)
        })
    }

    fn local_path(&self, path: &str) -> Result<Option<PathBuf>> {
        let p = ArtifactPath::parse(path)?;
        if p.is_root() {
            return Ok(Some(self.root.clone()));
        }
        self.resolve_existing(&p).map(Some)
    }
}

/// Copies with one 1 MiB buffer (MLflow's `ARTIFACT_STREAM_CHUNK_SIZE`): constant memory, and
/// far fewer system calls than `io::copy`'s 8 KiB for readers without a kernel fast path.
fn copy_chunked(reader: &mut dyn Read, out: &mut File) -> io::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        io::Write::write_all(out, &buf[..n])?;
        total += n as u64;
    }
}

fn copy_out(src: &Path, dst: &Path) -> Result<()> {
    if let Some(parent) = dst.parent() {
        fs::create_dir_all(parent)
            .map_err(|e| Error::io("cannot create download directory", parent, e))?;
    }
    fs::copy(src, dst).map_err(|e| Error::io("cannot download artifact", dst, e))?;
    Ok(())
}

/// The files of `local_dir` to send to a remote artifact store, each with its destination under
/// `artifact_dir`: `local_dir` must be a directory, and every file is checked readable before
/// anything is sent. Empty directories are left out: a remote store cannot hold them (as with
/// MLflow).
pub(crate) fn files_to_send(
    local_dir: &Path,
    artifact_dir: Option<&str>,
) -> Result<Vec<(ArtifactPath, PathBuf)>> {
    let dir = ArtifactPath::parse_opt(artifact_dir)?;
    let meta = fs::metadata(local_dir)
        .map_err(|e| Error::io("cannot read directory to log", local_dir, e))?;
    if !meta.is_dir() {
        return Err(Error::InvalidParameter(format!(
            "{} is not a directory",
            local_dir.display()
        )));
    }
    let (files, _) = collect_source(local_dir)?;
    files
        .into_iter()
        .map(|(parts, src)| {
            let mut dest = dir.clone();
            for p in &parts {
                dest = dest.join(p)?;
            }
            Ok((dest, src))
        })
        .collect()
}

/// Every regular file under a local source directory (following links, without cycles), as
/// (relative parts, path), each checked readable and sorted by path. Empty directories are
/// returned too.
pub(crate) fn collect_source(local_dir: &Path) -> Result<SourceTree> {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    let mut visited = HashSet::new();
    let mut stack = vec![(Vec::<String>::new(), local_dir.to_path_buf())];
    while let Some((rel, dir)) = stack.pop() {
        let real = fs::canonicalize(&dir)
            .map_err(|e| Error::io("cannot read directory to log", dir.clone(), e))?;
        if !visited.insert(real) {
            continue;
        }
        let mut entries: Vec<fs::DirEntry> = fs::read_dir(&dir)
            .map_err(|e| Error::io("cannot read directory to log", dir.clone(), e))?
            .collect::<io::Result<_>>()
            .map_err(|e| Error::io("cannot read directory to log", dir.clone(), e))?;
        entries.sort_by_key(|e| e.file_name());
        if entries.is_empty() && !rel.is_empty() {
            dirs.push(rel.clone());
        }
        for entry in entries {
            let path = entry.path();
            let name = entry
                .file_name()
                .to_str()
                .map(str::to_string)
                .ok_or_else(|| {
                    Error::InvalidParameter(format!(
                        "cannot log {}: its name is not valid UTF-8",
                        path.display()
                    ))
                })?;
            // Validates the name as an artifact path component.
            ArtifactPath::parse(&name)?;
            let mut child = rel.clone();
            child.push(name);
            let meta = fs::metadata(&path)
                .map_err(|e| Error::io("cannot read file to log", path.clone(), e))?;
            if meta.is_dir() {
                stack.push((child, path));
            } else {
                File::open(&path)
                    .map_err(|e| Error::io("cannot read file to log", path.clone(), e))?;
                files.push((child, path));
            }
        }
    }
    files.sort();
    Ok((files, dirs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> (tempfile::TempDir, LocalArtifactRepository) {
        let dir = tempfile::tempdir().unwrap();
        let repo = LocalArtifactRepository::new(dir.path().join("artifacts"));
        (dir, repo)
    }

    #[test]
    fn write_list_read_round_trip() {
        let (_d, repo) = repo();
        assert!(repo.list("").unwrap().is_empty());
        repo.write_bytes("a/b/c.txt", b"hello").unwrap();
        repo.write_bytes("top.txt", b"x").unwrap();
        let top = repo.list("").unwrap();
        assert_eq!(
            top,
            vec![
                FileInfo {
                    path: "a".into(),
                    is_dir: true,
                    file_size: None
                },
                FileInfo {
                    path: "top.txt".into(),
                    is_dir: false,
                    file_size: Some(1)
                },
            ]
        );
        let all: Vec<String> = repo
            .list_recursive("")
            .unwrap()
            .into_iter()
            .map(|f| f.path)
            .collect();
        assert_eq!(all, ["a", "a/b", "a/b/c.txt", "top.txt"]);
        assert_eq!(repo.read_range("a/b/c.txt", 1, 3).unwrap(), b"ell");
        assert_eq!(repo.read_range("a/b/c.txt", 3, 100).unwrap(), b"lo");
        assert!(repo.read_range("a/b/c.txt", 99, 10).unwrap().is_empty());
        assert_eq!(repo.read_all("a/b/c.txt", 100).unwrap(), b"hello");
        assert!(repo.read_all("a/b/c.txt", 2).is_err());
        assert_eq!(repo.list("a/b/c.txt").unwrap(), vec![]);
        let err = repo.open("missing.txt").err().unwrap();
        assert_eq!(err.error_code(), crate::ErrorCode::ResourceDoesNotExist);
        assert!(repo.exists("a/b").unwrap());
        assert!(!repo.exists("nope").unwrap());
    }

    #[test]
    fn rejects_escaping_paths_and_writes_nothing_outside() {
        let (d, repo) = repo();
        std::fs::write(d.path().join("secret.txt"), "s").unwrap();
        repo.write_bytes("ok.txt", b"1").unwrap();
        for bad in ["../secret.txt", "/etc/passwd", "a/../../secret.txt"] {
            assert!(repo.write_bytes(bad, b"x").is_err(), "{bad}");
            assert!(repo.open(bad).is_err(), "{bad}");
            assert!(repo.read_range(bad, 0, 10).is_err(), "{bad}");
            assert!(repo.list(bad).is_err(), "{bad}");
        }
        assert_eq!(std::fs::read(d.path().join("secret.txt")).unwrap(), b"s");
        assert_eq!(repo.read_all("ok.txt", 10).unwrap(), b"1");
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_out_of_the_root_are_refused() {
        let (d, repo) = repo();
        let outside = d.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("secret.txt"), "s").unwrap();
        repo.write_bytes("inside/real.txt", b"r").unwrap();
        let root = d.path().join("artifacts");
        std::os::unix::fs::symlink(&outside, root.join("link_dir")).unwrap();
        std::os::unix::fs::symlink(outside.join("secret.txt"), root.join("link_file")).unwrap();
        std::os::unix::fs::symlink(root.join("inside"), root.join("inner_link")).unwrap();
        // Reading through links out of the root fails.
        let err = repo.open("link_dir/secret.txt").err().unwrap();
        assert!(
            err.to_string().contains("outside the run's artifact root"),
            "{err}"
        );
        assert!(repo.open("link_file").is_err());
        assert!(repo.read_range("link_file", 0, 1).is_err());
        assert!(repo.list("link_dir").is_err());
        // Writing through them fails and creates nothing outside.
        assert!(repo.write_bytes("link_dir/new.txt", b"x").is_err());
        assert!(repo.write_bytes("link_dir/sub/new.txt", b"x").is_err());
        assert!(!outside.join("new.txt").exists());
        assert!(!outside.join("sub").exists());
        // Listings leave escaping links out; links inside the root are fine.
        let names: Vec<String> = repo.list("").unwrap().into_iter().map(|f| f.path).collect();
        assert_eq!(names, ["inner_link", "inside"]);
        assert_eq!(repo.read_all("inner_link/real.txt", 10).unwrap(), b"r");
        repo.write_bytes("inner_link/also.txt", b"a").unwrap();
        assert!(root.join("inside/also.txt").exists());
        // Downloads do not follow them either.
        let dst = tempfile::tempdir().unwrap();
        repo.download("", dst.path()).unwrap();
        assert!(!dst.path().join("link_dir").exists());
        assert!(dst.path().join("inside/real.txt").exists());
    }

    #[cfg(unix)]
    #[test]
    fn link_cycles_do_not_loop() {
        let (d, repo) = repo();
        repo.write_bytes("a/f.txt", b"1").unwrap();
        let root = d.path().join("artifacts");
        std::os::unix::fs::symlink(root.join("a"), root.join("a/loop")).unwrap();
        let all = repo.list_recursive("").unwrap();
        assert!(all.len() < 10, "{all:?}");
    }

    #[test]
    fn log_file_and_dir_and_download() {
        let (_d, repo) = repo();
        let src = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(src.path().join("bundle/sub/deeper")).unwrap();
        std::fs::create_dir_all(src.path().join("bundle/empty")).unwrap();
        std::fs::write(src.path().join("bundle/a.txt"), "a").unwrap();
        std::fs::write(src.path().join("bundle/sub/deeper/c.json"), "{}").unwrap();
        std::fs::write(src.path().join("one.csv"), "x,y\n").unwrap();
        repo.log_file(&src.path().join("one.csv"), Some("data"))
            .unwrap();
        repo.log_dir(&src.path().join("bundle"), Some("bundle"))
            .unwrap();
        repo.log_dir(&src.path().join("bundle"), None).unwrap();
        let all: Vec<String> = repo
            .list_recursive("")
            .unwrap()
            .into_iter()
            .map(|f| f.path)
            .collect();
        assert!(all.contains(&"data/one.csv".to_string()));
        assert!(all.contains(&"bundle/sub/deeper/c.json".to_string()));
        assert!(all.contains(&"bundle/empty".to_string()));
        assert!(all.contains(&"sub/deeper/c.json".to_string()));
        assert!(repo.log_file(src.path(), None).is_err());
        let dst = tempfile::tempdir().unwrap();
        let got = repo.download("bundle", dst.path()).unwrap();
        assert_eq!(got, dst.path().join("bundle"));
        assert_eq!(
            std::fs::read(dst.path().join("bundle/sub/deeper/c.json")).unwrap(),
            b"{}"
        );
        let f = repo.download("data/one.csv", dst.path()).unwrap();
        assert_eq!(std::fs::read(f).unwrap(), b"x,y\n");
        assert!(repo.download("x", &dst.path().join("nope")).is_err());
        assert!(repo.download("missing", dst.path()).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn unreadable_sources_fail_before_anything_is_written() {
        use std::os::unix::fs::PermissionsExt;
        let (_d, repo) = repo();
        repo.write_bytes("bundle/a.txt", b"old").unwrap();
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("a.txt"), "new").unwrap();
        let locked = src.path().join("z_locked.txt");
        std::fs::write(&locked, "x").unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        if File::open(&locked).is_ok() {
            // Running as root: permissions do not apply; use a missing file instead.
            std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o644)).unwrap();
            std::fs::remove_file(&locked).unwrap();
            std::os::unix::fs::symlink(src.path().join("gone"), &locked).unwrap();
        }
        let err = repo.log_dir(src.path(), Some("bundle")).unwrap_err();
        assert!(err.to_string().contains("z_locked.txt"), "{err}");
        assert_eq!(repo.read_all("bundle/a.txt", 10).unwrap(), b"old");
        let err = repo.log_file(&locked, Some("bundle")).unwrap_err();
        assert!(err.to_string().contains("cannot read file to log"), "{err}");
        let err = repo
            .log_file(&src.path().join("missing.bin"), None)
            .unwrap_err();
        assert_eq!(err.error_code(), crate::ErrorCode::InternalError);
        assert_eq!(repo.list("bundle").unwrap().len(), 1);
    }

    #[test]
    fn failed_stream_leaves_previous_content() {
        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::other("source broke"));
                }
                self.0 -= 1;
                buf[0] = b'z';
                Ok(1)
            }
        }
        let (_d, repo) = repo();
        repo.write_bytes("f.txt", b"old").unwrap();
        assert!(repo.write_stream("f.txt", &mut Failing(3)).is_err());
        assert_eq!(repo.read_all("f.txt", 10).unwrap(), b"old");
        // No temporary file is left behind or listed.
        let names: Vec<_> = std::fs::read_dir(repo.root())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1);
        assert!(repo.write_bytes(".artifact.uploading.x", b"1").is_err());
        assert!(repo.write_bytes("", b"1").is_err());
    }

    /// Peak resident memory of this process in kB (Linux), if known.
    fn peak_rss_kb() -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    #[test]
    fn large_files_stream_in_constant_memory() {
        const SIZE: u64 = 200 * 1024 * 1024;
        let (_d, repo) = repo();
        let src_dir = tempfile::tempdir().unwrap();
        let src = src_dir.path().join("big.bin");
        {
            let f = File::create(&src).unwrap();
            let chunk = vec![7u8; 1 << 20];
            let mut w = io::BufWriter::new(f);
            for _ in 0..(SIZE >> 20) {
                io::Write::write_all(&mut w, &chunk).unwrap();
            }
        }
        let before = peak_rss_kb();
        repo.log_file(&src, Some("big")).unwrap();
        // And through a generic reader (no copy_file_range shortcut).
        let mut reader = io::BufReader::new(File::open(&src).unwrap());
        let mut limited = (&mut reader).take(SIZE);
        repo.write_stream("big/stream.bin", &mut limited).unwrap();
        let after = peak_rss_kb();
        assert_eq!(repo.stat("big/big.bin").unwrap().file_size, Some(SIZE));
        assert_eq!(repo.stat("big/stream.bin").unwrap().file_size, Some(SIZE));
        assert_eq!(
            repo.read_range("big/big.bin", SIZE - 2, 10).unwrap(),
            vec![7, 7]
        );
        if let (Some(b), Some(a)) = (before, after) {
            // Other tests run in parallel, so allow slack; a buffered copy would add 200 MB.
            assert!(
                a.saturating_sub(b) < 64 * 1024,
                "peak RSS grew by {} kB",
                a - b
            );
        }
    }
}
