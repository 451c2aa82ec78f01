//! Rendering of CLI results as aligned text tables, CSV or JSON.

use std::io::Write;

use crate::error::{Error, Result};

/// Output format of every CLI command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    #[default]
    Table,
    /// MLflow's REST API JSON shapes.
    Json,
    /// Comma-separated values with a header row.
    Csv,
}

/// A rectangular result: a header and rows of cells.
#[derive(Debug, Clone, Default)]
pub struct Grid {
    /// Column names.
    pub header: Vec<String>,
    /// Rows, each as long as the header.
    pub rows: Vec<Vec<String>>,
}

/// Longest cell shown in table output; longer values are cut with `…` (CSV and JSON keep all).
const MAX_TABLE_CELL: usize = 48;

fn cut(cell: &str) -> String {
    let one_line = cell.replace(['\n', '\r', '\t'], " ");
    if one_line.chars().count() > MAX_TABLE_CELL {
        let mut s: String = one_line.chars().take(MAX_TABLE_CELL - 1).collect();
        s.push('…');
        s
    } else {
        one_line
    }
}

impl Grid {
    /// Writes the grid as an aligned text table.
    pub fn write_table(&self, out: &mut dyn Write) -> Result<()> {
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(|c| cut(c)).collect())
            .collect();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(cell.chars().count());
                }
            }
        }
        let line = |cells: &[String]| -> String {
            let mut s = String::new();
            for (i, cell) in cells.iter().enumerate() {
                if i > 0 {
                    s.push_str("  ");
                }
                s.push_str(cell);
                if i + 1 < cells.len() {
                    let pad = widths[i].saturating_sub(cell.chars().count());
                    s.extend(std::iter::repeat_n(' ', pad));
                }
            }
            s
        };
        let io = |e| Error::io("cannot write output", "<stdout>", e);
        writeln!(out, "{}", line(&self.header)).map_err(io)?;
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        writeln!(out, "{}", line(&rule)).map_err(io)?;
        for row in &rows {
            writeln!(out, "{}", line(row)).map_err(io)?;
        }
        Ok(())
    }

    /// Writes the grid as CSV.
    pub fn write_csv(&self, out: &mut dyn Write) -> Result<()> {
        let mut writer = csv::Writer::from_writer(out);
        let err = |e: csv::Error| Error::io("cannot write CSV", "<stdout>", e.into());
        writer.write_record(&self.header).map_err(err)?;
        for row in &self.rows {
            writer.write_record(row).map_err(err)?;
        }
        writer
            .flush()
            .map_err(|e| Error::io("cannot write CSV", "<stdout>", e))
    }
}

/// Writes pretty JSON and a newline.
pub fn write_json(out: &mut dyn Write, value: &serde_json::Value) -> Result<()> {
    let io = |e| Error::io("cannot write output", "<stdout>", e);
    serde_json::to_writer_pretty(&mut *out, value)
        .map_err(|e| Error::io("cannot write JSON", "<stdout>", e.into()))?;
    writeln!(out).map_err(io)
}

/// A float for people and CSV: shortest round-trip digits, exponent form for very large or
/// small magnitudes, `NaN`, `Infinity`, `-Infinity` ([`crate::format::float_roundtrip`]).
pub fn format_float(value: f64) -> String {
    crate::format::float_roundtrip(value)
}

/// Epoch milliseconds as `YYYY-MM-DD HH:MM:SS` in UTC ([`crate::format::time_utc`]).
pub fn format_time(epoch_ms: i64) -> String {
    crate::format::time_utc(epoch_ms)
}

/// A duration in milliseconds as `1h02m`, `3m04s`, `5.2s` ([`crate::format::duration_compact`]).
pub fn format_duration(ms: i64) -> String {
    crate::format::duration_compact(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00");
        assert_eq!(format_time(1_700_000_000_000), "2023-11-14 22:13:20");
        assert_eq!(format_time(951_782_400_000), "2000-02-29 00:00:00");
    }

    #[test]
    fn floats_and_durations() {
        assert_eq!(format_float(0.25), "0.25");
        assert_eq!(format_float(1e20), "1e20");
        assert_eq!(format_float(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(format_duration(3_723_000), "1h02m");
        assert_eq!(format_duration(5_200), "5.2s");
    }

    #[test]
    fn table_aligns_and_cuts() {
        let grid = Grid {
            header: vec!["a".into(), "long header".into()],
            rows: vec![vec!["xyz".into(), "x".repeat(100)]],
        };
        let mut out = Vec::new();
        grid.write_table(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "a    long header");
        assert!(lines[2].ends_with('…'));
        let mut csv_out = Vec::new();
        grid.write_csv(&mut csv_out).unwrap();
        assert!(
            String::from_utf8(csv_out)
                .unwrap()
                .contains(&"x".repeat(100))
        );
    }
}
