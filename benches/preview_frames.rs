//! Artifact previews at real sizes: frame times of the preview widgets with
//!
//! 1. a 200,000-column CSV (about 2.6 MB) loaded whole, in the virtualised table;
//! 2. a 1,000,000-row MLflow `log_table` JSON (split orient, about 27 MB) loaded whole, in the
//!    virtualised table;
//! 3. a 50 MB single-line text file loaded whole, in the text view (wrapped).
//!
//! Each file is written to a temp dir and read by the worker's reader (`read_preview`, timed),
//! then shown in an egui context for `FRAMES` frames (default 120) while scrolling sideways and
//! down; each frame is the UI pass and its tessellation (the CPU side of a frame, no GPU).
//! Target: under 16 ms per frame.
//!
//! `cargo bench --bench preview_frames` (measures only with `--bench`; `cargo test` runs it as a
//! no-op). `MLSCOPE_BENCH_FRAMES` sets the frame count.

mod common;

use std::time::{Duration, Instant};

use mlscope::artifacts::LocalArtifactRepository;
use mlscope::viewer::testing::{
    Preview, ReadLimit, TableView, TextView, TextViewState, read_preview,
};

const SCREEN: egui::Vec2 = egui::vec2(1400.0, 900.0);

struct Driver {
    ctx: egui::Context,
    time: f64,
}

impl Driver {
    fn new() -> Driver {
        Driver {
            ctx: egui::Context::default(),
            time: 0.0,
        }
    }

    /// One frame showing `ui_fn` with `events`; its time (UI pass and tessellation).
    fn frame(
        &mut self,
        events: Vec<egui::Event>,
        ui_fn: &mut dyn FnMut(&mut egui::Ui),
    ) -> Duration {
        self.time += 1.0 / 60.0;
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, SCREEN)),
            time: Some(self.time),
            events,
            ..Default::default()
        };
        let started = Instant::now();
        let mut out = self.ctx.run_ui(input, |ui| {
            egui::CentralPanel::default().show(ui, |ui| ui_fn(ui));
        });
        let shapes = std::mem::take(&mut out.shapes);
        let prims = self.ctx.tessellate(shapes, out.pixels_per_point);
        let took = started.elapsed();
        out.textures_delta.clear();
        std::hint::black_box(prims);
        took
    }
}

/// Frames while scrolling: the pointer over the view, a wheel step each frame (down and
/// sideways).
fn scroll_frames(frames: usize, ui_fn: &mut dyn FnMut(&mut egui::Ui)) -> (Duration, Vec<Duration>) {
    let mut d = Driver::new();
    let first = d.frame(
        vec![egui::Event::PointerMoved(egui::pos2(700.0, 450.0))],
        ui_fn,
    );
    let mut times = Vec::with_capacity(frames);
    for i in 0..frames {
        let delta = if i % 2 == 0 {
            egui::vec2(0.0, -900.0)
        } else {
            egui::vec2(-1400.0, 0.0)
        };
        let events = vec![
            egui::Event::PointerMoved(egui::pos2(700.0, 450.0)),
            egui::Event::MouseWheel {
                unit: egui::MouseWheelUnit::Point,
                delta,
                modifiers: egui::Modifiers::NONE,
                phase: egui::TouchPhase::Move,
                source: egui::MouseWheelSource::Wheel,
            },
        ];
        times.push(d.frame(events, ui_fn));
    }
    times.sort();
    (first, times)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn report(name: &str, read: Duration, (first, times): (Duration, Vec<Duration>)) {
    let pct = |p: f64| ms(times[((times.len() - 1) as f64 * p).round() as usize]);
    println!(
        "{name}: read {:.0} ms; first frame {:.2} ms; {} frames scrolling: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        ms(read),
        ms(first),
        times.len(),
        pct(0.5),
        pct(0.95),
        ms(*times.last().unwrap_or(&Duration::ZERO)),
    );
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let frames = common::env_usize("MLSCOPE_BENCH_FRAMES", 120);
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = LocalArtifactRepository::new(dir.path().to_path_buf());

    // 1. 200,000 columns.
    let columns = 200_000;
    let mut csv = (0..columns)
        .map(|i| format!("c{i}"))
        .collect::<Vec<_>>()
        .join(",");
    csv.push('\n');
    for r in 0..5 {
        csv += &(0..columns)
            .map(|i| ((r * 7 + i) % 10).to_string())
            .collect::<Vec<_>>()
            .join(",");
        csv.push('\n');
    }
    std::fs::write(dir.path().join("wide.csv"), &csv).expect("write wide.csv");
    let started = Instant::now();
    let preview = read_preview(&repo, "wide.csv", ReadLimit::Whole).expect("read wide.csv");
    let read = started.elapsed();
    let Preview::Table { table, .. } = preview else {
        panic!("wide.csv is not a table");
    };
    assert_eq!(table.column_count(), columns);
    report(
        &format!(
            "CSV, {columns} columns × 5 rows ({:.1} MB)",
            csv.len() as f64 / 1e6
        ),
        read,
        scroll_frames(frames, &mut |ui| {
            TableView::new(&table).id_salt("wide").show(ui);
        }),
    );
    drop(table);

    // 2. 1,000,000 rows of a split-orient table.
    let rows = 1_000_000;
    let mut json = String::from("{\"columns\":[\"id\",\"text\",\"score\",\"label\"],\"data\":[");
    for i in 0..rows {
        if i > 0 {
            json.push(',');
        }
        json += &format!("[{i},\"sample {i}\",{},{}]", i as f64 / rows as f64, i % 3);
    }
    json.push_str("]}");
    std::fs::write(dir.path().join("table.json"), &json).expect("write table.json");
    let started = Instant::now();
    let preview = read_preview(&repo, "table.json", ReadLimit::Whole).expect("read table.json");
    let read = started.elapsed();
    let Preview::Table { table, .. } = preview else {
        panic!("table.json is not a table");
    };
    assert_eq!(table.row_count(), rows);
    report(
        &format!(
            "log_table JSON, {rows} rows ({:.1} MB)",
            json.len() as f64 / 1e6
        ),
        read,
        scroll_frames(frames, &mut |ui| {
            TableView::new(&table).id_salt("rows").show(ui);
        }),
    );
    drop(table);
    drop(json);

    // 3. A 50 MB single line.
    let line = "0123456789abcdef".repeat(50 * 1024 * 1024 / 16);
    std::fs::write(dir.path().join("line.txt"), &line).expect("write line.txt");
    let started = Instant::now();
    let preview = read_preview(&repo, "line.txt", ReadLimit::Whole).expect("read line.txt");
    let read = started.elapsed();
    let Preview::Text { doc, .. } = preview else {
        panic!("line.txt is not text");
    };
    let mut state = TextViewState::default();
    report(
        "text, one 50 MB line (wrapped)",
        read,
        scroll_frames(frames, &mut |ui| {
            TextView::new(&doc, &mut state).id_salt("line").show(ui);
        }),
    );
}
