//! Artifact previews at real sizes: the readers (what was read and what was cut, the streaming
//! `log_table` reader, JSON errors with their place) and the virtualised text and table widgets,
//! driven with egui_kittest (no display needed).
#![cfg(feature = "viewer")]

mod support_viewer;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use mlscope::artifacts::LocalArtifactRepository;
use mlscope::viewer::testing::{
    Extent, Preview, ReadLimit, TableData, TableView, TextDoc, TextView, TextViewState,
    read_preview, read_split_table,
};

/// The first read of a preview (`artifact_preview::PREVIEW_MAX_BYTES`).
const PREVIEW_BYTES: usize = 256 * 1024;

/// A repository over a temp dir holding `files`.
fn repo_with(files: &[(&str, &[u8])]) -> (tempfile::TempDir, LocalArtifactRepository) {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let repo = LocalArtifactRepository::new(dir.path().to_path_buf());
    (dir, repo)
}

/// Frames enough for scrolling and tooltips to settle (a tooltip keeps asking for frames).
fn frames<S>(h: &mut Harness<'static, S>) {
    h.run_steps(20);
}

fn wide_csv(columns: usize, rows: usize) -> String {
    let header: Vec<String> = (0..columns).map(|i| format!("col{i}")).collect();
    let mut text = header.join(",") + "\n";
    for r in 0..rows {
        let row: Vec<String> = (0..columns).map(|i| format!("v{r}_{i}")).collect();
        text += &(row.join(",") + "\n");
    }
    text
}

/// A split-orient table as pandas writes it for `mlflow.log_table`.
fn split_json(rows: usize) -> String {
    let data: Vec<String> = (0..rows)
        .map(|i| format!("[{i},\"sample {i}\",{}]", i as f64 / 4.0))
        .collect();
    format!(
        "{{\"columns\":[\"id\",\"text\",\"score\"],\"data\":[{}]}}",
        data.join(",")
    )
}

fn table_of(p: Preview) -> (TableData, Extent, bool, Option<String>) {
    match p {
        Preview::Table {
            table,
            extent,
            complete,
            note,
        } => (table, extent, complete, note),
        other => panic!("expected a table, got {other:?}"),
    }
}

fn text_of(p: Preview) -> (TextDoc, Extent, Option<String>) {
    match p {
        Preview::Text {
            doc,
            extent,
            problem,
            ..
        } => (doc, extent, problem),
        other => panic!("expected text, got {other:?}"),
    }
}

#[test]
fn a_csv_cut_inside_its_header_says_what_was_read_and_loads_whole_on_demand() {
    let csv = wide_csv(40_000, 3);
    assert!(csv.find('\n').unwrap() > PREVIEW_BYTES);
    let (_dir, repo) = repo_with(&[("wide.csv", csv.as_bytes())]);
    let (table, extent, complete, note) =
        table_of(read_preview(&repo, "wide.csv", ReadLimit::default()).unwrap());
    assert_eq!(extent.read, PREVIEW_BYTES as u64);
    assert_eq!(extent.total, csv.len() as u64);
    assert!(!complete);
    assert_eq!(table.row_count(), 0);
    let note = note.expect("a cut header is reported");
    assert!(note.contains("first 256.0 KB of"), "{note}");
    assert!(note.contains("header row alone is longer"), "{note}");
    // Every name shown is whole (the cut one is left out).
    let last = table.columns().last().unwrap();
    assert_eq!(last, &format!("col{}", table.columns().len() - 1));

    let (table, extent, complete, note) =
        table_of(read_preview(&repo, "wide.csv", ReadLimit::Whole).unwrap());
    assert!(extent.is_whole() && complete && note.is_none());
    assert_eq!(table.columns().len(), 40_000);
    assert_eq!(table.row_count(), 3);
    assert_eq!(table.cell(2, 39_999), "v2_39999");
}

#[test]
fn a_cut_csv_drops_its_partial_last_row_and_the_next_chunk_reads_more() {
    let csv = wide_csv(3, 80_000);
    let (_dir, repo) = repo_with(&[("t.csv", csv.as_bytes())]);
    let (first, extent, complete, _) =
        table_of(read_preview(&repo, "t.csv", ReadLimit::default()).unwrap());
    assert!(!complete && !extent.is_whole());
    let last = first.row_count() - 1;
    assert_eq!(first.cell(last, 2), format!("v{last}_2"));
    let (more, extent, _, _) =
        table_of(read_preview(&repo, "t.csv", ReadLimit::after(extent.read)).unwrap());
    assert_eq!(extent.read, 4 * PREVIEW_BYTES as u64);
    assert!(more.row_count() > 3 * first.row_count());
    let last = more.row_count() - 1;
    assert_eq!(more.cell(last, 0), format!("v{last}_0"));
}

