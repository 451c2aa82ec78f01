//! One chart card: its header (non-finite counts, export), the plot of every run's reduced
//! lines (or bars for one-value metrics), the legend, and the CSV export of its series.

use super::*;

impl Charts {
    /// A hash of what a card draws of `runs`: their ids, names, colours and whether they are
    /// hidden from charts (a card's memo is rebuilt when it changes).
    pub(super) fn drawn_runs_hash(&self, ctx: &ViewCtx, runs: &[Arc<Run>]) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for r in runs {
            r.info.run_id.hash(&mut h);
            r.info.run_name.hash(&mut h);
            self.hidden_runs.contains(&r.info.run_id).hash(&mut h);
            theme::color_of(ctx.persisted(), &r.info.run_id).hash(&mut h);
        }
        h.finish()
    }

    pub(super) fn card_ui(
        &mut self,
        ui: &mut egui::Ui,
        ctx: &ViewCtx,
        runs: &[Arc<Run>],
        card: &layout::Card,
        plot_height: f32,
    ) {
        let key = card.id.as_str();
        self.shown_keys.push(key.to_string());
        let top = ui.cursor().min;
        let card_rect = egui::Rect::from_min_size(
            top,
            egui::vec2(ui.available_width(), plot_height + CARD_CHROME - 4.0),
        );
        if !ui.is_rect_visible(card_rect) {
            ui.allocate_space(card_rect.size());
            return;
        }
        self.cards_drawn += 1;
        // Histories are read for visible cards only.
        for r in runs {
            for m in card.spec.keys() {
                let hkey = (r.info.run_id.clone(), m.clone());
                if r.data.metrics.contains_key(m) && !ctx.histories().contains(&hkey) {
                    self.wanted.entry(hkey.0).or_default().push(hkey.1);
                }
            }
        }
        let grouped = !self.groups.groups.is_empty();
        if let Some(x_key) = &card.spec.x_metric {
            return self.paired_card_ui(ui, ctx, runs, card, x_key, (plot_height, card_rect));
        }
        match card.spec.kind {
            layout::CardKind::Bars => {
                return self.bars_card_ui(
                    ui,
                    ctx,
                    runs,
                    card,
                    card.spec.summary,
                    (plot_height, card_rect),
                );
            }
            // A metric logged once per run (a final test score) reads better as a bar per run.
            layout::CardKind::Auto if !grouped && self.single_valued(ctx, runs, &card.spec) => {
                return self.bars_card_ui(
                    ui,
                    ctx,
                    runs,
                    card,
                    layout::Summary::Last,
                    (plot_height, card_rect),
                );
            }
            _ => {}
        }
        if grouped {
            return self.group_card_ui(ui, ctx, card, (plot_height, card_rect));
        }
        let metrics = &card.spec.metrics;
        let options = ctx.persisted().charts.clone();
        let ohash = options_hash(&options);
        let (x0, x1, px) = self.last_x.get(key).copied().unwrap_or((
            f64::NEG_INFINITY,
            f64::INFINITY,
            ui.available_width(),
        ));
        let sel_hash = self.drawn_runs_hash(ctx, runs);
        let memo_key: MemoKey = (
            ohash,
            ctx.histories_version(),
            x0.to_bits(),
            x1.to_bits(),
            px as u32,
            sel_hash,
            options.ignore_outliers,
        );
        let mut pending = false;
        let (lines, fit, extent) = match self.memo.get(key) {
            Some((k, lines, fit, extent)) if *k == memo_key => {
                // Still drawn: the prepared series stay (the memory budget drops unused ones).
                let frame = self.frame;
                for l in lines.iter() {
                    if let Some(e) = self
                        .prepared
                        .get_mut(&(l.run_id.clone(), metrics[l.metric].clone()))
                    {
                        e.used = frame;
                    }
                }
                (Arc::clone(lines), *fit, *extent)
            }
            _ => {
                // The old lines share the prepared series: let them go so appends extend in place.
                self.memo.remove(key);
                let mut lines = Vec::new();
                let mut complete = true;
                for (mi, m) in metrics.iter().enumerate() {
                    let (mut more, done) = self.build_lines(ctx, runs, m, &options, (x0, x1), px);
                    for l in &mut more {
                        l.metric = mi;
                        if metrics.len() > 1 {
                            // The legend and read-outs say both: the run and the metric.
                            l.name = format!("{} · {m}", l.name);
                        }
                    }
                    lines.extend(more);
                    complete &= done;
                }
                let fit = fit_y(
                    lines.iter().filter(|l| !l.hidden),
                    (x0, x1),
                    options.ignore_outliers,
                );
                let extent = dense::Extent::of(&lines);
                let lines = Arc::new(lines);
                if complete {
                    self.memo
                        .insert(key.to_string(), (memo_key, Arc::clone(&lines), fit, extent));
                } else {
                    // Some series wait for the next frame's preparation budget.
                    pending = true;
                    ui.ctx().request_repaint();
                }
                (lines, fit, extent)
            }
        };
        self.shown_lines.insert(
            key.to_string(),
            lines.iter().map(|l| l.name.clone()).collect(),
        );
        let nonfinite: Vec<(&RunLines, &NonFinite)> = lines
            .iter()
            .filter(|l| !l.hidden && l.prepared.nonfinite.total() > 0)
            .map(|l| (l, &l.prepared.nonfinite))
            .collect();
        let n_nonfinite: usize = nonfinite.iter().map(|(_, n)| n.total()).sum();
        if n_nonfinite > 0 {
            self.nonfinite_counts.insert(key.to_string(), n_nonfinite);
        }
        let mut export = ExportClicks::default();
        ui.horizontal(|ui| {
            self.card_title_ui(ui, card)
                .on_hover_text(if metrics.len() > 1 {
                    format!("{key}: a line per run and metric")
                } else {
                    format!("metric {key}")
                });
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                self.card_menu_ui(ui, card);
                export = export_buttons_ui(ui);
                let loading = pending
                    || runs.iter().any(|r| {
                        metrics.iter().any(|m| {
                            r.data.metrics.contains_key(m)
                                && ctx
                                    .histories()
                                    .get(&(r.info.run_id.clone(), m.clone()))
                                    .is_none_or(Entry::is_loading)
                        })
                    });
                if loading {
                    ui.spinner();
                }
                if n_nonfinite > 0 {
                    ui.label(
                        egui::RichText::new(nonfinite_summary(nonfinite.iter().map(|(_, n)| *n)))
                            .small()
                            .color(theme::warning_color(ctx.dark())),
                    )
                    .on_hover_text(nonfinite_help(&nonfinite));
                }
            });
        });
        let link = egui::Id::unique("mlscope_charts_link");
        let log_y = options.log_y;
        let x_axis = options.x_axis;
        let smoothing = options.smoothing > 0.0;
        let mut plot = Plot::new(("chart", key))
            .height(plot_height)
            .allow_scroll(false)
            .show_x(false)
            .show_y(false)
            .y_axis_formatter(move |mark, _| {
                if log_y {
                    log_tick_label(mark.value)
                } else {
                    number_sig(mark.value)
                }
            });
        if log_y {
            plot = plot.y_grid_spacer(scale::log_grid);
        }
        plot = plot
            .link_axis(link, [true, false])
            .link_cursor(link, [true, false])
            .x_axis_formatter(move |mark, _| x_tick_label(mark.value, mark.step_size, x_axis));
        // A chart whose values all sit at one x gets some room around it.
        let (lo, hi) = extent.x_all;
        if lo.is_finite() && lo == hi {
            plot = plot.include_x(lo - 1.0).include_x(hi + 1.0);
        }
        let lines_for_plot = Arc::clone(&lines);
        let highlight = self.highlight.clone();
        let fit_y_now = (!options.lock_y).then_some(fit).flatten();
        let response = plot.show(ui, |plot_ui| {
            if let Some((lo, hi)) = fit_y_now {
                plot_ui.set_plot_bounds_y(lo..=hi);
            }
            // The highlighted run is drawn last, thicker, over the others faded.
            let mut order: Vec<&RunLines> = lines_for_plot.iter().filter(|l| !l.hidden).collect();
            order.sort_by_key(|l| highlight.as_deref() == Some(l.run_id.as_str()));
            // Every line in one item: dense stretches as a mesh, the rest as lines.
            let mut drawn = Vec::new();
            let mut few_points = Vec::new();
            for l in order {
                let emphasis = match highlight.as_deref() {
                    None => 1.0,
                    Some(h) if h == l.run_id => 1.8,
                    Some(_) => 0.0,
                };
                let base = if emphasis == 0.0 {
                    l.color.gamma_multiply(0.3)
                } else {
                    l.color
                };
                let width = |w: f32| if emphasis > 0.0 { w * emphasis } else { w };
                let raw_color = if smoothing {
                    base.gamma_multiply(theme::RAW_LINE_ALPHA)
                } else {
                    base
                };
                let style = menu::metric_style(l.metric);
                for seg in &l.raw {
                    drawn.push(dense::LineDraw {
                        points: seg,
                        color: raw_color,
                        style,
                        width: width(1.2),
                    });
                }
                if l.raw.iter().map(Vec::len).sum::<usize>() <= 2 {
                    // One or two values: a line would be invisible, show the points.
                    few_points.push((l, base));
                }
                for seg in &l.smooth {
                    drawn.push(dense::LineDraw {
                        points: seg,
                        color: base,
                        style,
                        width: width(1.6),
                    });
                }
            }
            plot_ui.add(dense::DenseLines::new("lines", drawn, extent.drawn));
            for (l, color) in few_points {
                for seg in &l.raw {
                    plot_ui.points(
                        egui_plot::Points::new(l.name.clone(), PlotPoints::Borrowed(seg))
                            .color(color)
                            .radius(3.5),
                    );
                }
            }
            plot_ui.pointer_coordinate()
        });
        let b = response.transform.bounds();
        self.shown_y
            .insert(key.to_string(), (b.min()[1], b.max()[1]));
        let new_x = (b.min()[0], b.max()[0], response.transform.frame().width());
        let old = self.last_x.insert(key.to_string(), new_x);
        if old != Some(new_x) {
            ui.ctx().request_repaint();
        }
        self.cursor_readout_lines(ui, &response.transform, &lines, key, log_y);
        let marker_tip = draw_nonfinite_marks(ui, &response.transform, &nonfinite, x_axis);
        if let Some(pointer) = response.inner
            && response.response.hovered()
        {
            self.cursor_next = Some((key.to_string(), pointer.x));
            response.response.on_hover_ui_at_pointer(|ui| {
                if let Some(tip) = &marker_tip {
                    ui.label(egui::RichText::new(tip).color(theme::warning_color(ctx.dark())));
                }
                hover_ui(ui, &lines, pointer.x, x_axis, log_y, smoothing);
            });
        }
        send_exports(ctx, key, card_rect, runs, metrics, export);
    }

    /// Whether every run logged the card's metrics at most once (and some did): a final score,
    /// drawn as bars.
    pub(super) fn single_valued(
        &self,
        ctx: &ViewCtx,
        runs: &[Arc<Run>],
        spec: &layout::CardSpec,
    ) -> bool {
        let mut any = false;
        for r in runs {
            for m in &spec.metrics {
                if let Some(Entry::Ready(s)) =
                    ctx.histories().get(&(r.info.run_id.clone(), m.clone()))
                {
                    if s.values.len() > 1 {
                        return false;
                    }
                    any |= !s.values.is_empty();
                }
            }
        }
        any
    }

    /// A card's title: its metric, or its metrics each after a sample of its line style. Returns
    /// the last label.
    pub(super) fn card_title_ui(&self, ui: &mut egui::Ui, card: &layout::Card) -> egui::Response {
        let metrics = &card.spec.metrics;
        let title = |ui: &mut egui::Ui| {
            if metrics.len() <= 1 {
                return ui.label(egui::RichText::new(&card.id).strong());
            }
            ui.spacing_mut().item_spacing.x = 4.0;
            let mut last = None;
            for (i, m) in metrics.iter().enumerate() {
                menu::style_sample(ui, i);
                last = Some(
                    ui.label(egui::RichText::new(truncate_label(m, 28)).strong())
                        .on_hover_text(format!("metric {m}: its lines are drawn in this style")),
                );
            }
            last.unwrap_or_else(|| ui.label(""))
        };
        // The title is the handle to drag the card onto another one (cards in the layout's
        // order only: not the system metrics' section).
        match self.menu_slot {
            Some(slot) => {
                let drag = CardDrag {
                    card: match card.index {
                        Some(i) => layout::CardRef::Layout(i),
                        None => layout::CardRef::Auto(card.id.clone()),
                    },
                    slot,
                };
                ui.dnd_drag_source(egui::Id::unique(("chart_card_drag", slot)), drag, |ui| {
                    ui.horizontal(title).inner
                })
                .inner
            }
            None => title(ui),
        }
    }

    /// The header of a card without exports: its title, menu and a spinner while loading.
    pub(super) fn card_header_ui(
        &mut self,
        ui: &mut egui::Ui,
        card: &layout::Card,
        loading: bool,
    ) -> ExportClicks {
        let mut export = ExportClicks::default();
        ui.horizontal(|ui| {
            self.card_title_ui(ui, card);
            // One metric's title says "vs x" already.
            if let Some(x) = card
                .spec
                .x_metric
                .as_ref()
                .filter(|_| card.spec.metrics.len() > 1)
            {
                ui.weak(format!("vs {}", truncate_label(x, 24)));
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                self.card_menu_ui(ui, card);
                export = export_buttons_ui(ui);
                if loading {
                    ui.spinner();
                }
            });
        });
        export
    }

    /// The lines of one card; false when some series wait for the next frame's preparation
    /// budget.
    pub(super) fn build_lines(
        &mut self,
        ctx: &ViewCtx,
        runs: &[Arc<Run>],
        key: &str,
        options: &ChartOptions,
        (x0, x1): (f64, f64),
        px: f32,
    ) -> (Vec<RunLines>, bool) {
        let histories = ctx.histories();
        let ohash = options_hash(options);
        let buckets = (px.max(50.0)) as usize;
        let frame = self.frame;
        let mut complete = true;
        let mut out = Vec::new();
        for r in runs {
            let id = &r.info.run_id;
            let hkey = (id.clone(), key.to_string());
            let Some(Entry::Ready(series)) = histories.get(&hkey) else {
                continue;
            };
            let series = Arc::clone(series);
            let cached = self.prepared.get_mut(&hkey).and_then(|e| {
                if e.ohash != ohash {
                    return None;
                }
                e.used = frame;
                if e.prepared.is_current(&series) {
                    return Some(Arc::clone(&e.prepared));
                }
                // Live refresh appended points: take in only those.
                let p = Arc::make_mut(&mut e.prepared);
                p.extend(&series, options).then(|| Arc::clone(&e.prepared))
            });
            let prepared = match cached {
                Some(p) => p,
                None => {
                    if !self.prepare_budget.allows_more() {
                        complete = false;
                        continue;
                    }
                    let p = Arc::new(self.prepare_budget.spend(|| prepare(&series, options)));
                    self.prepared.insert(
                        hkey.clone(),
                        PreparedEntry {
                            ohash,
                            prepared: Arc::clone(&p),
                            used: frame,
                        },
                    );
                    p
                }
            };
            let (lo, hi) = if x0.is_finite() && x1.is_finite() {
                (x0, x1)
            } else {
                let lo = prepared
                    .segments
                    .iter()
                    .filter_map(|s| s.xs.first())
                    .copied()
                    .fold(f64::INFINITY, f64::min);
                let hi = prepared
                    .segments
                    .iter()
                    .filter_map(|s| s.xs.last())
                    .copied()
                    .fold(f64::NEG_INFINITY, f64::max);
                (lo, hi)
            };
            let raw = prepared
                .segments
                .iter()
                .map(|s| {
                    to_points(
                        &s.xs,
                        &s.ys,
                        s.lod.reduce_subpixel(&s.xs, &s.ys, lo, hi, buckets),
                    )
                })
                .collect();
            let smooth = prepared
                .segments
                .iter()
                .filter_map(|s| {
                    let sm = s.smooth.as_ref()?;
                    let lod = s.smooth_lod.as_ref()?;
                    Some(to_points(
                        &s.xs,
                        sm,
                        lod.reduce_subpixel(&s.xs, sm, lo, hi, buckets),
                    ))
                })
                .collect();
            out.push(RunLines {
                run_id: id.clone(),
                name: r.info.run_name.clone(),
                color: theme::color_of(ctx.persisted(), id),
                raw,
                smooth,
                prepared,
                hidden: self.hidden_runs.contains(id),
                metric: 0,
            });
        }
        (out, complete)
    }
}

