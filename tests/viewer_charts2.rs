//! Chart cards a sweep needs (issue 15): several metrics in one card, another metric as x, bars
//! of a summary per run or group, cards added, removed, resized and reordered with the layout kept
//! per store and experiment, group bands over time bins. Each panel test draws the real Charts
//! panel with egui_kittest on a hand-built view context (no worker); the restart test drives the
//! app on the demo store.

#![cfg(feature = "viewer")]

mod support_viewer;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use mlscope::model::{LifecycleStage, Metric, Run, RunData, RunInfo, RunInputs, RunStatus};
use mlscope::viewer::testing::{
    CardKind, CardSpec, ChartLayout, ChartOptions, Charts, Command, Entry, GroupKey, RunSet,
    Series, Summary, TIME_BINS, Tab, ViewData, XAxis, aggregate_time, layout_key, time_bins,
};
use mlscope::viewer::{App, Persisted, ViewerOptions};

const SIZE: egui::Vec2 = egui::vec2(1200.0, 800.0);

/// A run with params and the keys of its metrics.
fn run(k: usize, params: &[(&str, &str)], keys: &[&str]) -> Arc<Run> {
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
            metrics: keys
                .iter()
                .map(|key| (key.to_string(), Metric::new(*key, 0.0, 0, 0)))
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

/// A history of (step, milliseconds after the start, value) points.
fn series(points: &[(i64, i64, f64)]) -> Series {
    Series {
        steps: points.iter().map(|p| p.0).collect(),
        timestamps: points.iter().map(|p| 1_700_000_000_000 + p.1).collect(),
        values: points.iter().map(|p| p.2).collect(),
        offset: None,
    }
}

/// (step, value) points one second apart.
fn by_step(points: &[(i64, f64)]) -> Vec<(i64, i64, f64)> {
    points.iter().map(|&(s, v)| (s, s * 1000, v)).collect()
}

/// A run with its histories by key.
type RunHistories = (Arc<Run>, Vec<(&'static str, Vec<(i64, i64, f64)>)>);

const STORE: &str = "/tmp/store-a";

/// View data of `runs` (all selected, in experiment 0 of store [`STORE`]).
fn data_of(runs: Vec<RunHistories>, options: ChartOptions) -> ViewData {
    let mut data = ViewData::new(Persisted::default(), true);
    let mut list = Vec::new();
    for (r, histories) in runs {
        for (key, points) in histories {
            data.histories
                .set_ready((r.info.run_id.clone(), key.into()), series(&points));
        }
        data.selection.insert(r.info.run_id.clone());
        list.push(r);
    }
    data.selected_experiments.insert("0".into());
    data.store_key = Some(STORE.into());
    data.runs.entry = Entry::Ready(Arc::new(RunSet::new(list, 1)));
    data.persisted.charts = options;
    data
}

struct ChartsState {
    data: ViewData,
    charts: Charts,
    commands: Vec<Command>,
}

/// The Charts panel; chart option changes it sends are applied as the app applies them.
fn charts_harness(data: ViewData) -> Harness<'static, ChartsState> {
    Harness::builder().with_size(SIZE).build_ui_state(
        |ui, s: &mut ChartsState| {
            let ctx = s.data.ctx();
            s.charts.show(ui, &ctx);
            let commands = ctx.into_commands();
            for c in &commands {
                if let Command::SetChartOptions(o) = c {
                    s.data.persisted.charts = o.clone();
                }
            }
            s.commands.extend(commands);
        },
        ChartsState {
            data,
            charts: Charts::default(),
            commands: Vec::new(),
        },
    )
}

fn this_layout(h: &Harness<'static, ChartsState>) -> ChartLayout {
    let key = layout_key(STORE, &h.state().data.selected_experiments);
    h.state()
        .data
        .persisted
        .charts
        .layouts
        .get(&key)
        .cloned()
        .unwrap_or_default()
}

fn with_layout(mut options: ChartOptions, cards: Vec<CardSpec>) -> ChartOptions {
    let key = layout_key(STORE, [&"0".to_string()]);
    options.layouts.insert(
        key,
        ChartLayout {
            cards,
            ..ChartLayout::default()
        },
    );
    options
}

/// Two runs with train/loss, val/loss and lr.
fn two_runs() -> Vec<RunHistories> {
    let keys = ["train/loss", "val/loss", "lr"];
    vec![
        (
            run(0, &[], &keys),
            vec![
                ("train/loss", by_step(&[(0, 4.0), (1, 3.0), (2, 2.0)])),
                ("val/loss", by_step(&[(0, 5.0), (2, 3.5)])),
                ("lr", by_step(&[(0, 0.1), (1, 0.05), (2, 0.01)])),
            ],
        ),
        (
            run(1, &[], &keys),
            vec![
                ("train/loss", by_step(&[(0, 6.0), (1, 5.0), (2, 1.0)])),
                ("val/loss", by_step(&[(0, 7.0), (1, 6.5), (2, 2.5)])),
                ("lr", by_step(&[(0, 0.2), (1, 0.1), (2, 0.02)])),
            ],
        ),
    ]
}

/// The menu button (…) of the card titled `title`: the one on its title's row, right of it.
fn menu_button_of<'a, S>(h: &'a Harness<'static, S>, title: &str) -> egui_kittest::Node<'a> {
    button_of(h, title, "…")
}

/// The button labelled `label` on the title row of the card titled `title`, right of the title.
fn button_of<'a, S>(
    h: &'a Harness<'static, S>,
    title: &str,
    label: &'a str,
) -> egui_kittest::Node<'a> {
    let t = h
        .get_all_by_label(title)
        .next()
        .unwrap_or_else(|| panic!("no card titled {title}"))
        .rect();
    h.get_all_by_label(label)
        .filter(|n| (n.rect().center().y - t.center().y).abs() < 8.0 && n.rect().left() > t.left())
        .min_by(|a, b| a.rect().left().total_cmp(&b.rect().left()))
        .unwrap_or_else(|| panic!("no {label} on the row of {title}"))
}

