//! Artifacts through `TrackingClient`: every helper, listing, downloading, copied stores,
//! errors that must leave existing artifacts untouched, and interoperability with real MLflow
//! (both directions) when its venv exists.
//!
//! Most tests run on `MiniStore`, a tiny `TrackingStore` over an `mlruns` folder that only
//! reads runs and writes run tags (all the artifact helpers need), so they do not depend on
//! the full file store. Tests that need the real `FileStore` (CLI, fluent API) detect a
//! placeholder build and skip loudly.
//!
//! MLflow interop needs `~/.cache/mlscope/venv-mlflow-3.17.2` (or `MLSCOPE_MLFLOW_PYTHON`);
//! without it those tests print a skip message, and fail when `MLSCOPE_REQUIRE_MLFLOW=1`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use mlscope::artifacts::images::{ImageStepFile, RawImage, THUMBNAIL_SIZE, decode_bytes};
use mlscope::artifacts::table::{LoggedTable, Table, TableCell};
use mlscope::artifacts::{ArtifactRepository, RootResolution};
use mlscope::image::DynamicImage;
use mlscope::model::tags;
use mlscope::plotters::coord::Shift;
use mlscope::plotters::prelude::*;
use mlscope::{
    CreateRun, DatasetInput, Error, ErrorCode, Experiment, ExperimentQuery, Figure, Metric, Page,
    Param, PlotFigure, Run, RunData, RunInfo, RunInputs, RunQuery, RunStatus, RunTag,
    TrackingClient, TrackingStore,
};
use serde_json::{Value, json};

// ----- a minimal store over an mlruns folder ---------------------------------------------------

/// Reads runs (meta.yaml + tags/) of an `mlruns` folder and writes run tags; nothing else.
struct MiniStore {
    root: PathBuf,
}

impl MiniStore {
    fn run_dir(&self, run_id: &str) -> mlscope::Result<PathBuf> {
        for exp in std::fs::read_dir(&self.root).map_err(|e| Error::io("list", &self.root, e))? {
            let exp = exp.map_err(|e| Error::io("list", &self.root, e))?;
            let dir = exp.path().join(run_id);
            if dir.join("meta.yaml").is_file() {
                return Ok(dir);
            }
        }
        Err(Error::NotFound(format!("Run '{run_id}' not found")))
    }
}

fn unsupported<T>() -> mlscope::Result<T> {
    Err(Error::InvalidParameter(
        "not supported by the test store".into(),
    ))
}

fn read_tags(dir: &Path, prefix: &str, out: &mut BTreeMap<String, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = format!("{prefix}{}", e.file_name().to_string_lossy());
        if e.path().is_dir() {
            read_tags(&e.path(), &format!("{name}/"), out);
        } else {
            out.insert(name, std::fs::read_to_string(e.path()).unwrap_or_default());
        }
    }
}

impl TrackingStore for MiniStore {
    fn tracking_uri(&self) -> String {
        format!("file://{}", self.root.display())
    }
    fn create_experiment(
        &self,
        _: &str,
        _: Option<&str>,
        _: &[(String, String)],
    ) -> mlscope::Result<String> {
        unsupported()
    }
    fn get_experiment(&self, _: &str) -> mlscope::Result<Experiment> {
        unsupported()
    }
    fn get_experiment_by_name(&self, _: &str) -> mlscope::Result<Option<Experiment>> {
        unsupported()
    }
    fn search_experiments(&self, _: &ExperimentQuery) -> mlscope::Result<Page<Experiment>> {
        unsupported()
    }
    fn rename_experiment(&self, _: &str, _: &str) -> mlscope::Result<()> {
        unsupported()
    }
    fn delete_experiment(&self, _: &str) -> mlscope::Result<()> {
        unsupported()
    }
    fn restore_experiment(&self, _: &str) -> mlscope::Result<()> {
        unsupported()
    }
    fn set_experiment_tag(&self, _: &str, _: &str, _: &str) -> mlscope::Result<()> {
        unsupported()
    }
    fn delete_experiment_tag(&self, _: &str, _: &str) -> mlscope::Result<()> {
        unsupported()
    }
    fn create_run(&self, _: CreateRun) -> mlscope::Result<Run> {
        unsupported()
    }
    fn get_run(&self, run_id: &str) -> mlscope::Result<Run> {
        let dir = self.run_dir(run_id)?;
        let text = std::fs::read_to_string(dir.join("meta.yaml"))
            .map_err(|e| Error::io("read meta", &dir, e))?;
        let meta: serde_norway::Value =
            serde_norway::from_str(&text).map_err(|e| Error::corrupt(e.to_string(), &dir))?;
        let s = |k: &str| match &meta[k] {
            serde_norway::Value::String(s) => s.clone(),
            serde_norway::Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        let mut tags = BTreeMap::new();
        read_tags(&dir.join("tags"), "", &mut tags);
        Ok(Run {
            info: RunInfo {
                run_id: s("run_id"),
                run_name: s("run_name"),
                experiment_id: s("experiment_id"),
                user_id: s("user_id"),
                status: RunStatus::Running,
                start_time: None,
                end_time: None,
                artifact_uri: s("artifact_uri"),
                lifecycle_stage: s("lifecycle_stage").parse().unwrap_or_default(),
            },
            data: RunData {
                tags,
                ..RunData::default()
            },
            inputs: RunInputs::default(),
        })
    }
    fn update_run_info(
        &self,
        _: &str,
        _: Option<RunStatus>,
        _: Option<i64>,
        _: Option<&str>,
    ) -> mlscope::Result<RunInfo> {
        unsupported()
    }
    fn delete_run(&self, _: &str) -> mlscope::Result<()> {
        unsupported()
    }
    fn restore_run(&self, _: &str) -> mlscope::Result<()> {
        unsupported()
    }
    fn search_runs(&self, _: &RunQuery) -> mlscope::Result<Page<Run>> {
        unsupported()
    }
    fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[RunTag],
    ) -> mlscope::Result<()> {
        if !metrics.is_empty() || !params.is_empty() {
            return unsupported();
        }
        let dir = self.run_dir(run_id)?.join("tags");
        for t in tags {
            let path = dir.join(&t.key);
            std::fs::create_dir_all(path.parent().unwrap())
                .map_err(|e| Error::io("tag", &path, e))?;
            std::fs::write(&path, &t.value).map_err(|e| Error::io("tag", &path, e))?;
        }
        Ok(())
    }
    fn get_metric_history(&self, _: &str, _: &str) -> mlscope::Result<Vec<Metric>> {
        unsupported()
    }
    fn delete_tag(&self, _: &str, _: &str) -> mlscope::Result<()> {
        unsupported()
    }
    fn log_inputs(&self, _: &str, _: &[DatasetInput]) -> mlscope::Result<()> {
        unsupported()
    }
}

