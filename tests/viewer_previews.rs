//! Artifact previews at real sizes: the readers (what was read and what was cut, the streaming
//! `log_table` reader, JSON errors with their place) and the virtualised text and table widgets,
//! driven with egui_kittest (no display needed).
#![cfg(feature = "viewer")]

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use mlscope::artifacts::LocalArtifactRepository;
use mlscope::viewer::artifact_preview::{
    self, Extent, FilePreview, PREVIEW_MAX_BYTES, ReadLimit, read_preview, read_split_table,
};
use mlscope::viewer::table_view::{TableData, TableView};
use mlscope::viewer::text_view::{TextDoc, TextView, TextViewState};

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

fn table_of(p: FilePreview) -> (TableData, Extent, bool, Option<String>) {
    match p {
        FilePreview::Table {
            table,
            extent,
            complete,
            note,
        } => (table, extent, complete, note),
        other => panic!("expected a table, got {other:?}"),
    }
}

fn text_of(p: FilePreview) -> (TextDoc, Extent, Option<String>) {
    match p {
        FilePreview::Text {
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
    assert!(csv.find('\n').unwrap() > PREVIEW_MAX_BYTES);
    let (_dir, repo) = repo_with(&[("wide.csv", csv.as_bytes())]);
    let (table, extent, complete, note) =
        table_of(read_preview(&repo, "wide.csv", ReadLimit::default()).unwrap());
    assert_eq!(extent.read, PREVIEW_MAX_BYTES as u64);
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
    assert_eq!(extent.read, 4 * PREVIEW_MAX_BYTES as u64);
    assert!(more.row_count() > 3 * first.row_count());
    let last = more.row_count() - 1;
    assert_eq!(more.cell(last, 0), format!("v{last}_0"));
}

#[test]
fn a_large_log_table_streams_its_first_rows_with_the_count_so_far() {
    let json = split_json(200_000);
    assert!(json.len() > 4 * PREVIEW_MAX_BYTES);
    let (_dir, repo) = repo_with(&[("eval/table.json", json.as_bytes())]);
    let (table, extent, complete, note) =
        table_of(read_preview(&repo, "eval/table.json", ReadLimit::default()).unwrap());
    assert!(!complete, "only the start was read");
    assert!(note.is_none(), "{note:?}");
    assert!(extent.read <= PREVIEW_MAX_BYTES as u64);
    assert_eq!(table.columns(), ["id", "text", "score"]);
    let n = table.row_count();
    assert!(n > 1_000, "{n} rows from 256 KB");
    assert_eq!(table.cell(n - 1, 1), format!("sample {}", n - 1));
    assert_eq!(table.cell(3, 2), "0.75");

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
    assert_eq!(split.table.cell(0, 1), r#"{"k":[1,{"z":"}"}]}"#);
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
        artifact_preview::WHOLE_FILE_MAX_BYTES
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
