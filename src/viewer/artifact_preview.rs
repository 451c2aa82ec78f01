//! Artifact listings and previews for the viewer, read through the run's
//! [`ArtifactRepository`] (a local folder, relocated for copied stores, or a tracking server's
//! proxied artifacts): at most [`PREVIEW_MAX_BYTES`] of a text-like file are read, images are
//! decoded and scaled down; the user can read more, chunk by chunk or whole. Only the worker calls
//! [`list`] and [`read_preview`] (they do I/O).

use std::io::Read;

use crate::artifacts::ArtifactRepository;

use super::table_view::TableData;
use super::text_view::TextDoc;

mod split_table;
pub use split_table::read_split_table;
use split_table::*;

/// Bytes of a text-like file read for its first preview (the user can read more).
pub const PREVIEW_MAX_BYTES: usize = 256 * 1024;
/// Largest image file decoded for a preview.
pub const IMAGE_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Longest side of a decoded image preview (bigger images are scaled down).
pub const IMAGE_MAX_SIDE: u32 = 2048;

/// One file or folder of a run's artifacts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactEntry {
    /// Path relative to the artifact root, `/`-separated.
    pub path: String,
    /// Whether it is a folder.
    pub is_dir: bool,
    /// Size in bytes (files only).
    pub size: Option<u64>,
}

impl ArtifactEntry {
    /// The last path component.
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

/// Lists one folder (folders first, then files, each sorted by name). A run without artifacts
/// (no folder yet) has an empty list.
pub fn list(repo: &dyn ArtifactRepository, rel: &str) -> Result<Vec<ArtifactEntry>, String> {
    let mut entries: Vec<ArtifactEntry> = repo
        .list(rel)
        .map_err(|e| format!("cannot list '{rel}': {e}"))?
        .into_iter()
        .map(|f| ArtifactEntry {
            path: f.path,
            is_dir: f.is_dir,
            size: if f.is_dir {
                None
            } else {
                Some(f.file_size.unwrap_or(0))
            },
        })
        .collect();
    entries.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then(a.path.cmp(&b.path)));
    Ok(entries)
}

/// The kind of preview a file name calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// PNG, JPEG, GIF, BMP, WebP.
    Image,
    /// JSON.
    Json,
    /// YAML (MLmodel, conda.yaml…).
    Yaml,
    /// Comma- or tab-separated values.
    Csv(u8),
    /// Anything else: text if it decodes, binary otherwise.
    Other,
}

/// The preview kind of a file, from its name.
pub fn kind_of(path: &str) -> Kind {
    let lower = path.to_ascii_lowercase();
    let ext = lower.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext {
        "png" | "jpg" | "jpeg" | "gif" | "bmp" | "webp" => Kind::Image,
        "json" => Kind::Json,
        "yaml" | "yml" => Kind::Yaml,
        "csv" => Kind::Csv(b','),
        "tsv" => Kind::Csv(b'\t'),
        _ if lower.ends_with("mlmodel") => Kind::Yaml,
        _ => Kind::Other,
    }
}

/// Decodes an image, scaling it down to [`IMAGE_MAX_SIDE`].
pub fn decode_image(bytes: &[u8]) -> Result<Preview, String> {
    let img = image::load_from_memory(bytes).map_err(|e| format!("cannot decode image: {e}"))?;
    let original_size = [img.width() as usize, img.height() as usize];
    let img = if img.width() > IMAGE_MAX_SIDE || img.height() > IMAGE_MAX_SIDE {
        img.thumbnail(IMAGE_MAX_SIDE, IMAGE_MAX_SIDE)
    } else {
        img
    };
    let rgba = img.to_rgba8();
    let size = [rgba.width() as usize, rgba.height() as usize];
    let image = egui::ColorImage::from_rgba_unmultiplied(size, rgba.as_raw());
    Ok(Preview::Image {
        image,
        original_size,
    })
}

fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whole-file loads above this size ask the user first.
pub const WHOLE_FILE_WARN_BYTES: u64 = 64 * 1024 * 1024;
/// Largest file loaded whole for a preview (bigger ones are read in chunks or opened
/// externally).
pub const WHOLE_FILE_MAX_BYTES: u64 = 1024 * 1024 * 1024;

/// How much of a file a preview reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReadLimit {
    /// The first this many bytes.
    First(u64),
    /// The whole file (up to `WHOLE_FILE_MAX_BYTES`).
    Whole,
}

impl Default for ReadLimit {
    fn default() -> Self {
        ReadLimit::First(PREVIEW_MAX_BYTES as u64)
    }
}

impl ReadLimit {
    /// Bytes this limit reads of a file of `total` bytes.
    pub fn bytes(self, total: u64) -> u64 {
        match self {
            ReadLimit::First(n) => n.min(total),
            ReadLimit::Whole => total.min(WHOLE_FILE_MAX_BYTES),
        }
    }

