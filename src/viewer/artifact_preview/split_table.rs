//! A streaming reader of MLflow's split-orient table JSON (`{"columns": […], "data": […]}`,
//! what `log_table` writes): rows are read from the start of the file as they come, so a
//! million-row table shows its first pages without parsing the whole file.

use std::io::Read;

use super::*;

/// Whether the start of a JSON file looks like a split-orient table (`{"columns": …` or
/// `{"index": …`), worth streaming row by row.
pub(super) fn looks_like_split_table(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let rest = text.trim_start();
    let Some(rest) = rest.strip_prefix('{') else {
        return false;
    };
    let rest = rest.trim_start();
    rest.starts_with("\"columns\"") || rest.starts_with("\"index\"")
}

/// A split-orient table read from the start of its file.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitTable {
    /// Columns and the rows read.
    pub table: TableData,
    /// Bytes consumed.
    pub read: u64,
    /// Whether the `data` array was read to its end.
    pub complete: bool,
    /// What was cut, in words.
    pub note: Option<String>,
}

/// A JSON syntax error found while streaming, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonProblem {
    /// 1-based line.
    pub line: u64,
    /// 1-based column (in bytes).
    pub column: u64,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for JsonProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Invalid JSON at line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// Reads MLflow's split-orient table JSON (`{"columns": [...], "data": [[...], ...]}`, as
/// written by `mlflow.log_table`; an `index` member is skipped) incrementally from the start:
/// rows are parsed one at a time until `limit` bytes were consumed, so the first pages of a
/// table of millions of rows show without reading it all. `Ok(None)` when the file has another
/// shape (the caller parses it whole); `Err` on a syntax error, with its line and column.
pub fn read_split_table(reader: impl Read, limit: u64) -> Result<Option<SplitTable>, JsonProblem> {
    let mut s = JsonScanner::new(reader, limit);
    s.expect(b'{')?;
    let mut columns: Option<Vec<String>> = None;
    loop {
        s.skip_ws()?;
        if s.peek()? == Some(b'}') {
            return Ok(None);
        }
        let Some(key) = s.value()? else {
            return Ok(cut_before_rows(columns, &s));
        };
        let key: String = serde_json::from_slice(&key).map_err(|_| s.problem("expected a key"))?;
        s.expect(b':')?;
        match key.as_str() {
            "columns" => {
                let Some(raw) = s.value()? else {
                    return Ok(cut_before_rows(None, &s));
                };
                let values: Vec<serde_json::Value> = serde_json::from_slice(&raw)
                    .map_err(|_| s.problem("\"columns\" is not an array"))?;
                columns = Some(values.iter().map(cell).collect());
            }
            "index" => {
                if s.value()?.is_none() {
                    return Ok(cut_before_rows(columns, &s));
                }
            }
            "data" => {
                let Some(columns) = columns else {
                    return Ok(None);
                };
                return read_rows(&mut s, columns).map(Some);
            }
            _ => return Ok(None),
        }
        s.skip_ws()?;
        match s.next()? {
            Some(b',') => {}
            None if s.consumed >= s.limit => return Ok(cut_before_rows(columns, &s)),
            Some(b'}') | None => return Ok(None),
            Some(_) => return Err(s.problem("expected ',' or '}'")),
        }
    }
}

fn cut_before_rows(columns: Option<Vec<String>>, s: &JsonScanner<impl Read>) -> Option<SplitTable> {
    let columns = columns.unwrap_or_default();
    let note = if columns.is_empty() {
        "the header row alone is longer"
    } else {
        "the first row alone is longer"
    };
    Some(SplitTable {
        table: TableData::new(columns),
        read: s.consumed,
        complete: false,
        note: Some(format!(
            "Read the first {}; {note}",
            human_bytes(s.consumed)
        )),
    })
}

fn read_rows(
    s: &mut JsonScanner<impl Read>,
    columns: Vec<String>,
) -> Result<SplitTable, JsonProblem> {
    let mut table = TableData::new(columns);
    s.expect(b'[')?;
    s.skip_ws()?;
    if s.peek()? == Some(b']') {
        return Ok(SplitTable {
            table,
            read: s.consumed + 1,
            complete: true,
            note: None,
        });
    }
    loop {
        s.skip_ws()?;
        let before = s.consumed;
        let (line, column) = (s.line, s.column);
        let Some(raw) = s.value()? else {
            let note = (table.row_count() == 0).then(|| {
                format!(
                    "Read the first {}; the first row alone is longer",
                    human_bytes(s.consumed)
                )
            });
            return Ok(SplitTable {
                table,
                read: before,
                complete: false,
                note,
            });
        };
        // Validated whole (syntax, nesting depth), then cut into cells as written.
        serde_json::from_slice::<serde::de::IgnoredAny>(&raw).map_err(|e| {
            // serde_json counts from the row's start; the user wants the place in the file.
            let (line, column) = if e.line() <= 1 {
                (line, column + e.column().saturating_sub(1) as u64)
            } else {
                (line + e.line() as u64 - 1, e.column() as u64)
            };
            JsonProblem {
                line,
                column,
                message: format!("row {}: {}", table.row_count() + 1, json_message(&e)),
            }
        })?;
        if !table.push_row(raw_cells(&raw)) {
            return Ok(SplitTable {
                table,
                read: before,
                complete: false,
                note: Some("The table is too large to hold whole".into()),
            });
        }
        s.skip_ws()?;
        match s.next()? {
            Some(b',') => {}
            Some(b']') => {
                return Ok(SplitTable {
                    table,
                    read: s.consumed,
                    complete: true,
                    note: None,
                });
            }
            None => {
                return Ok(SplitTable {
                    table,
                    read: s.consumed,
                    complete: false,
                    note: None,
                });
            }
            Some(_) => return Err(s.problem("expected ',' or ']' after a row")),
        }
    }
}