/// Writes a minimal run folder (meta.yaml with the given artifact_uri) into `root/exp/run`.
fn make_run(root: &Path, exp: &str, run_id: &str, artifact_uri: &str, stage: &str) {
    let dir = root.join(exp).join(run_id);
    for sub in ["metrics", "params", "tags", "artifacts"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::write(
        dir.join("meta.yaml"),
        format!(
            "artifact_uri: {artifact_uri}\nend_time: null\nentry_point_name: ''\nexperiment_id: '{exp}'\n\
             lifecycle_stage: {stage}\nrun_id: {run_id}\nrun_name: test-run\nrun_uuid: {run_id}\n\
             source_name: ''\nsource_type: 4\nsource_version: ''\nstart_time: 1700000000000\n\
             status: 1\ntags: []\nuser_id: tester\n"
        ),
    )
    .unwrap();
}

fn mini_client(root: &Path) -> TrackingClient {
    TrackingClient::from_store(Arc::new(MiniStore {
        root: root.to_path_buf(),
    }))
}

/// A file-store run with the usual `file://…/artifacts` URI; returns (client, run id).
fn file_uri_run(dir: &Path) -> (TrackingClient, String) {
    let root = dir.join("mlruns");
    let run_id = "0123456789abcdef0123456789abcdef";
    let arts = root.join("1").join(run_id).join("artifacts");
    make_run(
        &root,
        "1",
        run_id,
        &mlscope::store::path_to_file_uri(&arts),
        "active",
    );
    (mini_client(&root), run_id.to_string())
}

// ----- helpers -------------------------------------------------------------------------------

struct Scatter(Vec<(f64, f64)>);

impl PlotFigure for Scatter {
    fn size(&self) -> (u32, u32) {
        (400, 300)
    }
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(root)
            .caption("scatter", ("sans-serif", 18))
            .margin(8)
            .x_label_area_size(25)
            .y_label_area_size(25)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
        chart.configure_mesh().draw()?;
        chart.draw_series(self.0.iter().map(|&p| Circle::new(p, 3, BLUE.filled())))?;
        Ok(())
    }
}

fn gradient(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(mlscope::image::RgbImage::from_fn(w, h, |x, y| {
        mlscope::image::Rgb([(x * 255 / w.max(1)) as u8, (y * 255 / h.max(1)) as u8, 128])
    }))
}

/// Every file under the artifact root with its bytes, to prove nothing changed.
fn snapshot(repo: &dyn ArtifactRepository) -> BTreeMap<String, Vec<u8>> {
    repo.list_recursive("")
        .unwrap()
        .into_iter()
        .filter(|f| !f.is_dir)
        .map(|f| {
            let bytes = repo.read_all(&f.path, 1 << 30).unwrap();
            (f.path, bytes)
        })
        .collect()
}

