//! The runs table: virtualised rows (only the visible ones are laid out), nested runs as a tree,
//! sort by any column (Shift+click adds a secondary key), multi-select with click, Shift and
//! Ctrl, metric columns showing last/min/max, and the column chooser.

use egui_extras::{Column, TableBuilder};

use crate::format::{duration_spaced, number_sig, time_local};
use crate::model::{LifecycleStage, Run, tags};

use super::cache::Entry;
use super::commands::{Command, SelectMode, Tab};
use super::context::ViewCtx;
use super::runs_model::{
    ColumnId, MetricAgg, PinnedRuns, SortKey, duration_ms, is_pinned, moved_column_order,
    visible_columns,
};
use super::sweep::table_groups::{ShownRow, TableGroup, group_cell};
use super::theme;
use super::worker::{TagChange, WriteOp};

/// The runs table and its column chooser, with the chooser's own state.
#[derive(Debug, Default)]
pub struct RunsTable {
    /// Whether the column chooser window is open.
    pub show_column_chooser: bool,
    /// The column chooser's search box.
    column_search: String,
    /// Group rows (when charts are grouped).
    pub groups: super::sweep::table_groups::TableGroups,
    /// The column whose header is being dragged to another place.
    dragging_column: Option<ColumnId>,
    /// The "tag the selected runs" window, when open: its key and value.
    bulk_tag: Option<(String, String)>,
    /// The window was just opened (its key field takes the keyboard).
    bulk_tag_fresh: bool,
}

/// What a [`WriteOp::TagRuns`] did, in words (the notice after it, with its Undo).
pub fn describe_tag_runs(key: &str, changes: &[TagChange]) -> String {
    let runs = crate::format::count(changes.len(), "run");
    let first = changes.first().and_then(|c| c.new.clone());
    if changes.iter().all(|c| c.new == first) {
        match first {
            Some(v) => format!("tagged {runs} {key}={v}"),
            None => format!("removed tag '{key}' from {runs}"),
        }
    } else {
        format!("put back tag '{key}' on {runs}")
    }
}

fn cell_text(ctx: &ViewCtx, run: &Run, col: &ColumnId) -> (String, Option<String>) {
    match col {
        ColumnId::Name => (run.info.run_name.clone(), Some(run.info.run_id.clone())),
        ColumnId::Status => (String::new(), None),
        ColumnId::Start => (
            run.info.start_time.map(time_local).unwrap_or_default(),
            None,
        ),
        ColumnId::Duration => (
            duration_ms(run).map(duration_spaced).unwrap_or_default(),
            None,
        ),
        ColumnId::User => (run.info.user_id.clone(), None),
        ColumnId::Source => {
            let s = run
                .data
                .tags
                .get(tags::SOURCE_NAME)
                .cloned()
                .unwrap_or_default();
            let short = s.rsplit(['/', '\\']).next().unwrap_or(&s).to_string();
            (short, Some(s))
        }
        ColumnId::Experiment => (ctx.experiment_name(&run.info.experiment_id), None),
        ColumnId::Store => (ctx.store_label(&run.info.run_id), None),
        ColumnId::Param(k) => {
            let v = run.data.params.get(k).cloned().unwrap_or_default();
            (v.clone(), (v.len() > 24).then_some(v))
        }
        ColumnId::Tag(k) => {
            let v = run.data.tags.get(k).cloned().unwrap_or_default();
            (v.clone(), (v.len() > 24).then_some(v))
        }
        ColumnId::Metric(k) => {
            let agg = ctx.metric_agg(k);
            match ctx.metric_value(run, k, agg) {
                Some(v) => (number_sig(v), Some(format!("{v}"))),
                None if agg != MetricAgg::Last && run.data.metrics.contains_key(k) => {
                    ("…".into(), None)
                }
                None => (String::new(), None),
            }
        }
    }
}