#[test]
fn a_large_log_table_streams_its_first_rows_with_the_count_so_far() {
    let json = split_json(200_000);
    assert!(json.len() > 4 * PREVIEW_BYTES);
    let (_dir, repo) = repo_with(&[("eval/table.json", json.as_bytes())]);
    let (table, extent, complete, note) =
        table_of(read_preview(&repo, "eval/table.json", ReadLimit::default()).unwrap());
    assert!(!complete, "only the start was read");
    assert!(note.is_none(), "{note:?}");
    assert!(extent.read <= PREVIEW_BYTES as u64);
    assert_eq!(table.columns(), ["id", "text", "score"]);
    let n = table.row_count();
    assert!(n > 1_000, "{n} rows from 256 KB");
    assert_eq!(table.cell(n - 1, 1), format!("sample {}", n - 1));
    assert_eq!(table.cell(3, 2), "0.75");
    // Numbers keep their digits as written (not reformatted as 1e-6).
    let split = read_split_table(
        &br#"{"columns":["x"],"data":[[0.000001],[1.50]]}"#[..],
        u64::MAX,
    )
    .unwrap()
    .unwrap();
    assert_eq!(split.table.row(0).collect::<Vec<_>>(), ["0.000001"]);
    assert_eq!(split.table.cell(1, 0), "1.50");

    let (table, extent, complete, _) =
        table_of(read_preview(&repo, "eval/table.json", ReadLimit::Whole).unwrap());
    assert!(complete && extent.is_whole());
    assert_eq!(table.row_count(), 200_000);
    assert_eq!(table.cell(199_999, 0), "199999");
}

