//! File-system primitives of the on-disk protocol: atomic replace, create-once, one-call
//! appends, and the tolerant walk of one-file-per-key folders.
//!
//! Many processes may write one `mlruns` folder at once, so correctness comes from these
//! primitives, not from locks:
//! * whole-file rewrites (`meta.yaml`, tags) go to a temporary file first and are renamed over
//!   the target, so readers see the old or the new content, never a mix;
//! * create-once files (params, dataset records) are hard-linked into place, which fails if the
//!   name exists, so the first writer wins and readers never see a half-written file;
//! * metric lines are appended with a single `write` on an `O_APPEND` file, so lines from
//!   concurrent writers never interleave (on Windows under a lock, see `append_lock`).

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result, StoreWarning};
use crate::store::file::paths::{is_os_junk_name, is_temp_name, key_path, temp_path};

/// Writes `bytes` to a new temporary file in `temp_dir`; returns its path.
fn write_temp(temp_dir: &Path, bytes: &[u8], what: &str) -> Result<PathBuf> {
    let temp = temp_path(temp_dir);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .map_err(|e| Error::io(format!("cannot create temporary file for {what}"), &temp, e))?;
    if let Err(e) = file.write_all(bytes) {
        let _ = fs::remove_file(&temp);
        return Err(Error::io(format!("cannot write {what}"), &temp, e));
    }
    Ok(temp)
}

/// Replaces `target` with `bytes` atomically: temporary file in `temp_dir` (same file system,
/// a folder readers do not list as entries), then rename.
pub(crate) fn write_atomic(temp_dir: &Path, target: &Path, bytes: &[u8], what: &str) -> Result<()> {
    let temp = write_temp(temp_dir, bytes, what)?;
    retry_while_shared(|| fs::rename(&temp, target)).map_err(|e| {
        let _ = fs::remove_file(&temp);
        Error::io(format!("cannot replace {what}"), target, e)
    })
}

/// Runs a rename or delete, retrying for up to about two seconds on Windows while it fails with
/// "access denied": another process (Python's MLflow opens files without `FILE_SHARE_DELETE`)
/// has the file open, which on Windows blocks replacing or deleting it until it is closed.
pub(crate) fn retry_while_shared(
    mut op: impl FnMut() -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut wait = std::time::Duration::from_millis(5);
    let mut waited = std::time::Duration::ZERO;
    loop {
        match op() {
            Err(e)
                if cfg!(windows)
                    && e.kind() == ErrorKind::PermissionDenied
                    && waited < std::time::Duration::from_secs(2) =>
            {
                std::thread::sleep(wait);
                waited += wait;
                wait = (wait * 2).min(std::time::Duration::from_millis(200));
            }
            other => return other,
        }
    }
}

/// Outcome of [`create_once`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CreateOnce {
    /// The file was created with the content.
    Created,
    /// The file already existed; it was left untouched.
    Existed,
}

/// Creates `target` with `bytes` unless it exists, atomically: readers never see it partly
/// written, and of two concurrent writers exactly one creates it.
pub(crate) fn create_once(
    temp_dir: &Path,
    target: &Path,
    bytes: &[u8],
    what: &str,
) -> Result<CreateOnce> {
    let temp = write_temp(temp_dir, bytes, what)?;
    let linked = fs::hard_link(&temp, target);
    let outcome = match linked {
        Ok(()) => Ok(CreateOnce::Created),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(CreateOnce::Existed),
        // File systems without hard links: fall back to an exclusive create, then write.
        Err(_) => create_exclusive(target, bytes, what),
    };
    let _ = fs::remove_file(&temp);
    outcome
}

fn create_exclusive(target: &Path, bytes: &[u8], what: &str) -> Result<CreateOnce> {
    match OpenOptions::new().write(true).create_new(true).open(target) {
        Ok(mut file) => {
            file.write_all(bytes)
                .map_err(|e| Error::io(format!("cannot write {what}"), target, e))?;
            Ok(CreateOnce::Created)
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(CreateOnce::Existed),
        Err(e) => Err(Error::io(format!("cannot create {what}"), target, e)),
    }
}

/// Appends `bytes` to `path` (created if missing) with one `write` call in append mode.
pub(crate) fn append(path: &Path, bytes: &[u8], what: &str) -> Result<()> {
    let file = OpenOptions::new()
        // Read access too: Windows only byte-range locks handles with read or write data access.
        .read(cfg!(windows))
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| Error::io(format!("cannot open {what} for appending"), path, e))?;
    let _guard = append_lock::AppendLock::acquire(&file)
        .map_err(|e| Error::io(format!("cannot lock {what} for appending"), path, e))?;
    // Through `&File`: the lock guard borrows the file while it is written.
    (&file)
        .write_all(bytes)
        .map_err(|e| Error::io(format!("cannot append to {what}"), path, e))
}

