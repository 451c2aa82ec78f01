//! The controls of the chart layout: the "+ chart" and "reset" row above the cards, each card's
//! menu (metrics on y, x axis, lines or bars, size, order, removal), and how a change is saved.

use egui_plot::LineStyle;

use super::layout::{Card, CardKind, CardRef, CardSpec, ChartLayout, LayoutEdit, Summary};
use super::*;

/// The line style of the `i`th metric of a card (the run's colour says the run, the style says
/// the metric).
pub(super) fn metric_style(i: usize) -> LineStyle {
    match i % 4 {
        0 => LineStyle::Solid,
        1 => LineStyle::Dashed { length: 8.0 },
        2 => LineStyle::Dotted { spacing: 5.0 },
        _ => LineStyle::Dashed { length: 3.0 },
    }
}

/// A short sample of the `i`th metric's line style, in the text colour.
pub(super) fn style_sample(ui: &mut egui::Ui, i: usize) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(22.0, 12.0), egui::Sense::hover());
    let y = rect.center().y;
    let a = egui::pos2(rect.left() + 1.0, y);
    let b = egui::pos2(rect.right() - 1.0, y);
    let stroke = egui::Stroke::new(1.6, ui.visuals().text_color());
    let painter = ui.painter();
    match metric_style(i) {
        LineStyle::Solid => {
            painter.line_segment([a, b], stroke);
        }
        LineStyle::Dashed { length } => {
            painter.extend(egui::Shape::dashed_line(
                &[a, b],
                stroke,
                length,
                length * 0.6,
            ));
        }
        LineStyle::Dotted { spacing } => {
            painter.extend(egui::Shape::dotted_line(
                &[a, b],
                stroke.color,
                spacing,
                1.2,
            ));
        }
    }
}

/// The card an edit of `card` is about.
fn card_ref(card: &Card) -> CardRef {
    match card.index {
        Some(i) => CardRef::Layout(i),
        None => CardRef::Auto(card.id.clone()),
    }
}

impl Charts {
    /// The row above the cards: add a chart, and go back to a card per metric.
    pub(super) fn layout_bar_ui(&mut self, ui: &mut egui::Ui, keys: &[String], customised: bool) {
        ui.horizontal(|ui| {
            ui.menu_button("+ chart", |ui| {
                ui.label(egui::RichText::new("A new chart of").weak());
                egui::ScrollArea::vertical()
                    .max_height(320.0)
                    .show(ui, |ui| {
                        for k in keys {
                            if ui.button(card::truncate_label(k, 48)).clicked() {
                                self.layout_edit = Some(LayoutEdit::Add(CardSpec::of_key(k)));
                                ui.close();
                            }
                        }
                    });
            })
            .response
            .on_hover_text(
                "Add a chart card (its menu … adds metrics, sets the x axis, bars, size, order)",
            );
            if customised
                && ui
                    .small_button("reset charts")
                    .on_hover_text(
                        "Forget this experiment's chart layout: one chart per metric again",
                    )
                    .clicked()
            {
                self.layout_edit = Some(LayoutEdit::Reset);
            }
        });
    }

    /// Saves the edit asked for in this frame into the layout of `key` (through the chart options,
    /// kept between sessions).
    pub(super) fn apply_layout_edit(
        &mut self,
        ctx: &ViewCtx,
        key: &str,
        mut layout: ChartLayout,
        auto_order: &[String],
    ) {
        let Some(edit) = self.layout_edit.take() else {
            return;
        };
        layout.apply(edit, auto_order);
        let mut options = ctx.persisted().charts.clone();
        if layout == ChartLayout::default() {
            options.layouts.remove(key);
        } else {
            options.layouts.insert(key.to_string(), layout);
        }
        // The drawn lines and bars belong to the old cards.
        self.memo.clear();
        ctx.send(Command::SetChartOptions(options));
    }