/// The eye of a run row: drawn open, or closed and struck through when the run is hidden from
/// the charts (drawn, not a glyph a font may lack).
fn eye_toggle(ui: &mut egui::Ui, hidden: bool) -> egui::Response {
    let (rect, response) = ui.allocate_exact_size(egui::vec2(16.0, 12.0), egui::Sense::click());
    let color = if response.hovered() {
        ui.visuals().strong_text_color()
    } else if hidden {
        ui.visuals().weak_text_color()
    } else {
        ui.visuals().text_color().gamma_multiply(0.55)
    };
    let painter = ui.painter();
    let c = rect.center();
    let stroke = egui::Stroke::new(1.2, color);
    // Two arcs meeting at the corners of the eye, and the pupil.
    let arc = |dir: f32| -> Vec<egui::Pos2> {
        (0..=8)
            .map(|i| {
                let t = i as f32 / 8.0;
                let x = c.x - 6.0 + 12.0 * t;
                let y = c.y + dir * 4.5 * (std::f32::consts::PI * t).sin();
                egui::pos2(x, y)
            })
            .collect()
    };
    painter.add(egui::Shape::line(arc(-1.0), stroke));
    painter.add(egui::Shape::line(arc(1.0), stroke));
    if hidden {
        painter.line_segment(
            [c + egui::vec2(-6.0, 5.0), c + egui::vec2(6.0, -5.0)],
            stroke,
        );
    } else {
        painter.circle_filled(c, 2.0, color);
    }
    response.widget_info(|| {
        egui::WidgetInfo::selected(egui::Role::CheckBox, true, !hidden, "shown in charts")
    });
    response
}

/// The pin of a run row: a drawn pushpin, filled when the run is pinned to the top, an outline
/// (shown while the row is hovered) to pin it.
fn pin_toggle(ui: &mut egui::Ui, pinned: bool, visible: bool) -> egui::Response {
    let (rect, response) = ui.allocate_exact_size(egui::vec2(14.0, 12.0), egui::Sense::click());
    response.widget_info(|| {
        egui::WidgetInfo::selected(egui::Role::CheckBox, true, pinned, "pinned to the top")
    });
    if !(pinned || visible || response.hovered()) {
        return response;
    }
    let color = if pinned || response.hovered() {
        ui.visuals().strong_text_color()
    } else {
        ui.visuals().weak_text_color()
    };
    let painter = ui.painter();
    let c = rect.center();
    let head = c + egui::vec2(2.0, -2.0);
    painter.line_segment(
        [c + egui::vec2(-5.0, 5.0), c + egui::vec2(0.5, -0.5)],
        egui::Stroke::new(1.4, color),
    );
    if pinned {
        painter.circle_filled(head, 3.2, color);
    } else {
        painter.circle_stroke(head, 3.0, egui::Stroke::new(1.2, color));
    }
    response
}

/// The colour of the line under the pinned rows.
fn ui_stroke_color(ctx: &egui::Context) -> egui::Color32 {
    ctx.global_style()
        .visuals
        .widgets
        .noninteractive
        .fg_stroke
        .color
        .gamma_multiply(0.6)
}

/// Pins `run` to the top of its experiment's table, or unpins it.
pub fn toggle_pin(pinned: &mut PinnedRuns, run: &Run) {
    let exp = &run.info.experiment_id;
    let ids = pinned.entry(exp.clone()).or_default();
    if !ids.remove(&run.info.run_id) {
        ids.insert(run.info.run_id.clone());
    }
    if ids.is_empty() {
        pinned.remove(exp);
    }
}

/// Draws a group's row; true when its arrow was clicked (collapse or expand).
fn group_row_ui(
    row: &mut egui_extras::TableRow<'_, '_>,
    ctx: &ViewCtx,
    group: &TableGroup,
    columns: &[ColumnId],
    collapsed: &std::collections::HashSet<String>,
) -> bool {
    let mut toggled = false;
    let open = !collapsed.contains(&group.label);
    for col in columns {
        row.col(|ui| {
            let (text, tip) = group_cell(ctx, group, col);
            if *col == ColumnId::Name {
                if ui
                    .add(
                        egui::Button::new(if open { "⏷" } else { "⏵" })
                            .frame(false)
                            .small(),
                    )
                    .on_hover_text(if open {
                        "Hide the group's runs"
                    } else {
                        "Show the group's runs"
                    })
                    .clicked()
                {
                    toggled = true;
                }
                theme::swatch(ui, group.color);
            }
            let l = ui.add(
                egui::Label::new(egui::RichText::new(text).strong())
                    .truncate()
                    .selectable(false),
            );
            if let Some(t) = tip {
                l.on_hover_text(t);
            }
        });
    }
    toggled
}

fn is_numeric(col: &ColumnId) -> bool {
    matches!(col, ColumnId::Metric(_) | ColumnId::Duration)
}