/// Serialises appends to one file on Windows.
///
/// Windows makes each append-only write land whole at the end of the file, but Wine (which runs
/// the Windows tests, and some users' tools) positions and writes in two steps, so two
/// concurrent appends could overwrite each other and a metric line was lost. Appenders take an
/// exclusive lock on one byte far past any real data: it orders our writers, in any process,
/// without blocking other programs' reads or writes of the file's content (a lock on the data
/// itself would make Python MLflow's concurrent appends fail). Elsewhere `O_APPEND` is atomic.
mod append_lock {
    /// Held while appending; released on drop (and by the system if the process dies).
    pub(super) struct AppendLock<'a> {
        #[cfg(windows)]
        file: &'a std::fs::File,
        #[cfg(not(windows))]
        _file: std::marker::PhantomData<&'a std::fs::File>,
    }

    /// The locked byte's offset: far beyond any metric file, below every overflow limit.
    #[cfg(windows)]
    const LOCK_OFFSET: u64 = 1 << 62;

    #[cfg(windows)]
    fn overlapped_at_lock_offset() -> windows_sys::Win32::System::IO::OVERLAPPED {
        let mut overlapped = windows_sys::Win32::System::IO::OVERLAPPED::default();
        overlapped.Anonymous.Anonymous.Offset = LOCK_OFFSET as u32;
        overlapped.Anonymous.Anonymous.OffsetHigh = (LOCK_OFFSET >> 32) as u32;
        overlapped
    }

    impl<'a> AppendLock<'a> {
        /// Waits for the append lock of `file`.
        #[cfg(windows)]
        pub(super) fn acquire(file: &'a std::fs::File) -> std::io::Result<Self> {
            use std::os::windows::io::AsRawHandle;
            use windows_sys::Win32::Storage::FileSystem::{LOCKFILE_EXCLUSIVE_LOCK, LockFileEx};
            let mut overlapped = overlapped_at_lock_offset();
            // SAFETY: the handle is open for the whole call and `overlapped` outlives it; the
            // handle is synchronous, so LockFileEx returns once the lock is held.
            let locked = unsafe {
                LockFileEx(
                    file.as_raw_handle(),
                    LOCKFILE_EXCLUSIVE_LOCK,
                    0,
                    1,
                    0,
                    &mut overlapped,
                )
            };
            if locked == 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(Self { file })
        }

        /// Nothing to wait for: `O_APPEND` writes are atomic here.
        #[cfg(not(windows))]
        pub(super) fn acquire(_file: &'a std::fs::File) -> std::io::Result<Self> {
            Ok(Self {
                _file: std::marker::PhantomData,
            })
        }
    }

    #[cfg(windows)]
    impl Drop for AppendLock<'_> {
        fn drop(&mut self) {
            use std::os::windows::io::AsRawHandle;
            use windows_sys::Win32::Storage::FileSystem::UnlockFileEx;
            let mut overlapped = overlapped_at_lock_offset();
            // SAFETY: as in `acquire`; unlocking a range this handle locked. A failure leaves
            // the lock to be released when the handle closes, right after.
            unsafe {
                UnlockFileEx(self.file.as_raw_handle(), 0, 1, 0, &mut overlapped);
            }
        }
    }
}

/// Creates a folder and its parents.
pub(crate) fn create_dir_all(path: &Path, what: &str) -> Result<()> {
    fs::create_dir_all(path).map_err(|e| Error::io(format!("cannot create {what} folder"), path, e))
}

