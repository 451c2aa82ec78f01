//! Compare: the selected runs as columns (in their colours), params, metrics and tags as rows,
//! with "only differences" on by default and deltas against a baseline run.

use std::collections::BTreeSet;
use std::sync::Arc;

use egui_extras::{Column, TableBuilder};

use crate::model::Run;

use crate::format::number_sig;

use super::context::ViewCtx;
use super::theme;

/// Most runs compared side by side.
pub const MAX_COMPARE_RUNS: usize = 50;

/// The Compare tab, with its options.
#[derive(Debug, Clone)]
pub struct Compare {
    /// Show only rows whose values differ.
    pub only_differences: bool,
    /// Show tags too.
    pub show_tags: bool,
    /// Baseline run for metric deltas.
    pub baseline: Option<String>,
}

impl Default for Compare {
    fn default() -> Self {
        Compare {
            only_differences: true,
            show_tags: false,
            baseline: None,
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Param,
    Metric,
    Tag,
}

impl Compare {
    /// Draws the Compare tab.
    pub fn show(&mut self, ui: &mut egui::Ui, ctx: &ViewCtx) {
        let runs: Vec<Arc<Run>> = ctx
            .selected_runs()
            .into_iter()
            .take(MAX_COMPARE_RUNS)
            .collect();
        if runs.len() < 2 {
            ui.add_space(12.0);
            ui.weak("Select two or more runs to compare them (Ctrl+click, Shift+click)");
            return;
        }
        let state = self;
        ui.horizontal(|ui| {
            ui.checkbox(&mut state.only_differences, "Only differences")
                .on_hover_text("Hide rows whose value is the same in every run");
            ui.checkbox(&mut state.show_tags, "Tags")
                .on_hover_text("Compare tags too");
            let baseline_name = state
                .baseline
                .as_ref()
                .and_then(|b| runs.iter().find(|r| r.info.run_id == *b))
                .map_or("none".to_string(), |r| r.info.run_name.clone());
            egui::ComboBox::from_id_salt("baseline")
                .selected_text(format!("baseline: {baseline_name}"))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut state.baseline, None, "none");
                    for r in &runs {
                        ui.selectable_value(
                            &mut state.baseline,
                            Some(r.info.run_id.clone()),
                            &r.info.run_name,
                        );
                    }
                })
                .response
                .on_hover_text("Show metric differences against this run");
            if ctx.selection().len() > MAX_COMPARE_RUNS {
                ui.weak(format!(
                    "first {MAX_COMPARE_RUNS} of {} runs",
                    ctx.selection().len()
                ));
            }
        });
        let mut rows: Vec<(Kind, String)> = Vec::new();
        let keys = |f: &dyn Fn(&Run) -> Vec<String>| -> BTreeSet<String> {
            runs.iter().flat_map(|r| f(r)).collect()
        };
        for k in keys(&|r| r.data.params.keys().cloned().collect()) {
            rows.push((Kind::Param, k));
        }
        for k in keys(&|r| r.data.metrics.keys().cloned().collect()) {
            rows.push((Kind::Metric, k));
        }
        if state.show_tags {
            for k in keys(&|r| r.data.tags.keys().cloned().collect()) {
                rows.push((Kind::Tag, k));
            }
        }
        let value = |r: &Run, kind: Kind, k: &str| -> Option<String> {
            match kind {
                Kind::Param => r.data.params.get(k).cloned(),
                Kind::Metric => r.data.metrics.get(k).map(|m| m.value.to_string()),
                Kind::Tag => r.data.tags.get(k).cloned(),
            }
        };
        let total = rows.len();
        if state.only_differences {
            rows.retain(|(kind, k)| {
                let first = value(&runs[0], *kind, k);
                runs.iter().any(|r| value(r, *kind, k) != first)
            });
        }
        if rows.is_empty() {
            ui.weak(if total == 1 {
                "The one value is the same in these runs".to_string()
            } else {
                format!("All {total} values are the same in these runs")
            });
            return;
        }
        let baseline = state
            .baseline
            .as_ref()
            .and_then(|b| runs.iter().find(|r| r.info.run_id == *b))
            .cloned();
        let prefix = |kind: &Kind| match kind {
            Kind::Param => "params.",
            Kind::Metric => "metrics.",
            Kind::Tag => "tags.",
        };
        // Each row's key and cell texts, laid out once: their wrapped heights size the rows.
        let cells: Vec<(String, Vec<Cell>)> = rows
            .iter()
            .map(|(kind, key)| {
                let cells = runs
                    .iter()
                    .map(|r| {
                        let v = value(r, *kind, key);
                        let text = match (kind, &v) {
                            (Kind::Metric, Some(v)) => {
                                let x: f64 = v.parse().unwrap_or(f64::NAN);
                                let mut t = number_sig(x);
                                if let Some(b) = &baseline
                                    && b.info.run_id != r.info.run_id
                                    && let Some(bm) = b.data.metrics.get(key)
                                    && let Some(d) = delta_text(x, bm.value)
                                {
                                    t = format!("{t} ({d})");
                                }
                                t
                            }
                            (_, Some(v)) => v.clone(),
                            (_, None) => "—".into(),
                        };
                        Cell { text, full: v }
                    })
                    .collect();
                (format!("{}{key}", prefix(kind)), cells)
            })
            .collect();
        // Keys get the width of the longest (up to a third of the pane), runs share the rest;
        // every column stays resizable, and egui remembers the widths.
        let mono = egui::TextStyle::Monospace.resolve(ui.style());
        let longest_key = cells
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        let char_w = ui.fonts_mut(|f| f.glyph_width(&mono, 'm'));
        let available = ui.available_width();
        let key_w = (longest_key as f32 * char_w + 16.0).clamp(120.0, (available / 3.0).max(120.0));
        let run_w = ((available - key_w) / runs.len() as f32 - 8.0).max(140.0);
        egui::ScrollArea::horizontal().show(ui, |ui| {
            let mut table = TableBuilder::new(ui)
                .id_salt("compare_table")
                .cell_layout(egui::Layout::left_to_right(egui::Align::Min))
                .striped(true)
                .resizable(true)
                .auto_shrink([false, false])
                .column(Column::initial(key_w).at_least(80.0).clip(true));
            for _ in &runs {
                table = table.column(Column::initial(run_w).at_least(60.0).clip(true));
            }
            table
                .header(22.0, |mut h| {
                    h.col(|ui| {
                        ui.strong("key");
                    });
                    for r in &runs {
                        h.col(|ui| {
                            theme::swatch(ui, theme::color_of(ctx.persisted(), &r.info.run_id));
                            ui.add(
                                egui::Label::new(egui::RichText::new(&r.info.run_name).strong())
                                    .truncate(),
                            )
                            .on_hover_text(format!("{}\n{}", r.info.run_name, r.info.run_id));
                        });
                    }
                })
                .body(|mut body| {
                    let widths = body.widths().to_vec();
                    let text_color = body.ui_mut().visuals().text_color();
                    let weak_color = body.ui_mut().visuals().weak_text_color();
                    let body_font = egui::TextStyle::Body.resolve(body.ui_mut().style());
                    // Galleys of every cell, wrapped in its column (at most MAX_CELL_LINES
                    // lines, the rest elided and shown on hover).
                    let painter = body.ui_mut().painter().clone();
                    let layout = |text: &str, font: &egui::FontId, color, width: f32| {
                        let mut job = egui::text::LayoutJob::simple(
                            text.to_string(),
                            font.clone(),
                            color,
                            (width - 6.0).max(20.0),
                        );
                        job.wrap.max_rows = MAX_CELL_LINES;
                        job.wrap.break_anywhere = true;
                        painter.layout_job(job)
                    };
                    let galleys: Vec<(Arc<egui::Galley>, Vec<Arc<egui::Galley>>)> = cells
                        .iter()
                        .map(|(key, row)| {
                            let k = layout(key, &mono, text_color, widths[0]);
                            let vs = row
                                .iter()
                                .zip(&widths[1..])
                                .map(|(c, &w)| {
                                    let color = if c.full.is_some() {
                                        text_color
                                    } else {
                                        weak_color
                                    };
                                    layout(&c.text, &body_font, color, w)
                                })
                                .collect();
                            (k, vs)
                        })
                        .collect();
                    let heights = galleys.iter().map(|(k, vs)| {
                        let tallest = vs.iter().map(|g| g.size().y).fold(k.size().y, f32::max);
                        (tallest + 4.0).max(theme::ROW_HEIGHT)
                    });
                    body.heterogeneous_rows(heights, |mut row| {
                        let i = row.index();
                        let (key_galley, value_galleys) = &galleys[i];
                        let (key, row_cells) = &cells[i];
                        row.col(|ui| {
                            ui.add(egui::Label::new(key_galley.clone()))
                                .on_hover_text(egui::RichText::new(key).monospace());
                        });
                        for (c, g) in row_cells.iter().zip(value_galleys) {
                            row.col(|ui| {
                                let l = ui.add(egui::Label::new(g.clone()));
                                if let Some(full) = &c.full {
                                    l.on_hover_text(full);
                                }
                            });
                        }
                    });
                });
        });
    }
}