/// Logs one of everything; returns what was logged, for comparisons.
fn log_everything(client: &TrackingClient, run_id: &str, src: &Path) -> Value {
    client
        .log_text(run_id, "hello ✓\nsecond line", "notes/readme.txt")
        .unwrap();
    let cfg = json!({"model": {"name": "resnet", "layers": [64, 128, 256]}, "lr": 0.001, "tags": ["a", "b"], "flag": true, "note": "ünï"});
    client.log_dict(run_id, &cfg, "config/params.json").unwrap();
    client.log_dict(run_id, &cfg, "config/params.yaml").unwrap();

    let mut t = Table::new(["id", "label", "score"]);
    t.push_row([TableCell::from(0), "cat".into(), 0.25.into()])
        .unwrap();
    t.push_row([
        TableCell::from(1),
        "dog/ü".into(),
        TableCell::from(None::<f64>),
    ])
    .unwrap();
    client
        .log_table(run_id, &t, "tables/predictions.json")
        .unwrap();
    let mut more = Table::new(["score", "id", "label"]);
    more.push_row([TableCell::from(0.5), 2.into(), "bird".into()])
        .unwrap();
    client
        .log_table(run_id, &more, "tables/predictions.json")
        .unwrap();
    let imgs = Table::from_columns([
        ("prompt", vec!["a dog".into(), "a cat".into()]),
        (
            "image",
            vec![gradient(20, 10).into(), gradient(3, 7).into()],
        ),
    ])
    .unwrap();
    client.log_table(run_id, &imgs, "image_gen.json").unwrap();

    client
        .log_image(run_id, gradient(64, 48), "images_static/pil_image.png")
        .unwrap();
    client
        .log_image(run_id, gradient(16, 16), "images_static/photo.jpg")
        .unwrap();
    let gray: Vec<f32> = (0..32 * 32).map(|i| i as f32 / 1023.0).collect();
    client
        .log_image(
            run_id,
            RawImage::f32(&gray, &[32, 32]),
            "images_static/gray_float.png",
        )
        .unwrap();
    for step in 0..3 {
        let px: Vec<u8> = (0..40 * 40 * 3)
            .map(|i| ((i + step * 7) % 256) as u8)
            .collect();
        client
            .log_image_step(
                run_id,
                "samples/train",
                RawImage::u8(&px, &[40, 40, 3]),
                Some(step as i64),
                Some(1_700_005_000_000 + step as i64),
            )
            .unwrap();
    }
    client
        .log_image_step(run_id, "tiny", gradient(2, 1), Some(7), None)
        .unwrap();
    let scatter = Scatter(vec![(0.1, 0.2), (0.5, 0.9), (0.8, 0.3)]);
    client
        .log_plot(run_id, &scatter, "plots/scatter.png")
        .unwrap();
    client
        .log_plot(run_id, &scatter, "plots/scatter.svg")
        .unwrap();
    client
        .log_figure(
            run_id,
            &Figure::Image(gradient(10, 10)),
            "plots/finished.webp",
        )
        .unwrap();

    std::fs::create_dir_all(src.join("bundle/sub/deeper")).unwrap();
    std::fs::create_dir_all(src.join("bundle/empty_dir")).unwrap();
    std::fs::write(src.join("bundle/a.txt"), "top-level file\n").unwrap();
    std::fs::write(src.join("bundle/file with spaces.txt"), "spaces\n").unwrap();
    std::fs::write(src.join("bundle/sub/deeper/c.json"), "{\"deep\": true}").unwrap();
    std::fs::write(src.join("metrics.csv"), "epoch,loss\n0,1.0\n").unwrap();
    client
        .log_artifacts(run_id, src.join("bundle"), Some("bundle"))
        .unwrap();
    client
        .log_artifact(run_id, src.join("metrics.csv"), Some("data"))
        .unwrap();
    client
        .log_artifact(run_id, src.join("metrics.csv"), None)
        .unwrap();
    client
        .log_artifact(run_id, src.join("bundle"), Some("dirs"))
        .unwrap();
    cfg
}

