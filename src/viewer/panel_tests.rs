//! Panels drawn on a hand-built [`ViewData`] with egui_kittest: no app, no worker thread, no
//! store. Each test checks what a panel shows and the commands it sends, which are the only
//! way it can change anything. (Panels waiting for the worker show spinners, which repaint for
//! ever: those tests step a fixed number of frames.)

use std::collections::BTreeMap;
use std::sync::Arc;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use crate::model::{LifecycleStage, Metric, Run, RunData, RunInfo, RunInputs, RunStatus};

use super::artifact_preview::{ArtifactEntry, Extent, Preview};
use super::artifacts_panel::ArtifactsPanel;
use super::cache::Entry;
use super::charts::Charts;
use super::commands::{Command, SelectMode};
use super::context::ViewData;
use super::runs_model::{ColumnId, Row, RunSet};
use super::runs_table::RunsTable;
use super::settings::Persisted;
use super::text_view::TextDoc;
use super::worker::{ArtifactRoot, Series};

const ARTIFACT_URI: &str = "file:///tmp/mlruns/1/r1/artifacts";

fn run(id: &str, name: &str, metrics: &[(&str, f64)]) -> Arc<Run> {
    Arc::new(Run {
        info: RunInfo {
            run_id: id.into(),
            run_name: name.into(),
            experiment_id: "1".into(),
            user_id: "tester".into(),
            status: RunStatus::Finished,
            start_time: Some(1_700_000_000_000),
            end_time: Some(1_700_000_060_000),
            artifact_uri: format!("file:///tmp/mlruns/1/{id}/artifacts"),
            lifecycle_stage: LifecycleStage::Active,
        },
        data: RunData {
            metrics: metrics
                .iter()
                .map(|(k, v)| (k.to_string(), Metric::new(*k, *v, 1_700_000_000_000, 3)))
                .collect::<BTreeMap<_, _>>(),
            ..RunData::default()
        },
        inputs: RunInputs::default(),
    })
}

/// Data as the app would hold it: the runs of experiment 1 loaded, shown in store order.
fn data_with(runs: Vec<Arc<Run>>) -> ViewData {
    let mut data = ViewData::new(Persisted::default(), false);
    data.selected_experiments = ["1".to_string()].into();
    data.rows.rows = (0..runs.len())
        .map(|run| Row {
            run,
            depth: 0,
            has_children: false,
            context_only: false,
        })
        .collect();
    data.runs.entry = Entry::Ready(Arc::new(RunSet::new(runs, 1)));
    data
}

/// A panel, the data it reads, and every command it sent so far.
struct Bench<P> {
    data: ViewData,
    panel: P,
    sent: Vec<Command>,
}

fn harness<P: 'static>(
    data: ViewData,
    panel: P,
    show: fn(&mut P, &mut egui::Ui, &super::context::ViewCtx),
) -> Harness<'static, Bench<P>> {
    Harness::builder()
        .with_size(egui::vec2(1200.0, 700.0))
        .build_ui_state(
            move |ui, b: &mut Bench<P>| {
                let ctx = b.data.ctx();
                show(&mut b.panel, ui, &ctx);
                b.sent.extend(ctx.into_commands());
            },
            Bench {
                data,
                panel,
                sent: Vec::new(),
            },
        )
}

#[test]
fn the_runs_table_shows_rows_and_asks_for_selection_and_sorting_by_command() {
    let runs = vec![
        run("r1", "alpha", &[("loss", 0.5)]),
        run("r2", "beta", &[("loss", 0.25)]),
        run("r3", "gamma", &[("loss", 0.125)]),
    ];
    let mut h = harness(data_with(runs), RunsTable::default(), RunsTable::show);
    h.run();
    for name in ["alpha", "beta", "gamma"] {
        h.get_by_label(name);
    }
    // A differing metric is a default column, with 5 significant digits.
    h.get_by_label("0.125");
    h.get_by_label("beta").click();
    h.run();
    h.get_by_label_contains("loss").click();
    h.run();
    let sent = &h.state().sent;
    assert!(
        sent.contains(&Command::SelectRun {
            run_id: "r2".into(),
            mode: SelectMode::Replace,
        }),
        "{sent:?}"
    );
    assert!(
        sent.contains(&Command::SortBy {
            column: ColumnId::Metric("loss".into()),
            add: false,
        }),
        "{sent:?}"
    );
    // The panel only asked: the data is what it was.
    assert!(h.state().data.selection.is_empty());
    assert!(h.state().data.sort.is_empty());
}

#[test]
fn charts_draw_a_card_per_key_and_ask_only_for_missing_histories() {
    let runs = vec![run("r1", "alpha", &[("acc", 0.9), ("loss", 0.5)])];
    let mut data = data_with(runs);
    data.selection = ["r1".to_string()].into();
    data.histories.set_ready(
        ("r1".into(), "loss".into()),
        Series {
            steps: vec![0, 1, 2, 3],
            timestamps: vec![0, 1, 2, 3],
            values: vec![2.0, 1.0, 0.7, 0.5],
            offset: None,
        },
    );
    let mut h = harness(data, Charts::default(), Charts::show);
    h.run_steps(4);
    assert_eq!(h.state().panel.shown_keys, ["acc", "loss"]);
    assert_eq!(h.state().panel.cards_drawn, 2);
    h.get_by_label("acc");
    h.get_by_label("loss");
    let wanted: Vec<&Command> = h
        .state()
        .sent
        .iter()
        .filter(|c| matches!(c, Command::LoadHistories { .. }))
        .collect();
    assert!(!wanted.is_empty());
    for c in wanted {
        assert_eq!(
            *c,
            Command::LoadHistories {
                run_ids: vec!["r1".into()],
                keys: vec!["acc".into()],
            }
        );
    }
}

#[test]
fn the_artifacts_panel_asks_for_listings_and_previews_by_command() {
    let runs = vec![run("r1", "alpha", &[])];
    let mut data = data_with(runs);
    data.selection = ["r1".to_string()].into();
    let mut h = harness(data, ArtifactsPanel::default(), ArtifactsPanel::show);
    h.run_steps(4);
    let root = ArtifactRoot {
        run_id: "r1".into(),
        experiment_id: "1".into(),
        artifact_uri: ARTIFACT_URI.into(),
    };
    assert!(
        h.state().sent.contains(&Command::ListArtifacts {
            root: root.clone(),
            path: String::new(),
        }),
        "{:?}",
        h.state().sent
    );
    // The worker's answer arrives: a file to preview.
    let key = (ARTIFACT_URI.to_string(), String::new());
    h.state_mut().data.artifact_lists.set_ready(
        key,
        vec![ArtifactEntry {
            path: "notes.txt".into(),
            is_dir: false,
            size: Some(5),
        }],
    );
    h.state_mut().sent.clear();
    h.run_steps(4);
    h.get_by_label_contains("notes.txt").click();
    h.run_steps(4);
    assert!(
        h.state().sent.contains(&Command::PreviewArtifact {
            root: root.clone(),
            path: "notes.txt".into(),
        }),
        "{:?}",
        h.state().sent
    );
    h.state_mut().data.artifact_previews.set_ready(
        (ARTIFACT_URI.to_string(), "notes.txt".into()),
        Preview::Text {
            doc: TextDoc::new("hello".into()),
            extent: Extent { read: 5, total: 5 },
            language: "text",
            problem: None,
        },
    );
    h.run_steps(4);
    h.get_by_label("Open externally").click();
    h.run_steps(4);
    assert!(h.state().sent.contains(&Command::OpenArtifact {
        root,
        path: "notes.txt".into(),
    }));
}