    /// The limit of the next chunk after `read` bytes were read: four times as much, so that
    /// reading a file chunk by chunk reads it a bounded number of times.
    pub fn after(read: u64) -> ReadLimit {
        ReadLimit::First(read.max(PREVIEW_MAX_BYTES as u64).saturating_mul(4))
    }
}

/// What part of a file a preview holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    /// Bytes read from the start of the file.
    pub read: u64,
    /// Size of the file in bytes.
    pub total: u64,
}

impl Extent {
    /// Whether the whole file was read.
    pub fn is_whole(&self) -> bool {
        self.read >= self.total
    }

    /// "first 256.0 KB of 2.6 MB", or "all 2.6 MB".
    pub fn describe(&self) -> String {
        if self.is_whole() {
            format!("all {}", human_bytes(self.total))
        } else {
            format!(
                "first {} of {}",
                human_bytes(self.read),
                human_bytes(self.total)
            )
        }
    }
}

/// A preview of an artifact, ready to show, with what was read and what was cut.
#[derive(Debug, Clone)]
pub enum Preview {
    /// A decoded image (scaled down when large).
    Image {
        /// Pixels.
        image: egui::ColorImage,
        /// Original width and height.
        original_size: [usize; 2],
    },
    /// Text: logs, code, YAML, JSON (pretty-printed when it parses).
    Text {
        /// The text read, split into lines.
        doc: TextDoc,
        /// What was read.
        extent: Extent,
        /// `json`, `yaml` or `text`.
        language: &'static str,
        /// Why the text is shown raw: the parser's message with its line and column.
        problem: Option<String>,
    },
    /// A table: CSV/TSV, or MLflow's `log_table` JSON read row by row from the start.
    Table {
        /// Columns and the rows read so far.
        table: TableData,
        /// What was read.
        extent: Extent,
        /// Whether every row of the file is in `table`.
        complete: bool,
        /// What was cut or went wrong, in words ("the header row alone is longer…").
        note: Option<String>,
    },
    /// A binary file that cannot be previewed.
    Binary {
        /// Size of the file in bytes.
        total_bytes: u64,
    },
}

/// Reads a preview of one file, at most `limit` of it (images are always read whole, up to
/// `IMAGE_MAX_BYTES`).
pub fn read_preview(
    repo: &dyn ArtifactRepository,
    rel: &str,
    limit: ReadLimit,
) -> Result<Preview, String> {
    let cannot = |e: crate::Error| format!("cannot read '{rel}': {e}");
    let total = repo
        .stat(rel)
        .map_err(cannot)?
        .file_size
        .ok_or_else(|| format!("'{rel}' is a folder"))?;
    let kind = kind_of(rel);
    if kind == Kind::Image {
        if total > IMAGE_MAX_BYTES {
            return Err(format!(
                "image too large to preview ({}), open it in the system viewer",
                human_bytes(total)
            ));
        }
        let mut bytes = Vec::with_capacity(total as usize);
        repo.open(rel)
            .map_err(cannot)?
            .take(IMAGE_MAX_BYTES)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read '{rel}': {e}"))?;
        return decode_image(&bytes);
    }
    let want = limit.bytes(total);
    if kind == Kind::Json {
        let head = repo.read_range(rel, 0, 64).map_err(cannot)?;
        if looks_like_split_table(&head) {
            let reader = repo.open(rel).map_err(cannot)?;
            match read_split_table(reader, want) {
                Ok(Some(split)) => {
                    return Ok(Preview::Table {
                        extent: Extent {
                            read: if split.complete { total } else { split.read },
                            total,
                        },
                        complete: split.complete,
                        note: split.note,
                        table: split.table,
                    });
                }
                Ok(None) => {}
                Err(problem) => {
                    let bytes = read_start(repo, rel, want).map_err(cannot)?;
                    return Ok(text_file_preview(
                        kind,
                        &bytes,
                        Extent {
                            read: bytes.len() as u64,
                            total,
                        },
                        Some(problem.to_string()),
                    ));
                }
            }
        }
    }
    let bytes = read_start(repo, rel, want).map_err(cannot)?;
    let extent = Extent {
        read: bytes.len() as u64,
        total,
    };
    Ok(text_file_preview(kind, &bytes, extent, None))
}

/// The first `want` bytes of a file (fewer if it is shorter, or changed since it was listed).
fn read_start(repo: &dyn ArtifactRepository, rel: &str, want: u64) -> crate::Result<Vec<u8>> {
    let want = usize::try_from(want).unwrap_or(usize::MAX);
    repo.read_range(rel, 0, want)
}

