//! A virtualised monospace text view for artifact previews: left-aligned, indentation kept, line
//! numbers in a gutter that stays put, and either wrapped lines or a horizontal scroll that
//! reaches both ends of the longest line. Only the rows inside the viewport are laid out, and of
//! a long unwrapped line only the visible columns, so a 50 MB single-line file or a log of a
//! million lines costs what a screenful costs.
//!
//! A plain widget: it takes a [`TextDoc`] and a [`TextViewState`]; it does no I/O.

/// Lines longer than this (in bytes) make a document wrap by default: a minified JSON or a single
/// huge line is unreadable, and its start unreachable, as one row.
pub const WRAP_BY_DEFAULT_ABOVE: usize = 2_000;

/// Widest content (in points) the view scrolls sideways over. `f32` positions lose whole
/// characters beyond a few million points, so longer lines are always wrapped.
pub const MAX_SCROLL_WIDTH: f32 = 4_000_000.0;

/// Spaces a tab is shown as (a tab has no width of its own in a monospace grid).
const TAB: &str = "    ";

/// Text split into lines once, so that any line is found in constant time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextDoc {
    text: String,
    /// Byte offset where each line starts.
    line_starts: Vec<usize>,
    /// Length in bytes of the longest line.
    longest_line: usize,
}

impl TextDoc {
    /// Indexes the lines of `text` (split at `\n`, a trailing `\r` is not shown; a final newline
    /// does not start an empty line, as in [`str::lines`]).
    pub fn new(text: String) -> TextDoc {
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        if line_starts.len() > 1 && line_starts.last() == Some(&text.len()) {
            line_starts.pop();
        }
        let mut doc = TextDoc {
            text,
            line_starts,
            longest_line: 0,
        };
        doc.longest_line = (0..doc.line_count())
            .map(|i| doc.line(i).len())
            .max()
            .unwrap_or(0);
        doc
    }

    /// The whole text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Number of lines (an empty text has one empty line).
    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// Line `i` (0-based) without its line ending; empty past the end.
    pub fn line(&self, i: usize) -> &str {
        let Some(&start) = self.line_starts.get(i) else {
            return "";
        };
        let end = self
            .line_starts
            .get(i + 1)
            .map(|&next| next - 1)
            .unwrap_or(self.text.len());
        let line = &self.text[start..end];
        let line = line.strip_suffix('\n').unwrap_or(line);
        line.strip_suffix('\r').unwrap_or(line)
    }

    /// Length in bytes of the longest line.
    pub fn longest_line(&self) -> usize {
        self.longest_line
    }

    /// Whether this text reads best wrapped (it has a line longer than
    /// [`WRAP_BY_DEFAULT_ABOVE`]).
    pub fn wraps_by_default(&self) -> bool {
        self.longest_line > WRAP_BY_DEFAULT_ABOVE
    }
}

/// The largest char boundary of `s` at or before `i`.
pub fn floor_boundary(s: &str, i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    let mut i = i;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Wrapping of a document at a number of columns: the first visual row of each line.
///
/// Rows are cut every `columns` bytes (moved back to a char boundary), so a row never holds more
/// than `columns` characters and any row is found without walking its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrapping {
    /// Columns per row.
    pub columns: usize,
    /// First visual row of each line, then the total number of rows.
    first_rows: Vec<usize>,
}

impl Wrapping {
    /// Wraps `doc` at `columns` (at least 4, so that every row holds a character).
    pub fn new(doc: &TextDoc, columns: usize) -> Wrapping {
        let columns = columns.max(4);
        let mut first_rows = Vec::with_capacity(doc.line_count() + 1);
        let mut row = 0;
        for i in 0..doc.line_count() {
            first_rows.push(row);
            row += doc.line(i).len().div_ceil(columns).max(1);
        }
        first_rows.push(row);
        Wrapping {
            columns,
            first_rows,
        }
    }

    /// Total number of visual rows.
    pub fn rows(&self) -> usize {
        self.first_rows.last().copied().unwrap_or(0)
    }

    /// The line a visual row belongs to, and the row's index within that line.
    pub fn locate(&self, row: usize) -> (usize, usize) {
        let line = self
            .first_rows
            .partition_point(|&r| r <= row)
            .saturating_sub(1);
        (line, row - self.first_rows[line])
    }

    /// The text of visual row `row` of `doc`.
    pub fn row_text<'a>(&self, doc: &'a TextDoc, row: usize) -> &'a str {
        let (line, part) = self.locate(row);
        let text = doc.line(line);
        let start = floor_boundary(text, part * self.columns);
        let end = floor_boundary(text, (part + 1) * self.columns);
        &text[start..end]
    }
}

/// What the view remembers between frames.
#[derive(Debug, Clone, Default)]
pub struct TextViewState {
    /// Whether long lines wrap (else they scroll sideways). `None` until the first frame, which
    /// picks [`TextDoc::wraps_by_default`].
    pub wrap: Option<bool>,
    /// The wrapping of the last frame (recomputed when the width or the document changes).
    wrapping: Option<(usize, Wrapping)>,
    /// A scroll position to jump to in the next frame (Home/End).
    jump: Option<egui::Vec2>,
    /// Height of the content in the last frame (where End goes).
    content_height: f32,
}

