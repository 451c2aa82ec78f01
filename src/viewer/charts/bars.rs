//! Bar cards: a bar per run (or per group when grouping) of a summary of every logged value of a
//! metric (last, min, max, mean), sorted from the highest; a group's bar is the mean (or median)
//! of its runs' summaries with their min–max as a whisker.

use super::group::GroupLine;
use super::layout::{Card, Summary};
use super::*;

/// The summary of every value of a series: None when it has no finite value (or, for
/// [`Summary::Last`], when the latest value is not finite).
pub fn summarize(series: &Series, summary: Summary) -> Option<f64> {
    let n = series
        .values
        .len()
        .min(series.steps.len())
        .min(series.timestamps.len());
    let values = || {
        series.values[..n]
            .iter()
            .map(|&v| crate::format::as_logged(v))
            .filter(|v| v.is_finite())
    };
    match summary {
        Summary::Last => {
            // MLflow's latest value: the highest step, then the latest time; the last logged of
            // equals.
            let i = (0..n).max_by_key(|&i| (series.steps[i], series.timestamps[i]))?;
            Some(crate::format::as_logged(series.values[i])).filter(|v| v.is_finite())
        }
        Summary::Min => values().reduce(f64::min),
        Summary::Max => values().reduce(f64::max),
        Summary::Mean => {
            let (sum, count) = values().fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
            (count > 0).then(|| sum / count as f64)
        }
    }
}

/// One bar.
#[derive(Debug, Clone, PartialEq)]
pub struct BarItem {
    /// The run's (or group's) name, and the metric when the card has several.
    pub label: String,
    /// Colour.
    pub color: egui::Color32,
    /// Height.
    pub value: f64,
    /// A group's lowest and highest run value.
    pub whisker: Option<(f64, f64)>,
    /// Runs in it.
    pub runs: usize,
}

/// What a bar card draws: its bars, and the runs left without one because their values (or the
/// last, for [`Summary::Last`]) are NaN or ±inf, with their counts (said in the card's header).
#[derive(Debug, Clone, Default)]
pub struct BarCard {
    /// The bars, sorted from the highest.
    pub items: Vec<BarItem>,
    /// Runs (and metric, when the card has several) with a history but no bar.
    pub left_out: Vec<(String, super::prepare::NonFinite)>,
}

/// The runs of `runs` (not hidden) that have a history of one of `metrics` but no summary.
pub fn left_out_runs(
    histories: &Histories,
    runs: &[(&Run, egui::Color32)],
    hidden: &HashSet<String>,
    metrics: &[String],
    summary: Summary,
) -> Vec<(String, super::prepare::NonFinite)> {
    let mut out = Vec::new();
    for key in metrics {
        for (r, _) in runs {
            if hidden.contains(&r.info.run_id) {
                continue;
            }
            let Some(s) = histories
                .get(&(r.info.run_id.clone(), key.clone()))
                .and_then(Entry::ready)
            else {
                continue;
            };
            if !s.values.is_empty() && summarize(s, summary).is_none() {
                let name = if metrics.len() > 1 {
                    format!("{} · {key}", r.info.run_name)
                } else {
                    r.info.run_name.clone()
                };
                out.push((name, super::prepare::NonFinite::of(s)));
            }
        }
    }
    out
}

/// The bars of a card, sorted from the highest: per run and metric, or per group and metric
/// (the group's line over its runs' summaries, whisker from the lowest to the highest).
pub fn bar_items(
    histories: &Histories,
    runs: &[(&Run, egui::Color32)],
    groups: &[RunGroup],
    hidden: &HashSet<String>,
    metrics: &[String],
    summary: Summary,
    line: GroupLine,
) -> Vec<BarItem> {
    let value_of = |r: &Run, key: &str| -> Option<f64> {
        let s = histories
            .get(&(r.info.run_id.clone(), key.to_string()))
            .and_then(Entry::ready)?;
        summarize(s, summary)
    };
    let several = metrics.len() > 1;
    let name = |who: &str, key: &str| {
        if several {
            format!("{who} · {key}")
        } else {
            who.to_string()
        }
    };
    let mut items = Vec::new();
    for key in metrics {
        if groups.is_empty() {
            for (r, color) in runs {
                if hidden.contains(&r.info.run_id) {
                    continue;
                }
                if let Some(v) = value_of(r, key) {
                    items.push(BarItem {
                        label: name(&r.info.run_name, key),
                        color: *color,
                        value: v,
                        whisker: None,
                        runs: 1,
                    });
                }
            }
        } else {
            for g in groups {
                let mut vals: Vec<f64> = g
                    .runs
                    .iter()
                    .filter(|r| !hidden.contains(&r.info.run_id))
                    .filter_map(|r| value_of(r, key))
                    .collect();
                if vals.is_empty() {
                    continue;
                }
                vals.sort_by(f64::total_cmp);
                let n = vals.len();
                let value = match line {
                    GroupLine::Mean => vals.iter().sum::<f64>() / n as f64,
                    GroupLine::Median if n % 2 == 1 => vals[n / 2],
                    GroupLine::Median => (vals[n / 2 - 1] + vals[n / 2]) / 2.0,
                };
                items.push(BarItem {
                    label: name(&g.label, key),
                    color: g.color(),
                    value,
                    whisker: Some((vals[0], vals[n - 1])),
                    runs: n,
                });
            }
        }
    }
    items.sort_by(|a, b| b.value.total_cmp(&a.value));
    items
}

