//! Charts a new user can trust (issue 13): linked zoom refits y, outliers can be ignored,
//! NaN/±inf never flatten a chart and are counted, one-value metrics are bars, cards fill the
//! pane, the legend hides runs. Each test draws the real Charts panel with egui_kittest on a
//! hand-built view context (no worker, no store).

#![cfg(feature = "viewer")]

use std::sync::Arc;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use mlscope::model::{LifecycleStage, Metric, Run, RunData, RunInfo, RunInputs, RunStatus};
use mlscope::viewer::Persisted;
use mlscope::viewer::testing::{ChartOptions, Charts, Entry, RunSet, Series, ViewData};

const SIZE: egui::Vec2 = egui::vec2(1000.0, 800.0);

struct State {
    data: ViewData,
    charts: Charts,
}

fn run(k: usize, keys: &[&str]) -> Arc<Run> {
    let id = format!("{k:032x}");
    Arc::new(Run {
        info: RunInfo {
            run_id: id,
            run_name: format!("run-{k}"),
            experiment_id: "0".into(),
            user_id: "test".into(),
            status: RunStatus::Finished,
            start_time: Some(1_700_000_000_000),
            end_time: None,
            artifact_uri: String::new(),
            lifecycle_stage: LifecycleStage::Active,
        },
        data: RunData {
            metrics: keys
                .iter()
                .map(|k| (k.to_string(), Metric::new(*k, 0.0, 0, 0)))
                .collect(),
            ..RunData::default()
        },
        inputs: RunInputs::default(),
    })
}

fn series(values: &[f64]) -> Series {
    Series {
        steps: (0..values.len() as i64).collect(),
        timestamps: (0..values.len() as i64)
            .map(|i| 1_700_000_000_000 + i * 1000)
            .collect(),
        values: values.to_vec(),
        offset: None,
    }
}

/// One run's histories: (metric key, values by step).
type RunHistories<'a> = Vec<(&'a str, Vec<f64>)>;