/// The x axis of a bar chart: a grid line per bar and each bar named under it (cut to `max_chars`),
/// y from 0.
pub(super) fn bar_axis<'a>(
    plot: egui_plot::Plot<'a>,
    names: Vec<String>,
    max_chars: usize,
) -> egui_plot::Plot<'a> {
    plot.x_grid_spacer(|input| {
        let (lo, hi) = input.bounds;
        (lo.ceil().max(0.0) as i64..=hi.floor() as i64)
            .map(|i| egui_plot::GridMark {
                value: i as f64,
                step_size: 1.0,
            })
            .collect()
    })
    .x_axis_formatter(move |mark, _| {
        let i = mark.value.round();
        if (mark.value - i).abs() > 1e-6 || i < 0.0 {
            return String::new();
        }
        names
            .get(i as usize)
            .map(|n| truncate_label(n, max_chars))
            .unwrap_or_default()
    })
    .include_y(0.0)
}

/// A legend entry: a big swatch and the run's name (struck through and faded when hidden).
pub(super) fn legend_entry(
    ui: &mut egui::Ui,
    color: egui::Color32,
    name: &str,
    hidden: bool,
) -> egui::Response {
    let mut text = egui::RichText::new(name);
    if hidden {
        text = text.strikethrough().weak();
    }
    let color = if hidden {
        color.gamma_multiply(0.3)
    } else {
        color
    };
    // A wrapped row cannot know the size of a nested row before it is drawn, so a long entry at
    // the end of a row would run past the pane (and widen it, and every chart card after it):
    // start a new row when the entry will not fit.
    let text_width = ui
        .painter()
        .layout_no_wrap(
            name.to_owned(),
            egui::TextStyle::Body.resolve(ui.style()),
            egui::Color32::PLACEHOLDER,
        )
        .size()
        .x;
    if ui.available_size_before_wrap().x < 18.0 + 4.0 + text_width
        && ui.cursor().min.x > ui.max_rect().left()
    {
        ui.end_row();
    }
    let r = ui
        .horizontal(|ui| {
            ui.spacing_mut().item_spacing.x = 4.0;
            let (rect, _) = ui.allocate_exact_size(egui::vec2(18.0, 12.0), egui::Sense::hover());
            ui.painter()
                .rect_filled(rect.shrink2(egui::vec2(0.0, 3.0)), 2.0, color);
            ui.add(egui::Label::new(text).selectable(false));
        })
        .response;
    ui.add_space(8.0);
    r.interact(egui::Sense::click())
}

