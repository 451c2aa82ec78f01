//! Artifact listings and previews for the viewer, read through the run's
//! [`ArtifactRepository`] (a local folder, relocated for copied stores, or a tracking server's
//! proxied artifacts): at most [`PREVIEW_MAX_BYTES`] of a text-like file are read, images are
//! decoded and scaled down. Only the worker calls [`list`] and [`preview`] (they do I/O).

use std::io::Read;

use crate::artifacts::ArtifactRepository;

/// Most bytes of a text-like file read for a preview.
pub const PREVIEW_MAX_BYTES: usize = 256 * 1024;
/// Largest image file decoded for a preview.
pub const IMAGE_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Longest side of a decoded image preview (bigger images are scaled down).
pub const IMAGE_MAX_SIDE: u32 = 2048;
/// Most table rows shown in a preview.
pub const TABLE_MAX_ROWS: usize = 2000;

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

/// A preview of an artifact, ready to show.
#[derive(Debug, Clone)]
pub enum Preview {
    /// A decoded image (scaled down when large).
    Image {
        /// Pixels.
        image: egui::ColorImage,
        /// Original width and height.
        original_size: [usize; 2],
    },
    /// Text (the start of the file when it is large).
    Text {
        /// The text.
        text: String,
        /// Whether only the start of the file was read.
        truncated: bool,
        /// Size of the file in bytes.
        total_bytes: u64,
        /// Pretty-printed JSON or YAML (for a syntax hint).
        language: &'static str,
    },
    /// A table (CSV, TSV or MLflow `log_table` JSON).
    Table {
        /// Column names.
        columns: Vec<String>,
        /// Rows (at most [`TABLE_MAX_ROWS`]).
        rows: Vec<Vec<String>>,
        /// Whether rows were left out.
        truncated: bool,
    },
    /// A binary file that cannot be previewed.
    Binary {
        /// Size of the file in bytes.
        total_bytes: u64,
    },
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

/// Reads a preview of one file; big files are read only in part.
pub fn preview(repo: &dyn ArtifactRepository, rel: &str) -> Result<Preview, String> {
    let cannot = |e: crate::Error| format!("cannot read '{rel}': {e}");
    let total = repo
        .stat(rel)
        .map_err(cannot)?
        .file_size
        .ok_or_else(|| format!("'{rel}' is a folder"))?;
    match kind_of(rel) {
        Kind::Image => {
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
            decode_image(&bytes)
        }
        kind => {
            // One byte more than shown tells whether the file goes on.
            let mut bytes = repo
                .read_range(rel, 0, PREVIEW_MAX_BYTES + 1)
                .map_err(cannot)?;
            let truncated = bytes.len() > PREVIEW_MAX_BYTES;
            bytes.truncate(PREVIEW_MAX_BYTES);
            Ok(text_preview(kind, &bytes, truncated, total))
        }
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

/// Builds the preview of a text-like file from its first bytes.
pub fn text_preview(kind: Kind, bytes: &[u8], truncated: bool, total_bytes: u64) -> Preview {
    let Ok(text) = std::str::from_utf8(bytes).or_else(|e| {
        // A cut in the middle of a character is fine; anything else is binary.
        if truncated && e.valid_up_to() + 4 >= bytes.len() {
            Ok(std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""))
        } else {
            Err(e)
        }
    }) else {
        return Preview::Binary { total_bytes };
    };
    if text.contains('\0') {
        return Preview::Binary { total_bytes };
    }
    match kind {
        Kind::Json if !truncated => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(value) => {
                if let Some(table) = log_table(&value) {
                    return table;
                }
                let pretty = serde_json::to_string_pretty(&value).unwrap_or_else(|_| text.into());
                Preview::Text {
                    text: pretty,
                    truncated,
                    total_bytes,
                    language: "json",
                }
            }
            Err(_) => plain(text, truncated, total_bytes, "json"),
        },
        Kind::Csv(delimiter) => csv_table(text, delimiter, truncated),
        Kind::Yaml => plain(text, truncated, total_bytes, "yaml"),
        Kind::Json => plain(text, truncated, total_bytes, "json"),
        _ => plain(text, truncated, total_bytes, "text"),
    }
}

fn plain(text: &str, truncated: bool, total_bytes: u64, language: &'static str) -> Preview {
    Preview::Text {
        text: text.to_string(),
        truncated,
        total_bytes,
        language,
    }
}

/// MLflow's `log_table` JSON: `{"columns": [...], "data": [[...], ...]}`.
fn log_table(value: &serde_json::Value) -> Option<Preview> {
    let columns = value.get("columns")?.as_array()?;
    let data = value.get("data")?.as_array()?;
    let columns: Vec<String> = columns.iter().map(cell).collect();
    let rows: Vec<Vec<String>> = data
        .iter()
        .take(TABLE_MAX_ROWS)
        .map(|row| match row.as_array() {
            Some(cells) => cells.iter().map(cell).collect(),
            None => vec![cell(row)],
        })
        .collect();
    Some(Preview::Table {
        columns,
        rows,
        truncated: data.len() > TABLE_MAX_ROWS,
    })
}

fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn csv_table(text: &str, delimiter: u8, truncated: bool) -> Preview {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let columns: Vec<String> = reader
        .headers()
        .map(|h| h.iter().map(str::to_string).collect())
        .unwrap_or_default();
    let mut rows = Vec::new();
    let mut more = truncated;
    for record in reader.records() {
        let Ok(record) = record else { break };
        if rows.len() == TABLE_MAX_ROWS {
            more = true;
            break;
        }
        rows.push(record.iter().map(str::to_string).collect());
    }
    // The last row of a cut file may be cut too.
    if truncated {
        rows.pop();
    }
    Preview::Table {
        columns,
        rows,
        truncated: more,
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
            Preview::Text { text, .. } => assert!(text.contains("\"b\": 1")),
            p => panic!("{p:?}"),
        }
        match preview(&repo, "t.csv").unwrap() {
            Preview::Table { columns, rows, .. } => {
                assert_eq!(columns, ["x", "y"]);
                assert_eq!(rows.len(), 2);
            }
            p => panic!("{p:?}"),
        }
        match preview(&repo, "tbl.json").unwrap() {
            Preview::Table { columns, rows, .. } => {
                assert_eq!(columns, ["a", "b"]);
                assert_eq!(rows[1], ["2", "y"]);
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
            Preview::Text {
                text,
                truncated,
                total_bytes,
                ..
            } => {
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
