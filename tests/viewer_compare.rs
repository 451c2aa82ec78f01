//! Comparing runs (issue 15): grouped charts (bands over every point, aligned by step), group rows
//! in the runs table, the step cursor across charts, the scatter plot and parallel coordinates.
//! Each test draws the real panel with egui_kittest on a hand-built view context (no worker).

#![cfg(feature = "viewer")]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use mlscope::model::{LifecycleStage, Metric, Run, RunData, RunInfo, RunInputs, RunStatus};
use mlscope::viewer::Persisted;
use mlscope::viewer::testing::{
    ChartOptions, Charts, ChartsView, Command, Dim, Entry, FilterBar, GroupKey, MetricAgg, Row,
    RunSet, RunsTable, SelectMode, Series, ViewData,
};

const SIZE: egui::Vec2 = egui::vec2(1200.0, 800.0);

fn run(k: usize, params: &[(&str, &str)], metrics: &[(&str, f64)]) -> Arc<Run> {
    Arc::new(Run {
        info: RunInfo {
            run_id: format!("{k:032x}"),
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
            metrics: metrics
                .iter()
                .map(|(key, v)| (key.to_string(), Metric::new(*key, *v, 0, 0)))
                .collect(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            ..RunData::default()
        },
        inputs: RunInputs::default(),
    })
}

fn series(points: &[(i64, f64)]) -> Series {
    Series {
        steps: points.iter().map(|p| p.0).collect(),
        timestamps: points
            .iter()
            .map(|p| 1_700_000_000_000 + p.0 * 1000)
            .collect(),
        values: points.iter().map(|p| p.1).collect(),
        offset: None,
    }
}

/// View data of `runs` (all selected, shown in this order) with histories of "loss".
/// A run with its "loss" history as (step, value) points.
type RunPoints = (Arc<Run>, Vec<(i64, f64)>);

fn data_of(runs: Vec<RunPoints>, options: ChartOptions) -> ViewData {
    let mut data = ViewData::new(Persisted::default(), true);
    let mut list = Vec::new();
    for (r, points) in runs {
        if !points.is_empty() {
            data.histories
                .set_ready((r.info.run_id.clone(), "loss".into()), series(&points));
        }
        data.selection.insert(r.info.run_id.clone());
        list.push(r);
    }
    data.rows.rows = (0..list.len())
        .map(|i| Row {
            run: i,
            depth: 0,
            has_children: false,
            context_only: false,
        })
        .collect();
    data.selected_experiments.insert("0".into());
    data.runs.entry = Entry::Ready(Arc::new(RunSet::new(list, 1)));
    data.persisted.charts = options;
    data
}

struct ChartsState {
    data: ViewData,
    charts: Charts,
    commands: Vec<Command>,
}

fn charts_harness(data: ViewData) -> Harness<'static, ChartsState> {
    Harness::builder().with_size(SIZE).build_ui_state(
        |ui, s: &mut ChartsState| {
            let ctx = s.data.ctx();
            s.charts.show(ui, &ctx);
            s.commands.extend(ctx.into_commands());
        },
        ChartsState {
            data,
            charts: Charts::default(),
            commands: Vec::new(),
        },
    )
}

fn grouped_by_lr() -> ChartOptions {
    ChartOptions {
        group_by: vec![GroupKey::Param("lr".into())],
        ..ChartOptions::default()
    }
}

/// Three runs with lr=0.1 (one missing step 1, one logging NaN at step 2) and one with lr=0.01.
fn sweep() -> Vec<RunPoints> {
    vec![
        (
            run(0, &[("lr", "0.1")], &[("loss", 3.0)]),
            vec![(0, 1.0), (1, 2.0), (2, 3.0)],
        ),
        (
            run(1, &[("lr", "0.1")], &[("loss", 9.0)]),
            vec![(0, 4.0), (2, 9.0), (3, f64::NAN)],
        ),
        (
            run(2, &[("lr", "0.1")], &[("loss", 2.0)]),
            vec![(0, 7.0), (1, 8.0), (2, 2.0)],
        ),
        (
            run(3, &[("lr", "0.01")], &[("loss", 5.0)]),
            vec![(0, 10.0), (1, 5.0)],
        ),
    ]
}