fn check_logged(client: &TrackingClient, run_id: &str, cfg: &Value) {
    let repo = client.run_artifacts(run_id).unwrap().repository().clone();
    let files: Vec<String> = client
        .list_artifacts_recursive(run_id, None)
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    for expected in [
        "bundle/a.txt",
        "bundle/file with spaces.txt",
        "bundle/sub/deeper/c.json",
        "bundle/empty_dir",
        "config/params.json",
        "config/params.yaml",
        "data/metrics.csv",
        "dirs/bundle/a.txt",
        "metrics.csv",
        "notes/readme.txt",
        "plots/scatter.png",
        "plots/scatter.svg",
        "plots/finished.webp",
        "tables/predictions.json",
        "image_gen.json",
        "images_static/photo.jpg",
    ] {
        assert!(
            files.contains(&expected.to_string()),
            "{expected} missing from {files:?}"
        );
    }
    let top = client.list_artifacts(run_id, None).unwrap();
    assert!(top.iter().all(|f| !f.path.contains('/')));
    let csv = top.iter().find(|f| f.path == "metrics.csv").unwrap();
    assert_eq!(csv.file_size, Some(17));

    // Texts and dicts, byte for byte as Python writes them.
    assert_eq!(
        repo.read_all("notes/readme.txt", 100).unwrap(),
        "hello ✓\nsecond line".as_bytes()
    );
    let json_text =
        String::from_utf8(repo.read_all("config/params.json", 10_000).unwrap()).unwrap();
    assert!(
        json_text.starts_with("{\n  \"flag\": true,\n  \"lr\": 0.001,\n"),
        "{json_text}"
    );
    assert!(json_text.contains("\"note\": \"\\u00fcn\\u00ef\""));
    assert_eq!(serde_json::from_str::<Value>(&json_text).unwrap(), *cfg);
    let yaml_text =
        String::from_utf8(repo.read_all("config/params.yaml", 10_000).unwrap()).unwrap();
    assert_eq!(
        yaml_text,
        "flag: true\nlr: 0.001\nmodel:\n  layers:\n  - 64\n  - 128\n  - 256\n  name: resnet\nnote: \"\\xFCn\\xEF\"\ntags:\n- a\n- b\n"
    );

    // Tables: appended rows in the first table's column order.
    let t = client
        .load_table(run_id, "tables/predictions.json")
        .unwrap();
    assert_eq!(t.columns, ["id", "label", "score"]);
    assert_eq!(
        t.data,
        vec![
            vec![json!(0), json!("cat"), json!(0.25)],
            vec![json!(1), json!("dog/ü"), Value::Null],
            vec![json!(2), json!("bird"), json!(0.5)],
        ]
    );
    let raw = repo.read_all("tables/predictions.json", 10_000).unwrap();
    assert!(String::from_utf8(raw).unwrap().contains(r#""dog\/\u00fc""#));
    let it = client.load_table(run_id, "image_gen.json").unwrap();
    assert!(it.is_image_column(1));
    for (_, _, cell) in it.image_cells() {
        assert!(cell.filepath.starts_with("table_images/image_gen/"));
        let thumb =
            decode_bytes(&repo.read_all(&cell.compressed_filepath, 1 << 20).unwrap()).unwrap();
        assert_eq!(thumb.width().max(thumb.height()), THUMBNAIL_SIZE);
    }
    let run = client.get_run(run_id).unwrap();
    assert_eq!(
        run.data.tags[tags::LOGGED_ARTIFACTS],
        r#"[{"path": "tables/predictions.json", "type": "table"}, {"path": "image_gen.json", "type": "table"}]"#
    );
    assert_eq!(run.data.tags[tags::LOGGED_IMAGES], "True");

    // Image series with thumbnails of exactly 256 px on the longer side.
    let series = client.image_series(run_id).unwrap();
    let train = &series["samples/train"];
    assert_eq!(train.iter().map(|s| s.step).collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!(train[2].timestamp, 1_700_005_000_002);
    for s in train.iter().chain(&series["tiny"]) {
        let full = s.filepath.as_ref().unwrap();
        let parsed = ImageStepFile::parse(full).unwrap();
        assert!(full.starts_with("images/"));
        assert_eq!(parsed.uuid.len(), 36);
        let thumb = decode_bytes(
            &repo
                .read_all(s.compressed_filepath.as_ref().unwrap(), 1 << 20)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(thumb.width().max(thumb.height()), THUMBNAIL_SIZE);
    }
    let tiny = decode_bytes(
        &repo
            .read_all(
                series["tiny"][0].compressed_filepath.as_ref().unwrap(),
                1 << 20,
            )
            .unwrap(),
    )
    .unwrap();
    assert_eq!((tiny.width(), tiny.height()), (256, 128));
    let plot = decode_bytes(&repo.read_all("plots/scatter.png", 1 << 22).unwrap()).unwrap();
    assert_eq!((plot.width(), plot.height()), (400, 300));
    assert!(
        String::from_utf8(repo.read_all("plots/scatter.svg", 1 << 22).unwrap())
            .unwrap()
            .starts_with("<svg")
    );

    // Downloads.
    let dst = tempfile::tempdir().unwrap();
    let got = client
        .download_artifacts(run_id, "bundle", Some(dst.path()))
        .unwrap();
    assert_eq!(got, dst.path().join("bundle"));
    assert!(dst.path().join("bundle/sub/deeper/c.json").is_file());
    let local = client
        .download_artifacts(run_id, "metrics.csv", None)
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(local).unwrap(),
        "epoch,loss\n0,1.0\n"
    );
}

// ----- tests on MiniStore ----------------------------------------------------------------------

#[test]
fn logs_every_kind_and_reads_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let (client, run_id) = file_uri_run(dir.path());
    let src = tempfile::tempdir().unwrap();
    let cfg = log_everything(&client, &run_id, src.path());
    check_logged(&client, &run_id, &cfg);
    let uri = client
        .get_artifact_uri(&run_id, Some("plots/scatter.png"))
        .unwrap();
    assert!(
        uri.starts_with("file://") && uri.ends_with("/artifacts/plots/scatter.png"),
        "{uri}"
    );
    let arts = client.run_artifacts(&run_id).unwrap();
    assert_eq!(arts.root.resolution, RootResolution::AsRecorded);
}

#[test]
fn plain_path_artifact_uri_like_the_sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let run_id = "feedfacefeedfacefeedfacefeedface";
    // The Python client with a sqlite: store records a plain absolute path, created lazily.
    let arts = dir
        .path()
        .join("elsewhere/artifact-root")
        .join(run_id)
        .join("artifacts");
    make_run(&root, "1", run_id, &arts.to_string_lossy(), "active");
    std::fs::remove_dir(root.join("1").join(run_id).join("artifacts")).unwrap();
    let client = mini_client(&root);
    assert_eq!(
        client.run_artifacts(run_id).unwrap().root.resolution,
        RootResolution::NotCreatedYet
    );
    let src = tempfile::tempdir().unwrap();
    let cfg = log_everything(&client, run_id, src.path());
    check_logged(&client, run_id, &cfg);
    assert!(arts.join("config/params.yaml").is_file());
    assert_eq!(
        client.get_artifact_uri(run_id, None).unwrap(),
        arts.to_string_lossy()
    );
}

#[test]
fn copied_stores_are_resolved_relative_to_the_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let run_id = "00000000000000000000000000000abc";
    make_run(
        &root,
        "5",
        run_id,
        &format!("file:///cluster/home/alice/mlruns/5/{run_id}/artifacts"),
        "active",
    );
    let local = root.join("5").join(run_id).join("artifacts");
    std::fs::create_dir_all(local.join("plots")).unwrap();
    std::fs::write(local.join("plots/loss.png"), "png").unwrap();
    let client = mini_client(&root);
    let arts = client.run_artifacts(run_id).unwrap();
    assert!(matches!(
        arts.root.resolution,
        RootResolution::Relocated { .. }
    ));
    // The note names the recorded place as a local path (`\cluster\home\alice` on Windows).
    let sep = std::path::MAIN_SEPARATOR;
    let note = arts.note().unwrap();
    assert!(
        note.contains(&format!("{sep}cluster{sep}home{sep}alice")),
        "{note}"
    );
    let files = client.list_artifacts_recursive(run_id, None).unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[1].file_size, Some(3));
    // Writes go to the run folder too, never to the recorded (foreign) path.
    client.log_text(run_id, "x", "new.txt").unwrap();
    assert!(local.join("new.txt").is_file());
    assert!(!Path::new("/cluster/home/alice").exists());
}

#[test]
fn server_artifact_uris_are_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let run_id = "1111111111111111111111111111111e";
    make_run(
        &root,
        "1",
        run_id,
        &format!("mlflow-artifacts:/1/{run_id}/artifacts"),
        "active",
    );
    let client = mini_client(&root);
    // Served artifacts are read through the tracking server, which a file store is not.
    let err = client.log_text(run_id, "x", "a.txt").unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
    assert!(
        err.to_string()
            .contains("must be a valid http or https URI"),
        "{err}"
    );
    let err = client.list_artifacts(run_id, None).unwrap_err();
    assert!(err.to_string().contains("mlflow-artifacts"), "{err}");
}