/// The header's count of points that cannot be drawn: `⚠ 2 NaN · 1 inf`.
pub(super) fn nonfinite_summary<'a>(counts: impl Iterator<Item = &'a NonFinite>) -> String {
    let (mut nan, mut inf) = (0, 0);
    for c in counts {
        nan += c.nan;
        inf += c.pos_inf + c.neg_inf;
    }
    let mut parts = Vec::new();
    if nan > 0 {
        parts.push(format!("{nan} NaN"));
    }
    if inf > 0 {
        parts.push(format!("{inf} inf"));
    }
    format!("⚠ {}", parts.join(" · "))
}

/// The header count's explanation, per run.
pub(super) fn nonfinite_help(items: &[(&RunLines, &NonFinite)]) -> String {
    let mut text = String::from(
        "Values that cannot be drawn: they are left out of the lines and of the y range, and \
         marked at the chart's edge (▲ +inf at the top; ▼ -inf and ◆ NaN at the bottom).\n",
    );
    for (l, n) in items.iter().take(20) {
        text.push_str(&format!(
            "\n{}: {} NaN, {} +inf, {} -inf",
            l.name, n.nan, n.pos_inf, n.neg_inf
        ));
    }
    if items.len() > 20 {
        text.push_str(&format!(
            "\nand {} more",
            crate::format::count(items.len() - 20, "run")
        ));
    }
    text
}