/// Builds the preview of a text-like file from its first bytes (`extent` says which part).
/// `problem` is shown with the text (a JSON error found while streaming).
pub fn text_file_preview(
    kind: Kind,
    bytes: &[u8],
    extent: Extent,
    problem: Option<String>,
) -> Preview {
    let cut = !extent.is_whole();
    let Ok(text) = std::str::from_utf8(bytes).or_else(|e| {
        // A cut in the middle of a character is fine; anything else is binary.
        if cut && e.valid_up_to() + 4 >= bytes.len() {
            Ok(std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""))
        } else {
            Err(e)
        }
    }) else {
        return Preview::Binary {
            total_bytes: extent.total,
        };
    };
    if text.contains('\0') {
        return Preview::Binary {
            total_bytes: extent.total,
        };
    }
    let text_of = |text: String, language: &'static str, problem: Option<String>| Preview::Text {
        doc: TextDoc::new(text),
        extent,
        language,
        problem,
    };
    match kind {
        Kind::Json if !cut && problem.is_none() => {
            match serde_json::from_str::<serde_json::Value>(text) {
                Ok(value) => {
                    if let Some(table) = log_table_data(&value) {
                        return Preview::Table {
                            table,
                            extent,
                            complete: true,
                            note: None,
                        };
                    }
                    let pretty =
                        serde_json::to_string_pretty(&value).unwrap_or_else(|_| text.into());
                    text_of(pretty, "json", None)
                }
                Err(e) => text_of(text.into(), "json", Some(json_problem(&e))),
            }
        }
        Kind::Json => text_of(text.into(), "json", problem),
        Kind::Csv(delimiter) => csv_file_preview(text, delimiter, extent),
        Kind::Yaml => text_of(text.into(), "yaml", problem),
        _ => text_of(text.into(), "text", problem),
    }
}

/// A serde_json error as "Invalid JSON at line 3, column 7: expected value".
pub fn json_problem(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let message = full
        .rsplit_once(" at line ")
        .map_or(full.as_str(), |(m, _)| m);
    format!(
        "Invalid JSON at line {}, column {}: {message}",
        e.line(),
        e.column()
    )
}

/// MLflow's `log_table` JSON parsed whole: `{"columns": [...], "data": [[...], ...]}`.
fn log_table_data(value: &serde_json::Value) -> Option<TableData> {
    let columns = value.get("columns")?.as_array()?;
    let data = value.get("data")?.as_array()?;
    let mut table = TableData::new(columns.iter().map(cell).collect());
    for row in data {
        let pushed = match row.as_array() {
            Some(cells) => table.push_row(cells.iter().map(cell)),
            None => table.push_row([cell(row)]),
        };
        if !pushed {
            break;
        }
    }
    Some(table)
}

/// A CSV/TSV table from the first bytes of a file. A cut file loses its last, partial row; a
/// header row longer than what was read says so.
fn csv_file_preview(text: &str, delimiter: u8, extent: Extent) -> Preview {
    let cut = !extent.is_whole();
    let header_whole = !cut || text.contains('\n');
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let mut columns: Vec<String> = reader
        .headers()
        .map(|h| h.iter().map(str::to_string).collect())
        .unwrap_or_default();
    let mut note = None;
    if !header_whole {
        // The last name may be cut in the middle.
        columns.pop();
        note = Some(format!(
            "Read the {}; the header row alone is longer ({} columns so far), no rows yet",
            extent.describe(),
            columns.len()
        ));
        return Preview::Table {
            table: TableData::new(columns),
            extent,
            complete: false,
            note,
        };
    }
    let mut table = TableData::new(columns);
    let mut record = csv::StringRecord::new();
    let mut last_end = 0;
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {
                last_end = reader.position().byte() as usize;
                if !table.push_row(record.iter()) {
                    note = Some("The table is too large to hold whole".into());
                    break;
                }
            }
            Ok(false) => break,
            Err(e) => {
                note = Some(format!("Stopped at a malformed row: {e}"));
                break;
            }
        }
    }
    // The last row of a cut file is cut too, unless the read ended with its line.
    let ends_row = text.ends_with('\n') && last_end == text.len();
    let mut complete = !cut && note.is_none();
    if cut && !ends_row {
        table.pop_row();
    }
    if cut {
        complete = false;
    }
    Preview::Table {
        table,
        extent,
        complete,
        note,
    }
}

/// One image of an MLflow image series (`log_image(key=…, step=…)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesImage {
    /// The image key (with its `/`s restored).
    pub key: String,
    /// The step.
    pub step: i64,
    /// Path of the full-size PNG, relative to the artifact root.
    pub path: String,
}