#[test]
fn bad_input_is_rejected_and_leaves_artifacts_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let (client, run_id) = file_uri_run(dir.path());
    let mut t = Table::new(["a", "b"]);
    t.push_row([TableCell::from(1), "x".into()]).unwrap();
    client.log_table(&run_id, &t, "t.json").unwrap();
    client.log_text(&run_id, "keep", "keep.txt").unwrap();
    let repo = client.run_artifacts(&run_id).unwrap().repository().clone();
    let before = snapshot(repo.as_ref());
    let tags_before = client.get_run(&run_id).unwrap().data.tags;
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();

    let mut errors: Vec<(&str, Error)> = Vec::new();
    let mut other = Table::new(["a", "c"]);
    other.push_row([TableCell::from(2), "y".into()]).unwrap();
    errors.push((
        "schema",
        client.log_table(&run_id, &other, "t.json").unwrap_err(),
    ));
    let mut imgs = Table::new(["a", "b"]);
    imgs.push_row([TableCell::from(2), TableCell::Image(gradient(2, 2))])
        .unwrap();
    errors.push((
        "image column",
        client.log_table(&run_id, &imgs, "t.json").unwrap_err(),
    ));
    let mut mixed = Table::new(["a", "b"]);
    mixed
        .push_row([TableCell::from(2), TableCell::Image(gradient(2, 2))])
        .unwrap();
    mixed.push_row([TableCell::from(3), "z".into()]).unwrap();
    errors.push((
        "mixed",
        client
            .log_table(&run_id, &mixed, "new_table.json")
            .unwrap_err(),
    ));
    errors.push((
        "table name",
        client.log_table(&run_id, &t, "bad,name.json").unwrap_err(),
    ));
    errors.push((
        "escape",
        client
            .log_text(&run_id, "x", "../../outside/x.txt")
            .unwrap_err(),
    ));
    errors.push((
        "absolute",
        client.log_text(&run_id, "x", "/tmp/x.txt").unwrap_err(),
    ));
    errors.push((
        "buffer",
        client
            .log_image(&run_id, RawImage::u8(&[1, 2, 3], &[2, 2]), "i.png")
            .unwrap_err(),
    ));
    errors.push((
        "channels",
        client
            .log_image_step(&run_id, "k", RawImage::u8(&[0; 8], &[2, 2, 2]), None, None)
            .unwrap_err(),
    ));
    errors.push((
        "key",
        client
            .log_image_step(&run_id, "bad+key", gradient(2, 2), None, None)
            .unwrap_err(),
    ));
    errors.push((
        "extension",
        client
            .log_image(&run_id, gradient(2, 2), "i.tiff")
            .unwrap_err(),
    ));
    errors.push((
        "svg",
        client
            .log_figure(&run_id, &Figure::Svg("<svg/>".into()), "f.png")
            .unwrap_err(),
    ));
    errors.push((
        "missing file",
        client
            .log_artifact(&run_id, dir.path().join("nope.bin"), None)
            .unwrap_err(),
    ));
    errors.push((
        "not an image",
        client
            .log_image(&run_id, dir.path().join("nope.png"), "x.png")
            .unwrap_err(),
    ));
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("keep.txt"), "changed").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(src.path().join("gone"), src.path().join("zz_broken.txt")).unwrap();
    #[cfg(unix)]
    errors.push((
        "unreadable",
        client.log_artifacts(&run_id, src.path(), None).unwrap_err(),
    ));
    #[cfg(unix)]
    {
        let root = client.run_artifacts(&run_id).unwrap().root.local_root;
        std::os::unix::fs::symlink(&outside, root.join("escape")).unwrap();
        errors.push((
            "symlink write",
            client.log_text(&run_id, "x", "escape/x.txt").unwrap_err(),
        ));
        errors.push(("symlink read", repo.read_all("escape", 10).unwrap_err()));
        std::fs::remove_file(root.join("escape")).unwrap();
    }
    for (what, e) in &errors {
        let msg = e.to_string();
        assert!(!msg.is_empty(), "{what}");
        eprintln!("{what}: {msg}");
    }
    assert!(errors[0].1.to_string().contains("schema mismatch"));
    assert_eq!(snapshot(repo.as_ref()), before, "artifacts changed");
    assert_eq!(client.get_run(&run_id).unwrap().data.tags, tags_before);
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
}

#[test]
fn deleted_runs_refuse_tagged_artifacts() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let run_id = "2222222222222222222222222222222d";
    let arts = root.join("1").join(run_id).join("artifacts");
    make_run(
        &root,
        "1",
        run_id,
        &format!("file://{}", arts.display()),
        "deleted",
    );
    let client = mini_client(&root);
    let err = client
        .log_image_step(run_id, "k", gradient(2, 2), None, None)
        .unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidState);
    assert!(
        client
            .list_artifacts_recursive(run_id, None)
            .unwrap()
            .is_empty()
    );
}

// ----- real MLflow ---------------------------------------------------------------------------

/// Loud notice on the real stderr (not captured by the test harness).
fn loud(msg: &str) {
    let _ = writeln!(std::io::stderr().lock(), "\n*** {msg} ***\n");
}

