//! The filter bar: MLflow's filter string with its error shown inline (with a caret at the
//! position), a run-name quick filter, and the active/deleted/all switch.
//!
//! Errors come from two places: a parse-only check run on every keystroke ([`FILTER_PARSER`]),
//! and the store's own `INVALID_PARAMETER_VALUE` answer to a search (its message is scanned for
//! a position).

use crate::model::ViewType;

use super::commands::Command;
use super::context::ViewCtx;
use super::theme;

/// A filter string's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// What is wrong.
    pub message: String,
    /// Byte offset in the filter where it is wrong, when known.
    pub offset: Option<usize>,
}

/// A parse-only check of a filter string.
pub type FilterParser = fn(&str) -> Result<(), FilterError>;

/// The parse-only check run on every keystroke: the search module's parser with mlscope's
/// extended syntax (OR, NOT, parentheses). The store's answer to the search can still report
/// errors the parser cannot see (e.g. a server's).
pub const FILTER_PARSER: Option<FilterParser> = Some(parse_extended);

fn parse_extended(filter: &str) -> Result<(), FilterError> {
    crate::search::parse_run_filter(filter, crate::search::FilterSyntax::Extended)
        .map(|_| ())
        .map_err(|e| FilterError {
            message: e.message,
            offset: Some(e.offset),
        })
}

/// Checks a filter with [`FILTER_PARSER`], if there is one.
pub fn check_filter(filter: &str) -> Result<(), FilterError> {
    match FILTER_PARSER {
        Some(parse) if !filter.trim().is_empty() => parse(filter),
        _ => Ok(()),
    }
}