impl RunsTable {
    /// Draws the runs table.
    pub fn show(&mut self, ui: &mut egui::Ui, ctx: &ViewCtx) {
        let dark = ctx.dark();
        let set = match ctx.runs() {
            Entry::Loading => {
                ui.add_space(20.0);
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(if ctx.selected_experiments().is_empty() {
                        "Reading experiments…"
                    } else {
                        "Reading runs…"
                    });
                });
                return;
            }
            Entry::Failed(e) => {
                ui.add_space(20.0);
                ui.colored_label(theme::error_color(dark), format!("Cannot read runs: {e}"));
                return;
            }
            Entry::Ready(set) => set.clone(),
        };
        if ctx.selected_experiments().is_empty() {
            ui.add_space(20.0);
            ui.weak("Select an experiment on the left");
            return;
        }
        let several = ctx.selected_experiments().len() > 1;
        let (columns, constant_hidden) = visible_columns(&set, &ctx.persisted().columns, several);
        ui.horizontal(|ui| {
            if ui
                .button("Columns…")
                .on_hover_text("Choose the params, metrics and tags shown as columns")
                .clicked()
            {
                self.show_column_chooser = true;
            }
            if ui
                .button("Export CSV…")
                .on_hover_text("Save the shown rows and columns as a CSV file")
                .clicked()
            {
                ctx.send(Command::SaveAs {
                    file_name: "runs.csv".into(),
                    bytes: super::sweep::table_export::rows_csv(ctx, &set, &columns),
                });
            }
            let n_selected = ctx.selection().len();
            if ui
                .add_enabled(
                    n_selected > 0 && !ctx.read_only(),
                    egui::Button::new("Tag selected…"),
                )
                .on_hover_text(format!(
                    "Set a tag on the {} (Undo on the notice)",
                    crate::format::count(n_selected, "selected run")
                ))
                .on_disabled_hover_text(if ctx.read_only() {
                    "The viewer is read-only: switch read-only off to tag runs"
                } else {
                    "Select runs to tag them"
                })
                .clicked()
            {
                self.open_bulk_tag();
            }
            if constant_hidden > 0 {
                ui.weak(format!(
                    "{} with a single value hidden",
                    crate::format::count(constant_hidden, "column")
                ));
            }
            if !ctx.sort().is_empty() {
                let text: Vec<String> = ctx
                    .sort()
                    .iter()
                    .map(|s| {
                        format!(
                            "{} ({})",
                            s.column.title(),
                            if s.ascending {
                                "ascending"
                            } else {
                                "descending"
                            }
                        )
                    })
                    .collect();
                ui.weak(format!("sorted by {}", text.join(", ")));
                if ui
                    .small_button("✖")
                    .on_hover_text("Back to the store's order")
                    .clicked()
                {
                    ctx.send(Command::ClearSort);
                }
            }
        });
        if set.runs.is_empty() {
            ui.add_space(20.0);
            ui.weak(if ctx.filter().applied.trim().is_empty() {
                "No runs in the selected experiments"
            } else {
                "No run matches the filter"
            });
            return;
        }

        self.bulk_tag_window(ui.ctx(), ctx);
        let mut cmds: Vec<Command> = Vec::new();
        let mut sort_clicked: Option<(ColumnId, bool)> = None;
        let mut agg_changed: Option<(String, MetricAgg)> = None;
        let mut hide: Option<String> = None;
        let mut missing_histories: Vec<(String, String)> = Vec::new();
        let modifiers = ui.input(|i| i.modifiers);
        let mut toggled_group: Option<String> = None;
        let mut header_rects: Vec<(ColumnId, egui::Rect)> = Vec::new();
        let mut drag_started: Option<ColumnId> = None;
        let mut drag_stopped = false;
        let mut open_bulk_tag = false;
        let egui_ctx = ui.ctx().clone();

        egui::ScrollArea::horizontal()
        .id_salt("runs_hscroll")
        .auto_shrink([false, false])
        .show(ui, |ui| {
        // egui_extras keeps widths by position: after a reorder the table starts afresh, so
        // each column gets its own kind's width instead of its old neighbour's.
        let order_salt = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            ctx.persisted().columns.order.hash(&mut h);
            h.finish()
        };
        let mut table = TableBuilder::new(ui)
            .id_salt(("runs_table", order_salt))
            .striped(true)
            .resizable(true)
            .sense(egui::Sense::click())
            .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
            .auto_shrink([false, false])
            .min_scrolled_height(60.0);
        for col in &columns {
            let c = match col {
                ColumnId::Name => Column::initial(220.0).at_least(80.0),
                ColumnId::Status => Column::initial(50.0).at_least(40.0),
                ColumnId::Start => Column::initial(140.0).at_least(60.0),
                ColumnId::Duration => Column::initial(70.0).at_least(40.0),
                _ => Column::initial(90.0).at_least(36.0),
            };
            table = table.column(c.clip(true));
        }
        if let Some(row) = ctx.scroll_to_row {
            table = table.scroll_to_row(row, None);
        }
        let sort = ctx.sort();
        let rows = ctx.rows();
        // Grouped runs: a collapsible row per group above its runs.
        let grouped = self.groups.layout(ctx, &set);
        let n_shown = grouped.as_ref().map_or(rows.len(), |g| g.shown.len());
        theme::assign_shown_colors(ctx);
        let mut hovered: Option<String> = None;
        table
            .header(22.0, |mut header| {
                for col in &columns {
                    let (rect, _) = header.col(|ui| {
                        // The sort direction is drawn (a triangle), not a glyph a font may lack;
                        // first, so that truncating the title never hides it.
                        let sorted = sort.iter().position(|s| s.column == *col);
                        if let Some(i) = sorted {
                            sort_arrow(ui, sort[i].ascending);
                        }
                        let arrow = match sorted {
                            Some(i) if sort.len() > 1 => format!(" {}", i + 1),
                            _ => String::new(),
                        };
                        let mut title = col.title();
                        if let ColumnId::Metric(k) = col {
                            let agg = ctx.metric_agg(k);
                            if agg != MetricAgg::Last {
                                title = format!("{title} ({})", agg.label());
                            }
                        }
                        let movable = *col != ColumnId::Name;
                        let r = ui
                            .add(
                                egui::Button::new(egui::RichText::new(format!("{title}{arrow}")).strong())
                                    .frame(false)
                                    .truncate()
                                    .sense(if movable {
                                        egui::Sense::click_and_drag()
                                    } else {
                                        egui::Sense::click()
                                    }),
                            )
                            .on_hover_text(format!(
                                "{}\nClick to sort, Shift+click to add a sort key; drag to move the column; right-click for options",
                                col.id_string()
                            ));
                        if r.clicked() {
                            sort_clicked = Some((col.clone(), modifiers.shift));
                        }
                        if r.drag_started() {
                            drag_started = Some(col.clone());
                        }
                        if r.dragged() {
                            ui.ctx().set_cursor_icon(egui::CursorIcon::Grabbing);
                        }
                        if r.drag_stopped() {
                            drag_stopped = true;
                        }
                        r.context_menu(|ui| {
                            if let ColumnId::Metric(k) = col {
                                ui.label("Show");
                                for agg in [MetricAgg::Last, MetricAgg::Min, MetricAgg::Max] {
                                    if ui
                                        .selectable_label(ctx.metric_agg(k) == agg, agg.label())
                                        .clicked()
                                    {
                                        agg_changed = Some((k.clone(), agg));
                                        ui.close();
                                    }
                                }
                                ui.separator();
                            }
                            if *col != ColumnId::Name && ui.button("Hide column").clicked() {
                                hide = Some(col.id_string());
                                ui.close();
                            }
                        });
                    });
                    header_rects.push((col.clone(), rect));
                }
                // While a header is dragged: a line where it would go.
                if (self.dragging_column.is_some() || drag_started.is_some())
                    && let Some(pointer) = egui_ctx.pointer_latest_pos()
                {
                    let (_, x) = drop_place(&header_rects, pointer.x);
                    if let Some((_, first)) = header_rects.first() {
                        let painter = egui_ctx.layer_painter(egui::LayerId::new(
                            egui::Order::Foreground,
                            egui::Id::unique("column_drop_marker"),
                        ));
                        let style = egui_ctx.global_style();
                        painter.vline(
                            x,
                            first.y_range(),
                            egui::Stroke::new(2.0, style.visuals.selection.stroke.color),
                        );
                        // The dragged column's title follows the pointer.
                        if let Some(moving) = self.dragging_column.as_ref().or(drag_started.as_ref()) {
                            let galley = painter.layout_no_wrap(
                                moving.title(),
                                egui::TextStyle::Button.resolve(&style),
                                style.visuals.strong_text_color(),
                            );
                            let at = pointer + egui::vec2(10.0, 6.0);
                            let rect = egui::Rect::from_min_size(at, galley.size()).expand(4.0);
                            painter.rect_filled(rect, 3.0, style.visuals.widgets.active.weak_bg_fill);
                            painter.galley(at, galley, style.visuals.strong_text_color());
                        }
                    }
                }
            })
            .body(|body| {
                body.rows(theme::ROW_HEIGHT, n_shown, |mut row| {
                    let r = match grouped.as_ref().map(|g| g.shown[row.index()]) {
                        None => rows[row.index()],
                        Some(ShownRow::Run(i)) => rows[i],
                        Some(ShownRow::Group(gi)) => {
                            if let Some(layout) = &grouped {
                                let g = &layout.groups[gi];
                                if group_row_ui(&mut row, ctx, g, &columns, &self.groups.collapsed) {
                                    toggled_group = Some(g.label.clone());
                                } else if row.response().clicked() {
                                    cmds.push(Command::SelectRuns(
                                        g.runs.iter().map(|r| r.info.run_id.clone()).collect(),
                                    ));
                                }
                            }
                            return;
                        }
                    };
                    let run = &set.runs[r.run];
                    let id = &run.info.run_id;
                    row.set_selected(ctx.selection().contains(id));
                    let deleted = run.info.lifecycle_stage == LifecycleStage::Deleted;
                    let pinned = is_pinned(&ctx.persisted().pinned_runs, run);
                    for col in &columns {
                        row.col(|ui| {
                            if let ColumnId::Metric(k) = col
                                && ctx.metric_agg(k) != MetricAgg::Last
                                && run.data.metrics.contains_key(k)
                                && !ctx
                                    .histories()
                                    .contains(&(id.clone(), k.clone()))
                            {
                                missing_histories.push((id.clone(), k.clone()));
                            }
                            match col {
                                ColumnId::Name => {
                                    ui.add_space(r.depth as f32 * 14.0);
                                    if r.has_children {
                                        let open = !ctx.collapsed().contains(id);
                                        if ui
                                            .add(egui::Button::new(if open { "⏷" } else { "⏵" }).frame(false).small())
                                            .on_hover_text(if open { "Hide child runs" } else { "Show child runs" })
                                            .clicked()
                                        {
                                            cmds.push(Command::ToggleExpanded(id.clone()));
                                        }
                                    } else if r.depth > 0 || !ctx.collapsed().is_empty() || set.children.values().next().is_some() {
                                        ui.add_space(16.0);
                                    }
                                    let hidden = ctx.hidden_from_charts().contains(id);
                                    if eye_toggle(ui, hidden)
                                        .on_hover_text(if hidden {
                                            "Hidden from the charts: click to show it again"
                                        } else {
                                            "Click to hide this run from the charts (it stays selected)"
                                        })
                                        .clicked()
                                    {
                                        cmds.push(Command::ToggleHiddenFromCharts(id.clone()));
                                    }
                                    let row_hovered = ctx.hovered_run() == Some(id);
                                    if pin_toggle(ui, pinned, row_hovered)
                                        .on_hover_text(if pinned {
                                            "Pinned to the top whatever the sort and filter: click to unpin"
                                        } else {
                                            "Pin to the top of the table (kept whatever the sort and filter)"
                                        })
                                        .clicked()
                                    {
                                        cmds.push(Command::TogglePinned(id.clone()));
                                    }
                                    theme::run_swatch(ui, ctx, id);
                                    let mut text = egui::RichText::new(&run.info.run_name);
                                    if r.context_only {
                                        text = text.weak();
                                    }
                                    if deleted {
                                        text = text.strikethrough();
                                    }
                                    ui.add(egui::Label::new(text).truncate().selectable(false))
                                        .on_hover_text(format!("{}\nrun id {id}", run.info.run_name));
                                }
                                ColumnId::Status => {
                                    let s = run.info.status;
                                    ui.add(
                                        egui::Label::new(
                                            egui::RichText::new(theme::status_icon(s))
                                                .color(theme::status_color(s, dark)),
                                        )
                                        .selectable(false),
                                    )
                                    .on_hover_text(if deleted {
                                        format!("{} (deleted)", s.as_str())
                                    } else {
                                        s.as_str().to_string()
                                    });
                                }
                                _ => {
                                    let (text, tip) = cell_text(ctx, run, col);
                                    let draw = |ui: &mut egui::Ui| {
                                        let mut rt = egui::RichText::new(text);
                                        if r.context_only {
                                            rt = rt.weak();
                                        }
                                        let l = ui.add(egui::Label::new(rt).truncate().selectable(false));
                                        if let Some(t) = tip {
                                            l.on_hover_text(t);
                                        }
                                    };
                                    if is_numeric(col) {
                                        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), draw);
                                    } else {
                                        draw(ui);
                                    }
                                }
                            }
                        });
                    }
                    let resp = row.response();
                    // A line under the last pinned row sets the pinned ones apart.
                    let next_pinned = match grouped.as_ref() {
                        None => rows.get(row.index() + 1).is_some_and(|n| {
                            is_pinned(&ctx.persisted().pinned_runs, &set.runs[n.run])
                        }),
                        Some(_) => true,
                    };
                    if pinned && !next_pinned {
                        let y = resp.rect.bottom() - 0.5;
                        resp.ctx.layer_painter(resp.layer_id).hline(
                            resp.rect.x_range(),
                            y,
                            egui::Stroke::new(1.0, ui_stroke_color(&resp.ctx)),
                        );
                    }
                    if resp.hovered() {
                        hovered = Some(id.clone());
                    }
                    if resp.clicked() {
                        let mode = if modifiers.shift {
                            SelectMode::Extend
                        } else if modifiers.command {
                            SelectMode::Toggle
                        } else {
                            SelectMode::Replace
                        };
                        cmds.push(Command::SelectRun {
                            run_id: id.clone(),
                            mode,
                        });
                    }
                    if resp.double_clicked() {
                        cmds.push(Command::SetTab(Tab::Run));
                    }
                    resp.context_menu(|ui| {
                        if ui
                            .button(if pinned { "Unpin" } else { "Pin to the top" })
                            .clicked()
                        {
                            cmds.push(Command::TogglePinned(id.clone()));
                            ui.close();
                        }
                        let n = ctx.selection().len();
                        if n > 0
                            && ui
                                .add_enabled(!ctx.read_only(), egui::Button::new(format!(
                                    "Tag the {}…",
                                    crate::format::count(n, "selected run")
                                )))
                                .clicked()
                        {
                            open_bulk_tag = true;
                            ui.close();
                        }
                    });
                });
            });
            if hovered.as_ref() != ctx.hovered_run() {
                cmds.push(Command::HoverRun(hovered));
            }
        });

        if let Some(label) = toggled_group {
            self.groups.toggle(&label);
        }
        if open_bulk_tag {
            self.open_bulk_tag();
        }
        if let Some(col) = drag_started {
            self.dragging_column = Some(col);
        }
        if drag_stopped && let Some(moving) = self.dragging_column.take() {
            let pointer = egui_ctx.pointer_latest_pos().map_or(f32::NAN, |p| p.x);
            let (before, _) = drop_place(&header_rects, pointer);
            let order = moved_column_order(&columns, &moving.id_string(), before.as_deref());
            let now: Vec<String> = columns.iter().map(ColumnId::id_string).collect();
            if pointer.is_finite() && order != now {
                cmds.push(Command::SetColumnOrder(order));
            }
        }
        if let Some((column, add)) = sort_clicked {
            cmds.push(Command::SortBy { column, add });
        }
        if let Some((key, agg)) = agg_changed {
            cmds.push(Command::SetMetricAgg { key, agg });
        }
        if let Some(id) = hide {
            cmds.push(Command::ShowColumn { id, shown: false });
        }
        if !missing_histories.is_empty() {
            // Min/max columns need full histories: ask for the visible rows only.
            let mut by_run: std::collections::BTreeMap<String, Vec<String>> = Default::default();
            for (r, k) in missing_histories {
                by_run.entry(r).or_default().push(k);
            }
            for (run_id, keys) in by_run {
                cmds.push(Command::LoadHistories {
                    run_ids: vec![run_id],
                    keys,
                });
            }
        }
        for c in cmds {
            ctx.send(c);
        }
    }
}