fn mlflow_python() -> Option<PathBuf> {
    let path = std::env::var_os("MLSCOPE_MLFLOW_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/mlscope/venv-mlflow-3.17.2/bin/python"))
        });
    match path {
        Some(p) if p.exists() => Some(p),
        _ => {
            if std::env::var("MLSCOPE_REQUIRE_MLFLOW").as_deref() == Ok("1") {
                panic!(
                    "MLSCOPE_REQUIRE_MLFLOW=1 but no MLflow venv at ~/.cache/mlscope/venv-mlflow-3.17.2"
                );
            }
            loud(
                "SKIPPED MLflow interop test: no venv at ~/.cache/mlscope/venv-mlflow-3.17.2 (set MLSCOPE_MLFLOW_PYTHON)",
            );
            None
        }
    }
}

fn python(py: &Path, args: &[&str]) -> String {
    let out = Command::new(py)
        .args(args)
        .env("MLFLOW_ALLOW_FILE_STORE", "true")
        .env("GIT_PYTHON_REFRESH", "quiet")
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "python {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn check_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mlflow_artifacts_check.py")
}

fn shared_tools() -> Option<PathBuf> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        here.join("../shared/tools"),
        here.join("../../shared/tools"),
        PathBuf::from("/work/shared/tools"),
    ]
    .into_iter()
    .find(|p| p.join("gen_mlflow_fixtures.py").is_file())
}