fn open_menu_of(h: &mut Harness<'static, ChartsState>, title: &str) {
    menu_button_of(h, title).click();
    h.run_steps(3);
}

// ----- several metrics in one card, another metric as x ----------------------------------------

#[test]
fn ticking_a_second_metric_draws_a_line_per_run_and_metric_named_by_both() {
    let mut h = charts_harness(data_of(two_runs(), ChartOptions::default()));
    h.run_steps(4);
    // One card per key at first: lr, train/loss, val/loss.
    assert_eq!(
        h.state().charts.shown_keys,
        ["lr", "train/loss", "val/loss"]
    );
    // The train/loss card's menu: tick val/loss.
    open_menu_of(&mut h, "train/loss");
    h.get_by_role_and_label(Role::CheckBox, "val/loss").click();
    h.run_steps(4);
    let layout = this_layout(&h);
    assert_eq!(
        layout.cards[1].metrics,
        ["train/loss", "val/loss"],
        "{layout:?}"
    );
    h.key_press(egui::Key::Escape);
    h.run_steps(4);
    let lines = &h.state().charts.shown_lines["train/loss + val/loss"];
    let mut names = lines.clone();
    names.sort();
    assert_eq!(
        names,
        [
            "run-0 · train/loss",
            "run-0 · val/loss",
            "run-1 · train/loss",
            "run-1 · val/loss"
        ]
    );
    // Its y range holds both metrics (1 to 7).
    let (y0, y1) = h.state().charts.shown_y["train/loss + val/loss"];
    assert!(y0 <= 1.0 && y1 >= 7.0, "{y0}..{y1}");
    // The val/loss card drawn before stays (it was shown).
    assert!(
        h.state()
            .charts
            .shown_keys
            .contains(&"val/loss".to_string())
    );
}

#[test]
fn a_grouped_card_of_two_metrics_draws_a_band_per_group_and_metric() {
    let mut options = with_layout(
        ChartOptions::default(),
        vec![CardSpec {
            metrics: vec!["train/loss".into(), "val/loss".into()],
            ..CardSpec::default()
        }],
    );
    options.group_by = vec![GroupKey::Attribute("status".into())];
    let mut h = charts_harness(data_of(two_runs(), options));
    let id = "train/loss + val/loss";
    step_until(&mut h, "both bands", |s| {
        s.charts.shown_lines.get(id).is_some_and(|l| l.len() == 2)
    });
    let mut names = h.state().charts.shown_lines[id].clone();
    names.sort();
    assert_eq!(
        names,
        ["status=FINISHED · train/loss", "status=FINISHED · val/loss"]
    );
    // val/loss: step 0: 5 and 7; step 1: 6.5 only; step 2: 3.5 and 2.5.
    let b = h
        .state()
        .charts
        .group_state()
        .band("val/loss", "status=FINISHED")
        .unwrap();
    assert_eq!(b.steps, vec![0.0, 1.0, 2.0]);
    assert_eq!(b.mean, vec![6.0, 6.5, 3.0]);
    assert_eq!(b.min, vec![5.0, 6.5, 2.5]);
    assert_eq!(b.max, vec![7.0, 6.5, 3.5]);
}