/// Where a dragged column header dropped at `x` goes: before which column (`None`: at the end),
/// and the x of that place (for the marker). Never before the run name.
fn drop_place(headers: &[(ColumnId, egui::Rect)], x: f32) -> (Option<String>, f32) {
    let Some(last) = headers.last() else {
        return (None, x);
    };
    for (col, rect) in headers {
        if *col == ColumnId::Name {
            continue;
        }
        if x < rect.center().x {
            return (Some(col.id_string()), rect.left());
        }
    }
    (None, last.1.right())
}

/// A header click: the first click sorts descending for numbers and ascending for text, the next
/// flips, the third removes; with `add` the column becomes a further sort key.
pub fn apply_sort_click(sort: &mut Vec<SortKey>, column: ColumnId, add: bool) {
    let first_ascending = !matches!(
        column,
        ColumnId::Metric(_) | ColumnId::Start | ColumnId::Duration
    );
    if let Some(pos) = sort.iter().position(|s| s.column == column) {
        if sort[pos].ascending == first_ascending {
            sort[pos].ascending = !first_ascending;
        } else {
            sort.remove(pos);
        }
        if !add {
            let keep = sort.get(pos).cloned().filter(|s| s.column == column);
            sort.clear();
            sort.extend(keep);
        }
        return;
    }
    if !add {
        sort.clear();
    }
    sort.push(SortKey {
        column,
        ascending: first_ascending,
    });
}