#[test]
fn the_split_reader_copes_with_index_escapes_nesting_and_other_shapes() {
    let json = br#" { "columns" : ["a", "b"], "index": [0, 1, 2],
        "data": [ ["x]\"y", {"k": [1, {"z": "}"}]}], [null, 2.5], 7 ] }"#;
    let split = read_split_table(&json[..], u64::MAX).unwrap().unwrap();
    assert!(split.complete);
    assert_eq!(split.table.row_count(), 3);
    assert_eq!(split.table.cell(0, 0), "x]\"y");
    assert_eq!(split.table.cell(0, 1), r#"{"k": [1, {"z": "}"}]}"#);
    assert_eq!(split.table.cell(1, 1), "2.5");
    assert_eq!(split.table.cell(1, 0), "null");
    assert_eq!(split.table.cell(2, 0), "7");
    // Not a split table: the caller parses it whole.
    assert!(
        read_split_table(&br#"{"columns": [1], "other": 2}"#[..], u64::MAX)
            .unwrap()
            .is_none()
    );
    assert!(
        read_split_table(&br#"{"data": [[1]], "columns": ["a"]}"#[..], u64::MAX)
            .unwrap()
            .is_none()
    );
    // A broken row: its line and column in the file.
    let broken = b"{\"columns\": [\"a\"],\n \"data\": [[1],\n   [2,,3]]}";
    let problem = read_split_table(&broken[..], u64::MAX).unwrap_err();
    assert_eq!((problem.line, problem.column), (3, 7), "{problem}");
    assert!(
        problem
            .to_string()
            .starts_with("Invalid JSON at line 3, column 7: row 2")
    );
    // A header longer than the limit is reported as such.
    let split = read_split_table(&br#"{"columns": ["aaaaaaaaaaaaaaaa"], "data": []}"#[..], 16)
        .unwrap()
        .unwrap();
    assert!(!split.complete);
    assert!(split.note.unwrap().contains("header row alone is longer"));
}

#[test]
fn json_that_fails_to_parse_says_where_and_shows_the_raw_text() {
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    let (_dir, repo) = repo_with(&[
        ("broken.json", b"{\n  \"a\": 1,\n  \"b\": [1, 2,, 3]\n}\n"),
        ("deep.json", deep.as_bytes()),
        ("ok.json", br#"{"b":1}"#),
    ]);
    let (doc, _, problem) =
        text_of(read_preview(&repo, "broken.json", ReadLimit::default()).unwrap());
    assert_eq!(
        problem.as_deref(),
        Some("Invalid JSON at line 3, column 14: expected value")
    );
    assert_eq!(doc.line(2), "  \"b\": [1, 2,, 3]");
    let (doc, _, problem) = text_of(read_preview(&repo, "deep.json", ReadLimit::Whole).unwrap());
    let problem = problem.unwrap();
    assert!(problem.contains("recursion limit exceeded"), "{problem}");
    assert!(problem.contains("line 1, column "), "{problem}");
    assert_eq!(doc.text().len(), deep.len());
    let (doc, _, problem) = text_of(read_preview(&repo, "ok.json", ReadLimit::default()).unwrap());
    assert!(problem.is_none());
    assert_eq!(doc.text(), "{\n  \"b\": 1\n}");
}

#[test]
fn extents_say_what_was_read() {
    let e = Extent {
        read: 256 * 1024,
        total: 2_726_297,
    };
    assert_eq!(e.describe(), "first 256.0 KB of 2.6 MB");
    let e = Extent {
        read: 10,
        total: 10,
    };
    assert_eq!(e.describe(), "all 10 B");
    assert_eq!(
        ReadLimit::Whole.bytes(5 * 1024 * 1024 * 1024),
        1024 * 1024 * 1024
    );
}

// ---- widgets ----

const YAML: &str =
    "model:\n  name: resnet\n  layers:\n    - type: conv\n\tfilters: 64\ntraining:\n";

fn text_harness(doc: TextDoc, state: TextViewState) -> Harness<'static, (TextDoc, TextViewState)> {
    Harness::builder()
        .with_size(egui::vec2(800.0, 500.0))
        .build_ui_state(
            |ui, (doc, state): &mut (TextDoc, TextViewState)| {
                TextView::new(doc, state).id_salt("t").show(ui);
            },
            (doc, state),
        )
}

#[test]
fn text_lines_are_left_aligned_monospace_with_indentation_and_numbers() {
    let mut h = text_harness(TextDoc::new(YAML.into()), TextViewState::default());
    frames(&mut h);
    let top = h.get_by_label("model:").rect();
    let nested = h.get_by_label("  name: resnet").rect();
    let deeper = h.get_by_label("    - type: conv").rect();
    // Every line starts at the same x; the indentation is in the text (monospace spaces).
    assert_eq!(top.left(), nested.left());
    assert_eq!(top.left(), deeper.left());
    assert!(nested.width() > top.width());
    // A tab is shown as spaces, not lost.
    h.get_by_label("    filters: 64");
    // Line numbers are left of the text.
    for n in ["1", "2", "6"] {
        assert!(
            h.get_by_label(n).rect().right() <= top.left(),
            "line number {n}"
        );
    }
    assert!(nested.top() > top.top());
}

#[test]
fn a_single_huge_line_wraps_by_default_and_its_start_is_visible() {
    let line = format!("START{}END", "x".repeat(1_000_000));
    let mut h = text_harness(TextDoc::new(line), TextViewState::default());
    frames(&mut h);
    let first = h.get_by_label_contains("START").rect();
    assert!(first.left() >= 0.0 && first.right() <= 800.0, "{first:?}");
    // Wrapped into many rows, of which only the visible ones are laid out.
    let rows = h.query_all_by_label_contains("xxxx").count();
    assert!((5..200).contains(&rows), "{rows} rows laid out");
    // End reaches the last row, Home the first again.
    h.get_by_label_contains("START").hover();
    h.key_press(egui::Key::End);
    frames(&mut h);
    assert!(h.query_by_label_contains("END").is_some());
    assert!(h.query_by_label_contains("START").is_none());
    h.key_press(egui::Key::Home);
    frames(&mut h);
    assert!(h.query_by_label_contains("START").is_some());
}

#[test]
fn unwrapped_long_lines_scroll_sideways_to_both_ends() {
    let line = format!("START{}END", "x".repeat(20_000));
    let state = TextViewState::with_wrap(false);
    let mut h = text_harness(TextDoc::new(format!("short\n{line}\n")), state);
    frames(&mut h);
    let start = h.get_by_label_contains("START").rect();
    assert!(start.left() > 0.0 && start.left() < 100.0, "{start:?}");
    // Only the visible columns are laid out.
    assert!(h.get_by_label_contains("START").rect().width() < 1_000.0);
    h.get_by_label("short").hover();
    h.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Point,
        delta: egui::vec2(-1e7, 0.0),
        modifiers: egui::Modifiers::NONE,
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Wheel,
    });
    frames(&mut h);
    let end = h.get_by_label_contains("END").rect();
    assert!(end.right() <= 800.0, "the end is in view: {end:?}");
    h.get_by_label_contains("END").hover();
    h.key_press(egui::Key::Home);
    frames(&mut h);
    assert!(h.query_by_label_contains("START").is_some());
}

fn table_harness(table: TableData) -> Harness<'static, (TableData, Vec<usize>)> {
    Harness::builder()
        .with_size(egui::vec2(1000.0, 600.0))
        .build_ui_state(
            |ui, (table, laid_out): &mut (TableData, Vec<usize>)| {
                let range = TableView::new(table).id_salt("tbl").show(ui);
                laid_out.push(range.len());
            },
            (table, Vec::new()),
        )
}