/// Draws a marker at the chart's edge for each non-finite point in view (one per run, kind and
/// pixel column), and returns what the markers under the pointer are.
pub(super) fn draw_nonfinite_marks(
    ui: &egui::Ui,
    transform: &egui_plot::PlotTransform,
    items: &[(&RunLines, &NonFinite)],
    axis: XAxis,
) -> Option<String> {
    if items.is_empty() {
        return None;
    }
    let frame = *transform.frame();
    let (x0, x1) = (transform.bounds().min()[0], transform.bounds().max()[0]);
    let painter = ui.painter_at(frame.expand(1.0));
    let pointer = ui.ctx().pointer_hover_pos();
    let mut seen = HashSet::new();
    let mut tips = Vec::new();
    for (l, n) in items {
        for &(x, kind) in &n.marks {
            if x < x0 || x > x1 {
                continue;
            }
            let sx = transform
                .position_from_point(&PlotPoint::new(x, transform.bounds().min()[1]))
                .x;
            if !seen.insert((l.run_id.as_str(), kind, sx.round() as i32)) {
                continue;
            }
            let (center, label) = match kind {
                NonFiniteKind::PosInf => (egui::pos2(sx, frame.top() + 5.0), "+inf"),
                NonFiniteKind::NegInf => (egui::pos2(sx, frame.bottom() - 5.0), "-inf"),
                NonFiniteKind::Nan => (egui::pos2(sx, frame.bottom() - 14.0), "NaN"),
            };
            let r = 4.5;
            let shape = match kind {
                NonFiniteKind::PosInf => vec![
                    center + egui::vec2(0.0, -r),
                    center + egui::vec2(r, r),
                    center + egui::vec2(-r, r),
                ],
                NonFiniteKind::NegInf => vec![
                    center + egui::vec2(-r, -r),
                    center + egui::vec2(r, -r),
                    center + egui::vec2(0.0, r),
                ],
                NonFiniteKind::Nan => vec![
                    center + egui::vec2(0.0, -r),
                    center + egui::vec2(r, 0.0),
                    center + egui::vec2(0.0, r),
                    center + egui::vec2(-r, 0.0),
                ],
            };
            painter.add(egui::Shape::convex_polygon(
                shape,
                l.color,
                egui::Stroke::new(1.0, ui.visuals().strong_text_color()),
            ));
            if pointer.is_some_and(|p| p.distance(center) < 7.0) && tips.len() < 8 {
                tips.push(format!(
                    "{}: {label} at {} {}",
                    l.name,
                    axis.label(),
                    hover::format_x(x, axis)
                ));
            }
        }
    }
    (!tips.is_empty()).then(|| tips.join("\n"))
}