#[test]
fn a_run_left_without_a_bar_by_infinite_values_is_said_in_the_header() {
    let runs = vec![
        (
            run(0, &[], &["score"]),
            vec![("score", by_step(&[(0, 0.5)]))],
        ),
        (
            run(1, &[], &["score"]),
            vec![("score", by_step(&[(0, f64::NEG_INFINITY)]))],
        ),
    ];
    let mut h = charts_harness(data_of(runs, ChartOptions::default()));
    step_until(&mut h, "the bar", |s| {
        s.charts.shown_bars.contains_key("score")
    });
    assert_eq!(
        h.state().charts.shown_bars["score"],
        [("run-0".to_string(), 0.5)]
    );
    h.get_by_label("⚠ 1 inf");
}

#[test]
fn a_grouped_card_exports_its_bands_as_csv_and_itself_as_png() {
    let mut options = with_layout(
        ChartOptions::default(),
        vec![CardSpec {
            metrics: vec!["val/loss".into()],
            ..CardSpec::default()
        }],
    );
    options.group_by = vec![GroupKey::Attribute("status".into())];
    let mut h = charts_harness(data_of(two_runs(), options));
    step_until(&mut h, "the band", |s| {
        s.charts
            .shown_lines
            .get("val/loss")
            .is_some_and(|l| l.len() == 1)
    });
    button_of(&h, "val/loss", "CSV").click();
    h.run_steps(2);
    let csv = h
        .state()
        .commands
        .iter()
        .find_map(|c| match c {
            Command::SaveAs { file_name, bytes } => Some((file_name.clone(), bytes.clone())),
            _ => None,
        })
        .expect("the CSV button saves a file");
    assert_eq!(csv.0, "val_loss-groups.csv");
    // val/loss: step 0: 5 and 7; step 1: 6.5 only; step 2: 3.5 and 2.5.
    assert_eq!(
        String::from_utf8(csv.1).unwrap(),
        "group,metric,step,runs,mean,median,min,max,std\n\
         status=FINISHED,val/loss,0,2,6,6,5,7,1\n\
         status=FINISHED,val/loss,1,1,6.5,6.5,6.5,6.5,0\n\
         status=FINISHED,val/loss,2,2,3,3,2.5,3.5,0.5\n"
    );
    button_of(&h, "val/loss", "PNG").click();
    h.run_steps(2);
    assert!(
        h.state().commands.iter().any(|c| matches!(
            c,
            Command::ExportPng { file_name, .. } if file_name == "val_loss.png"
        )),
        "the PNG button exports the card"
    );
}

#[test]
fn another_metric_as_x_pairs_the_points_by_step() {
    let options = with_layout(
        ChartOptions::default(),
        vec![CardSpec {
            metrics: vec!["train/loss".into()],
            x_metric: Some("lr".into()),
            ..CardSpec::default()
        }],
    );
    let mut h = charts_harness(data_of(two_runs(), options));
    h.run_steps(4);
    let id = "train/loss vs lr";
    assert_eq!(h.state().charts.shown_lines[id], ["run-0", "run-1"]);
    // x is lr (0.01 to 0.2), not the step (0 to 2).
    let (x0, x1) = h.state().charts.visible_x(id).expect("drawn");
    assert!(
        (-0.05..=0.01).contains(&x0) && (0.2..0.3).contains(&x1),
        "{x0}..{x1}"
    );
    // Pointing at run-1's step 1 point (lr 0.1, loss 5) names it.
    let (px, py) = h
        .state()
        .charts
        .paired_screen(id, "run-1", 1)
        .expect("point");
    h.hover_at(egui::pos2(px + 2.0, py + 2.0));
    h.run_steps(3);
    assert_eq!(
        h.state().charts.paired_hovered,
        Some(("run-1".to_string(), 1, 0.1, 5.0))
    );
}