#[test]
fn a_table_of_200000_columns_lays_out_only_the_visible_ones() {
    let columns: Vec<String> = (0..200_000).map(|i| format!("c{i}")).collect();
    let mut table = TableData::new(columns);
    for r in 0..5 {
        table.push_row((0..200_000).map(|c| format!("{r}:{c}")));
    }
    let mut h = table_harness(table);
    frames(&mut h);
    let laid_out = *h.state().1.last().unwrap();
    assert!((5..30).contains(&laid_out), "{laid_out} columns laid out");
    assert!(h.query_by_label("0:0").is_some());
    // Scrolling reaches the last column.
    h.get_by_label("0:0").hover();
    h.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Point,
        delta: egui::vec2(-1e9, 0.0),
        modifiers: egui::Modifiers::NONE,
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Wheel,
    });
    frames(&mut h);
    assert!(h.query_by_label("4:199999").is_some());
    assert!(h.query_by_label("0:0").is_none());
}

#[test]
fn a_table_of_a_million_rows_lays_out_only_the_visible_ones() {
    let mut table = TableData::new(vec!["id".into(), "text".into()]);
    for i in 0..1_000_000 {
        table.push_row([i.to_string(), format!("sample {i}")]);
    }
    let mut h = table_harness(table);
    frames(&mut h);
    let cells = h.query_all_by_label_contains("sample ").count();
    assert!((10..100).contains(&cells), "{cells} cells laid out");
    h.get_by_label("sample 0").hover();
    h.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Point,
        delta: egui::vec2(0.0, -1e9),
        modifiers: egui::Modifiers::NONE,
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Wheel,
    });
    frames(&mut h);
    assert!(h.query_by_label("sample 999999").is_some());
}

// ---- the app: the Artifacts tab on a file store ----

mod app {
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::time::Duration;

    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    use mlscope::store::FileStore;
    use mlscope::viewer::App;
    use mlscope::viewer::testing::{Command, SelectMode, Tab};
    use mlscope::watch::Change;
    use mlscope::{CreateRun, TrackingStore};

    const T0: i64 = 1_700_000_000_000;

    struct Opened {
        _dir: tempfile::TempDir,
        store: Arc<dyn TrackingStore>,
        experiment_id: String,
        run_id: String,
        artifacts: PathBuf,
        h: Harness<'static, App>,
    }

    /// Steps frames until the viewer is idle (see `support_viewer::settle_within`).
    fn settle(h: &mut Harness<'static, App>) {
        crate::support_viewer::settle_within(h, Duration::from_secs(30));
    }

    fn apply(h: &mut Harness<'static, App>, command: Command) {
        h.state_mut().send(command);
        settle(h);
    }