/// The cells of one valid JSON row, as written in the file (numbers keep their digits; nested
/// values stay JSON); strings are unescaped. A row that is not an array is one cell.
pub(super) fn raw_cells(raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    let row = text.trim();
    let Some(inner) = row.strip_prefix('[').and_then(|r| r.strip_suffix(']')) else {
        return vec![raw_cell(row)];
    };
    let mut cells = Vec::new();
    let (mut depth, mut in_string, mut escaped, mut start) = (0usize, false, false, 0);
    for (i, b) in inner.bytes().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => {
                cells.push(raw_cell(&inner[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    if !inner.trim().is_empty() {
        cells.push(raw_cell(&inner[start..]));
    }
    cells
}

/// One cell: a string unescaped, anything else as written.
pub(super) fn raw_cell(value: &str) -> String {
    let value = value.trim();
    if value.starts_with('"') {
        serde_json::from_str::<String>(value).unwrap_or_else(|_| value.to_string())
    } else {
        value.to_string()
    }
}

/// serde_json's message without its position (the scanner knows the place in the file).
pub(super) fn json_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    full.rsplit_once(" at line ")
        .map_or(full.clone(), |(m, _)| m.to_string())
}

/// A byte scanner over JSON text that finds where each value ends (strings, escapes, nesting)
/// without parsing it, so values are parsed one at a time, and that knows the line and column
/// of every byte. It reads at most `limit` bytes; past that it reports "cut" (`None`).
struct JsonScanner<R: Read> {
    reader: std::io::BufReader<R>,
    limit: u64,
    consumed: u64,
    line: u64,
    column: u64,
}

impl<R: Read> JsonScanner<R> {
    fn new(reader: R, limit: u64) -> Self {
        JsonScanner {
            reader: std::io::BufReader::with_capacity(256 * 1024, reader),
            limit,
            consumed: 0,
            line: 1,
            column: 1,
        }
    }

    fn problem(&self, message: &str) -> JsonProblem {
        JsonProblem {
            line: self.line,
            column: self.column,
            message: message.to_string(),
        }
    }

    fn io_problem(&self, e: std::io::Error) -> JsonProblem {
        self.problem(&format!("cannot read: {e}"))
    }

    /// The next byte without consuming it; `None` at the end of the file or of the limit.
    fn peek(&mut self) -> Result<Option<u8>, JsonProblem> {
        use std::io::BufRead;
        if self.consumed >= self.limit {
            return Ok(None);
        }
        match self.reader.fill_buf() {
            Ok(buf) => Ok(buf.first().copied()),
            Err(e) => Err(self.io_problem(e)),
        }
    }

    fn next(&mut self) -> Result<Option<u8>, JsonProblem> {
        use std::io::BufRead;
        let b = self.peek()?;
        if let Some(b) = b {
            self.reader.consume(1);
            self.consumed += 1;
            if b == b'\n' {
                self.line += 1;
                self.column = 1;
            } else {
                self.column += 1;
            }
        }
        Ok(b)
    }

    fn skip_ws(&mut self) -> Result<(), JsonProblem> {
        while let Some(b) = self.peek()? {
            if !b.is_ascii_whitespace() {
                break;
            }
            self.next()?;
        }
        Ok(())
    }

    fn expect(&mut self, want: u8) -> Result<(), JsonProblem> {
        self.skip_ws()?;
        match self.peek()? {
            Some(b) if b == want => {
                self.next()?;
                Ok(())
            }
            Some(_) => Err(self.problem(&format!("expected '{}'", want as char))),
            None if self.consumed >= self.limit => Ok(()),
            None => Err(self.problem(&format!(
                "the file ends where '{}' was expected",
                want as char
            ))),
        }
    }

    /// The bytes of the next value; `None` when the file or the limit ends inside it.
    fn value(&mut self) -> Result<Option<Vec<u8>>, JsonProblem> {
        self.skip_ws()?;
        let mut out = Vec::new();
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        loop {
            let Some(b) = self.peek()? else {
                return Ok(None);
            };
            if in_string {
                self.next()?;
                out.push(b);
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                    if depth == 0 {
                        return Ok(Some(out));
                    }
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'[' | b'{' => depth += 1,
                b']' | b'}' => {
                    if depth == 0 {
                        // The end of the enclosing value: a scalar ends here.
                        return if out.is_empty() {
                            Err(self.problem("expected a value"))
                        } else {
                            Ok(Some(out))
                        };
                    }
                    depth -= 1;
                }
                b',' if depth == 0 => {
                    return if out.is_empty() {
                        Err(self.problem("expected a value"))
                    } else {
                        Ok(Some(out))
                    };
                }
                b':' if depth == 0 => return Ok(Some(out)),
                _ if depth == 0 && b.is_ascii_whitespace() => return Ok(Some(out)),
                _ => {}
            }
            self.next()?;
            out.push(b);
            if depth == 0 && matches!(b, b']' | b'}') {
                return Ok(Some(out));
            }
        }
    }
}