impl Charts {
    /// A card of bars: the card's metrics summarised per run (or group), sorted.
    pub(super) fn bars_card_ui(
        &mut self,
        ui: &mut egui::Ui,
        ctx: &ViewCtx,
        runs: &[Arc<Run>],
        card: &Card,
        summary: Summary,
        (plot_height, card_rect): (f32, egui::Rect),
    ) {
        let key = card.id.as_str();
        let options = &ctx.persisted().charts;
        let fingerprint = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            ctx.histories_version().hash(&mut h);
            card.spec.hash(&mut h);
            summary.hash(&mut h);
            options.group_line.hash(&mut h);
            for g in &self.groups.groups {
                g.label.hash(&mut h);
                g.runs.len().hash(&mut h);
            }
            self.drawn_runs_hash(ctx, runs).hash(&mut h);
            h.finish()
        };
        let drawn_card = match self.bars_memo.get(key) {
            Some((f, drawn)) if *f == fingerprint => Arc::clone(drawn),
            _ => {
                let colored: Vec<(&Run, egui::Color32)> = runs
                    .iter()
                    .map(|r| (r.as_ref(), theme::color_of(ctx.persisted(), &r.info.run_id)))
                    .collect();
                let drawn = Arc::new(BarCard {
                    items: bar_items(
                        ctx.histories(),
                        &colored,
                        &self.groups.groups,
                        &self.hidden_runs,
                        &card.spec.metrics,
                        summary,
                        options.group_line,
                    ),
                    left_out: left_out_runs(
                        ctx.histories(),
                        &colored,
                        &self.hidden_runs,
                        &card.spec.metrics,
                        summary,
                    ),
                });
                self.bars_memo
                    .insert(key.to_string(), (fingerprint, Arc::clone(&drawn)));
                drawn
            }
        };
        let items = &drawn_card.items;
        self.bar_cards.push(key.to_string());
        self.shown_bars.insert(
            key.to_string(),
            items.iter().map(|b| (b.label.clone(), b.value)).collect(),
        );
        let loading = runs.iter().any(|r| {
            card.spec.metrics.iter().any(|m| {
                r.data.metrics.contains_key(m)
                    && ctx
                        .histories()
                        .get(&(r.info.run_id.clone(), m.clone()))
                        .is_none_or(Entry::is_loading)
            })
        });
        let mut export = card::ExportClicks::default();
        ui.horizontal(|ui| {
            ui.label(egui::RichText::new(key).strong())
                .on_hover_text(format!(
                    "{} of every logged value per {}, sorted",
                    summary.label(),
                    if self.groups.groups.is_empty() {
                        "run"
                    } else {
                        "group (the bar: the group's mean or median; the whisker: its runs' lowest to highest)"
                    }
                ));
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                self.card_menu_ui(ui, card);
                export = card::export_buttons_ui(ui);
                if loading {
                    ui.spinner();
                }
                let left_out = &drawn_card.left_out;
                if !left_out.is_empty() {
                    ui.label(
                        egui::RichText::new(card::nonfinite_summary(left_out.iter().map(|(_, n)| n)))
                            .small()
                            .color(theme::warning_color(ctx.dark())),
                    )
                    .on_hover_text(no_bar_help(left_out, summary));
                }
            });
        });
        // Names under the bars need room; when bars are narrow, each name is written up its bar.
        let crowded = (ui.available_width() - 60.0) / (items.len().max(1) as f32) < 90.0;
        let names: Vec<String> = if crowded {
            Vec::new()
        } else {
            items.iter().map(|b| b.label.clone()).collect()
        };
        let plot = card::bar_axis(
            Plot::new(("bars", key))
                .height(plot_height)
                .allow_scroll(false)
                .show_x(false)
                .show_y(false)
                .y_axis_formatter(|mark, _| number_sig(mark.value)),
            names,
            14,
        );
        let whisker = ui.visuals().strong_text_color();
        let drawn = Arc::clone(&drawn_card);
        let response =
            plot.show(ui, |plot_ui| {
                let bars: Vec<egui_plot::Bar> = drawn
                    .items
                    .iter()
                    .enumerate()
                    .map(|(i, b)| {
                        egui_plot::Bar::new(i as f64, b.value)
                            .width(0.7)
                            .name(&b.label)
                            .fill(b.color.gamma_multiply(0.85))
                    })
                    .collect();
                plot_ui.bar_chart(egui_plot::BarChart::new("bars", bars).element_formatter(
                    Box::new(|bar: &egui_plot::Bar, _: &egui_plot::BarChart| {
                        format!("{}\n{}", bar.name, number_sig(bar.value))
                    }),
                ));
                for (i, b) in drawn.items.iter().enumerate() {
                    if let Some((lo, hi)) = b.whisker {
                        plot_ui.line(
                            Line::new(
                                format!("{} range", b.label),
                                vec![[i as f64, lo], [i as f64, hi]],
                            )
                            .color(whisker)
                            .width(2.0),
                        );
                    }
                }
                plot_ui.pointer_coordinate()
            });
        if crowded {
            let t = &response.transform;
            let painter = ui.painter_at(*t.frame());
            let color = ui.visuals().strong_text_color();
            let font = egui::FontId::proportional(11.0);
            for (i, b) in items.iter().enumerate() {
                let base = t.position_from_point(&PlotPoint::new(i as f64, 0.0));
                let galley =
                    painter.layout_no_wrap(card::truncate_label(&b.label, 40), font.clone(), color);
                let pos = egui::pos2(
                    base.x - galley.size().y / 2.0,
                    base.y.min(t.frame().bottom()) - 4.0,
                );
                painter.add(
                    egui::epaint::TextShape::new(pos, galley, color)
                        .with_angle(-std::f32::consts::FRAC_PI_2),
                );
            }
        }
        let bounds = response.transform.bounds();
        self.shown_y
            .insert(key.to_string(), (bounds.min()[1], bounds.max()[1]));
        if response.response.hovered()
            && let Some(p) = response.inner
            && p.x >= -0.5
            && let Some(b) = items.get(p.x.round() as usize)
        {
            response.response.on_hover_ui_at_pointer(|ui| {
                ui.horizontal(|ui| {
                    theme::swatch(ui, b.color);
                    ui.label(egui::RichText::new(&b.label).strong());
                    ui.monospace(format!("{} {}", summary.label(), number_sig(b.value)));
                });
                if let Some((lo, hi)) = b.whisker {
                    ui.monospace(format!(
                        "{} runs: {} … {}",
                        b.runs,
                        number_sig(lo),
                        number_sig(hi)
                    ));
                }
            });
        }
        card::send_exports(ctx, key, card_rect, runs, &card.spec.metrics, export);
    }
}