    /// A file store with an experiment of `runs` runs (newest first: "run-{runs-1}" … "run-0"),
    /// the newest holding `files`, opened on its Artifacts tab.
    fn open_with_files(runs: usize, files: &[(&str, &[u8])]) -> Opened {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn TrackingStore> =
            Arc::new(FileStore::open(&dir.path().join("mlruns")).unwrap());
        let experiment_id = store.create_experiment("previews", None, &[]).unwrap();
        let mut run_id = String::new();
        let mut artifact_uri = String::new();
        for i in 0..runs {
            let run = store
                .create_run(CreateRun {
                    experiment_id: experiment_id.clone(),
                    user_id: "tester".into(),
                    start_time: Some(T0 + i as i64 * 1000),
                    tags: vec![],
                    run_name: Some(format!("run-{i}")),
                })
                .unwrap();
            run_id = run.info.run_id.clone();
            artifact_uri = run.info.artifact_uri.clone();
        }
        let mlscope::artifacts::ArtifactLocation::Local(artifacts) =
            mlscope::artifacts::parse_artifact_uri(&artifact_uri).unwrap()
        else {
            panic!("a local artifact root: {artifact_uri}")
        };
        for (name, bytes) in files {
            let path = artifacts.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        let mut h = Harness::builder()
            .with_size(egui::vec2(1400.0, 900.0))
            .with_max_steps(10_000)
            .build_ui_state(
                |ui, app: &mut App| app.ui(ui),
                App::new_with_store(Arc::clone(&store), false),
            );
        settle(&mut h);
        if !h.state().selected_experiments().contains(&experiment_id) {
            apply(
                &mut h,
                Command::SelectExperiments([experiment_id.clone()].into()),
            );
        }
        apply(
            &mut h,
            Command::SelectRun {
                run_id: run_id.clone(),
                mode: SelectMode::Replace,
            },
        );
        apply(&mut h, Command::SetTab(Tab::Artifacts));
        Opened {
            _dir: dir,
            store,
            experiment_id,
            run_id,
            artifacts,
            h,
        }
    }

    fn png() -> Vec<u8> {
        let img =
            image::RgbImage::from_fn(24, 12, |x, y| image::Rgb([x as u8 * 8, y as u8 * 16, 99]));
        let mut bytes = Vec::new();
        img.write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
        bytes
    }

    fn click_file(o: &mut Opened, name: &str) {
        o.h.get_by_label_contains(name).click();
        settle(&mut o.h);
    }

    #[test]
    fn clicking_a_file_previews_it_even_when_the_run_has_an_image_series() {
        let png = png();
        let mut o = open_with_files(
            1,
            &[
                ("images/samples+step+0+timestamp+17+0a-1.png", &png),
                ("images/samples+step+1+timestamp+18+0a-2.png", &png),
                ("notes.txt", b"hello artifacts\n"),
            ],
        );
        click_file(&mut o, "notes.txt");
        o.h.run_steps(3);
        assert!(
            o.h.query_by_label("hello artifacts").is_some(),
            "the clicked file is shown"
        );
        assert!(
            o.h.query_by_label_contains("24 × 12 px").is_none(),
            "not the series image"
        );
        // The series is its own choice, and clicking a file again leaves it.
        o.h.get_by_label_contains("samples").click();
        settle(&mut o.h);
        assert!(o.h.query_by_label_contains("24 × 12 px").is_some());
        assert!(o.h.query_by_label("Image series: samples").is_some());
        click_file(&mut o, "notes.txt");
        assert!(o.h.query_by_label("hello artifacts").is_some());
    }

    #[test]
    fn text_previews_are_left_aligned_and_keep_indentation() {
        let yaml =
            b"model:\n  name: resnet\n  layers:\n    - type: conv\ntraining:\n  epochs: 10\n";
        let mut o = open_with_files(1, &[("config.yaml", yaml)]);
        click_file(&mut o, "config.yaml");
        let top = o.h.get_by_label("model:").rect();
        let nested = o.h.get_by_label("  name: resnet").rect();
        let deeper = o.h.get_by_label("    - type: conv").rect();
        assert_eq!(top.left(), nested.left(), "{top:?} {nested:?}");
        assert_eq!(top.left(), deeper.left(), "{top:?} {deeper:?}");
        assert!(o.h.query_by_label("Wrap lines").is_some(), "a wrap toggle");
        assert!(
            o.h.get_by_label("2").rect().right() <= nested.left(),
            "line numbers"
        );
    }

    #[test]
    fn a_single_huge_line_shows_its_start() {
        let line = format!("START{}", "x".repeat(1_000_000));
        let mut o = open_with_files(1, &[("single_line.txt", line.as_bytes())]);
        click_file(&mut o, "single_line.txt");
        let start = o.h.get_by_label_contains("START").rect();
        assert!(
            start.left() >= 0.0 && start.right() <= 1400.0,
            "the start of the line is in the window: {start:?}"
        );
    }

    #[test]
    fn a_csv_cut_inside_its_header_says_so_and_the_whole_file_is_read_on_demand() {
        let header: Vec<String> = (0..40_000).map(|i| format!("col{i}")).collect();
        let row: Vec<String> = (0..40_000).map(|i| format!("v{i}")).collect();
        let csv = format!("{}\n{}\n", header.join(","), row.join(","));
        let mut o = open_with_files(1, &[("wide.csv", csv.as_bytes())]);
        click_file(&mut o, "wide.csv");
        assert!(
            o.h.query_by_label_contains("header row alone is longer")
                .is_some(),
            "the cut is reported"
        );
        o.h.get_by_label_contains("Read the whole file").click();
        settle(&mut o.h);
        o.h.run_steps(3);
        assert!(
            o.h.query_by_label_contains("1 row × 40000 columns")
                .is_some()
        );
        assert!(o.h.query_by_label("v0").is_some());
    }

    #[test]
    fn a_wide_csv_lays_out_only_the_visible_columns() {
        let header: Vec<String> = (0..3_000).map(|i| format!("col{i}")).collect();
        let row: Vec<String> = (0..3_000).map(|i| format!("v{i}")).collect();
        let csv = format!(
            "{}\n{}\n{}\n",
            header.join(","),
            row.join(","),
            row.join(",")
        );
        let mut o = open_with_files(1, &[("wide.csv", csv.as_bytes())]);
        click_file(&mut o, "wide.csv");
        let cells: usize = (0..3_000)
            .map(|i| o.h.query_all_by_label(&format!("v{i}")).count())
            .sum();
        assert!((2..100).contains(&cells), "{cells} cells laid out");
    }

    #[test]
    fn a_large_log_table_shows_as_a_table_with_the_rows_read_so_far() {
        let data: Vec<String> = (0..100_000)
            .map(|i| format!("[{i},\"sample {i}\"]"))
            .collect();
        let json = format!(
            "{{\"columns\":[\"id\",\"text\"],\"data\":[{}]}}",
            data.join(",")
        );
        let mut o = open_with_files(1, &[("eval/table.json", json.as_bytes())]);
        o.h.get_by_label_contains("eval").click();
        settle(&mut o.h);
        click_file(&mut o, "table.json");
        assert!(
            o.h.query_by_label("sample 5").is_some(),
            "rows are cells of a table"
        );
        assert!(o.h.query_by_label_contains("rows so far").is_some());
        o.h.get_by_label_contains("Read the whole file").click();
        settle(&mut o.h);
        o.h.run_steps(3);
        assert!(
            o.h.query_by_label_contains("100000 rows × 2 columns")
                .is_some()
        );
    }

    #[test]
    fn json_that_fails_to_parse_shows_the_parsers_message_with_line_and_column() {
        let mut o = open_with_files(
            1,
            &[("broken.json", b"{\n  \"a\": 1,\n  \"b\": [1, 2,, 3]\n}\n")],
        );
        click_file(&mut o, "broken.json");
        assert!(
            o.h.query_by_label("Invalid JSON at line 3, column 14: expected value")
                .is_some()
        );
        assert!(
            o.h.query_by_label("  \"b\": [1, 2,, 3]").is_some(),
            "then the raw text"
        );
    }

    #[test]
    fn the_whole_artifact_row_is_clickable() {
        let mut o = open_with_files(1, &[("notes.txt", b"hello artifacts\n")]);
        // The size, at the row's right end, opens the preview too.
        let row = o.h.get_by_label_contains("notes.txt").rect();
        assert!(row.width() > 150.0, "the row spans the tree: {row:?}");
        let at = egui::pos2(row.right() - 4.0, row.center().y);
        o.h.hover_at(at);
        o.h.run_steps(1);
        o.h.drag_at(at);
        o.h.run_steps(1);
        o.h.drop_at(at);
        settle(&mut o.h);
        assert!(o.h.query_by_label("hello artifacts").is_some());
    }

    #[test]
    fn a_run_created_while_open_takes_its_sorted_place_and_the_count_follows() {
        let mut o = open_with_files(7, &[]);
        apply(&mut o.h, Command::SetTab(Tab::Charts));
        assert_eq!(o.h.state().shown_run_names()[0], "run-6");
        assert!(o.h.query_by_label("7").is_some(), "the sidebar's count");
        let run = o
            .store
            .create_run(CreateRun {
                experiment_id: o.experiment_id.clone(),
                user_id: "tester".into(),
                start_time: Some(T0 + 60_000),
                tags: vec![],
                run_name: Some("newest".into()),
            })
            .unwrap();
        o.h.state_mut().apply_changes(
            [Change::Run {
                experiment_id: o.experiment_id.clone(),
                run_id: run.info.run_id.clone(),
            }]
            .into(),
        );
        settle(&mut o.h);
        let names = o.h.state().shown_run_names();
        assert_eq!(names.len(), 8);
        assert_eq!(names[0], "newest", "{names:?}");
        assert!(
            o.h.query_by_label("8").is_some(),
            "the sidebar's count follows"
        );
        assert!(o.h.query_by_label("7").is_none());
        let _ = (&o.run_id, &o.artifacts);
    }
}