/// `text` cut to `max` characters, with an ellipsis.
pub(super) fn truncate_label(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut t: String = text.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

pub(super) fn sanitize(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Which of a card's export buttons were clicked this frame.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct ExportClicks {
    pub(super) png: bool,
    pub(super) csv: bool,
}

/// A card header's CSV and PNG buttons (laid out right to left, after the card's menu).
pub(super) fn export_buttons_ui(ui: &mut egui::Ui) -> ExportClicks {
    export_buttons_saying(
        ui,
        "Save every value of this metric of the charted runs as CSV",
    )
}

/// [`export_buttons_ui`] with the CSV button saying what its file holds.
pub(super) fn export_buttons_saying(ui: &mut egui::Ui, csv_holds: &str) -> ExportClicks {
    let csv = ui.small_button("CSV").on_hover_text(csv_holds).clicked();
    let png = ui
        .small_button("PNG")
        .on_hover_text("Save this chart as a PNG image")
        .clicked();
    ExportClicks { png, csv }
}

/// Sends what `export` asked for: the picture of the card in `card_rect`, and every value of
/// `keys` of `runs` as CSV.
pub(super) fn send_exports(
    ctx: &ViewCtx,
    key: &str,
    card_rect: egui::Rect,
    runs: &[Arc<Run>],
    keys: &[String],
    export: ExportClicks,
) {
    if export.png {
        ctx.send(Command::ExportPng {
            file_name: format!("{}.png", sanitize(key)),
            rect: card_rect,
        });
    }
    if export.csv {
        let csv = series_csv(ctx.histories(), runs, keys);
        ctx.send(Command::SaveAs {
            file_name: format!("{}.csv", sanitize(key)),
            bytes: csv.into_bytes(),
        });
    }
}

/// Every value of `keys` of the charted runs as CSV: `run_id,run_name,key,step,timestamp,value`.
pub(super) fn series_csv(histories: &Histories, runs: &[Arc<Run>], keys: &[String]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(["run_id", "run_name", "key", "step", "timestamp", "value"]);
    for (r, key) in keys
        .iter()
        .flat_map(|k| runs.iter().map(move |r| (r, k.as_str())))
    {
        if let Some(s) = histories
            .get(&(r.info.run_id.clone(), key.to_string()))
            .and_then(Entry::ready)
        {
            for i in 0..s.values.len() {
                let _ = w.write_record([
                    r.info.run_id.as_str(),
                    r.info.run_name.as_str(),
                    key,
                    &s.steps[i].to_string(),
                    &s.timestamps[i].to_string(),
                    &s.values[i].to_string(),
                ]);
            }
        }
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}