impl RunsTable {
    fn open_bulk_tag(&mut self) {
        if self.bulk_tag.is_none() {
            self.bulk_tag = Some(Default::default());
            self.bulk_tag_fresh = true;
        }
    }

    /// The "tag the selected runs" window, when open: a key and a value, set on every selected
    /// run in one write through the worker (which the notice after it can undo).
    fn bulk_tag_window(&mut self, egui_ctx: &egui::Context, ctx: &ViewCtx) {
        let Some((key, value)) = self.bulk_tag.as_mut() else {
            return;
        };
        let runs = ctx.selected_runs();
        let mut open = true;
        let mut done = false;
        let fresh = std::mem::take(&mut self.bulk_tag_fresh);
        let mut entered = false;
        egui::Window::new("Tag the selected runs")
            .pivot(egui::Align2::CENTER_TOP)
            .default_pos(egui_ctx.content_rect().center_top() + egui::vec2(0.0, 120.0))
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .show(egui_ctx, |ui| {
                egui::Grid::new("bulk_tag_grid")
                    .num_columns(2)
                    .show(ui, |ui| {
                        ui.label("Key");
                        let r = ui
                            .add(egui::TextEdit::singleline(key).hint_text("e.g. stage"))
                            .on_hover_text("Tag key");
                        if fresh {
                            r.request_focus();
                        }
                        ui.end_row();
                        ui.label("Value");
                        let r = ui
                            .add(egui::TextEdit::singleline(value).hint_text("e.g. best"))
                            .on_hover_text("Tag value (Enter sets it)");
                        entered = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                        ui.end_row();
                    });
                let key_trimmed = key.trim();
                let problem = if key_trimmed.is_empty() {
                    Some("Give the tag a key".to_string())
                } else {
                    crate::model::validation::validate_key(
                        crate::model::validation::KeyKind::Tag,
                        key_trimmed,
                    )
                    .err()
                    .map(|e| e.to_string())
                };
                if let Some(p) = &problem
                    && !key_trimmed.is_empty()
                {
                    ui.colored_label(theme::error_color(ctx.dark()), p);
                }
                let already = runs
                    .iter()
                    .filter(|r| r.data.tags.get(key_trimmed) == Some(&*value))
                    .count();
                if already > 0 && problem.is_none() {
                    ui.weak(format!(
                        "{already} of them already {} {key_trimmed}={value}",
                        if already == 1 { "has" } else { "have" }
                    ));
                }
                ui.horizontal(|ui| {
                    let label = format!("Set on {}", crate::format::count(runs.len(), "run"));
                    let r = ui.add_enabled(
                        problem.is_none() && !runs.is_empty() && !ctx.read_only(),
                        egui::Button::new(label),
                    );
                    if r.clicked() || (entered && r.enabled()) {
                        let key = key_trimmed.to_string();
                        let changes = runs
                            .iter()
                            .map(|r| TagChange {
                                run_id: r.info.run_id.clone(),
                                new: Some(value.clone()),
                                old: r.data.tags.get(&key).cloned(),
                            })
                            .collect();
                        ctx.send(Command::Write(WriteOp::TagRuns { key, changes }));
                        done = true;
                    }
                    if ui.button("Cancel").clicked() {
                        done = true;
                    }
                });
            });
        if !open || done {
            self.bulk_tag = None;
        }
    }