#[test]
fn choosing_x_in_the_menu_makes_the_card_a_pairing() {
    let mut h = charts_harness(data_of(two_runs(), ChartOptions::default()));
    h.run_steps(4);
    open_menu_of(&mut h, "train/loss");
    h.get_by_label("x: the charts' axis").click();
    h.run_steps(3);
    h.get_by_role_and_label(Role::Button, "lr").click();
    h.run_steps(4);
    assert_eq!(this_layout(&h).cards[1].x_metric.as_deref(), Some("lr"));
}

// ----- bars -------------------------------------------------------------------------------------

fn three_runs_in_two_groups() -> Vec<RunHistories> {
    vec![
        (
            run(0, &[("opt", "adam")], &["acc"]),
            vec![("acc", by_step(&[(0, 0.5), (1, 0.9), (2, 0.7)]))],
        ),
        (
            run(1, &[("opt", "adam")], &["acc"]),
            vec![("acc", by_step(&[(0, 0.2), (1, 0.4)]))],
        ),
        (
            run(2, &[("opt", "sgd")], &["acc"]),
            vec![("acc", by_step(&[(0, 0.6), (1, 0.65), (2, f64::NAN)]))],
        ),
    ]
}

#[test]
fn bars_of_a_summary_per_run_are_sorted_from_the_highest() {
    let bars = |summary| {
        with_layout(
            ChartOptions::default(),
            vec![CardSpec {
                metrics: vec!["acc".into()],
                kind: CardKind::Bars,
                summary,
                ..CardSpec::default()
            }],
        )
    };
    let shown = |summary: Summary| {
        let mut h = charts_harness(data_of(three_runs_in_two_groups(), bars(summary)));
        h.run_steps(4);
        let id = format!("acc (bars: {})", summary.label());
        h.state().charts.shown_bars[&id].clone()
    };
    let named = |v: &[(&str, f64)]| -> Vec<(String, f64)> {
        v.iter().map(|(n, x)| (n.to_string(), *x)).collect()
    };
    assert_eq!(
        shown(Summary::Max),
        named(&[("run-0", 0.9), ("run-2", 0.65), ("run-1", 0.4)])
    );
    assert_eq!(
        shown(Summary::Min),
        named(&[("run-2", 0.6), ("run-0", 0.5), ("run-1", 0.2)])
    );
    // The last value of run-2 is NaN: no bar.
    assert_eq!(
        shown(Summary::Last),
        named(&[("run-0", 0.7), ("run-1", 0.4)])
    );
    let mean = shown(Summary::Mean);
    assert_eq!(mean[0].0, "run-0");
    assert!((mean[0].1 - 0.7).abs() < 1e-12);
    assert!((mean[1].1 - 0.625).abs() < 1e-12);
    assert!((mean[2].1 - 0.3).abs() < 1e-12);
}

#[test]
fn grouped_bars_are_the_groups_mean_of_their_runs_summaries() {
    let mut options = with_layout(
        ChartOptions::default(),
        vec![CardSpec {
            metrics: vec!["acc".into()],
            kind: CardKind::Bars,
            summary: Summary::Max,
            ..CardSpec::default()
        }],
    );
    options.group_by = vec![GroupKey::Param("opt".into())];
    let mut h = charts_harness(data_of(three_runs_in_two_groups(), options));
    h.run_steps(4);
    let bars = &h.state().charts.shown_bars["acc (bars: max)"];
    // adam: max 0.9 and 0.4, mean 0.65; sgd: 0.65. Equal: either order.
    assert_eq!(bars.len(), 2);
    let adam = bars.iter().find(|b| b.0 == "opt=adam").expect("adam");
    assert!((adam.1 - 0.65).abs() < 1e-12);
    let sgd = bars.iter().find(|b| b.0 == "opt=sgd").expect("sgd");
    assert!((sgd.1 - 0.65).abs() < 1e-12);
}

#[test]
fn a_metric_logged_once_defaults_to_sorted_bars() {
    let runs = vec![
        (
            run(0, &[], &["test/acc"]),
            vec![("test/acc", by_step(&[(0, 0.8)]))],
        ),
        (
            run(1, &[], &["test/acc"]),
            vec![("test/acc", by_step(&[(0, 0.9)]))],
        ),
        (
            run(2, &[], &["test/acc"]),
            vec![("test/acc", by_step(&[(0, 0.7)]))],
        ),
    ];
    let mut h = charts_harness(data_of(runs, ChartOptions::default()));
    h.run_steps(4);
    let names: Vec<&str> = h.state().charts.shown_bars["test/acc"]
        .iter()
        .map(|b| b.0.as_str())
        .collect();
    assert_eq!(names, ["run-1", "run-0", "run-2"]);
}