/// Steps frames until `done` holds (the bands are computed on a thread of their own).
fn step_until<S>(h: &mut Harness<'static, S>, what: &str, done: impl Fn(&S) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done(h.state()) {
        assert!(Instant::now() < deadline, "{what} did not happen");
        h.step();
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn grouped_bands_equal_the_hand_computed_mean_min_and_max() {
    let mut h = charts_harness(data_of(sweep(), grouped_by_lr()));
    step_until(&mut h, "the bands", |s| {
        s.charts.group_state().band("loss", "lr=0.1").is_some()
            && s.charts.group_state().band("loss", "lr=0.01").is_some()
    });
    let groups = &h.state().charts.group_state().groups;
    let labels: Vec<&str> = groups.iter().map(|g| g.label.as_str()).collect();
    // Sorted as numbers: 0.01 before 0.1.
    assert_eq!(labels, ["lr=0.01", "lr=0.1"]);
    assert_eq!(groups[1].runs.len(), 3);
    let b = h
        .state()
        .charts
        .group_state()
        .band("loss", "lr=0.1")
        .unwrap();
    // Step 0: 1, 4, 7; step 1: 2, 8 (run 1 has no step 1); step 2: 3, 9, 2; step 3: NaN only.
    assert_eq!(b.steps, vec![0.0, 1.0, 2.0]);
    assert_eq!(b.mean, vec![4.0, 5.0, 14.0 / 3.0]);
    assert_eq!(b.min, vec![1.0, 2.0, 2.0]);
    assert_eq!(b.max, vec![7.0, 8.0, 9.0]);
    assert_eq!(b.median, vec![4.0, 5.0, 3.0]);
    let std0 = ((9.0 + 0.0 + 9.0) / 3.0f64).sqrt();
    assert!((b.std[0] - std0).abs() < 1e-12);
    assert_eq!(b.count, vec![3, 2, 3]);
    let single = h
        .state()
        .charts
        .group_state()
        .band("loss", "lr=0.01")
        .unwrap();
    assert_eq!(single.mean, vec![10.0, 5.0]);
    // The legend names each group with its run count.
    h.get_by_label("lr=0.1 (3)");
    h.get_by_label("lr=0.01 (1)");
}

#[test]
fn a_group_band_follows_appended_points() {
    let mut h = charts_harness(data_of(sweep(), grouped_by_lr()));
    step_until(&mut h, "the first band", |s| {
        s.charts.group_state().band("loss", "lr=0.01").is_some()
    });
    let id = format!("{:032x}", 3);
    h.state_mut().data.histories.set_ready(
        (id, "loss".into()),
        series(&[(0, 10.0), (1, 5.0), (2, 1.0)]),
    );
    step_until(&mut h, "the band after the append", |s| {
        s.charts
            .group_state()
            .band("loss", "lr=0.01")
            .is_some_and(|b| b.steps.len() == 3)
    });
    let b = h
        .state()
        .charts
        .group_state()
        .band("loss", "lr=0.01")
        .unwrap();
    assert_eq!(b.mean, vec![10.0, 5.0, 1.0]);
}

struct TableState {
    data: ViewData,
    table: RunsTable,
    commands: Vec<Command>,
}

fn table_harness(data: ViewData) -> Harness<'static, TableState> {
    Harness::builder().with_size(SIZE).build_ui_state(
        |ui, s: &mut TableState| {
            let ctx = s.data.ctx();
            s.table.show(ui, &ctx);
            s.commands.extend(ctx.into_commands());
        },
        TableState {
            data,
            table: RunsTable::default(),
            commands: Vec::new(),
        },
    )
}