/// MLflow creates the run; mlscope logs into it; MLflow reads everything back.
fn mlflow_reads_what_we_log(artifact_location: Option<&str>) {
    let Some(py) = mlflow_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let uri = format!("file://{}", root.display());
    let script = check_script();
    let mut args = vec![script.to_str().unwrap(), "create", &uri, "interop"];
    if let Some(loc) = artifact_location {
        args.extend(["--artifact-location", loc]);
    }
    let created: Value = serde_json::from_str(&python(&py, &args)).unwrap();
    let run_id = created["run_id"].as_str().unwrap().to_string();
    if artifact_location.is_some() {
        assert!(
            !created["artifact_uri"]
                .as_str()
                .unwrap()
                .starts_with("file:"),
            "{created}"
        );
    }
    let client = mini_client(&root);
    let src = tempfile::tempdir().unwrap();
    let cfg = log_everything(&client, &run_id, src.path());

    let report: Value = serde_json::from_str(&python(
        &py,
        &[script.to_str().unwrap(), "check", &uri, &run_id],
    ))
    .unwrap();
    assert_eq!(report["errors"], json!([]), "{}", report["errors"]);
    // Listing: MLflow sees exactly our files with our sizes.
    let ours: Vec<Value> = client
        .list_artifacts_recursive(&run_id, None)
        .unwrap()
        .into_iter()
        .map(|f| json!({"path": f.path, "is_dir": f.is_dir, "file_size": f.file_size}))
        .collect();
    let mut theirs = report["files"].as_array().unwrap().clone();
    theirs.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
    assert_eq!(Value::Array(theirs), Value::Array(ours));
    // Dicts and texts.
    assert_eq!(report["dicts"]["config/params.json"], cfg);
    assert_eq!(report["dicts"]["config/params.yaml"], cfg);
    assert_eq!(report["texts"]["notes/readme.txt"], "hello ✓\nsecond line");
    // Tables through mlflow.load_table: same rows.
    for file in ["tables/predictions.json", "image_gen.json"] {
        let ours = client.load_table(&run_id, file).unwrap();
        let theirs = &report["tables"][file];
        assert_eq!(theirs["columns"], json!(ours.columns), "{file}");
        assert_eq!(theirs["data"], json!(ours.data), "{file}");
    }
    // Images: MLflow's UI parser finds our series; PIL opens every image; thumbnails 256 px.
    let ui = &report["images"]["samples/train"];
    assert_eq!(ui.as_object().unwrap().len(), 3);
    for (_, entry) in ui.as_object().unwrap() {
        assert!(entry["filepath"].is_string() && entry["compressed_filepath"].is_string());
        let thumb = &report["image_files"][entry["compressed_filepath"].as_str().unwrap()];
        assert_eq!(thumb["format"], "WEBP");
        assert_eq!(
            thumb["size"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .max(),
            Some(256)
        );
    }
    assert_eq!(
        report["image_files"]["plots/scatter.png"]["size"],
        json!([400, 300])
    );
    assert_eq!(
        report["image_files"]["images_static/photo.jpg"]["format"],
        "JPEG"
    );
    assert_eq!(
        report["image_files"]["images_static/gray_float.png"]["mode"],
        "L"
    );
    assert_eq!(report["tags"]["mlflow.loggedImages"], "True");
    assert!(report["downloads"][""].as_u64().unwrap() > 20);
}

#[test]
fn mlflow_reads_what_we_log_file_uri() {
    mlflow_reads_what_we_log(None);
}

#[test]
fn mlflow_reads_what_we_log_plain_path() {
    let dir = tempfile::tempdir().unwrap();
    let loc = dir.path().join("plain-artifacts");
    mlflow_reads_what_we_log(Some(loc.to_str().unwrap()));
}

#[test]
fn reads_a_store_written_by_mlflow() {
    let Some(py) = mlflow_python() else { return };
    let Some(tools) = shared_tools() else {
        loud("SKIPPED: shared/tools/gen_mlflow_fixtures.py not found");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fixture");
    python(
        &py,
        &[
            tools.join("gen_mlflow_fixtures.py").to_str().unwrap(),
            "--backend",
            "file",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("fixture_manifest.json")).unwrap())
            .unwrap();
    let run_id = manifest["small"]["runs"]["artifacts-showcase"]
        .as_str()
        .unwrap()
        .to_string();
    let root = out.join("mlruns");
    let uri = format!("file://{}", root.display());
    let report: Value = serde_json::from_str(&python(
        &py,
        &[check_script().to_str().unwrap(), "check", &uri, &run_id],
    ))
    .unwrap();

    // Also as a copy on "another machine": move the store, so every recorded path is stale.
    let moved = dir.path().join("moved-mlruns");
    std::fs::rename(&root, &moved).unwrap();
    let client = mini_client(&moved);
    let arts = client.run_artifacts(&run_id).unwrap();
    assert!(arts.note().is_some());

    let ours: Vec<Value> = client
        .list_artifacts_recursive(&run_id, None)
        .unwrap()
        .into_iter()
        .map(|f| json!({"path": f.path, "is_dir": f.is_dir, "file_size": f.file_size}))
        .collect();
    let mut theirs = report["files"].as_array().unwrap().clone();
    theirs.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
    assert_eq!(Value::Array(theirs), Value::Array(ours));

    // Image series: same keys, steps and file pairs as MLflow's UI parser.
    let series = client.image_series(&run_id).unwrap();
    let ui = report["images"].as_object().unwrap();
    assert_eq!(
        series.keys().collect::<Vec<_>>(),
        ui.keys().collect::<Vec<_>>()
    );
    for (key, steps) in &series {
        assert_eq!(steps.len(), ui[key].as_object().unwrap().len());
        for s in steps {
            let entry = &ui[key][&s.file_key];
            assert_eq!(entry["step"], json!(s.step));
            assert_eq!(entry["timestamp"], json!(s.timestamp));
            assert_eq!(entry["filepath"], json!(s.filepath));
            assert_eq!(entry["compressed_filepath"], json!(s.compressed_filepath));
        }
    }
    assert_eq!(
        series["heatmap"].iter().map(|s| s.step).collect::<Vec<_>>(),
        [0, 10, 20]
    );

    // Tables, dicts and texts read the same as MLflow reads them.
    let repo = arts.repository();
    for (file, table) in report["tables"].as_object().unwrap() {
        let ours = client.load_table(&run_id, file).unwrap();
        assert_eq!(json!(ours.columns), table["columns"]);
        assert_eq!(ours.data.len(), table["data"].as_array().unwrap().len());
        for (a, b) in ours.data.iter().flatten().zip(
            table["data"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|r| r.as_array().unwrap()),
        ) {
            match (a.as_f64(), b.as_f64()) {
                (Some(x), Some(y)) => assert!((x - y).abs() < 1e-9, "{a} vs {b}"),
                _ => assert_eq!(a, b),
            }
        }
    }
    let tags = &client.get_run(&run_id).unwrap().data.tags;
    let announced: Vec<Value> = serde_json::from_str(&tags[tags::LOGGED_ARTIFACTS]).unwrap();
    assert_eq!(announced.len(), report["tables"].as_object().unwrap().len());
    for (file, value) in report["dicts"].as_object().unwrap() {
        let bytes = repo.read_all(file, 1 << 20).unwrap();
        let parsed: Value = if file.ends_with(".json") {
            serde_json::from_slice(&bytes).unwrap()
        } else {
            serde_norway::from_slice(&bytes).unwrap()
        };
        assert_eq!(&parsed, value, "{file}");
    }
    // Our log_dict writes the very bytes MLflow wrote.
    let cfg = &report["dicts"]["config/params.json"];
    assert_eq!(
        mlscope::artifacts::pyfmt::yaml_dump(cfg)
            .unwrap()
            .as_bytes(),
        repo.read_all("config/params.yaml", 1 << 20).unwrap()
    );
    for (file, text) in report["texts"].as_object().unwrap() {
        assert_eq!(
            repo.read_all(file, 1 << 20).unwrap(),
            text.as_str().unwrap().as_bytes(),
            "{file}"
        );
    }
    for (file, info) in report["image_files"].as_object().unwrap() {
        let img = decode_bytes(&repo.read_all(file, 1 << 24).unwrap()).unwrap();
        assert_eq!(json!([img.width(), img.height()]), info["size"], "{file}");
    }
    // A preview reads part of a file only.
    assert_eq!(
        repo.read_range("bundle/sub/b.bin", 4000, 1000)
            .unwrap()
            .len(),
        96
    );
}

#[test]
fn reads_legacy_image_names_written_by_mlflow_2() {
    let Some(py3) = mlflow_python() else { return };
    let py = py3
        .parent()
        .unwrap()
        .join("../../venv-mlflow-2.22.5/bin/python");
    if !py.exists() {
        loud("SKIPPED legacy image names: no venv-mlflow-2.22.5");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let code = format!(
        "import mlflow, numpy as np\nmlflow.set_tracking_uri('file://{}')\nc = mlflow.MlflowClient()\n\
         r = c.create_run('0')\nfor s in range(2):\n    c.log_image(r.info.run_id, np.zeros((5, 9, 3), dtype=np.uint8), key='a/b', step=s, timestamp=1700000000000 + s)\n\
         print(r.info.run_id)\n",
        root.display()
    );
    let run_id = python(&py, &["-c", &code]).trim().to_string();
    let client = mini_client(&root);
    let series = client.image_series(&run_id).unwrap();
    let steps = &series["a/b"];
    assert_eq!(steps.len(), 2);
    for (i, s) in steps.iter().enumerate() {
        assert_eq!(
            (s.step, s.timestamp),
            (i as i64, 1_700_000_000_000 + i as i64)
        );
        let full = s.filepath.as_ref().unwrap();
        assert!(full.contains("a#b%step%"), "{full}");
        let img = decode_bytes(
            &client
                .run_artifacts(&run_id)
                .unwrap()
                .repository()
                .read_all(full, 1 << 20)
                .unwrap(),
        )
        .unwrap();
        assert_eq!((img.width(), img.height()), (9, 5));
        assert!(
            s.compressed_filepath
                .as_ref()
                .unwrap()
                .ends_with("%compressed.webp")
        );
    }
}

#[test]
fn json_and_yaml_match_python_on_a_corpus() {
    let Some(py) = mlflow_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus.json");
    python(
        &py,
        &[
            check_script().to_str().unwrap(),
            "format-corpus",
            corpus.to_str().unwrap(),
        ],
    );
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&corpus).unwrap()).unwrap();
    assert!(cases.len() > 500);
    for c in &cases {
        let v = &c["value"];
        assert_eq!(
            mlscope::artifacts::pyfmt::yaml_dump(v).unwrap(),
            c["yaml"].as_str().unwrap(),
            "YAML of {v}"
        );
        assert_eq!(
            mlscope::artifacts::pyfmt::json_dumps_indent2(v).unwrap(),
            c["json"].as_str().unwrap(),
            "JSON of {v}"
        );
    }
}

// ----- with the real file store ---------------------------------------------------------------

/// Whether this build has a working `FileStore` (it is a placeholder until the store lands).
fn file_store_ready(dir: &Path) -> Option<TrackingClient> {
    let path = dir.join("probe-mlruns");
    let result = std::panic::catch_unwind(|| {
        let c = TrackingClient::new(&path.to_string_lossy())?;
        c.create_experiment("probe", None, &[])?;
        Ok::<_, Error>(c)
    });
    match result {
        Ok(Ok(c)) => Some(c),
        Ok(Err(e)) => panic!("the file store failed: {e}"),
        Err(_) => {
            loud("SKIPPED file-store artifact test: this build's FileStore is a placeholder");
            None
        }
    }
}

#[test]
fn file_store_end_to_end_with_cli_and_mlflow() {
    let dir = tempfile::tempdir().unwrap();
    let Some(client) = file_store_ready(dir.path()) else {
        return;
    };
    let exp = client
        .create_experiment("artifacts-e2e", None, &[])
        .unwrap();
    let run = client.create_run(&exp, Some("art"), &[], None).unwrap();
    let run_id = run.info.run_id;
    let src = tempfile::tempdir().unwrap();
    let cfg = log_everything(&client, &run_id, src.path());
    check_logged(&client, &run_id, &cfg);
    client
        .set_terminated(&run_id, RunStatus::Finished, None)
        .unwrap();

    let store = dir.path().join("probe-mlruns");
    let bin = env!("CARGO_BIN_EXE_mlscope");
    let out = Command::new(bin)
        .args([
            "artifacts",
            store.to_str().unwrap(),
            &run_id,
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        listing["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == "config/params.yaml" && f["file_size"].as_u64().is_some())
    );
    let out = Command::new(bin)
        .args(["artifacts", store.to_str().unwrap(), &run_id, "bundle"])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.starts_with("path") && table.contains("bundle/sub/deeper/c.json"),
        "{table}"
    );
    let csv = Command::new(bin)
        .args([
            "artifacts",
            store.to_str().unwrap(),
            &run_id,
            "data",
            "--format",
            "csv",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&csv.stdout),
        "path,type,size\ndata/metrics.csv,file,17\n"
    );
    let dst = dir.path().join("dl");
    let out = Command::new(bin)
        .args([
            "artifacts",
            store.to_str().unwrap(),
            &run_id,
            "bundle",
            "--out",
            dst.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dst.join("bundle/sub/deeper/c.json").is_file());
    let out = Command::new(bin)
        .args(["artifacts", store.to_str().unwrap(), &run_id, "../etc"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Invalid artifact path"));

    if let Some(py) = mlflow_python() {
        let uri = format!("file://{}", store.display());
        let report: Value = serde_json::from_str(&python(
            &py,
            &[check_script().to_str().unwrap(), "check", &uri, &run_id],
        ))
        .unwrap();
        assert_eq!(report["errors"], json!([]));
        assert_eq!(report["dicts"]["config/params.yaml"], cfg);
        assert_eq!(
            report["tables"]["tables/predictions.json"]["data"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
    }
}

#[test]
fn fluent_api_logs_to_the_active_run() {
    let dir = tempfile::tempdir().unwrap();
    if file_store_ready(dir.path()).is_none() {
        return;
    }
    mlscope::tracking::fluent::reset_for_tests();
    mlscope::set_tracking_uri(
        dir.path()
            .join("fluent-mlruns")
            .to_string_lossy()
            .into_owned(),
    );
    mlscope::set_experiment("fluent-artifacts").unwrap();
    let run = mlscope::start_run(mlscope::RunOptions::new()).unwrap();
    mlscope::log_text("hi", "a.txt").unwrap();
    mlscope::log_dict(&json!({"k": 1}), "d.yaml").unwrap();
    mlscope::log_image_step("k", gradient(3, 3), Some(1), None).unwrap();
    let files = mlscope::list_artifacts(None, None).unwrap();
    assert_eq!(
        files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
        ["a.txt", "d.yaml", "images"]
    );
    assert!(
        mlscope::get_artifact_uri(Some("a.txt"))
            .unwrap()
            .ends_with("/artifacts/a.txt")
    );
    let id = run.run_id().to_string();
    run.end().unwrap();
    let dst = tempfile::tempdir().unwrap();
    let p = mlscope::download_artifacts(&id, "a.txt", Some(dst.path())).unwrap();
    assert_eq!(std::fs::read_to_string(p).unwrap(), "hi");
    // Without an active run, one is started (and stays active), as in MLflow.
    mlscope::log_text("implicit", "b.txt").unwrap();
    let active = mlscope::active_run().unwrap().unwrap();
    assert_ne!(active.info.run_id, id);
    mlscope::end_run(RunStatus::Finished).unwrap();
    mlscope::tracking::fluent::reset_for_tests();
    let _ = LoggedTable::default();
}
