//! Tables as MLflow's `log_table` writes them: pandas' JSON "split" orient,
//! `{"columns":["a","b"],"data":[[1,"x"],[2,"y"]]}`, with image cells saved as files under
//! `table_images/` and replaced by `{"type":"image","filepath":…,"compressed_filepath":…}`.
//!
//! [`Table`] is what you log; [`LoggedTable`] is what is read back (from MLflow or mlscope).

use std::io;

use image::DynamicImage;
use serde_json::ser::Formatter;
use serde_json::{Map, Value};

use super::ArtifactPath;
use crate::error::{Error, Result};

/// One cell of a table to log.
#[derive(Debug, Clone)]
pub enum TableCell {
    /// A JSON value: number, string, bool, null, list or object.
    Value(Value),
    /// An image: saved as `table_images/<table>/<uuid>.png` plus a `.webp` thumbnail.
    Image(DynamicImage),
}

impl From<Value> for TableCell {
    fn from(v: Value) -> Self {
        TableCell::Value(v)
    }
}
impl From<DynamicImage> for TableCell {
    fn from(img: DynamicImage) -> Self {
        TableCell::Image(img)
    }
}
impl From<&str> for TableCell {
    fn from(s: &str) -> Self {
        TableCell::Value(Value::String(s.to_string()))
    }
}
impl From<String> for TableCell {
    fn from(s: String) -> Self {
        TableCell::Value(Value::String(s))
    }
}
impl From<bool> for TableCell {
    fn from(b: bool) -> Self {
        TableCell::Value(Value::Bool(b))
    }
}
impl From<i64> for TableCell {
    fn from(v: i64) -> Self {
        TableCell::Value(Value::from(v))
    }
}
impl From<i32> for TableCell {
    fn from(v: i32) -> Self {
        TableCell::Value(Value::from(v))
    }
}
impl From<u32> for TableCell {
    fn from(v: u32) -> Self {
        TableCell::Value(Value::from(v))
    }
}
impl From<usize> for TableCell {
    fn from(v: usize) -> Self {
        TableCell::Value(Value::from(v as u64))
    }
}
impl From<f64> for TableCell {
    /// Non-finite values become `null` (pandas writes NaN as `null` too).
    fn from(v: f64) -> Self {
        TableCell::Value(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
}
impl From<f32> for TableCell {
    fn from(v: f32) -> Self {
        TableCell::from(f64::from(v))
    }
}
impl<T: Into<TableCell>> From<Option<T>> for TableCell {
    fn from(v: Option<T>) -> Self {
        v.map_or(TableCell::Value(Value::Null), Into::into)
    }
}

/// A table to log with `log_table`: named columns and rows of cells.
///
/// ```
/// use mlscope::artifacts::table::{Table, TableCell};
/// let mut t = Table::new(["inputs", "score"]);
/// t.push_row([TableCell::from("What is MLflow?"), TableCell::from(0.5)]).unwrap();
/// assert_eq!(t.len(), 1);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Table {
    columns: Vec<String>,
    rows: Vec<Vec<TableCell>>,
}

impl Table {
    /// An empty table with these columns.
    pub fn new<I, S>(columns: I) -> Table
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Table {
            columns: columns.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// A table from columns of equal length, like `pandas.DataFrame(dict)`.
    pub fn from_columns<I, S>(columns: I) -> Result<Table>
    where
        I: IntoIterator<Item = (S, Vec<TableCell>)>,
        S: Into<String>,
    {
        let cols: Vec<(String, Vec<TableCell>)> =
            columns.into_iter().map(|(n, c)| (n.into(), c)).collect();
        let len = cols.first().map_or(0, |c| c.1.len());
        if let Some((name, c)) = cols.iter().find(|c| c.1.len() != len) {
            return Err(Error::InvalidParameter(format!(
                "All arrays must be of the same length: column '{name}' has {} values, the \
                 first column {len}",
                c.len()
            )));
        }
        let mut table = Table::new(cols.iter().map(|c| c.0.clone()));
        let mut iters: Vec<_> = cols.into_iter().map(|c| c.1.into_iter()).collect();
        for _ in 0..len {
            table
                .rows
                .push(iters.iter_mut().filter_map(Iterator::next).collect());
        }
        Ok(table)
    }

    /// Appends a row; it must have one cell per column.
    pub fn push_row<I, C>(&mut self, row: I) -> Result<()>
    where
        I: IntoIterator<Item = C>,
        C: Into<TableCell>,
    {
        let row: Vec<TableCell> = row.into_iter().map(Into::into).collect();
        if row.len() != self.columns.len() {
            return Err(Error::InvalidParameter(format!(
                "a row of {} cells does not fit a table of {} columns",
                row.len(),
                self.columns.len()
            )));
        }
        self.rows.push(row);
        Ok(())
    }

    /// Column names.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Rows.
    pub fn rows(&self) -> &[Vec<TableCell>] {
        &self.rows
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Checks the shape: unique column names, one cell per column in every row, and no column
    /// mixing images with other values. Returns which columns hold images.
    pub fn validate(&self) -> Result<Vec<bool>> {
        for (i, c) in self.columns.iter().enumerate() {
            if self.columns[..i].contains(c) {
                return Err(Error::InvalidParameter(format!(
                    "the table has two columns named '{c}'"
                )));
            }
        }
        if let Some(r) = self.rows.iter().find(|r| r.len() != self.columns.len()) {
            return Err(Error::InvalidParameter(format!(
                "a row of {} cells does not fit a table of {} columns",
                r.len(),
                self.columns.len()
            )));
        }
        let mut image_cols = Vec::with_capacity(self.columns.len());
        for (i, c) in self.columns.iter().enumerate() {
            let images = self
                .rows
                .iter()
                .filter(|r| matches!(r[i], TableCell::Image(_)))
                .count();
            if images > 0 && images < self.rows.len() {
                return Err(Error::InvalidParameter(format!(
                    "Column `{c}` contains a mix of images and non-images. Please ensure that \
                     all elements in the column are of the same type."
                )));
            }
            image_cols.push(images > 0);
        }
        Ok(image_cols)
    }
}

/// An image cell of a logged table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageCell {
    /// Artifact path of the full image (`table_images/<table>/<uuid>.png`).
    pub filepath: String,
    /// Artifact path of the thumbnail (`….webp`).
    pub compressed_filepath: String,
}

impl ImageCell {
    /// Reads an image cell (`{"type": "image", "filepath": …, "compressed_filepath": …}`).
    pub fn from_value(v: &Value) -> Option<ImageCell> {
        let o = v.as_object()?;
        if o.get("type")?.as_str()? != "image" {
            return None;
        }
        Some(ImageCell {
            filepath: o.get("filepath")?.as_str()?.to_string(),
            compressed_filepath: o
                .get("compressed_filepath")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        })
    }