#[test]
fn the_menu_turns_a_card_into_bars_of_the_chosen_summary() {
    let mut h = charts_harness(data_of(three_runs_in_two_groups(), ChartOptions::default()));
    h.run_steps(4);
    open_menu_of(&mut h, "acc");
    h.get_by_label("bars").click();
    h.run_steps(3);
    // The card is a bar card now: its menu again.
    h.key_press(egui::Key::Escape);
    h.run_steps(3);
    open_menu_of(&mut h, "acc (bars: last)");
    h.get_by_label("min").click();
    h.run_steps(3);
    h.key_press(egui::Key::Escape);
    h.run_steps(4);
    let card = &this_layout(&h).cards[0];
    assert_eq!((card.kind, card.summary), (CardKind::Bars, Summary::Min));
    assert_eq!(h.state().charts.bar_cards, ["acc (bars: min)"]);
}

// ----- cards added, removed, resized, reordered; the layout kept per store and experiment -------

fn ids(h: &Harness<'static, ChartsState>) -> Vec<String> {
    h.state().charts.shown_keys.clone()
}

#[test]
fn cards_are_added_removed_resized_and_reordered_from_their_menus() {
    let mut h = charts_harness(data_of(two_runs(), ChartOptions::default()));
    h.run_steps(4);
    assert_eq!(ids(&h), ["lr", "train/loss", "val/loss"]);
    // val/loss one step earlier.
    open_menu_of(&mut h, "val/loss");
    h.get_by_label("◀ earlier").click();
    h.run_steps(4);
    assert_eq!(ids(&h), ["lr", "val/loss", "train/loss"]);
    // lr later.
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    open_menu_of(&mut h, "lr");
    h.get_by_label("later ▶").click();
    h.run_steps(4);
    assert_eq!(ids(&h), ["val/loss", "lr", "train/loss"]);
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    // lr removed.
    open_menu_of(&mut h, "lr");
    h.get_by_label("Remove chart").click();
    h.run_steps(4);
    assert_eq!(ids(&h), ["val/loss", "train/loss"]);
    // train/loss twice as wide and tall: a row of its own, twice the plot.
    let narrow = h.state().charts.plot_width("train/loss").expect("drawn");
    open_menu_of(&mut h, "train/loss");
    h.get_by_label("2").click();
    h.run_steps(3);
    h.key_press(egui::Key::Escape);
    h.run_steps(3);
    open_menu_of(&mut h, "train/loss");
    h.get_by_label("×2").click();
    h.run_steps(4);
    h.key_press(egui::Key::Escape);
    h.run_steps(4);
    let card = this_layout(&h).cards[1].clone();
    assert_eq!((card.width, card.height), (2, 2));
    let wide = h.state().charts.plot_width("train/loss").expect("drawn");
    assert!(wide > narrow * 1.8, "{narrow} -> {wide}");
    // "+ chart" adds lr back, at the end.
    h.get_by_label("+ chart").click();
    h.run_steps(3);
    h.get_by_role_and_label(Role::Button, "lr").click();
    h.run_steps(4);
    assert_eq!(ids(&h), ["val/loss", "train/loss", "lr"]);
    // Reset: a card per key again.
    h.get_by_label("reset charts").click();
    h.run_steps(4);
    assert_eq!(ids(&h), ["lr", "train/loss", "val/loss"]);
    assert!(h.state().data.persisted.charts.layouts.is_empty());
}

fn press(h: &mut Harness<'static, ChartsState>, pos: egui::Pos2, pressed: bool) {
    h.event(egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: egui::Modifiers::NONE,
    });
}

/// Drags the card titled `from` by its title and drops it on the card titled `onto`.
fn drag_card(h: &mut Harness<'static, ChartsState>, from: &str, onto: &str) {
    let start = h.get_by_label(from).rect().center();
    let target = h.get_by_label(onto).rect().center() + egui::vec2(40.0, 120.0);
    h.hover_at(start);
    h.run_steps(1);
    press(h, start, true);
    h.run_steps(1);
    for k in 1..=10 {
        h.hover_at(start + (target - start) * (k as f32 / 10.0));
        h.run_steps(1);
    }
    press(h, target, false);
    h.run_steps(4);
}