/// The Charts tab of runs (each with its histories by key), all selected.
fn harness(runs: Vec<(RunHistories<'_>,)>, options: ChartOptions) -> Harness<'static, State> {
    let mut data = ViewData::new(Persisted::default(), true);
    let mut list = Vec::new();
    for (k, (histories,)) in runs.into_iter().enumerate() {
        let keys: Vec<&str> = histories.iter().map(|(key, _)| *key).collect();
        let r = run(k, &keys);
        for (key, values) in histories {
            data.histories
                .set_ready((r.info.run_id.clone(), key.to_string()), series(&values));
        }
        data.selection.insert(r.info.run_id.clone());
        list.push(r);
    }
    data.runs.entry = Entry::Ready(Arc::new(RunSet::new(list, 1)));
    data.persisted.charts = options;
    Harness::builder().with_size(SIZE).build_ui_state(
        |ui, state: &mut State| {
            let ctx = state.data.ctx();
            state.charts.show(ui, &ctx);
            // History requests are dropped: every history is already loaded.
            drop(ctx.into_commands());
        },
        State {
            data,
            charts: Charts::default(),
        },
    )
}

fn y_of(h: &Harness<'static, State>, key: &str) -> (f64, f64) {
    *h.state()
        .charts
        .shown_y
        .get(key)
        .unwrap_or_else(|| panic!("card {key} not drawn"))
}

#[test]
fn zooming_x_refits_y_of_every_linked_card() {
    // "b" spans 0..1e6 over the run: a zoomed x range shows a small part of that.
    let a: Vec<f64> = (0..1000).map(|i| i as f64).collect();
    let b: Vec<f64> = (0..1000).map(|i| (i * i) as f64).collect();
    let mut h = harness(
        vec![(vec![("a", a), ("b", b.clone())],)],
        ChartOptions::default(),
    );
    h.run_steps(4);
    let before = h.state().charts.visible_x("b").unwrap();
    // Zoom in on card "a" (the left one): the x axis is linked, so "b" zooms too.
    h.hover_at(egui::pos2(250.0, 400.0));
    for _ in 0..6 {
        h.event(egui::Event::Zoom(1.6));
        h.run_steps(2);
    }
    h.run_steps(4);
    let (x0, x1) = h.state().charts.visible_x("b").unwrap();
    assert!(x1 - x0 < (before.1 - before.0) / 4.0, "no zoom: {x0}..{x1}");
    let visible: Vec<f64> = b
        .iter()
        .enumerate()
        .filter(|(i, _)| (x0..=x1).contains(&(*i as f64)))
        .map(|(_, v)| *v)
        .collect();
    let (lo, hi) = visible
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    let (y0, y1) = y_of(&h, "b");
    let span = hi - lo;
    assert!(
        y0 <= lo && y1 >= hi,
        "visible points {lo}..{hi} cut: {y0}..{y1}"
    );
    assert!(
        y1 - y0 < span * 1.3,
        "y not fitted to the visible points {lo}..{hi}: {y0}..{y1}"
    );
}

#[test]
fn locked_y_stays_when_x_is_zoomed() {
    let a: Vec<f64> = (0..1000).map(|i| i as f64).collect();
    let b: Vec<f64> = (0..1000).map(|i| (i * i) as f64).collect();
    let options = ChartOptions {
        lock_y: true,
        ..ChartOptions::default()
    };
    let mut h = harness(vec![(vec![("a", a), ("b", b)],)], options);
    h.run_steps(4);
    let before = y_of(&h, "b");
    h.hover_at(egui::pos2(250.0, 400.0));
    for _ in 0..4 {
        h.event(egui::Event::Zoom(1.6));
        h.run_steps(2);
    }
    h.run_steps(2);
    assert_eq!(y_of(&h, "b"), before);
}

#[test]
fn ignoring_outliers_keeps_a_spike_from_flattening_the_chart() {
    let mut values: Vec<f64> = (0..2000).map(|i| 1.0 + (i % 7) as f64 * 0.01).collect();
    values[1234] = 1e6;
    let mut h = harness(
        vec![(vec![("loss", values.clone())],)],
        ChartOptions::default(),
    );
    h.run_steps(4);
    assert!(y_of(&h, "loss").1 >= 1e6, "the spike is in the full range");
    let mut h = harness(
        vec![(vec![("loss", values)],)],
        ChartOptions {
            ignore_outliers: true,
            ..ChartOptions::default()
        },
    );
    h.run_steps(4);
    let (y0, y1) = y_of(&h, "loss");
    assert!(
        y0 > 0.9 && y1 < 1.2,
        "outlier kept in the range: {y0}..{y1}"
    );
}

#[test]
fn nan_and_infinities_are_counted_and_never_flatten_y() {
    // MLflow's SQLite store gives +inf back as max double: an infinity too.
    let values = vec![
        1.0,
        2.0,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1.7976931348623157e308,
        3.0,
    ];
    let mut h = harness(vec![(vec![("m", values)],)], ChartOptions::default());
    h.run_steps(4);
    let (y0, y1) = y_of(&h, "m");
    assert!(y0 > 0.5 && y1 < 3.5, "y flattened: {y0}..{y1}");
    assert_eq!(h.state().charts.nonfinite_counts.get("m"), Some(&4));
    assert!(h.query_by_label("⚠ 1 NaN · 3 inf").is_some());
}

#[test]
fn a_metric_logged_once_per_run_is_a_bar_chart_of_runs() {
    let mut h = harness(
        vec![
            (vec![("test/acc", vec![0.8]), ("loss", vec![1.0, 0.5])],),
            (vec![("test/acc", vec![0.9]), ("loss", vec![1.0, 0.4])],),
            (vec![("test/acc", vec![0.7]), ("loss", vec![1.0, 0.6])],),
        ],
        ChartOptions::default(),
    );
    h.run_steps(4);
    assert_eq!(h.state().charts.bar_cards, ["test/acc"]);
    // Bars start at zero and reach every value.
    let (y0, y1) = y_of(&h, "test/acc");
    assert!(y0 <= 0.0 && y1 >= 0.9, "{y0}..{y1}");
}

#[test]
fn cards_fill_the_pane_and_the_user_chooses_columns() {
    let v: Vec<f64> = (0..10).map(f64::from).collect();
    let mut h = harness(
        vec![(vec![("a", v.clone()), ("b", v.clone())],)],
        ChartOptions::default(),
    );
    h.run_steps(4);
    // One row of cards on an 800 px pane: far taller than the old fixed 190 px.
    assert!(h.state().charts.plot_height() > 500.0);
    let two = h.state().charts.plot_width("a").unwrap();
    let mut h = harness(
        vec![(vec![("a", v.clone()), ("b", v)],)],
        ChartOptions {
            columns: 1,
            ..ChartOptions::default()
        },
    );
    h.run_steps(4);
    let one = h.state().charts.plot_width("a").unwrap();
    assert!(one > two * 1.8, "one per row {one}, two per row {two}");
}

#[test]
fn clicking_a_legend_entry_hides_and_shows_its_run() {
    let v: Vec<f64> = (0..10).map(f64::from).collect();
    let mut h = harness(
        vec![(vec![("a", v.clone())],), (vec![("a", v)],)],
        ChartOptions::default(),
    );
    h.run_steps(3);
    let shown = line_colors(&h);
    h.get_by_label("run-1").click();
    h.run_steps(3);
    let id = format!("{:032x}", 1);
    assert!(h.state().charts.hidden_runs().contains(&id));
    // The pointer leaves the legend (hovering an entry highlights its run).
    h.event(egui::Event::PointerGone);
    h.run_steps(3);
    let hidden = line_colors(&h);
    assert!(
        shown.difference(&hidden).count() == 1 && hidden.is_subset(&shown),
        "hiding run-1 takes its line (one colour) off the chart: {shown:?} → {hidden:?}"
    );
    h.get_by_label("run-1").click();
    h.run_steps(3);
    assert!(h.state().charts.hidden_runs().is_empty());
    h.event(egui::Event::PointerGone);
    h.run_steps(3);
    assert_eq!(line_colors(&h), shown, "showing it draws its line again");
}

/// Every shape the last frame painted, flattened.
fn painted(h: &Harness<'static, State>) -> Vec<egui::Shape> {
    fn flat(shape: &egui::Shape, out: &mut Vec<egui::Shape>) {
        match shape {
            egui::Shape::Vec(shapes) => shapes.iter().for_each(|s| flat(s, out)),
            s => out.push(s.clone()),
        }
    }
    let mut out = Vec::new();
    for c in &h.output().shapes {
        flat(&c.shape, &mut out);
    }
    out
}

/// The colours of the lines (paths of more than two points) the last frame painted.
fn line_colors(h: &Harness<'static, State>) -> std::collections::BTreeSet<[u8; 4]> {
    painted(h)
        .iter()
        .filter_map(|s| match s {
            egui::Shape::Path(p) if p.points.len() > 2 && !p.closed => match p.stroke.color {
                egui::epaint::ColorMode::Solid(c) => Some(c.to_array()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// The texts the last frame painted, with where.
fn painted_texts(h: &Harness<'static, State>) -> Vec<(egui::Pos2, String)> {
    painted(h)
        .iter()
        .filter_map(|s| match s {
            egui::Shape::Text(t) => Some((t.pos, t.galley.text().to_string())),
            _ => None,
        })
        .collect()
}

#[test]
fn log_y_axis_labels_are_round_numbers() {
    // 1 down to 0.5 (the demo's loss): the old axis read 0.79433, 0.63096.
    let values: Vec<f64> = (0..100).map(|i| 1.0 - i as f64 * 0.005).collect();
    let mut h = harness(
        vec![(vec![("loss", values)],)],
        ChartOptions {
            log_y: true,
            ..ChartOptions::default()
        },
    );
    h.run_steps(4);
    let labels: Vec<f64> = painted_texts(&h)
        .into_iter()
        .filter_map(|(_, t)| t.parse::<f64>().ok())
        .filter(|v| (0.3..=1.5).contains(v) && v.fract() != 0.0)
        .collect();
    assert!(labels.len() >= 2, "y labels between 0.5 and 1: {labels:?}");
    for v in &labels {
        let tenths = v * 10.0;
        assert!(
            (tenths - tenths.round()).abs() < 1e-9,
            "{v} is not a round tick in {labels:?}"
        );
    }
}

#[test]
fn x_labels_of_a_curve_spanning_a_millisecond_are_distinct() {
    for x_axis in [
        mlscope::viewer::testing::XAxis::Relative,
        mlscope::viewer::testing::XAxis::WallTime,
    ] {
        let mut h = harness(
            vec![(vec![("m", vec![1.0, 2.0])],)],
            ChartOptions {
                x_axis,
                ..ChartOptions::default()
            },
        );
        // Two points logged 1 ms apart.
        let id = format!("{:032x}", 0);
        h.state_mut().data.histories.set_ready(
            (id, "m".to_string()),
            Series {
                steps: vec![0, 1],
                timestamps: vec![1_700_000_000_000, 1_700_000_000_001],
                values: vec![1.0, 2.0],
                offset: None,
            },
        );
        h.state_mut().data.histories_version += 1;
        h.run_steps(6);
        // The x axis: the lowest row of texts.
        let mut rows: std::collections::BTreeMap<i64, Vec<String>> = Default::default();
        for (pos, text) in painted_texts(&h) {
            rows.entry(pos.y.round() as i64).or_default().push(text);
        }
        let axis = rows.into_values().next_back().unwrap_or_default();
        assert!(axis.len() >= 2, "{x_axis:?}: x labels {axis:?}");
        let distinct: std::collections::BTreeSet<&String> = axis.iter().collect();
        assert_eq!(
            distinct.len(),
            axis.len(),
            "{x_axis:?}: x labels repeat: {axis:?}"
        );
    }
}
