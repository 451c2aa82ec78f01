//! A virtualised table for artifact previews (CSV/TSV, MLflow `log_table` JSON): only the rows
//! *and* the columns inside the viewport are laid out, so a CSV of 200,000 columns or a table of
//! a million rows costs what a screenful costs. The header stays on top and the row numbers on
//! the left; hovering a cell shows its whole text.
//!
//! A plain widget: it takes a [`TableData`]; it does no I/O.

/// Width of every column, in points.
pub const COLUMN_WIDTH: f32 = 120.0;
/// Most characters of a cell laid out (a cell is clipped to its column anyway).
const CELL_CHARS: usize = 64;
/// Most characters of a cell shown in its tooltip.
const TOOLTIP_CHARS: usize = 2_000;

/// Rows of text cells, stored compactly: one string for all cells and the end of each cell, so
/// a million rows cost their text and 4 bytes per cell, not a `String` per cell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableData {
    columns: Vec<String>,
    text: String,
    /// End of each cell in `text`.
    cell_ends: Vec<u32>,
    /// End of each row in `cell_ends`.
    row_ends: Vec<u32>,
    /// Cells of the widest row.
    widest_row: usize,
}

impl TableData {
    /// An empty table with these column names.
    pub fn new(columns: Vec<String>) -> TableData {
        TableData {
            columns,
            ..Default::default()
        }
    }

    /// Adds a row (it may have fewer or more cells than there are columns). Returns `false`,
    /// adding nothing, when the table is full (4 GiB of text or 4 billion cells).
    pub fn push_row<S: AsRef<str>>(&mut self, cells: impl IntoIterator<Item = S>) -> bool {
        let (text_len, cells_len) = (self.text.len(), self.cell_ends.len());
        for cell in cells {
            self.text.push_str(cell.as_ref());
            let Ok(end) = u32::try_from(self.text.len()) else {
                self.text.truncate(text_len);
                self.cell_ends.truncate(cells_len);
                return false;
            };
            self.cell_ends.push(end);
        }
        match u32::try_from(self.cell_ends.len()) {
            Ok(end) => {
                self.row_ends.push(end);
                self.widest_row = self.widest_row.max(self.cell_ends.len() - cells_len);
                true
            }
            Err(_) => {
                self.text.truncate(text_len);
                self.cell_ends.truncate(cells_len);
                false
            }
        }
    }

    /// Removes the last row (a row cut by a partial read).
    pub fn pop_row(&mut self) {
        if self.row_ends.pop().is_some() {
            let cells = self.row_ends.last().copied().unwrap_or(0) as usize;
            self.cell_ends.truncate(cells);
            let text = self.cell_ends.last().copied().unwrap_or(0) as usize;
            self.text.truncate(text);
        }
    }

    /// Column names.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Number of rows.
    pub fn row_count(&self) -> usize {
        self.row_ends.len()
    }

    /// Number of columns shown: the header's, or the widest row's when a row is wider.
    pub fn column_count(&self) -> usize {
        self.columns.len().max(self.widest_row)
    }

    /// The cells of row `r`.
    pub fn row(&self, r: usize) -> impl Iterator<Item = &str> {
        let (first, last) = self.cell_range(r);
        (first..last).map(|c| self.cell_at(c))
    }

    /// Cell `c` of row `r` (empty when the row is shorter).
    pub fn cell(&self, r: usize, c: usize) -> &str {
        let (first, last) = self.cell_range(r);
        if first + c < last {
            self.cell_at(first + c)
        } else {
            ""
        }
    }

    fn cell_range(&self, r: usize) -> (usize, usize) {
        let Some(&end) = self.row_ends.get(r) else {
            return (0, 0);
        };
        let start = if r == 0 { 0 } else { self.row_ends[r - 1] };
        (start as usize, end as usize)
    }

    fn cell_at(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.cell_ends[i - 1] };
        &self.text[start as usize..self.cell_ends[i] as usize]
    }
}

/// The start of a cell, on one line, at most `max` characters.
fn cell_head(cell: &str, max: usize) -> std::borrow::Cow<'_, str> {
    let line = cell.split(['\n', '\r']).next().unwrap_or("");
    let cut = line.char_indices().nth(max).map(|(i, _)| i);
    match cut {
        None if line.len() == cell.len() => cell.into(),
        None => format!("{line}…").into(),
        Some(i) => format!("{}…", &line[..i]).into(),
    }
}

/// The table widget: draws `table` in the rest of the `ui`.
pub struct TableView<'a> {
    table: &'a TableData,
    id_salt: egui::IdSalt,
}