#[test]
fn the_runs_table_shows_collapsible_group_rows_with_counts() {
    let mut h = table_harness(data_of(sweep(), grouped_by_lr()));
    h.run_steps(3);
    h.get_by_label("lr=0.1 (3 runs)");
    h.get_by_label("lr=0.01 (1 runs)");
    assert!(h.query_by_label("run-1").is_some());
    // Collapsing the lr=0.1 group hides its runs, not the other group's.
    h.get_all_by_label("⏷").next().unwrap().click();
    h.run_steps(3);
    // The first group is lr=0.01 (sorted as numbers).
    assert!(h.query_by_label("run-3").is_none());
    assert!(h.query_by_label("run-1").is_some());
    // A click on a group row selects its runs.
    h.get_by_label("lr=0.1 (3 runs)").click();
    h.run_steps(2);
    let selected: Vec<Vec<String>> = h
        .state()
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::SelectRuns(ids) => Some(ids.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        selected.last().unwrap(),
        &(0..3).map(|k| format!("{k:032x}")).collect::<Vec<_>>()
    );
}

/// Runs 0..n with `lr` and `loss` (last value `loss[k]`), histories of "loss" and "acc".
fn sweep_of(lrs: &[&str], losses: &[f64]) -> ViewData {
    let runs = lrs
        .iter()
        .zip(losses)
        .enumerate()
        .map(|(k, (lr, loss))| {
            (
                run(k, &[("lr", lr)], &[("loss", *loss)]),
                (0..=100)
                    .map(|i| (i, loss + (100 - i) as f64))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    data_of(runs, ChartOptions::default())
}

fn press(h: &mut Harness<'static, ChartsState>, pos: egui::Pos2, pressed: bool) {
    h.event(egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: egui::Modifiers::NONE,
    });
}

#[test]
fn the_step_cursor_shows_every_cards_values_at_the_hovered_step() {
    let mut data = sweep_of(&["0.1", "0.2"], &[1.0, 2.0]);
    // A second metric, "acc" = step × (run + 1), on its own card.
    let ids: Vec<String> = (0..2).map(|k| format!("{k:032x}")).collect();
    if let Entry::Ready(set) = &data.runs.entry {
        let runs: Vec<Arc<Run>> = set
            .runs
            .iter()
            .map(|r| {
                let mut r = (**r).clone();
                r.data
                    .metrics
                    .insert("acc".into(), Metric::new("acc", 0.0, 0, 0));
                Arc::new(r)
            })
            .collect();
        data.runs.entry = Entry::Ready(Arc::new(RunSet::new(runs, 2)));
    }
    for (k, id) in ids.iter().enumerate() {
        data.histories.set_ready(
            (id.clone(), "acc".into()),
            series(
                &(0..=100)
                    .map(|i| (i, (i * (k as i64 + 1)) as f64))
                    .collect::<Vec<_>>(),
            ),
        );
    }
    let mut h = charts_harness(data);
    h.run_steps(6);
    let (x0, x1) = h.state().charts.visible_x("acc").expect("acc drawn");
    let w = h.state().charts.plot_width("acc").unwrap();
    // "acc" is the first card (keys sorted), at the left: point at a third of its plot.
    let _ = (x0, x1, w);
    h.hover_at(egui::pos2(60.0 + w / 3.0, 250.0));
    h.run_steps(4);
    let (card, x) = h.state().charts.step_cursor().expect("a step cursor");
    assert_eq!(card, "acc");
    let step = x.round();
    let values = h
        .state()
        .charts
        .cursor_values()
        .get("loss")
        .expect("the other card shows values at the cursor")
        .clone();
    // loss of run k at step s is loss_k + 100 - s; highest first.
    assert_eq!(
        values,
        vec![
            ("run-1".to_string(), 2.0 + 100.0 - step),
            ("run-0".to_string(), 1.0 + 100.0 - step)
        ]
    );
    // The hovered card has its tooltip instead.
    assert!(!h.state().charts.cursor_values().contains_key("acc"));
}

#[test]
fn a_click_on_a_scatter_point_selects_its_run() {
    let mut data = sweep_of(&["0.1", "0.2", "0.3", "0.4"], &[4.0, 1.0, 3.0, 2.0]);
    data.selection.clear();
    let mut h = charts_harness(data);
    h.state_mut().charts.view = ChartsView::Scatter;
    h.state_mut().charts.scatter.x = Some(Dim::Param("lr".into()));
    h.state_mut().charts.scatter.y = Some(Dim::Metric("loss".into(), MetricAgg::Last));
    h.run_steps(4);
    let target = format!("{:032x}", 2);
    let points = h.state().charts.scatter.screen_points.clone();
    assert_eq!(points.len(), 4);
    // lr grows with x: the points are in run order from left to right.
    assert!(points.windows(2).all(|w| w[0].1.x < w[1].1.x));
    let pos = points.iter().find(|(id, _)| *id == target).unwrap().1;
    h.hover_at(pos);
    h.run_steps(2);
    // Pointing at the point names its run.
    assert_eq!(
        h.state().charts.scatter.hovered.as_deref(),
        Some(target.as_str())
    );
    press(&mut h, pos, true);
    h.run_steps(1);
    press(&mut h, pos, false);
    h.run_steps(2);
    assert!(h.state().commands.iter().any(|c| matches!(
        c,
        Command::SelectRun { run_id, mode: SelectMode::Replace } if *run_id == target
    )));
}

#[test]
fn brushing_an_axis_of_parallel_coordinates_selects_the_runs_in_range() {
    let losses = [4.0, 1.0, 3.0, 2.0, 5.0];
    let mut h = charts_harness(sweep_of(&["0.1", "0.2", "0.3", "0.4", "0.5"], &losses));
    h.state_mut().charts.view = ChartsView::Parallel;
    h.run_steps(3);
    h.state_mut().charts.parcoords.axes = vec![
        Dim::Param("lr".into()),
        Dim::Metric("loss".into(), MetricAgg::Last),
    ];
    h.run_steps(3);
    assert_eq!(h.state().charts.parcoords.lines_drawn, 5);
    let (x, top, bottom) = h.state().charts.parcoords.axis_screen[1];
    // loss spans 1..5 from bottom to top: brush 1.9..3.1 (runs with loss 2 and 3).
    let y_of = |v: f64| bottom - (bottom - top) * ((v - 1.0) / 4.0) as f32;
    let (from, to) = (egui::pos2(x, y_of(3.1)), egui::pos2(x, y_of(1.9)));
    h.hover_at(from);
    h.run_steps(1);
    press(&mut h, from, true);
    h.run_steps(1);
    for k in 1..=8 {
        h.hover_at(from + (to - from) * (k as f32 / 8.0));
        h.run_steps(1);
    }
    press(&mut h, to, false);
    h.run_steps(3);
    let last = h
        .state()
        .commands
        .iter()
        .rev()
        .find_map(|c| match c {
            Command::SelectRuns(ids) => Some(ids.clone()),
            _ => None,
        })
        .expect("the brush selects runs");
    let want: Vec<String> = losses
        .iter()
        .enumerate()
        .filter(|(_, l)| (1.9..=3.1).contains(*l))
        .map(|(k, _)| format!("{k:032x}"))
        .collect();
    assert_eq!(last, want);
    assert_eq!(want.len(), 2);
}

/// The runs table over the charts, applying the eye's commands as the app does.
struct TableAndCharts {
    data: ViewData,
    table: RunsTable,
    charts: Charts,
    commands: Vec<Command>,
}

#[test]
fn the_eye_hides_a_run_from_the_charts_and_keeps_it_selected() {
    let data = sweep_of(&["0.1", "0.2", "0.3"], &[1.0, 2.0, 3.0]);
    let mut h = Harness::builder().with_size(SIZE).build_ui_state(
        |ui, s: &mut TableAndCharts| {
            let ctx = s.data.ctx();
            ui.allocate_ui(egui::vec2(1200.0, 250.0), |ui| s.table.show(ui, &ctx));
            s.charts.show(ui, &ctx);
            let commands = ctx.into_commands();
            for c in &commands {
                if let Command::ToggleHiddenFromCharts(id) = c
                    && !s.data.hidden_from_charts.remove(id)
                {
                    s.data.hidden_from_charts.insert(id.clone());
                }
            }
            s.commands.extend(commands);
        },
        TableAndCharts {
            data,
            table: RunsTable::default(),
            charts: Charts::default(),
            commands: Vec::new(),
        },
    );
    h.run_steps(3);
    let id1 = format!("{:032x}", 1);
    assert!(h.state().charts.hidden_runs().is_empty());
    // The eyes in row order: run-1's is the second.
    h.get_all_by_label("shown in charts")
        .nth(1)
        .unwrap()
        .click();
    h.run_steps(3);
    assert!(h.state().charts.hidden_runs().contains(&id1));
    assert_eq!(h.state().charts.hidden_runs().len(), 1);
    assert!(h.state().data.selection.contains(&id1));
    // Clicked again: shown again.
    h.get_all_by_label("shown in charts")
        .nth(1)
        .unwrap()
        .click();
    h.run_steps(3);
    assert!(h.state().charts.hidden_runs().is_empty());
}

#[test]
fn the_csv_export_holds_the_shown_rows_and_columns() {
    let mut data = sweep_of(&["0.1", "0.2", "0.3"], &[1.5, 2.25, 3.0]);
    // The table shows runs 2 and 0 only, in this order.
    data.rows.rows = vec![
        Row {
            run: 2,
            depth: 0,
            has_children: false,
            context_only: false,
        },
        Row {
            run: 0,
            depth: 0,
            has_children: false,
            context_only: false,
        },
    ];
    let mut h = table_harness(data);
    h.run_steps(2);
    h.get_by_label("Export CSV…").click();
    h.run_steps(2);
    let bytes = h
        .state()
        .commands
        .iter()
        .find_map(|c| match c {
            Command::SaveAs { file_name, bytes } if file_name.ends_with(".csv") => {
                Some(bytes.clone())
            }
            _ => None,
        })
        .expect("a CSV to save");
    let text = String::from_utf8(bytes).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let header: Vec<&str> = lines[0].split(',').collect();
    assert_eq!(header[0], "run_id");
    let lr = header
        .iter()
        .position(|h| *h == "params.lr")
        .expect("lr column");
    let loss = header
        .iter()
        .position(|h| *h == "metrics.loss")
        .expect("loss column");
    let row = |i: usize| lines[i].split(',').collect::<Vec<&str>>();
    assert_eq!(row(1)[0], format!("{:032x}", 2));
    assert_eq!((row(1)[lr], row(1)[loss]), ("0.3", "3"));
    assert_eq!(row(2)[0], format!("{:032x}", 0));
    assert_eq!((row(2)[lr], row(2)[loss]), ("0.1", "1.5"));
}

struct FilterState {
    data: ViewData,
    bar: FilterBar,
}

#[test]
fn the_filter_autocompletes_real_keys_and_values_with_tab() {
    let data = sweep_of(&["0.1", "0.01"], &[1.0, 2.0]);
    let mut h = Harness::builder().with_size(SIZE).build_ui_state(
        |ui, s: &mut FilterState| {
            let ctx = s.data.ctx();
            s.bar.show(ui, &ctx);
            // Apply the filter text as the app does.
            for c in ctx.into_commands() {
                if let Command::SetFilter(text) = c {
                    s.data.filter.text = text;
                }
            }
        },
        FilterState {
            data,
            bar: FilterBar::default(),
        },
    );
    h.state_mut().bar.focus = true;
    h.run_steps(2);
    h.get_all_by_role(egui::accesskit::Role::TextInput)
        .next()
        .unwrap()
        .type_text("par");
    h.run_steps(2);
    h.key_press(egui::Key::Tab);
    h.run_steps(2);
    assert_eq!(h.state().data.filter.text, "params.");
    let shown: Vec<String> = h
        .state()
        .bar
        .autocomplete
        .shown
        .iter()
        .map(|s| s.label.clone())
        .collect();
    assert_eq!(shown, ["params.lr"]);
    h.key_press(egui::Key::Tab);
    h.run_steps(2);
    assert_eq!(h.state().data.filter.text, "params.lr ");
    h.get_all_by_role(egui::accesskit::Role::TextInput)
        .next()
        .unwrap()
        .type_text("= ");
    h.run_steps(2);
    h.key_press(egui::Key::Tab);
    h.run_steps(2);
    // Values seen in the runs, sorted: '0.01' first.
    assert_eq!(h.state().data.filter.text, "params.lr = '0.01' ");
}