/// Parses an `images/` file name of MLflow's image series, in both the 3.11+ form
/// (`key+step+3+timestamp+…+uuid.png`, `/` as `~`) and the older one (`%` and `#`).
pub fn parse_series_image(path: &str) -> Option<SeriesImage> {
    let name = path.rsplit('/').next()?;
    let stem = name.strip_suffix(".png")?;
    let (sep, slash) = if stem.contains("+step+") {
        ('+', '~')
    } else if stem.contains("%step%") {
        ('%', '#')
    } else {
        return None;
    };
    let parts: Vec<&str> = stem.split(sep).collect();
    if parts.len() < 6 || parts[1] != "step" || parts[3] != "timestamp" {
        return None;
    }
    if parts.last() == Some(&"compressed") {
        return None;
    }
    Some(SeriesImage {
        key: parts[0].replace(slash, "/"),
        step: parts[2].parse().ok()?,
        path: path.to_string(),
    })
}

/// Bytes as `12.3 KB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::LocalArtifactRepository;

    /// The first preview of a file, as the panel asks for it.
    fn preview(repo: &dyn ArtifactRepository, rel: &str) -> Result<Preview, String> {
        read_preview(repo, rel, ReadLimit::default())
    }

    #[test]
    fn a_run_without_artifacts_lists_empty_and_escapes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let repo = LocalArtifactRepository::new(dir.path().join("not-yet"));
        assert!(list(&repo, "").unwrap().is_empty());
        let repo = LocalArtifactRepository::new(dir.path().to_path_buf());
        assert!(list(&repo, "../etc").is_err());
        assert!(preview(&repo, "../etc/passwd").is_err());
        assert!(
            preview(&repo, "missing.txt")
                .unwrap_err()
                .contains("missing.txt")
        );
    }

    #[test]
    fn lists_folders_first_and_previews_text_json_csv() {
        let dir = tempfile::tempdir().unwrap();
        let repo = LocalArtifactRepository::new(dir.path().to_path_buf());
        std::fs::create_dir(dir.path().join("model")).unwrap();
        std::fs::write(dir.path().join("a.json"), br#"{"b":1}"#).unwrap();
        std::fs::write(dir.path().join("t.csv"), b"x,y\n1,2\n3,4\n").unwrap();
        std::fs::write(
            dir.path().join("tbl.json"),
            br#"{"columns":["a","b"],"data":[[1,"x"],[2,"y"]]}"#,
        )
        .unwrap();
        let entries = list(&repo, "").unwrap();
        assert_eq!(entries[0].path, "model");
        assert!(entries[0].is_dir);
        match preview(&repo, "a.json").unwrap() {
            Preview::Text { doc, .. } => assert!(doc.text().contains("\"b\": 1")),
            p => panic!("{p:?}"),
        }
        match preview(&repo, "t.csv").unwrap() {
            Preview::Table { table, .. } => {
                let (columns, rows) = (table.columns(), table.row_count());
                assert_eq!(columns, ["x", "y"]);
                assert_eq!(rows, 2);
            }
            p => panic!("{p:?}"),
        }
        match preview(&repo, "tbl.json").unwrap() {
            Preview::Table { table, .. } => {
                let (columns, row) = (table.columns(), table.row(1).collect::<Vec<_>>());
                assert_eq!(columns, ["a", "b"]);
                assert_eq!(row, ["2", "y"]);
            }
            p => panic!("{p:?}"),
        }
        assert!(list(&repo, "").unwrap().iter().any(|e| e.name() == "t.csv"));
    }

    #[test]
    fn big_text_files_are_read_in_part() {
        let dir = tempfile::tempdir().unwrap();
        let big = "line\n".repeat(200_000);
        std::fs::write(dir.path().join("log.txt"), &big).unwrap();
        let repo = LocalArtifactRepository::new(dir.path().to_path_buf());
        match preview(&repo, "log.txt").unwrap() {
            Preview::Text { doc, extent, .. } => {
                let (text, truncated, total_bytes) = (doc.text(), !extent.is_whole(), extent.total);
                assert!(truncated);
                assert_eq!(text.len(), PREVIEW_MAX_BYTES);
                assert_eq!(total_bytes, big.len() as u64);
            }
            p => panic!("{p:?}"),
        }
    }

    #[test]
    fn image_series_names_in_both_forms() {
        let new = parse_series_image("images/a~b+step+3+timestamp+17+0a-1.png").unwrap();
        assert_eq!((new.key.as_str(), new.step), ("a/b", 3));
        let old = parse_series_image("images/a#b%step%4%timestamp%17%0a-1.png").unwrap();
        assert_eq!((old.key.as_str(), old.step), ("a/b", 4));
        assert!(parse_series_image("images/a+step+3+timestamp+17+x+compressed.webp").is_none());
        assert!(parse_series_image("plain.png").is_none());
    }
}
