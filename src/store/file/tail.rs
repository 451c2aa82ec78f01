//! Incremental reading of metric files for live views.
//!
//! Metric files are append-only: a reader that remembers how many bytes it has consumed reads
//! only what was appended since. A last line without its `\n` (being written by another process
//! right now) is not consumed: the returned offset stops before it, so the next read sees the
//! whole line once it is complete. A file shorter than the offset was replaced (the run was
//! deleted and recreated, or the file truncated): it is read again from the start and the answer
//! says so.

use std::io::{ErrorKind, Read, Seek, SeekFrom};

use crate::error::{Error, Result};
use crate::model::validation::{KeyKind, validate_key};
use crate::store::MetricTail;
use crate::store::file::FileStore;
use crate::store::file::metrics::parse_metric_line;
use crate::store::file::paths::{METRICS_DIR, key_path};

impl FileStore {
    /// Reads the values of metric `key` of run `run_id` appended after byte `offset` of its file
    /// (0 for the whole file). Returns the new values and the offset to continue from; a
    /// half-written last line is left for the next call. A missing metric file is empty (offset
    /// 0).
    pub fn read_metric_since(&self, run_id: &str, key: &str, offset: u64) -> Result<MetricTail> {
        validate_key(KeyKind::Metric, key)?;
        let run = self.locate_run(run_id)?;
        let path = key_path(&run.path.join(METRICS_DIR), key);
        let mut file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::NotFound | ErrorKind::NotADirectory | ErrorKind::IsADirectory
                ) =>
            {
                return Ok(MetricTail {
                    restarted: offset > 0,
                    ..MetricTail::default()
                });
            }
            Err(e) => return Err(Error::io("cannot read metric file", &path, e)),
        };
        let len = file
            .metadata()
            .map_err(|e| Error::io("cannot read metric file", &path, e))?
            .len();
        let (start, restarted) = if len < offset {
            (0, true)
        } else {
            (offset, false)
        };
        let mut bytes = Vec::with_capacity((len - start) as usize);
        file.seek(SeekFrom::Start(start))
            .and_then(|_| file.read_to_end(&mut bytes))
            .map_err(|e| Error::io("cannot read metric file", &path, e))?;
        let mut tail = parse_complete_lines(key, &bytes);
        tail.next_offset += start;
        tail.restarted = restarted;
        Ok(tail)
    }
}

/// Parses the complete lines of `bytes`; `next_offset` is relative to its start.
fn parse_complete_lines(key: &str, bytes: &[u8]) -> MetricTail {
    let mut tail = MetricTail::default();
    let mut pos = 0usize;
    while let Some(end) = bytes[pos..].iter().position(|&b| b == b'\n') {
        let raw = &bytes[pos..pos + end];
        pos += end + 1;
        let parsed = std::str::from_utf8(raw)
            .map_err(|_| "not UTF-8 text".to_string())
            .and_then(|line| parse_metric_line(key, line));
        match parsed {
            Ok(m) => tail.metrics.push(m),
            // A blank line is harmless; anything else is counted.
            Err(_) if raw.iter().all(u8::is_ascii_whitespace) => {}
            Err(_) => tail.bad_lines += 1,
        }
    }
    tail.next_offset = pos as u64;
    tail
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::model::Metric;
    use crate::store::{CreateRun, TrackingStore};

    fn metric_file(store: &FileStore, run_id: &str, key: &str) -> std::path::PathBuf {
        let run = store.locate_run(run_id).unwrap();
        key_path(&run.path.join(METRICS_DIR), key)
    }

    #[test]
    fn reads_only_what_was_appended_and_keeps_a_torn_line_for_later() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(&dir.path().join("mlruns")).unwrap();
        let run = store
            .create_run(CreateRun {
                experiment_id: "0".into(),
                ..CreateRun::default()
            })
            .unwrap();
        let id = run.info.run_id;
        let empty = store.read_metric_since(&id, "loss", 0).unwrap();
        assert_eq!(empty, MetricTail::default());

        store
            .log_batch(&id, &[Metric::new("loss", 1.0, 10, 0)], &[], &[])
            .unwrap();
        let first = store.read_metric_since(&id, "loss", 0).unwrap();
        assert_eq!(first.metrics.len(), 1);
        let path = metric_file(&store, &id, "loss");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"11 2.0 1\n12 3.").unwrap();
        let second = store
            .read_metric_since(&id, "loss", first.next_offset)
            .unwrap();
        assert_eq!(second.metrics.len(), 1);
        assert_eq!(second.metrics[0].step, 1);
        f.write_all(b"5 2\n").unwrap();
        let third = store
            .read_metric_since(&id, "loss", second.next_offset)
            .unwrap();
        assert_eq!(third.metrics.len(), 1);
        assert_eq!(third.metrics[0].value, 3.5);
        assert_eq!(third.next_offset, std::fs::metadata(&path).unwrap().len());
        let none = store
            .read_metric_since(&id, "loss", third.next_offset)
            .unwrap();
        assert!(none.metrics.is_empty() && !none.restarted);

        std::fs::write(&path, b"1 9.0 0\n").unwrap();
        let again = store
            .read_metric_since(&id, "loss", third.next_offset)
            .unwrap();
        assert!(again.restarted);
        assert_eq!(again.metrics.len(), 1);
    }

    #[test]
    fn bad_lines_are_skipped_and_counted() {
        let t = parse_complete_lines("k", b"1 1.0 0\nnonsense\n\n2 2.0 1\n3 ");
        assert_eq!(t.metrics.len(), 2);
        assert_eq!(t.bad_lines, 1);
        assert_eq!(t.next_offset, 26);
    }
}