    /// The column chooser, when open: every attribute, param, metric and tag, searchable, as
    /// checkboxes.
    pub fn column_chooser_window(&mut self, egui_ctx: &egui::Context, ctx: &ViewCtx) {
        if !self.show_column_chooser {
            return;
        }
        let mut open = true;
        let set = ctx.run_set().cloned();
        let several = ctx.selected_experiments().len() > 1;
        egui::Window::new("Columns")
            .open(&mut open)
            .default_size([340.0, 480.0])
            .show(egui_ctx, |ui| {
                let Some(set) = set else {
                    ui.weak("No runs loaded");
                    return;
                };
                ui.horizontal(|ui| {
                    ui.add(
                        egui::TextEdit::singleline(&mut self.column_search)
                            .hint_text("search columns…")
                            .desired_width(200.0),
                    )
                    .on_hover_text("Filter the list of columns");
                    if ui
                        .button("Defaults")
                        .on_hover_text("Forget my column choices")
                        .clicked()
                    {
                        ctx.send(Command::ResetColumns);
                    }
                });
                let (visible, _) = visible_columns(&set, &ctx.persisted().columns, several);
                let q = self.column_search.to_lowercase();
                let groups: Vec<(&str, Vec<ColumnId>)> = vec![
                    ("Attributes", ColumnId::ATTRIBUTES[1..].to_vec()),
                    (
                        "Params",
                        set.catalog
                            .params
                            .iter()
                            .map(|k| ColumnId::Param(k.key.clone()))
                            .collect(),
                    ),
                    (
                        "Metrics",
                        set.catalog
                            .metrics
                            .iter()
                            .filter(|k| !k.key.starts_with(super::charts::SYSTEM_PREFIX))
                            .map(|k| ColumnId::Metric(k.key.clone()))
                            .collect(),
                    ),
                    // MLflow's system metrics (CPU, memory, GPU…) apart from the model's.
                    (
                        super::charts::SYSTEM_SECTION,
                        set.catalog
                            .metrics
                            .iter()
                            .filter(|k| k.key.starts_with(super::charts::SYSTEM_PREFIX))
                            .map(|k| ColumnId::Metric(k.key.clone()))
                            .collect(),
                    ),
                    (
                        "Tags",
                        set.catalog
                            .tags
                            .iter()
                            .map(|k| ColumnId::Tag(k.key.clone()))
                            .collect(),
                    ),
                ];
                egui::ScrollArea::vertical().show(ui, |ui| {
                    for (name, cols) in groups {
                        let cols: Vec<ColumnId> = cols
                            .into_iter()
                            .filter(|c| q.is_empty() || c.title().to_lowercase().contains(&q))
                            .collect();
                        if cols.is_empty() {
                            continue;
                        }
                        egui::CollapsingHeader::new(format!("{name} ({})", cols.len()))
                            .default_open(true)
                            .show(ui, |ui| {
                                for c in cols {
                                    let mut on = visible.contains(&c);
                                    if ui.checkbox(&mut on, c.title()).changed() {
                                        ctx.send(Command::ShowColumn {
                                            id: c.id_string(),
                                            shown: on,
                                        });
                                    }
                                }
                            });
                    }
                });
            });
        self.show_column_chooser = open;
    }
}