impl<'a> TableView<'a> {
    /// A view of `table`.
    pub fn new(table: &'a TableData) -> TableView<'a> {
        TableView {
            table,
            id_salt: egui::IdSalt::new("table_view"),
        }
    }

    /// Distinguishes this view's scroll position from other tables.
    pub fn id_salt(mut self, salt: impl egui::AsIdSalt) -> Self {
        self.id_salt = egui::IdSalt::new(salt);
        self
    }

    /// Draws the table. Returns the range of columns laid out (for tests and benchmarks).
    pub fn show(self, ui: &mut egui::Ui) -> std::ops::Range<usize> {
        let table = self.table;
        let columns = table.column_count().max(1);
        let rows = table.row_count();
        let font = egui::TextStyle::Monospace.resolve(ui.style());
        let body_font = egui::TextStyle::Body.resolve(ui.style());
        let row_h = ui.ctx().fonts_mut(|f| f.row_height(&body_font)).max(1.0) + 6.0;
        let digits_w = ui.ctx().fonts_mut(|f| f.glyph_width(&font, '0')).max(1.0);
        let numbers_w = digits_w * rows.max(1).to_string().len() as f32 + 14.0;
        let header_h = row_h + 2.0;
        let visuals = ui.visuals().clone();
        let mut laid_out = 0..0;

        egui::ScrollArea::both()
            .id_salt(self.id_salt)
            .auto_shrink([false, false])
            .show_viewport(ui, |ui, viewport| {
                let content = egui::vec2(
                    numbers_w + columns as f32 * COLUMN_WIDTH,
                    header_h + rows as f32 * row_h,
                );
                let (rect, response) = ui.allocate_exact_size(content, egui::Sense::hover());
                let painter = ui.painter_at(ui.clip_rect());
                let first_col = ((viewport.min.x - numbers_w) / COLUMN_WIDTH)
                    .floor()
                    .max(0.0) as usize;
                let last_col = (((viewport.max.x - numbers_w) / COLUMN_WIDTH)
                    .ceil()
                    .max(0.0) as usize)
                    .min(columns);
                let first_row = ((viewport.min.y - header_h) / row_h).floor().max(0.0) as usize;
                let last_row =
                    (((viewport.max.y - header_h) / row_h).ceil().max(0.0) as usize).min(rows);
                laid_out = first_col..last_col.max(first_col);
                let col_x = |c: usize| rect.left() + numbers_w + c as f32 * COLUMN_WIDTH;
                let row_y = |r: usize| rect.top() + header_h + r as f32 * row_h;
                let view_left = rect.left() + viewport.min.x;
                let view_top = rect.top() + viewport.min.y;
                let view_right = rect.left() + viewport.max.x;
                // The part of the view cells show in (not under the header or the numbers).
                let body = egui::Rect::from_min_max(
                    egui::pos2(view_left + numbers_w, view_top + header_h),
                    rect.min + viewport.max.to_vec2(),
                );

                let hovered_cell = response.hover_pos().and_then(|p| {
                    if p.x < view_left + numbers_w || p.y < view_top + header_h {
                        return None;
                    }
                    let c = ((p.x - rect.left() - numbers_w) / COLUMN_WIDTH).floor() as usize;
                    let r = ((p.y - rect.top() - header_h) / row_h).floor() as usize;
                    (c < columns && r < rows).then_some((r, c))
                });

                for r in first_row..last_row {
                    let y = row_y(r);
                    let row_rect = egui::Rect::from_min_max(
                        egui::pos2(view_left, y),
                        egui::pos2(view_right, y + row_h),
                    );
                    if hovered_cell.is_some_and(|(hr, _)| hr == r) {
                        painter.rect_filled(row_rect, 0.0, visuals.widgets.hovered.weak_bg_fill);
                    } else if r % 2 == 1 {
                        painter.rect_filled(row_rect, 0.0, visuals.faint_bg_color);
                    }
                    for c in first_col..last_col {
                        let cell = table.cell(r, c);
                        if cell.is_empty() {
                            continue;
                        }
                        let cell_rect = egui::Rect::from_min_size(
                            egui::pos2(col_x(c), y),
                            egui::vec2(COLUMN_WIDTH, row_h),
                        );
                        let head = cell_head(cell, CELL_CHARS);
                        painter.with_clip_rect(cell_rect.shrink(2.0)).text(
                            cell_rect.left_center() + egui::vec2(4.0, 0.0),
                            egui::Align2::LEFT_CENTER,
                            head.clone(),
                            body_font.clone(),
                            visuals.text_color(),
                        );
                        // Each visible cell is a label for screen readers (and UI tests).
                        let visible = cell_rect.intersect(body);
                        if visible.is_positive() {
                            ui.interact(visible, ui.scope_id().with((r, c)), egui::Sense::hover())
                                .widget_info(|| {
                                    egui::WidgetInfo::labeled(egui::Role::Label, true, &*head)
                                });
                        }
                    }
                }

                // The header stays on top, the row numbers on the left.
                let header = egui::Rect::from_min_max(
                    egui::pos2(view_left, view_top),
                    egui::pos2(view_right, view_top + header_h),
                );
                painter.rect_filled(header, 0.0, visuals.widgets.noninteractive.bg_fill);
                for c in first_col..last_col {
                    let name = table
                        .columns()
                        .get(c)
                        .map(String::as_str)
                        .unwrap_or_default();
                    let cell_rect = egui::Rect::from_min_size(
                        egui::pos2(col_x(c), view_top),
                        egui::vec2(COLUMN_WIDTH, header_h),
                    );
                    painter.with_clip_rect(cell_rect.shrink(2.0)).text(
                        cell_rect.left_center() + egui::vec2(4.0, 0.0),
                        egui::Align2::LEFT_CENTER,
                        cell_head(name, CELL_CHARS),
                        egui::FontId::new(body_font.size, egui::FontFamily::Proportional),
                        visuals.strong_text_color(),
                    );
                    painter.vline(
                        cell_rect.right(),
                        cell_rect.y_range(),
                        visuals.widgets.noninteractive.bg_stroke,
                    );
                }
                let numbers = egui::Rect::from_min_max(
                    egui::pos2(view_left, view_top + header_h),
                    egui::pos2(view_left + numbers_w, rect.top() + viewport.max.y),
                );
                painter.rect_filled(numbers, 0.0, visuals.widgets.noninteractive.bg_fill);
                for r in first_row..last_row {
                    let y = row_y(r);
                    if y + row_h <= numbers.top() {
                        continue;
                    }
                    painter.with_clip_rect(numbers).text(
                        egui::pos2(numbers.right() - 6.0, y + row_h / 2.0),
                        egui::Align2::RIGHT_CENTER,
                        (r + 1).to_string(),
                        font.clone(),
                        visuals.weak_text_color(),
                    );
                }
                painter.rect_filled(
                    egui::Rect::from_min_size(header.min, egui::vec2(numbers_w, header_h)),
                    0.0,
                    visuals.widgets.noninteractive.bg_fill,
                );
                painter.hline(
                    header.x_range(),
                    header.bottom(),
                    visuals.widgets.noninteractive.bg_stroke,
                );

                if let Some((r, c)) = hovered_cell {
                    let cell = table.cell(r, c);
                    let name = table.columns().get(c).map(String::as_str).unwrap_or("");
                    response.on_hover_ui_at_pointer(|ui| {
                        ui.weak(format!("row {}, {}", r + 1, name));
                        ui.label(cell_head(cell, TOOLTIP_CHARS));
                    });
                } else if let Some(p) = response.hover_pos()
                    && p.y < view_top + header_h
                    && p.x >= view_left + numbers_w
                {
                    let c = ((p.x - rect.left() - numbers_w) / COLUMN_WIDTH).floor() as usize;
                    if let Some(name) = table.columns().get(c) {
                        response.on_hover_ui_at_pointer(|ui| {
                            ui.label(format!(
                                "column {}: {}",
                                c + 1,
                                cell_head(name, TOOLTIP_CHARS)
                            ));
                        });
                    }
                }
            });
        laid_out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_stored_compactly_and_read_back() {
        let mut t = TableData::new(vec!["a".into(), "b".into()]);
        assert!(t.push_row(["1", "x"]));
        assert!(t.push_row(["2"]));
        assert!(t.push_row(["3", "", "extra"]));
        assert!(t.push_row(Vec::<String>::new()));
        assert_eq!(t.row_count(), 4);
        assert_eq!(t.column_count(), 3);
        assert_eq!(t.cell(0, 1), "x");
        assert_eq!(t.cell(1, 1), "");
        assert_eq!(t.cell(2, 2), "extra");
        assert_eq!(t.cell(3, 0), "");
        assert_eq!(t.cell(9, 0), "");
        assert_eq!(t.row(2).collect::<Vec<_>>(), ["3", "", "extra"]);
    }

    #[test]
    fn cells_show_their_first_line_cut_at_a_char() {
        assert_eq!(cell_head("abc", 5), "abc");
        assert_eq!(cell_head("héllo wörld", 5), "héllo…");
        assert_eq!(cell_head("one\ntwo", 10), "one…");
    }
}