/// Most lines a compare cell wraps to; the rest is elided and shown on hover.
const MAX_CELL_LINES: usize = 4;

/// A compare cell: the text shown, and the value it stands for (none when the run lacks the key).
struct Cell {
    text: String,
    full: Option<String>,
}

/// The difference of a value to the baseline's, as shown after it: `+0.1`, `-2`, `+0` when they
/// are equal (the same infinity too, not `NaN`); none when either is NaN (nothing to compare).
pub(crate) fn delta_text(x: f64, baseline: f64) -> Option<String> {
    let (x, baseline) = (
        crate::format::as_logged(x),
        crate::format::as_logged(baseline),
    );
    if x.is_nan() || baseline.is_nan() {
        return None;
    }
    let d = if x == baseline { 0.0 } else { x - baseline };
    Some(format!(
        "{}{}",
        if d >= 0.0 { "+" } else { "" },
        number_sig(d)
    ))
}

#[cfg(test)]
mod delta_tests {
    use super::delta_text;

    #[test]
    fn deltas_of_infinities_are_numbers_not_nan() {
        assert_eq!(
            delta_text(f64::INFINITY, f64::INFINITY).as_deref(),
            Some("+0")
        );
        // MLflow's SQLite store keeps ±inf as ±max double.
        assert_eq!(delta_text(f64::MAX, f64::INFINITY).as_deref(), Some("+0"));
        assert_eq!(delta_text(f64::INFINITY, 1.0).as_deref(), Some("+inf"));
        assert_eq!(delta_text(-f64::MAX, 1.0).as_deref(), Some("-inf"));
        assert_eq!(delta_text(0.5, 0.25).as_deref(), Some("+0.25"));
        assert_eq!(delta_text(f64::NAN, 1.0), None);
    }
}
