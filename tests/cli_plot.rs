//! `mlscope plot` end to end on MLflow-made stores: the picture has the asked size, shows every
//! run with the colour the viewer gives it, and mistakes are reported clearly.

use std::process::{Command, Output};

mod support;

/// Runs mlscope with an empty data folder: colours the viewer remembers on this machine (from
/// someone opening the fixtures in it) must not change what the tests expect.
fn mlscope(args: &[&str]) -> Output {
    let no_viewer_state = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_mlscope"))
        .args(args)
        .env("XDG_DATA_HOME", no_viewer_state.path())
        .output()
        .expect("the mlscope binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const EXPERIMENT: &str = "fixtures/classification";

/// The runs of the fixture's grid search (they log `train/loss` and `val/acc`), by name.
const GRID: [&str; 6] = [
    "grid-lr0.1-bs64",
    "grid-lr0.1-bs32",
    "grid-lr0.01-bs64",
    "grid-lr0.01-bs32",
    "grid-lr0.001-bs64",
    "grid-lr0.001-bs32",
];

#[cfg(feature = "viewer")] // the colours are checked against the viewer's own
#[test]
fn a_png_of_the_asked_size_with_each_run_drawn_in_its_colour() {
    for fixture in support::FIXTURES {
        let store = fixture.copy();
        let uri = store.uri();
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("loss.png");
        let out = mlscope(&[
            "plot",
            &uri,
            "--experiment",
            EXPERIMENT,
            "--metric",
            "train/loss,val/acc",
            "--out",
            png.to_str().unwrap(),
            "--width",
            "900",
            "--height",
            "540",
        ]);
        assert!(out.status.success(), "{}: {}", fixture.name, stderr(&out));
        let img = image::open(&png).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (900, 540), "{}", fixture.name);
        // Each grid run's line is there in its own colour (many pixels of it, not just the
        // legend's swatch of 18×5).
        for (name, rgb) in viewer_colours(&uri) {
            if !GRID.contains(&name.as_str()) {
                continue;
            }
            let n = img.pixels().filter(|p| p.0 == rgb).count();
            assert!(n > 200, "{}: {name} {rgb:?}: {n} pixels", fixture.name);
        }
    }
}

#[cfg(feature = "viewer")] // the colours are checked against the viewer's own
#[test]
fn an_svg_names_each_run_with_the_viewers_colour() {
    let fixture = support::Fixture::named("mlflow-3.17.2-file");
    let store = fixture.copy();
    let uri = store.uri();
    let dir = tempfile::tempdir().unwrap();
    let svg_path = dir.path().join("acc.svg");
    let out = mlscope(&[
        "plot",
        &uri,
        "--experiment",
        EXPERIMENT,
        "--metric",
        "val/acc",
        "--x",
        "relative",
        "--out",
        svg_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<svg width=\"1200\" height=\"700\""));
    let colours = viewer_colours(&uri);
    for name in GRID {
        let rgb = colours
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| *c)
            .unwrap();
        assert!(svg.contains(name), "{name} missing from the legend");
        let hex = format!("#{:02X}{:02X}{:02X}", rgb[0], rgb[1], rgb[2]);
        assert!(svg.contains(&format!("stroke=\"{hex}\"")), "{name}: {hex}");
    }
    // Runs without the metric are not in the legend.
    assert!(!svg.contains("model-run") && !svg.contains("grid-search"));
    assert!(svg.contains("val/acc") && svg.contains("time since the run"));
}