/// Builds a [`FilterError`] from a store message, finding a position in phrases such as
/// `at position 12`, `col 24`, `column 3`, `offset 7`, `at byte 5`, `at char 9`.
pub fn error_from_message(message: &str) -> FilterError {
    const MARKERS: [&str; 8] = [
        "at position ",
        "position ",
        "offset ",
        "at byte ",
        "byte ",
        "column ",
        "col ",
        "at char ",
    ];
    let lower = message.to_ascii_lowercase();
    let offset = MARKERS.iter().find_map(|m| {
        let i = lower.find(m)? + m.len();
        let digits: String = lower[i..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let n: usize = digits.parse().ok()?;
        // Columns are 1-based in messages that say "col"/"column".
        Some(if m.starts_with("col") {
            n.saturating_sub(1)
        } else {
            n
        })
    });
    FilterError {
        message: message.to_string(),
        offset,
    }
}

/// The filter bar above the runs table.
#[derive(Debug, Default)]
pub struct FilterBar {
    /// Take the keyboard focus in the next frame (`/`).
    pub focus: bool,
    /// Suggestions for the filter being typed (keys, operators, values; Tab completes).
    pub autocomplete: super::sweep::autocomplete::Autocomplete,
}

impl FilterBar {
    /// Draws the filter bar.
    pub fn show(&mut self, ui: &mut egui::Ui, ctx: &ViewCtx) {
        let dark = ctx.dark();
        let filter = ctx.filter();
        ui.horizontal(|ui| {
        let label = ui.label("Filter");
        let mut text = filter.text.clone();
        let width = (ui.available_width() - 420.0).max(160.0);
        let filter_id = egui::Id::unique("filter_bar");
        let keep_tab = self.autocomplete.before_edit(ui, filter_id, &mut text, ctx);
        let edit = egui::TextEdit::singleline(&mut text)
            .id(filter_id)
            .lock_focus(keep_tab)
            .hint_text("metrics.val_acc > 0.9 and params.lr = '0.01'")
            .font(egui::TextStyle::Monospace)
            .desired_width(width);
        let r = ui.add(edit).labelled_by(label.id).on_hover_text(
            "MLflow filter: metrics.*, params.*, tags.*, attributes.* with = != < > <= >= LIKE ILIKE IN",
        );
        if self.focus {
            r.request_focus();
            self.focus = false;
        }
        self.autocomplete.after_edit(ui, &r, &mut text, ctx);
        if r.has_focus() {
            let (up, down, esc) = ui.input(|i| {
                (
                    i.key_pressed(egui::Key::ArrowUp),
                    i.key_pressed(egui::Key::ArrowDown),
                    i.key_pressed(egui::Key::Escape),
                )
            });
            if esc {
                r.surrender_focus();
            }
            if (up || down) && !filter.history.is_empty() {
                let h = &filter.history;
                let pos = h.iter().position(|f| *f == text);
                let next = match (pos, up) {
                    (None, true) => Some(h.len() - 1),
                    (Some(p), true) => Some(p.saturating_sub(1)),
                    (Some(p), false) if p + 1 < h.len() => Some(p + 1),
                    _ => None,
                };
                text = next.map(|i| h[i].clone()).unwrap_or_default();
            }
        }
        if text != filter.text {
            ctx.send(Command::SetFilter(text));
        }
        if !filter.text.is_empty()
            && ui.small_button("✖").on_hover_text("Clear the filter").clicked()
        {
            ctx.send(Command::SetFilter(String::new()));
        }
        ui.separator();
        let label = ui.label("Name");
        let mut name_query = filter.name_query.clone();
        ui.add(
            egui::TextEdit::singleline(&mut name_query)
                .id(egui::Id::unique("name_filter"))
                .hint_text("run name contains…")
                .desired_width(140.0),
        )
        .labelled_by(label.id)
        .on_hover_text("Show runs whose name contains this text (their parents stay, greyed)");
        if name_query != filter.name_query {
            ctx.send(Command::SetNameQuery(name_query));
        }
        let mut view = filter.run_view;
        egui::ComboBox::from_id_salt("run_view")
            .selected_text(match view {
                ViewType::ActiveOnly => "Active",
                ViewType::DeletedOnly => "Deleted",
                ViewType::All => "All",
            })
            .width(80.0)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut view, ViewType::ActiveOnly, "Active");
                ui.selectable_value(&mut view, ViewType::DeletedOnly, "Deleted");
                ui.selectable_value(&mut view, ViewType::All, "All");
            })
            .response
            .on_hover_text("Which runs to show: active, deleted (restorable) or all");
        if view != filter.run_view {
            ctx.send(Command::SetRunView(view));
        }
        let shown = ctx.rows().len();
        let total = ctx.run_set().map_or(0, |s| s.runs.len());
        let label = if shown == total {
            crate::format::count(total, "run")
        } else {
            format!("{shown} of {}", crate::format::count(total, "run"))
        };
        ui.label(label);
        if ctx.runs_loading() {
            ui.spinner();
        }
    });
        if let Some(err) = &filter.error {
            let color = theme::error_color(dark);
            let caret = match err.offset {
                Some(off) => {
                    let off = off.min(filter.text.len());
                    let col = filter.text[..floor_char_boundary(&filter.text, off)]
                        .chars()
                        .count();
                    format!("{}^ ", " ".repeat(col))
                }
                None => String::new(),
            };
            ui.horizontal(|ui| {
            ui.add_space(ui.spacing().item_spacing.x + 36.0);
            ui.vertical(|ui| {
                if !caret.is_empty() {
                    ui.label(
                        egui::RichText::new(format!("{}\n{caret}", filter.text))
                            .monospace()
                            .color(color),
                    );
                }
                let pos = err
                    .offset
                    .map(|o| format!("at position {o}: "))
                    .unwrap_or_default();
                ui.colored_label(color, format!("⚠ {pos}{}", err.message));
                if needs_backticks_hint(&filter.text, err) {
                    ui.label("Keys with '/', '-', spaces or dots need backticks: metrics.`train/loss` < 0.2");
                }
                ui.weak("The table keeps the last valid result");
            });
        });
        }
    }
}

/// Whether the error is at a character that only a quoted key may hold (`metrics.train/loss`).
fn needs_backticks_hint(filter: &str, err: &FilterError) -> bool {
    let Some(off) = err.offset else {
        return false;
    };
    let at = filter.get(off..).and_then(|s| s.chars().next());
    matches!(at, Some('/' | '-' | ':' | '@'))
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_found_in_messages() {
        assert_eq!(
            error_from_message("unexpected token at position 12").offset,
            Some(12)
        );
        assert_eq!(
            error_from_message("col 24: expected a quoted string").offset,
            Some(23)
        );
        assert_eq!(error_from_message("filter is not supported").offset, None);
    }
}