    /// A card's menu (…): its metrics, x axis, kind, size, order, removal.
    pub(super) fn card_menu_ui(&mut self, ui: &mut egui::Ui, card: &Card) {
        let keys = &self.all_keys;
        let mut action = None;
        let scope = match self.menu_slot {
            Some(p) => egui::Id::unique(("chart_card_menu", p)),
            None => egui::Id::unique(("chart_card_menu", &card.id)),
        };
        let mut builder = egui::UiBuilder::new().scope_id(scope);
        builder.layout = Some(*ui.layout());
        // Open until a click outside: several changes in a row (metrics ticked one by one).
        let config = egui::containers::menu::MenuConfig::new()
            .close_behavior(egui::PopupCloseBehavior::CloseOnClickOutside);
        ui.scope_builder(builder, |ui| {
            egui::containers::menu::MenuButton::new("…")
                .config(config)
                .ui(ui, |ui| {
                    ui.set_min_width(220.0);
                    let mut spec = card.spec.clone();
                    let r = card_ref(card);
                    ui.label(egui::RichText::new("Metrics").strong());
                    egui::ScrollArea::vertical()
                        .id_salt("card_metrics")
                        .max_height(220.0)
                        .show(ui, |ui| {
                            for k in keys {
                                let mut on = spec.metrics.contains(k);
                                let label = card::truncate_label(k, 40);
                                if ui.checkbox(&mut on, label).on_hover_text(k).changed() {
                                    if on {
                                        spec.metrics.push(k.clone());
                                    } else if spec.metrics.len() > 1 {
                                        spec.metrics.retain(|m| m != k);
                                    }
                                }
                            }
                        });
                    ui.separator();
                    let x_text = match &spec.x_metric {
                        None => "x: the charts' axis".to_string(),
                        Some(k) => format!("x: {}", card::truncate_label(k, 28)),
                    };
                    ui.menu_button(x_text, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("card_x")
                    .max_height(260.0)
                    .show(ui, |ui| {
                        ui.selectable_value(&mut spec.x_metric, None, "the charts' axis");
                        for k in keys {
                            ui.selectable_value(
                                &mut spec.x_metric,
                                Some(k.clone()),
                                card::truncate_label(k, 40),
                            );
                        }
                    });
            })
            .response
            .on_hover_text(
                "Another metric as x: each point pairs the two metrics' values logged at one step",
            );
                    ui.horizontal(|ui| {
                        ui.label("chart:");
                        ui.selectable_value(&mut spec.kind, CardKind::Auto, "auto")
                            .on_hover_text("Lines; bars when every run logged the metric once");
                        ui.selectable_value(&mut spec.kind, CardKind::Lines, "lines");
                        ui.selectable_value(&mut spec.kind, CardKind::Bars, "bars")
                            .on_hover_text(
                                "A bar per run (or group) of a summary of every value, sorted",
                            );
                    });
                    ui.add_enabled_ui(spec.kind == CardKind::Bars, |ui| {
                        ui.horizontal(|ui| {
                            ui.label("bar:");
                            for s in Summary::ALL {
                                ui.selectable_value(&mut spec.summary, s, s.label());
                            }
                        });
                    });
                    ui.horizontal(|ui| {
                        ui.label("width:");
                        for w in 1..=MAX_COLUMNS {
                            ui.selectable_value(&mut spec.width, w, w.to_string())
                                .on_hover_text(format!("{w} column(s) wide"));
                        }
                    });
                    ui.horizontal(|ui| {
                        ui.label("height:");
                        for h in 1..=layout::MAX_CARD_HEIGHT {
                            ui.selectable_value(&mut spec.height, h, format!("×{h}"));
                        }
                    });
                    ui.horizontal(|ui| {
                        if ui.button("◀ earlier").clicked() {
                            action = Some(CardAction::Earlier(r.clone()));
                        }
                        if ui.button("later ▶").clicked() {
                            action = Some(CardAction::Later(r.clone()));
                        }
                    });
                    if ui.button("Remove chart").clicked() {
                        action = Some(CardAction::Edit(LayoutEdit::Remove(r.clone())));
                        ui.close();
                    }
                    if spec != card.spec && action.is_none() {
                        action = Some(CardAction::Edit(LayoutEdit::Set(r, spec)));
                    }
                })
                .0
                .on_hover_text("This chart: metrics, x axis, lines or bars, size, order");
        });
        if action.is_some() {
            self.card_action = action;
        }
    }
}