    /// The JSON form written in the table.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("type".into(), Value::String("image".into()));
        m.insert("filepath".into(), Value::String(self.filepath.clone()));
        m.insert(
            "compressed_filepath".into(),
            Value::String(self.compressed_filepath.clone()),
        );
        Value::Object(m)
    }
}

/// A table as stored: column names and rows of JSON values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoggedTable {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, one value per column.
    pub data: Vec<Vec<Value>>,
}

impl LoggedTable {
    /// Parses a "split" orient JSON table (an `index` member, if present, is ignored). Rows are
    /// checked to have one value per column.
    pub fn parse(bytes: &[u8]) -> Result<LoggedTable> {
        let bad = |why: String| Error::InvalidParameter(format!("not a logged table: {why}"));
        let v: Value = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        let obj = v
            .as_object()
            .ok_or_else(|| bad("expected a JSON object with \"columns\" and \"data\"".into()))?;
        let columns: Vec<String> = obj
            .get("columns")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no \"columns\" list".into()))?
            .iter()
            .map(|c| match c {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        let data = match obj.get("data") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(rows)) => rows
                .iter()
                .enumerate()
                .map(|(i, r)| match r {
                    Value::Array(cells) if cells.len() == columns.len() => Ok(cells.clone()),
                    Value::Array(cells) => Err(bad(format!(
                        "row {i} has {} values for {} columns",
                        cells.len(),
                        columns.len()
                    ))),
                    _ => Err(bad(format!("row {i} is not a list"))),
                })
                .collect::<Result<_>>()?,
            Some(_) => return Err(bad("\"data\" is not a list".into())),
        };
        Ok(LoggedTable { columns, data })
    }

    /// The JSON bytes pandas' `to_json(orient="split", index=False)` would write: compact,
    /// non-ASCII and `/` escaped.
    pub fn to_json(&self) -> String {
        let mut obj = Map::new();
        obj.insert(
            "columns".into(),
            Value::Array(self.columns.iter().cloned().map(Value::String).collect()),
        );
        obj.insert(
            "data".into(),
            Value::Array(self.data.iter().cloned().map(Value::Array).collect()),
        );
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut out, PandasFormatter);
        // Writing a Value into memory cannot fail.
        let _ = serde::Serialize::serialize(&Value::Object(obj), &mut ser);
        String::from_utf8(out).unwrap_or_default()
    }

    /// Index of a column.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// Whether every value of column `index` is an image cell (and there is at least one row).
    pub fn is_image_column(&self, index: usize) -> bool {
        !self.data.is_empty()
            && self
                .data
                .iter()
                .all(|r| r.get(index).and_then(ImageCell::from_value).is_some())
    }

    /// Every image cell, as (row, column, cell).
    pub fn image_cells(&self) -> Vec<(usize, usize, ImageCell)> {
        let mut out = Vec::new();
        for (r, row) in self.data.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                if let Some(cell) = ImageCell::from_value(v) {
                    out.push((r, c, cell));
                }
            }
        }
        out
    }
}