impl TextViewState {
    /// A state with wrapping chosen (`true`: wrap, `false`: scroll sideways).
    pub fn with_wrap(wrap: bool) -> TextViewState {
        TextViewState {
            wrap: Some(wrap),
            ..Default::default()
        }
    }

    /// Whether the view wraps `doc` now.
    pub fn wraps(&self, doc: &TextDoc) -> bool {
        self.wrap.unwrap_or_else(|| doc.wraps_by_default()) || too_wide(doc)
    }
}

/// Whether `doc`'s longest line is too long to scroll sideways over.
fn too_wide(doc: &TextDoc) -> bool {
    // 7 points per character is about the narrowest monospace font in use.
    doc.longest_line() as f32 * 7.0 > MAX_SCROLL_WIDTH
}

/// The text view widget.
pub struct TextView<'a> {
    doc: &'a TextDoc,
    state: &'a mut TextViewState,
    id_salt: egui::IdSalt,
}

impl<'a> TextView<'a> {
    /// A view of `doc` with its remembered `state`.
    pub fn new(doc: &'a TextDoc, state: &'a mut TextViewState) -> TextView<'a> {
        TextView {
            doc,
            state,
            id_salt: egui::IdSalt::new("text_view"),
        }
    }

    /// Distinguishes this view's scroll position from other text views.
    pub fn id_salt(mut self, salt: impl egui::AsIdSalt) -> Self {
        self.id_salt = egui::IdSalt::new(salt);
        self
    }

    /// Draws the toolbar (wrap toggle, line count) and the text in the rest of `ui`.
    pub fn show(self, ui: &mut egui::Ui) {
        let TextView {
            doc,
            state,
            id_salt,
        } = self;
        let mut wrap = state.wraps(doc);
        ui.horizontal(|ui| {
            let forced = too_wide(doc);
            let r = ui
                .add_enabled(!forced, egui::Checkbox::new(&mut wrap, "Wrap lines"))
                .on_hover_text("Wrap long lines at the pane's width, or scroll sideways");
            if forced {
                r.on_disabled_hover_text("This line is too long to scroll sideways: it wraps");
            } else if r.changed() {
                state.wrap = Some(wrap);
                state.jump = Some(egui::Vec2::ZERO);
            }
            let lines = doc.line_count();
            ui.weak(format!(
                "{lines} {}",
                if lines == 1 { "line" } else { "lines" }
            ));
        });

        let font = egui::TextStyle::Monospace.resolve(ui.style());
        let (char_w, row_h) = ui.ctx().fonts_mut(|f| {
            (
                f.glyph_width(&font, '0').max(1.0),
                f.row_height(&font).max(1.0),
            )
        });
        let digits = doc.line_count().to_string().len();
        let gutter = char_w * digits as f32 + 12.0;
        let text_color = ui.visuals().text_color();
        let weak = ui.visuals().weak_text_color();
        let gutter_fill = ui.visuals().faint_bg_color;
        let pane = ui.visuals().extreme_bg_color;

        // Home and End while the pointer is over the text: the start and the end.
        let hovered = ui.rect_contains_pointer(ui.available_rect_before_wrap());
        if hovered {
            ui.input_mut(|i| {
                if i.consume_key(egui::Modifiers::NONE, egui::Key::Home) {
                    state.jump = Some(egui::Vec2::ZERO);
                }
                if i.consume_key(egui::Modifiers::NONE, egui::Key::End) {
                    state.jump = Some(egui::vec2(0.0, state.content_height));
                }
            });
        }

        let mut area = egui::ScrollArea::new([!wrap, true])
            .id_salt((id_salt, wrap))
            .auto_shrink([false, false]);
        if let Some(jump) = state.jump.take() {
            area = area.scroll_offset(jump);
        }
        area.show_viewport(ui, |ui, viewport| {
            let text_width = (ui.available_width() - gutter).max(char_w * 4.0);
            let rows = if wrap {
                let columns = ((text_width - char_w) / char_w).floor().max(4.0) as usize;
                let key = doc.text().as_ptr() as usize ^ doc.text().len();
                let stale =
                    !matches!(&state.wrapping, Some((k, w)) if *k == key && w.columns == columns);
                if stale {
                    state.wrapping = Some((key, Wrapping::new(doc, columns)));
                }
                state.wrapping.as_ref().map_or(0, |(_, w)| w.rows())
            } else {
                doc.line_count()
            };
            let content_w = if wrap {
                ui.available_width()
            } else {
                (gutter + (doc.longest_line() as f32 + 2.0) * char_w).min(MAX_SCROLL_WIDTH)
            };
            state.content_height = rows as f32 * row_h;
            let (rect, _) = ui.allocate_exact_size(
                egui::vec2(content_w, state.content_height),
                egui::Sense::hover(),
            );
            let painter = ui.painter_at(ui.clip_rect());
            painter.rect_filled(
                egui::Rect::from_min_max(
                    rect.min + viewport.min.to_vec2(),
                    rect.min + viewport.max.to_vec2(),
                ),
                0.0,
                pane,
            );
            let first = (viewport.min.y / row_h).floor().max(0.0) as usize;
            let last = ((viewport.max.y / row_h).ceil().max(0.0) as usize).min(rows);
            // Unwrapped: only the columns in view (the first one under the gutter).
            let first_col = ((viewport.min.x - gutter) / char_w).floor().max(0.0) as usize;
            let last_col = ((viewport.max.x - gutter) / char_w).ceil().max(0.0) as usize + 1;
            let gutter_x = rect.left() + viewport.min.x;
            painter.rect_filled(
                egui::Rect::from_min_max(
                    egui::pos2(gutter_x, rect.top() + viewport.min.y),
                    egui::pos2(gutter_x + gutter - 6.0, rect.top() + viewport.max.y),
                ),
                0.0,
                gutter_fill,
            );
            for row in first..last {
                let y = rect.top() + row as f32 * row_h;
                let (line, part, text, x) = if wrap {
                    let Some((_, w)) = &state.wrapping else { break };
                    let (line, part) = w.locate(row);
                    (line, part, w.row_text(doc, row), rect.left() + gutter)
                } else {
                    let full = doc.line(row);
                    let start = floor_boundary(full, first_col);
                    let end = floor_boundary(full, last_col.max(first_col));
                    (
                        row,
                        0,
                        &full[start..end],
                        rect.left() + gutter + start as f32 * char_w,
                    )
                };
                if !text.is_empty() {
                    let shown: std::borrow::Cow<str> = if text.contains('\t') {
                        text.replace('\t', TAB).into()
                    } else {
                        text.into()
                    };
                    let painted = painter.text(
                        egui::pos2(x, y),
                        egui::Align2::LEFT_TOP,
                        shown.clone(),
                        font.clone(),
                        text_color,
                    );
                    // Each visible row is a label for screen readers (and UI tests).
                    ui.interact(
                        painted,
                        ui.scope_id().with(("row", row)),
                        egui::Sense::hover(),
                    )
                    .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, &*shown));
                }
                if part == 0 {
                    let number = (line + 1).to_string();
                    let painted = painter.text(
                        egui::pos2(gutter_x + gutter - 10.0, y),
                        egui::Align2::RIGHT_TOP,
                        &number,
                        font.clone(),
                        weak,
                    );
                    ui.interact(
                        painted,
                        ui.scope_id().with(("number", row)),
                        egui::Sense::hover(),
                    )
                    .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, &number));
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_indexed_like_str_lines() {
        for text in ["", "a", "a\n", "a\nb", "a\r\nb\r\n", "\n\n", "x\n\ny\n"] {
            let doc = TextDoc::new(text.to_string());
            let expected: Vec<&str> = if text.is_empty() {
                vec![""]
            } else {
                text.lines().collect()
            };
            let got: Vec<&str> = (0..doc.line_count()).map(|i| doc.line(i)).collect();
            assert_eq!(got, expected, "{text:?}");
        }
        let doc = TextDoc::new("ab\nabcdef\nabc".into());
        assert_eq!(doc.longest_line(), 6);
        assert_eq!(doc.line(9), "");
    }

    #[test]
    fn wrapping_cuts_rows_at_char_boundaries() {
        let doc = TextDoc::new("abcdefghij\n\nxyz\néééé".into());
        let w = Wrapping::new(&doc, 4);
        // 10 bytes → 3 rows, empty line → 1, "xyz" → 1, 8 bytes of é → 2.
        assert_eq!(w.rows(), 7);
        let rows: Vec<&str> = (0..w.rows()).map(|r| w.row_text(&doc, r)).collect();
        assert_eq!(rows, ["abcd", "efgh", "ij", "", "xyz", "éé", "éé"]);
        assert_eq!(w.locate(4), (2, 0));
        assert_eq!(w.locate(6), (3, 1));
        // A multi-byte char straddling a cut moves to the next row whole.
        let doc = TextDoc::new("aéé".into());
        let w = Wrapping::new(&doc, 4);
        let rows: Vec<&str> = (0..w.rows()).map(|r| w.row_text(&doc, r)).collect();
        assert_eq!(rows.concat(), "aéé");
    }

    #[test]
    fn single_huge_lines_wrap_by_default_and_code_does_not() {
        let yaml = TextDoc::new("a:\n  b: 1\n  c:\n    - d\n".into());
        assert!(!yaml.wraps_by_default());
        assert!(!TextViewState::default().wraps(&yaml));
        let minified = TextDoc::new("x".repeat(50_000));
        assert!(minified.wraps_by_default());
        assert!(TextViewState::default().wraps(&minified));
        // The user's choice wins, except where sideways scrolling cannot reach the end.
        let state = TextViewState {
            wrap: Some(false),
            ..Default::default()
        };
        assert!(!state.wraps(&minified));
        assert!(state.wraps(&TextDoc::new("x".repeat(1_000_000))));
    }
}