/// `--runs` and `--filter` narrow the runs drawn; colours stay those of the whole table.
#[cfg(feature = "viewer")] // the colours are checked against the viewer's own
#[test]
fn runs_and_filter_choose_the_runs_drawn() {
    let fixture = support::Fixture::named("mlflow-3.17.2-sqlite");
    let store = fixture.copy();
    let uri = store.uri();
    let colours = viewer_colours(&uri);
    let dir = tempfile::tempdir().unwrap();
    let svg_path = dir.path().join("two.svg");
    let ids = run_ids(&uri, &["grid-lr0.1-bs64", "grid-lr0.001-bs32"]);
    let out = mlscope(&[
        "plot",
        &uri,
        "--experiment",
        EXPERIMENT,
        "--runs",
        &ids.join(","),
        "--metric",
        "train/loss",
        "--out",
        svg_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("(2 runs, 1 metric)"));
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    for (name, rgb) in &colours {
        let hex = format!("stroke=\"#{:02X}{:02X}{:02X}\"", rgb[0], rgb[1], rgb[2]);
        let wanted = ["grid-lr0.1-bs64", "grid-lr0.001-bs32"].contains(&name.as_str());
        assert_eq!(svg.contains(name.as_str()), wanted, "{name}");
        assert_eq!(svg.contains(&hex), wanted, "{name} {hex}");
    }

    let out = mlscope(&[
        "plot",
        &uri,
        "--experiment",
        EXPERIMENT,
        "--filter",
        "params.lr = '0.01'",
        "--metric",
        "val/acc",
        "--out",
        svg_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    for name in GRID {
        assert_eq!(svg.contains(name), name.contains("lr0.01-"), "{name}");
    }
}

#[test]
fn mistakes_are_reported_clearly_and_write_nothing() {
    let fixture = support::Fixture::named("mlflow-2.22.5-file");
    let store = fixture.copy();
    let uri = store.uri();
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("x.png");
    let png = png.to_str().unwrap();
    let cases: [(Vec<&str>, &[&str]); 7] = [
        (
            vec![
                "--experiment",
                EXPERIMENT,
                "--metric",
                "no_such_metric",
                "--out",
                png,
            ],
            &["no_such_metric", "train/loss", "val/acc"],
        ),
        (
            vec![
                "--experiment",
                "no-such-exp",
                "--metric",
                "val/acc",
                "--out",
                png,
            ],
            &["no-such-exp", EXPERIMENT],
        ),
        (
            vec![
                "--experiment",
                EXPERIMENT,
                "--metric",
                "val/acc",
                "--out",
                "x.jpg",
            ],
            &[".png or .svg", "x.jpg"],
        ),
        (
            vec![
                "--experiment",
                EXPERIMENT,
                "--metric",
                "val/acc",
                "--out",
                png,
                "--width",
                "10",
            ],
            &["--width", "10"],
        ),
        (
            vec![
                "--experiment",
                EXPERIMENT,
                "--metric",
                "val/acc",
                "--out",
                png,
                "--runs",
                "feed",
            ],
            &["feed", EXPERIMENT],
        ),
        (
            vec![
                "--experiment",
                EXPERIMENT,
                "--metric",
                "val/acc",
                "--out",
                png,
                "--filter",
                "params.lr = 'none'",
            ],
            &["no run", "params.lr = 'none'"],
        ),
        (
            vec![
                "--experiment",
                EXPERIMENT,
                "--metric",
                "val/acc",
                "--x",
                "epoch",
                "--out",
                png,
            ],
            &["epoch", "step", "relative"],
        ),
    ];
    for (args, words) in cases {
        let mut all = vec!["plot", uri.as_str()];
        all.extend(&args);
        let out = mlscope(&all);
        assert!(!out.status.success(), "{args:?} succeeded");
        let e = stderr(&out);
        for w in words {
            assert!(e.contains(w), "{args:?}: {w:?} not in {e}");
        }
        assert!(!std::path::Path::new(png).exists(), "{args:?} wrote a file");
    }
}

/// The run ids of the named runs of the experiment.
fn run_ids(uri: &str, names: &[&str]) -> Vec<String> {
    let client = mlscope::TrackingClient::new(uri).unwrap();
    let exp = client.get_experiment_by_name(EXPERIMENT).unwrap().unwrap();
    let runs = client
        .search_runs(&mlscope::RunQuery::new([exp.experiment_id]))
        .unwrap()
        .items;
    names
        .iter()
        .map(|n| {
            runs.iter()
                .find(|r| r.info.run_name == *n)
                .map(|r| r.info.run_id.clone())
                .unwrap()
        })
        .collect()
}

/// The colour a fresh viewer gives each run of the experiment: the viewer's own palette
/// assignment over its own runs-table rows (same query as its worker, default order).
#[cfg(feature = "viewer")]
fn viewer_colours(uri: &str) -> Vec<(String, [u8; 3])> {
    use mlscope::viewer::testing::{RunSet, SortValue, assign_colors, build_rows};
    let client = mlscope::TrackingClient::new(uri).unwrap();
    let exp = client.get_experiment_by_name(EXPERIMENT).unwrap().unwrap();
    let mut query = mlscope::RunQuery::new([exp.experiment_id]);
    query.max_results = 1000;
    let runs: Vec<std::sync::Arc<mlscope::Run>> = client
        .search_runs(&query)
        .unwrap()
        .items
        .into_iter()
        .map(std::sync::Arc::new)
        .collect();
    let set = RunSet::new(runs, 0);
    let rows = build_rows(
        &set,
        "",
        &Default::default(),
        &|_, _| SortValue::None,
        &[],
        &|_| false,
    );
    let order: Vec<&str> = rows
        .iter()
        .map(|r| set.runs[r.run].info.run_id.as_str())
        .collect();
    assign_colors(&order, &Default::default())
        .into_iter()
        .map(|(id, c)| (set.get(&id).unwrap().info.run_name.clone(), c))
        .collect()
}

/// A spike of one point among 200,000 is drawn: curves are reduced to each pixel column's
/// extremes, not sampled.
#[test]
fn a_single_spike_in_a_long_history_is_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let uri = root.to_string_lossy().into_owned();
    let client = mlscope::TrackingClient::new(&uri).unwrap();
    let exp = client.create_experiment("long", None, &[]).unwrap();
    let run = client
        .create_run(&exp, Some("spiky"), &[], Some(1_700_000_000_000))
        .unwrap();
    let metrics: Vec<mlscope::Metric> = (0..200_000i64)
        .map(|i| {
            let v = if i == 123_457 {
                100.0
            } else {
                (i % 7) as f64 * 0.1
            };
            mlscope::Metric::new("loss", v, 1_700_000_000_000 + i, i)
        })
        .collect();
    for chunk in metrics.chunks(1000) {
        client.log_batch(&run.info.run_id, chunk, &[], &[]).unwrap();
    }
    let png = dir.path().join("spike.png");
    let out = mlscope(&[
        "plot",
        &uri,
        "--experiment",
        "long",
        "--metric",
        "loss",
        "--out",
        png.to_str().unwrap(),
        "--width",
        "800",
        "--height",
        "500",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let img = image::open(&png).unwrap().to_rgb8();
    // The only run takes the palette's first colour; the spike is the only thing it draws in
    // the top quarter of the picture (the other values are below 1% of the range).
    let first = [0x4e, 0x79, 0xa7];
    let high = img
        .enumerate_pixels()
        .filter(|(_, y, p)| *y < 125 && p.0 == first)
        .count();
    assert!(high > 20, "{high} pixels of the spike");
}

/// A colour the viewer remembers for a run (chosen by the user, or given before newer runs
/// came) is the run's colour in the plot too; the viewer's state file is only read.
#[cfg(all(feature = "viewer", target_os = "linux"))]
#[test]
fn the_colours_the_viewer_remembers_are_used() {
    let fixture = support::Fixture::named("mlflow-3.17.2-file");
    let store = fixture.copy();
    let uri = store.uri();
    let ids = run_ids(&uri, &["grid-lr0.01-bs32"]);
    // The viewer's state as eframe saves it: a RON map holding the viewer's RON settings.
    let data_home = tempfile::tempdir().unwrap();
    let mut persisted = mlscope::viewer::Persisted::default();
    persisted.run_colors.insert(ids[0].clone(), [1, 2, 3]);
    let kv = std::collections::HashMap::from([(
        "mlscope-viewer".to_string(),
        ron::to_string(&persisted).unwrap(),
    )]);
    let state = data_home.path().join("mlscope/app.ron");
    std::fs::create_dir_all(state.parent().unwrap()).unwrap();
    std::fs::write(&state, ron::to_string(&kv).unwrap()).unwrap();
    let before = std::fs::read(&state).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let svg_path = dir.path().join("c.svg");
    let out = Command::new(env!("CARGO_BIN_EXE_mlscope"))
        .args([
            "plot",
            &uri,
            "--experiment",
            EXPERIMENT,
            "--metric",
            "val/acc",
        ])
        .arg("--out")
        .arg(&svg_path)
        .env("XDG_DATA_HOME", data_home.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(
        svg.contains("stroke=\"#010203\""),
        "the remembered colour is not used"
    );
    assert_eq!(std::fs::read(&state).unwrap(), before);
}