/// The header warning's explanation: which runs have no bar, and what their values are.
fn no_bar_help(left_out: &[(String, super::prepare::NonFinite)], summary: Summary) -> String {
    let mut text = String::from(match summary {
        Summary::Last => "No bar for these runs: their last value is NaN or ±inf.\n",
        _ => "No bar for these runs: none of their values is a finite number.\n",
    });
    for (name, n) in left_out.iter().take(20) {
        text.push_str(&format!(
            "\n{name}: {} NaN, {} +inf, {} -inf",
            n.nan, n.pos_inf, n.neg_inf
        ));
    }
    if left_out.len() > 20 {
        text.push_str(&format!(
            "\nand {} more",
            crate::format::count(left_out.len() - 20, "run")
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(points: &[(i64, i64, f64)]) -> Series {
        Series {
            steps: points.iter().map(|p| p.0).collect(),
            timestamps: points.iter().map(|p| p.1).collect(),
            values: points.iter().map(|p| p.2).collect(),
            offset: None,
        }
    }

    #[test]
    fn summaries_of_every_value() {
        // Logged out of step order; step 2 twice (the later time wins); a NaN.
        let series = s(&[
            (0, 10, 4.0),
            (2, 30, 1.0),
            (1, 20, f64::NAN),
            (2, 25, 9.0),
            (1, 40, 2.0),
        ]);
        assert_eq!(summarize(&series, Summary::Last), Some(1.0));
        assert_eq!(summarize(&series, Summary::Min), Some(1.0));
        assert_eq!(summarize(&series, Summary::Max), Some(9.0));
        assert_eq!(summarize(&series, Summary::Mean), Some(4.0));
        assert_eq!(summarize(&s(&[]), Summary::Mean), None);
        assert_eq!(summarize(&s(&[(0, 0, f64::NAN)]), Summary::Last), None);
    }
}