/// Reads a whole file. Unlike `fs::read` it does not `stat` the file first: store files are
/// small, and listing 5,000 runs reads ~150,000 of them, so one syscall less per file counts.
pub(crate) fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    // Most files (params, tags, short metric files) fit a stack buffer: read them into it and
    // allocate exactly their size, since the bytes usually become long-lived Strings. Larger
    // files continue in a Vec that doubles.
    const STACK: usize = 16 * 1024;
    let mut file = fs::File::open(path)?;
    let mut stack = [0u8; STACK];
    let mut len = 0;
    loop {
        match file.read(&mut stack[len..]) {
            Ok(0) => return Ok(stack[..len].to_vec()),
            Ok(n) => {
                len += n;
                if len == STACK {
                    break;
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let mut buf = stack.to_vec();
    file.read_to_end(&mut buf)?;
    Ok(buf)
}

/// Reads a whole file as UTF-8 text; `Ok(None)` when it does not exist.
pub(crate) fn read_text_if_exists(path: &Path, what: &str) -> Result<Option<String>> {
    match read_file(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| Error::corrupt(format!("{what} is not UTF-8 text"), path)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("cannot read {what}"), path, e)),
    }
}

/// Why a metric/param/tag key cannot be stored under `base`: an existing file is a prefix of the
/// key (`a` exists, writing `a/b`), or the key's path is a folder (`a/b` exists, writing `a`).
pub(crate) fn key_collision(base: &Path, key: &str, noun: &str) -> Option<Error> {
    let mut path = base.to_path_buf();
    let parts: Vec<&str> = key.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        path.push(part);
        let Ok(meta) = fs::symlink_metadata(&path) else {
            return None;
        };
        let is_last = i + 1 == parts.len();
        if !is_last && !meta.is_dir() {
            let prefix = parts[..=i].join("/");
            return Some(Error::InvalidParameter(format!(
                "Cannot log {noun} '{key}': a {noun} named '{prefix}' exists, and in the file store \
                 '{prefix}' cannot be both a value and a folder of '{prefix}/…' keys"
            )));
        }
        if is_last && meta.is_dir() {
            return Some(Error::InvalidParameter(format!(
                "Cannot log {noun} '{key}': {noun}s named '{key}/…' exist, and in the file store \
                 '{key}' cannot be both a value and a folder of '{key}/…' keys"
            )));
        }
    }
    None
}

/// Keys that collide within one request: one is a folder prefix of another (`a` and `a/b`).
pub(crate) fn collision_within<'a>(
    keys: impl IntoIterator<Item = &'a str>,
    noun: &str,
) -> Option<Error> {
    let mut sorted: Vec<&str> = keys.into_iter().collect();
    sorted.sort_unstable();
    sorted.dedup();
    for pair in sorted.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if b.len() > a.len() && b.starts_with(a) && b.as_bytes()[a.len()] == b'/' {
            return Some(Error::InvalidParameter(format!(
                "Cannot log {noun}s '{a}' and '{b}' together: in the file store '{a}' cannot be both \
                 a value and a folder of '{a}/…' keys"
            )));
        }
    }
    None
}

/// Creates the parent folders of a key's file under `base`, reporting key collisions clearly.
pub(crate) fn prepare_key_path(base: &Path, key: &str, noun: &str) -> Result<PathBuf> {
    let path = key_path(base, key);
    if let Some(parent) = path.parent()
        && let Err(e) = fs::create_dir_all(parent)
    {
        return Err(key_collision(base, key, noun).unwrap_or_else(|| {
            Error::io(
                format!("cannot create folder for {noun} '{key}'"),
                parent,
                e,
            )
        }));
    }
    Ok(path)
}

/// One file of a one-file-per-key folder.
#[derive(Debug)]
pub(crate) struct KeyFile {
    /// The key: the path relative to the folder, `/`-separated.
    pub key: String,
    /// The file.
    pub path: PathBuf,
}

/// Lists the key files under `dir` recursively (sorted by key). A missing folder has no keys.
/// OS junk files, unreadable entries, non-UTF-8 names and names that are not valid keys are
/// left out with a warning; mlscope's own temporary files are skipped silently.
pub(crate) fn list_key_files(dir: &Path, warnings: &mut Vec<StoreWarning>) -> Vec<KeyFile> {
    let mut files = Vec::new();
    walk(dir, "", &mut files, warnings, true);
    files.sort_by(|a, b| a.key.cmp(&b.key));
    files
}