/// pandas (ujson) string escaping: `/` and every non-ASCII character escaped.
struct PandasFormatter;

impl Formatter for PandasFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, ch) in fragment.char_indices() {
            if ch.is_ascii() && ch != '/' && ch != '\x7f' {
                continue;
            }
            w.write_all(&fragment.as_bytes()[start..i])?;
            if ch == '/' {
                w.write_all(b"\\/")?;
            } else {
                let mut buf = [0u16; 2];
                for unit in ch.encode_utf16(&mut buf) {
                    write!(w, "\\u{unit:04x}")?;
                }
            }
            start = i + ch.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }
}

/// Checks a `log_table` file name: MLflow forbids `" ' , : [ ] { }` and needs `.json` or
/// `.parquet` (mlscope writes `.json` only).
pub fn validate_table_file(artifact_file: &str) -> Result<ArtifactPath> {
    for ch in ['"', '\'', ',', ':', '[', ']', '{', '}'] {
        if artifact_file.contains(ch) {
            return Err(Error::InvalidParameter(format!(
                "The artifact_file contains forbidden character: {ch}"
            )));
        }
    }
    if artifact_file.ends_with(".parquet") {
        return Err(Error::InvalidParameter(format!(
            "Parquet tables are not supported by mlscope yet; log '{artifact_file}' as .json"
        )));
    }
    if !artifact_file.ends_with(".json") {
        return Err(Error::InvalidParameter(format!(
            "Invalid artifact file path '{artifact_file}'. Please ensure the file you are trying \
             to log as a table has a file name with either '.json' or '.parquet' extension."
        )));
    }
    let path = ArtifactPath::parse(artifact_file)?;
    if path.is_root() {
        return Err(Error::InvalidParameter(
            "the table file name is empty".into(),
        ));
    }
    Ok(path)
}

/// Where the images of a table's image cells go: `table_images/<file without extension>/<uuid>`
/// (the `.png` and `.webp` paths).
pub fn image_cell_paths(artifact_file: &str) -> ImageCell {
    let stem = artifact_file
        .rsplit_once('.')
        .map_or(artifact_file, |(s, _)| s);
    let stem = ArtifactPath::parse(stem).map_or_else(|_| stem.to_string(), |p| p.to_string());
    let base = format!("table_images/{stem}/{}", uuid::Uuid::new_v4().hyphenated());
    ImageCell {
        filepath: format!("{base}.png"),
        compressed_filepath: format!("{base}.webp"),
    }
}

