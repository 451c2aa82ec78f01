//! Chart cards of noisy runs (issue 15): a card of two metrics, a card of one metric against
//! another and a bar card, over runs of 10,000 noisy steps. What a frame of them draws is bounded
//! by the cards' pixels, not by the points: dense stretches of a line are a mesh of pixel-column
//! spans, dense paired paths a raster of the card. Counted on the tessellated output of real
//! frames of the Charts panel (vertices, not time).

#![cfg(feature = "viewer")]

use std::sync::Arc;

use mlscope::model::{LifecycleStage, Metric, Run, RunData, RunInfo, RunInputs, RunStatus};
use mlscope::viewer::Persisted;
use mlscope::viewer::testing::{
    CardKind, CardSpec, ChartLayout, Charts, Entry, Row, RunSet, Series, Summary, ViewData,
    layout_key,
};

const SCREEN: egui::Vec2 = egui::vec2(1400.0, 800.0);
const STEPS: usize = 10_000;

fn run(k: usize) -> Arc<Run> {
    Arc::new(Run {
        info: RunInfo {
            run_id: format!("{k:032x}"),
            run_name: format!("run-{k:05}"),
            experiment_id: "0".into(),
            user_id: "test".into(),
            status: RunStatus::Finished,
            start_time: Some(1_700_000_000_000),
            end_time: None,
            artifact_uri: String::new(),
            lifecycle_stage: LifecycleStage::Active,
        },
        data: RunData {
            metrics: ["loss", "val_loss"]
                .into_iter()
                .map(|m| (m.to_string(), Metric::new(m, 1.0, 0, 0)))
                .collect(),
            ..RunData::default()
        },
        inputs: RunInputs::default(),
    })
}

/// A decreasing curve with noise of about a tenth of its start (as `compare_views`).
fn noisy(k: usize) -> Series {
    Series {
        steps: (0..STEPS as i64).collect(),
        timestamps: (0..STEPS as i64)
            .map(|i| 1_700_000_000_000 + i * 100)
            .collect(),
        values: (0..STEPS)
            .map(|i| {
                let noise =
                    ((i.wrapping_mul(2_654_435_761) ^ k.wrapping_mul(40_503)) % 1000) as f64 / 1e4;
                (1.0 + (k % 20) as f64 * 0.05) / (1.0 + i as f64 * 1e-3) + noise
            })
            .collect(),
        offset: None,
    }
}

/// `n` runs charted in three cards: loss and val_loss, val_loss against loss, bars of max loss.
fn cards_of(n: usize) -> ViewData {
    let runs: Vec<Arc<Run>> = (0..n).map(run).collect();
    let mut data = ViewData::new(Persisted::default(), true);
    for (k, r) in runs.iter().enumerate() {
        let id = r.info.run_id.clone();
        data.histories
            .set_ready((id.clone(), "loss".into()), noisy(k));
        data.histories
            .set_ready((id.clone(), "val_loss".into()), noisy(k + 7));
        data.selection.insert(id);
    }
    data.rows.rows = (0..n)
        .map(|i| Row {
            run: i,
            depth: 0,
            has_children: false,
            context_only: false,
        })
        .collect();
    data.selected_experiments.insert("0".into());
    data.runs.entry = Entry::Ready(Arc::new(RunSet::new(runs, 1)));
    data.persisted.charts.layouts.insert(
        layout_key("", &data.selected_experiments),
        ChartLayout {
            cards: cards().to_vec(),
            ..ChartLayout::default()
        },
    );
    data
}

/// The three cards.
fn cards() -> [CardSpec; 3] {
    [
        CardSpec {
            metrics: vec!["loss".into(), "val_loss".into()],
            ..CardSpec::default()
        },
        CardSpec {
            metrics: vec!["val_loss".into()],
            x_metric: Some("loss".into()),
            ..CardSpec::default()
        },
        CardSpec {
            metrics: vec!["loss".into()],
            kind: CardKind::Bars,
            summary: Summary::Max,
            ..CardSpec::default()
        },
    ]
}

/// Draws frames of the Charts panel until every line is prepared and drawn; the vertices of the
/// last frame's tessellated meshes.
fn vertices_of_a_frame(n: usize) -> usize {
    let data = cards_of(n);
    let [two, paired, _] = cards().map(|c| c.title());
    let mut charts = Charts::default();
    let ctx = egui::Context::default();
    let mut vertices = 0;
    let mut time = 0.0;
    for _ in 0..200 {
        time += 1.0 / 60.0;
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, SCREEN)),
            time: Some(time),
            ..Default::default()
        };
        let mut out = ctx.run_ui(input, |ui| {
            egui::CentralPanel::default().show(ui, |ui| charts.show(ui, &data.ctx()));
        });
        out.textures_delta.clear();
        let shapes = std::mem::take(&mut out.shapes);
        let prims = ctx.tessellate(shapes, out.pixels_per_point);
        vertices = prims
            .iter()
            .map(|p| match &p.primitive {
                egui::epaint::Primitive::Mesh(m) => m.vertices.len(),
                egui::epaint::Primitive::Callback(_) => 0,
            })
            .sum();
        let lines = |title: &str| charts.shown_lines.get(title).map(Vec::len);
        if lines(&two) == Some(2 * n) && lines(&paired) == Some(n) && !ctx.has_requested_repaint() {
            break;
        }
    }
    assert_eq!(charts.shown_lines.get(&two).map(Vec::len), Some(2 * n));
    assert_eq!(charts.shown_lines.get(&paired).map(Vec::len), Some(n));
    vertices
}

#[test]
fn a_frame_of_noisy_runs_draws_what_the_cards_pixels_show_not_every_zig_zag() {
    // Drawn as paths, 20 noisy runs made 1.7-2.2 million vertices a frame (the paired card
    // 1.3 million, the card of two metrics 436,000).
    let twenty = vertices_of_a_frame(20);
    assert!(twenty < 250_000, "20 runs: {twenty} vertices");
    // Twice the runs: the lines' columns double, the paired card's raster does not.
    let forty = vertices_of_a_frame(40);
    assert!(
        forty < 2 * twenty,
        "40 runs: {forty} vertices, 20 runs: {twenty}"
    );
}