#[test]
fn a_card_dragged_by_its_title_onto_another_takes_its_place() {
    let mut h = charts_harness(data_of(two_runs(), ChartOptions::default()));
    h.run_steps(4);
    assert_eq!(ids(&h), ["lr", "train/loss", "val/loss"]);
    drag_card(&mut h, "val/loss", "lr");
    assert_eq!(ids(&h), ["val/loss", "lr", "train/loss"]);
    drag_card(&mut h, "val/loss", "train/loss");
    assert_eq!(ids(&h), ["lr", "train/loss", "val/loss"]);
    assert_eq!(this_layout(&h).cards.len(), 3);
}

#[test]
fn each_store_and_experiment_has_its_own_layout() {
    let options = with_layout(ChartOptions::default(), vec![CardSpec::of_key("val/loss")]);
    let mut h = charts_harness(data_of(two_runs(), options));
    h.run_steps(4);
    // The layout of experiment 0 of this store: its card, then the others.
    assert_eq!(ids(&h), ["val/loss", "lr", "train/loss"]);
    // Another store, same experiment id: the default cards.
    h.state_mut().data.store_key = Some("/tmp/store-b".into());
    h.run_steps(4);
    assert_eq!(ids(&h), ["lr", "train/loss", "val/loss"]);
    // Another experiment of the first store: the default cards too.
    h.state_mut().data.store_key = Some(STORE.into());
    h.state_mut().data.selected_experiments = ["1".to_string()].into();
    h.run_steps(4);
    assert_eq!(ids(&h), ["lr", "train/loss", "val/loss"]);
}

/// eframe's storage kept in memory: what the viewer saves when it closes, read at the next start.
#[derive(Default)]
struct MemoryStorage(BTreeMap<String, String>);

impl eframe::Storage for MemoryStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

fn settle(h: &mut Harness<'static, App>) {
    support_viewer::settle_within(h, Duration::from_secs(30));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

fn demo_app(root: &Path, persisted: Persisted) -> Harness<'static, App> {
    let app = App::new(
        ViewerOptions {
            store: Some(root.display().to_string()),
            read_only: true,
        },
        persisted,
    );
    let mut h = support_viewer::harness(app);
    settle(&mut h);
    h.state_mut().send(Command::SetTab(Tab::Charts));
    settle(&mut h);
    h
}

#[test]
fn the_chart_layout_of_the_demo_sweep_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/mlruns"),
        &root,
    );
    let mut h = demo_app(&root, Persisted::default());
    let shown = h.state().charts().shown_keys.clone();
    assert!(shown.contains(&"val/loss".to_string()), "{shown:?}");
    // val/loss into the train/loss card, via its menu.
    menu_button_of(&h, "train/loss").click();
    settle(&mut h);
    h.get_by_role_and_label(Role::CheckBox, "val/loss").click();
    settle(&mut h);
    h.key_press(egui::Key::Escape);
    settle(&mut h);
    let before = h.state().charts().shown_keys.clone();
    assert!(
        before.contains(&"train/loss + val/loss".to_string()),
        "{before:?}"
    );
    let layouts = h.state_mut().persisted_mut().charts.layouts.clone();
    assert_eq!(layouts.len(), 1);
    let key = layouts.keys().next().unwrap().clone();
    assert!(key.starts_with(&root.display().to_string()), "{key}");

    let mut storage = MemoryStorage::default();
    eframe::App::save(h.state_mut(), &mut storage);
    drop(h);
    let h = demo_app(&root, App::load_persisted(Some(&storage)));
    assert_eq!(h.state().charts().shown_keys, before);
    assert!(
        h.state().charts().shown_lines["train/loss + val/loss"]
            .iter()
            .any(|n| n.ends_with(" · val/loss"))
    );
}

// ----- group bands over time bins on a time axis --------------------------------------------------