/// Appends `new` (already converted to JSON values, columns in `new_columns` order) to
/// `existing`, as pandas' `concat` does for tables of the same columns. A different set of
/// columns, or a column that holds images in one and not the other, is an error.
pub fn append_rows(
    existing: &LoggedTable,
    new_columns: &[String],
    new_image_columns: &[bool],
    new_rows: Vec<Vec<Value>>,
    artifact_file: &str,
) -> Result<LoggedTable> {
    let mut a: Vec<&String> = existing.columns.iter().collect();
    let mut b: Vec<&String> = new_columns.iter().collect();
    a.sort();
    b.sort();
    if a != b {
        return Err(Error::InvalidParameter(format!(
            "cannot append to table '{artifact_file}': its columns are {:?} but the new rows have \
             columns {:?} (schema mismatch); log to another file or use the same columns",
            existing.columns, new_columns
        )));
    }
    let order: Vec<usize> = existing
        .columns
        .iter()
        .map(|c| new_columns.iter().position(|n| n == c).unwrap_or(0))
        .collect();
    if !existing.data.is_empty() && !new_rows.is_empty() {
        for (ei, &ni) in order.iter().enumerate() {
            let old_images = existing.is_image_column(ei);
            if old_images != new_image_columns[ni] {
                return Err(Error::InvalidParameter(format!(
                    "cannot append to table '{artifact_file}': column '{}' holds {} there but {} \
                     in the new rows (schema mismatch)",
                    existing.columns[ei],
                    if old_images { "images" } else { "values" },
                    if new_image_columns[ni] {
                        "images"
                    } else {
                        "values"
                    },
                )));
            }
        }
    }
    let mut out = existing.clone();
    for row in new_rows {
        out.data
            .push(order.iter().map(|&i| row[i].clone()).collect());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_mlflow_tables() {
        let t = LoggedTable::parse(
            br#"{"columns":["col_a","col_b"],"data":[[1,"x"],[2,"y"],[3,"z"]]}"#,
        )
        .unwrap();
        assert_eq!(t.columns, ["col_a", "col_b"]);
        assert_eq!(t.data[2], vec![json!(3), json!("z")]);
        assert_eq!(
            t.to_json(),
            r#"{"columns":["col_a","col_b"],"data":[[1,"x"],[2,"y"],[3,"z"]]}"#
        );
        let with_index =
            LoggedTable::parse(br#"{"columns":["a"],"index":[0],"data":[[null]]}"#).unwrap();
        assert_eq!(with_index.data, vec![vec![Value::Null]]);
        for bad in [
            &b"[1]"[..],
            br#"{"data":[]}"#,
            br#"{"columns":["a"],"data":[[1,2]]}"#,
            br#"{"columns":["a"],"data":[1]}"#,
            b"not json",
            b"",
        ] {
            assert!(LoggedTable::parse(bad).is_err());
        }
    }

    #[test]
    fn writes_like_pandas() {
        let t = LoggedTable {
            columns: vec!["s".into(), "img".into()],
            data: vec![vec![
                json!("x/y ü✓😀"),
                ImageCell {
                    filepath: "table_images/t/u.png".into(),
                    compressed_filepath: "table_images/t/u.webp".into(),
                }
                .to_value(),
            ]],
        };
        let s = t.to_json();
        assert_eq!(
            s,
            r#"{"columns":["s","img"],"data":[["x\/y \u00fc\u2713\ud83d\ude00",{"compressed_filepath":"table_images\/t\/u.webp","filepath":"table_images\/t\/u.png","type":"image"}]]}"#
        );
        let back = LoggedTable::parse(s.as_bytes()).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.image_cells().len(), 1);
        assert!(back.is_image_column(1));
        assert!(!back.is_image_column(0));
    }

    #[test]
    fn builds_and_validates() {
        let t = Table::from_columns([
            ("a", vec![1.into(), 2.into()]),
            ("b", vec!["x".into(), "y".into()]),
        ])
        .unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.validate().unwrap(), vec![false, false]);
        assert!(Table::from_columns([("a", vec![1.into()]), ("b", vec![])]).is_err());
        let mut t = Table::new(["a", "a"]);
        t.push_row([1, 2]).unwrap();
        assert!(t.validate().is_err());
        assert!(t.push_row([1]).is_err());
        let mut mixed = Table::new(["img"]);
        mixed
            .push_row([TableCell::Image(DynamicImage::new_rgb8(1, 1))])
            .unwrap();
        mixed.push_row(["x"]).unwrap();
        let err = mixed.validate().unwrap_err();
        assert!(err.to_string().contains("mix of images"), "{err}");
        assert!(matches!(
            TableCell::from(f64::NAN),
            TableCell::Value(Value::Null)
        ));
    }

    #[test]
    fn appends_and_detects_schema_mismatch() {
        let existing = LoggedTable::parse(br#"{"columns":["a","b"],"data":[[1,"x"]]}"#).unwrap();
        let cols = vec!["b".to_string(), "a".to_string()];
        let out = append_rows(
            &existing,
            &cols,
            &[false, false],
            vec![vec![json!("y"), json!(2)]],
            "t.json",
        )
        .unwrap();
        assert_eq!(out.data[1], vec![json!(2), json!("y")]);
        let err = append_rows(
            &existing,
            &["a".to_string(), "c".to_string()],
            &[false, false],
            vec![vec![json!(1), json!(2)]],
            "t.json",
        )
        .unwrap_err();
        assert!(err.to_string().contains("schema mismatch"), "{err}");
        let err = append_rows(
            &existing,
            &cols,
            &[true, false],
            vec![vec![json!({}), json!(2)]],
            "t.json",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("holds values there but images"),
            "{err}"
        );
    }

    #[test]
    fn table_file_names() {
        assert!(validate_table_file("tables/t.json").is_ok());
        for bad in [
            "t.csv",
            "a,b.json",
            "a:b.json",
            "x.parquet",
            "../t.json",
            ".json/",
        ] {
            assert!(validate_table_file(bad).is_err(), "{bad}");
        }
        let cell = image_cell_paths("tables/predictions.json");
        assert!(
            cell.filepath
                .starts_with("table_images/tables/predictions/")
        );
        assert!(cell.filepath.ends_with(".png"));
        assert_eq!(
            cell.compressed_filepath.trim_end_matches(".webp"),
            cell.filepath.trim_end_matches(".png")
        );
    }
}