/// Draws the sort direction of a column header: a small triangle pointing up (ascending) or
/// down (descending), in the text colour.
pub(crate) fn sort_arrow(ui: &mut egui::Ui, ascending: bool) -> egui::Response {
    let size = egui::vec2(9.0, 12.0);
    let (rect, response) = ui.allocate_exact_size(size, egui::Sense::hover());
    let c = rect.center();
    let (w, h) = (4.0, 3.5);
    let points = if ascending {
        vec![
            egui::pos2(c.x - w, c.y + h),
            egui::pos2(c.x + w, c.y + h),
            egui::pos2(c.x, c.y - h),
        ]
    } else {
        vec![
            egui::pos2(c.x - w, c.y - h),
            egui::pos2(c.x + w, c.y - h),
            egui::pos2(c.x, c.y + h),
        ]
    };
    let color = ui.visuals().strong_text_color();
    ui.painter().add(egui::Shape::convex_polygon(
        points,
        color,
        egui::Stroke::NONE,
    ));
    response.on_hover_text(if ascending {
        "sorted ascending"
    } else {
        "sorted descending"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::format::duration_spaced as format_duration;
    use crate::format::number_sig as format_number;

    #[test]
    fn numbers_have_consistent_significant_digits() {
        assert_eq!(format_number(0.123456789), "0.12346");
        assert_eq!(format_number(12.5), "12.5");
        assert_eq!(format_number(100.0), "100");
        assert_eq!(format_number(1e-7), "1.0000e-7");
        assert_eq!(format_number(f64::NAN), "NaN");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(format_duration(4_200), "4.2s");
        assert_eq!(format_duration(725_000), "12m 5s");
        assert_eq!(format_duration(3_780_000), "1h 3m");
    }

    #[test]
    fn sort_clicks_cycle_and_add_keys() {
        let mut s = Vec::new();
        apply_sort_click(&mut s, ColumnId::Name, false);
        assert!(s[0].ascending);
        apply_sort_click(&mut s, ColumnId::Name, false);
        assert!(!s[0].ascending);
        apply_sort_click(&mut s, ColumnId::Metric("m".into()), true);
        assert_eq!(s.len(), 2);
        assert!(!s[1].ascending);
        apply_sort_click(&mut s, ColumnId::Name, false);
        assert!(s.is_empty());
    }
}