/// Steps frames until `done` holds (bands are computed on a thread of their own).
fn step_until<S>(h: &mut Harness<'static, S>, what: &str, done: impl Fn(&S) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done(h.state()) {
        assert!(Instant::now() < deadline, "{what} did not happen");
        h.step();
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Two runs of one group logging at different steps and at different times after their start:
/// run 0 at steps 0..3 at 0, 1, 2, 3 s; run 1 at steps 10..13 at 0, 1.2, 2.2, 3 s.
fn other_times_other_steps() -> Vec<RunHistories> {
    let keys = ["loss"];
    vec![
        (
            run(0, &[("opt", "adam")], &keys),
            vec![(
                "loss",
                vec![(0, 0, 1.0), (1, 1000, 2.0), (2, 2000, 3.0), (3, 3000, 4.0)],
            )],
        ),
        (
            run(1, &[("opt", "adam")], &keys),
            vec![(
                "loss",
                vec![
                    (10, 0, 5.0),
                    (11, 1200, 6.0),
                    (12, 2200, 7.0),
                    (13, 3000, 8.0),
                ],
            )],
        ),
    ]
}

#[test]
fn on_relative_time_group_bands_are_computed_over_time_bins_of_every_point() {
    let options = ChartOptions {
        x_axis: XAxis::Relative,
        group_by: vec![GroupKey::Param("opt".into())],
        ..ChartOptions::default()
    };
    let mut h = charts_harness(data_of(other_times_other_steps(), options));
    step_until(&mut h, "the band", |s| {
        s.charts.group_state().band("loss", "opt=adam").is_some()
    });
    let b = h
        .state()
        .charts
        .group_state()
        .band("loss", "opt=adam")
        .unwrap();
    // Four points a run: two bins of the 0..3 s span, [0, 1.5) and [1.5, 3]. The first holds
    // 1, 2 (run 0 at 0 and 1 s) and 5, 6 (run 1 at 0 and 1.2 s); the second 3, 4, 7, 8.
    assert_eq!(b.steps, vec![0.75, 2.25]);
    assert_eq!(b.count, vec![4, 4]);
    assert_eq!(b.mean, vec![3.5, 5.5]);
    assert_eq!(b.min, vec![1.0, 3.0]);
    assert_eq!(b.max, vec![6.0, 8.0]);
    assert_eq!(b.median, vec![3.5, 5.5]);
    let var: f64 = [1.0f64, 2.0, 5.0, 6.0]
        .iter()
        .map(|v| (v - 3.5).powi(2))
        .sum::<f64>()
        / 4.0;
    assert!((b.std[0] - var.sqrt()).abs() < 1e-12);
    // On the step axis the same runs share no step: eight steps of one run each.
    let options = h.state().data.persisted.charts.clone();
    h.state_mut().data.persisted.charts = ChartOptions {
        x_axis: XAxis::Step,
        ..options
    };
    step_until(&mut h, "the band by step", |s| {
        s.charts
            .group_state()
            .band("loss", "opt=adam")
            .is_some_and(|b| b.steps.len() == 8)
    });
}

#[test]
fn a_band_has_about_two_points_of_a_typical_run_per_time_bin() {
    let of_len = |n: usize| Arc::new(series(&vec![(0, 0, 1.0); n]));
    assert_eq!(time_bins(&[of_len(4), of_len(4)]), 2);
    assert_eq!(time_bins(&[of_len(1)]), 1);
    assert_eq!(time_bins(&[of_len(10), of_len(300), of_len(5000)]), 150);
    assert_eq!(time_bins(&[of_len(100_000)]), TIME_BINS);
}

#[test]
fn time_bins_take_every_point_of_wall_time() {
    let s = |points: &[(i64, f64)]| {
        Arc::new(series(
            &points.iter().map(|&(t, v)| (0, t, v)).collect::<Vec<_>>(),
        ))
    };
    // Wall time 0..10 s in 2 bins: [0, 5) and [5, 10]; NaN left out.
    let b = aggregate_time(
        &[
            s(&[(0, 1.0), (2_000, 5.0), (9_000, 2.0)]),
            s(&[
                (4_999, 3.0),
                (5_000, f64::NAN),
                (10_000, 10.0),
                (7_000, 6.0),
            ]),
        ],
        XAxis::WallTime,
        2,
    );
    let t0 = 1_700_000_000.0;
    assert_eq!(b.steps, vec![t0 + 2.5, t0 + 7.5]);
    assert_eq!(b.count, vec![3, 3]);
    assert_eq!(b.mean, vec![3.0, 6.0]);
    assert_eq!(b.min, vec![1.0, 2.0]);
    assert_eq!(b.max, vec![5.0, 10.0]);
    assert_eq!(b.median, vec![3.0, 6.0]);
}