fn walk(
    dir: &Path,
    prefix: &str,
    out: &mut Vec<KeyFile>,
    warnings: &mut Vec<StoreWarning>,
    top: bool,
) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if top && e.kind() == ErrorKind::NotFound => return,
        Err(e) => {
            warnings.push(StoreWarning::new(
                dir.display().to_string(),
                format!("cannot list folder: {e}"),
            ));
            return;
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                warnings.push(StoreWarning::new(
                    dir.display().to_string(),
                    format!("cannot read folder entry: {e}"),
                ));
                continue;
            }
        };
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            warnings.push(StoreWarning::new(
                path.display().to_string(),
                "file name is not UTF-8; skipped",
            ));
            continue;
        };
        if is_temp_name(&name) {
            continue;
        }
        if is_os_junk_name(&name) {
            warnings.push(StoreWarning::new(
                path.display().to_string(),
                "stray operating-system file; skipped",
            ));
            continue;
        }
        let key = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        // `file_type` does not follow symlinks. A link to a file is read like the file (as
        // Python's os.walk does); a link to a folder is never followed: MLflow's layout has
        // none, and one that points up the tree would make the walk endless.
        let is_dir = match entry.file_type() {
            Ok(t) if t.is_symlink() => {
                if path.is_dir() {
                    warnings.push(StoreWarning::new(
                        path.display().to_string(),
                        "symbolic link to a folder inside run or experiment metadata; not followed",
                    ));
                    continue;
                }
                false
            }
            Ok(t) => t.is_dir(),
            Err(_) => fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()),
        };
        if is_dir {
            walk(&path, &key, out, warnings, false);
        } else if paths_key_is_valid(&key) {
            out.push(KeyFile { key, path });
        } else {
            warnings.push(StoreWarning::new(
                path.display().to_string(),
                format!("'{key}' is not a valid key name; skipped"),
            ));
        }
    }
}

fn paths_key_is_valid(key: &str) -> bool {
    crate::model::validation::validate_key(crate::model::validation::KeyKind::Tag, key).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_are_retried_only_where_open_files_block_them() {
        let mut calls = 0;
        let result = retry_while_shared(|| {
            calls += 1;
            if calls < 3 {
                Err(std::io::Error::from(ErrorKind::PermissionDenied))
            } else {
                Ok(())
            }
        });
        if cfg!(windows) {
            result.unwrap();
            assert_eq!(calls, 3);
        } else {
            assert_eq!(result.unwrap_err().kind(), ErrorKind::PermissionDenied);
            assert_eq!(calls, 1);
        }
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t");
        write_atomic(dir.path(), &target, b"one", "test file").unwrap();
        write_atomic(dir.path(), &target, b"two", "test file").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn create_once_keeps_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("p");
        assert_eq!(
            create_once(dir.path(), &target, b"a", "param").unwrap(),
            CreateOnce::Created
        );
        assert_eq!(
            create_once(dir.path(), &target, b"b", "param").unwrap(),
            CreateOnce::Existed
        );
        assert_eq!(fs::read(&target).unwrap(), b"a");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn collisions_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a"), "1").unwrap();
        fs::create_dir_all(dir.path().join("b/c")).unwrap();
        let err = key_collision(dir.path(), "a/x", "param").unwrap();
        assert!(err.to_string().contains("named 'a' exists"), "{err}");
        let err = key_collision(dir.path(), "b/c", "param").unwrap();
        assert!(err.to_string().contains("'b/c/…'"), "{err}");
        assert!(key_collision(dir.path(), "b/d", "param").is_none());
        assert!(prepare_key_path(dir.path(), "a/x", "param").is_err());
        assert!(collision_within(["x", "x/y", "z"], "metric").is_some());
        assert!(collision_within(["x", "xy", "x.y"], "metric").is_none());
    }

    #[test]
    fn key_walk_is_tolerant() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("a/b")).unwrap();
        fs::write(dir.path().join("a/b/c"), "v").unwrap();
        fs::write(dir.path().join("k"), "v").unwrap();
        fs::write(dir.path().join(".DS_Store"), "junk").unwrap();
        fs::write(dir.path().join("bad=name"), "v").unwrap();
        fs::write(dir.path().join(".mlscope-tmp-x"), "v").unwrap();
        let mut warnings = Vec::new();
        let keys: Vec<String> = list_key_files(dir.path(), &mut warnings)
            .into_iter()
            .map(|k| k.key)
            .collect();
        assert_eq!(keys, ["a/b/c", "k"]);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        let mut warnings = Vec::new();
        assert!(list_key_files(&dir.path().join("missing"), &mut warnings).is_empty());
        assert!(warnings.is_empty());
    }
}
