//! Writes the bundled demo store `assets/demo/mlruns` with mlscope's own writer, so that
//! `cargo run --release -- assets/demo/mlruns` opens something real.
//!
//! ```sh
//! cargo run --example make_demo -- assets/demo/mlruns   # or scripts/make-demo.sh
//! ```
//!
//! Contents: a ResNet-like hyperparameter sweep (a parent run with 12 nested children, curves of
//! 300 steps, one loss spike, one restarted run), NLP baselines (a failed, a killed and a still
//! running run, descriptions, tags, datasets), a few runs in `Default`, and artifacts (YAML
//! config, JSON, CSV, a log, PNG images, an image series, a `log_table` JSON).
//! Values and times are deterministic (a fixed seed and a fixed clock); run ids are random.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mlscope::model::tags;
use mlscope::{
    CreateRun, Dataset, DatasetInput, InputTag, Metric, Param, RunStatus, RunTag, TrackingStore,
};

/// 2026-01-05 09:00:00 UTC: the demo's clock.
const T0: i64 = 1_767_603_600_000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn noise(&mut self, scale: f64) -> f64 {
        (self.next() - 0.5) * 2.0 * scale
    }
}

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> Res<()> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "assets/demo/mlruns".to_string());
    let out = PathBuf::from(out);
    if out.exists() {
        std::fs::remove_dir_all(&out)?;
    }
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    // A missing folder is created by the store with the Default experiment, as MLflow does.
    let store = mlscope::open_store(&out.display().to_string())?;
    let mut rng = Rng(42);
    default_runs(&store, &mut rng)?;
    nlp_baselines(&store, &mut rng)?;
    resnet_sweep(&store, &mut rng)?;
    println!("demo store written to {}", out.display());
    Ok(())
}

struct RunSpec<'a> {
    experiment_id: &'a str,
    name: &'a str,
    start: i64,
    parent: Option<&'a str>,
    tags: Vec<(&'a str, String)>,
}

fn create(store: &Arc<dyn TrackingStore>, spec: RunSpec<'_>) -> Res<(String, PathBuf)> {
    let mut tags_ = vec![
        RunTag::new(tags::USER, "ada"),
        RunTag::new(tags::SOURCE_NAME, "train.py"),
        RunTag::new(tags::SOURCE_TYPE, "LOCAL"),
        RunTag::new(tags::GIT_COMMIT, "3f9c2a17d04b8e55c1a2f6e9b7d3c0a4e8f1b2c3"),
    ];
    if let Some(p) = spec.parent {
        tags_.push(RunTag::new(tags::PARENT_RUN_ID, p));
    }
    for (k, v) in spec.tags {
        tags_.push(RunTag::new(k, v));
    }
    let run = store.create_run(CreateRun {
        experiment_id: spec.experiment_id.into(),
        user_id: "ada".into(),
        start_time: Some(spec.start),
        tags: tags_,
        run_name: Some(spec.name.into()),
    })?;
    let artifacts = local_path(&run.info.artifact_uri);
    Ok((run.info.run_id, artifacts))
}

fn local_path(uri: &str) -> PathBuf {
    PathBuf::from(uri.strip_prefix("file://").unwrap_or(uri))
}

/// Logs metrics in batches of at most 1000 values.
fn log_metrics(store: &Arc<dyn TrackingStore>, run_id: &str, metrics: Vec<Metric>) -> Res<()> {
    for chunk in metrics.chunks(1000) {
        store.log_batch(run_id, chunk, &[], &[])?;
    }
    Ok(())
}

fn params(store: &Arc<dyn TrackingStore>, run_id: &str, ps: &[(&str, String)]) -> Res<()> {
    let ps: Vec<Param> = ps.iter().map(|(k, v)| Param::new(*k, v.clone())).collect();
    store.log_batch(run_id, &[], &ps, &[])?;
    Ok(())
}

fn finish(store: &Arc<dyn TrackingStore>, run_id: &str, status: RunStatus, end: i64) -> Res<()> {
    store.update_run_info(run_id, Some(status), Some(end), None)?;
    Ok(())
}

fn default_runs(store: &Arc<dyn TrackingStore>, rng: &mut Rng) -> Res<()> {
    let (id, _) = create(
        store,
        RunSpec {
            experiment_id: "0",
            name: "smoke-test",
            start: T0,
            parent: None,
            tags: vec![],
        },
    )?;
    let ms: Vec<Metric> = (0..20)
        .map(|s| {
            Metric::new(
                "loss",
                1.0 / (1.0 + s as f64) + rng.noise(0.01),
                T0 + s * 500,
                s,
            )
        })
        .collect();
    log_metrics(store, &id, ms)?;
    finish(store, &id, RunStatus::Finished, T0 + 12_000)?;
    Ok(())
}

fn nlp_baselines(store: &Arc<dyn TrackingStore>, rng: &mut Rng) -> Res<()> {
    let exp = store.create_experiment(
        "nlp-baselines",
        None,
        &[(
            tags::NOTE_CONTENT.to_string(),
            "Text classification baselines on the support-tickets dataset.".to_string(),
        )],
    )?;
    let models = [
        ("bow-logreg", "logreg", RunStatus::Finished, 0.81),
        ("bilstm", "lstm", RunStatus::Finished, 0.86),
        ("distilbert-ft", "distilbert", RunStatus::Finished, 0.91),
        ("bert-large-ft", "bert-large", RunStatus::Failed, 0.0),
        ("roberta-ft", "roberta", RunStatus::Killed, 0.89),
        ("deberta-ft", "deberta", RunStatus::Running, 0.92),
    ];
    for (i, (name, model, status, acc)) in models.into_iter().enumerate() {
        let start = T0 + 3_600_000 + i as i64 * 1_800_000;
        let (id, art) = create(
            store,
            RunSpec {
                experiment_id: &exp,
                name,
                start,
                parent: None,
                tags: vec![
                    ("model_family", model.to_string()),
                    ("dataset", "support-tickets-v3".to_string()),
                    (
                        tags::NOTE_CONTENT,
                        format!(
                            "# {name}\n\nFine-tuned **{model}** on support tickets.\n\n- max_len 256\n- early stopping on val/f1\n"
                        ),
                    ),
                ],
            },
        )?;
        params(
            store,
            &id,
            &[
                ("model", model.to_string()),
                ("lr", format!("{}", [0.1, 0.001, 5e-5, 2e-5, 3e-5, 2e-5][i])),
                ("batch_size", "32".into()),
                ("max_len", "256".into()),
                ("epochs", "4".into()),
            ],
        )?;
        let steps = match status {
            RunStatus::Failed => 37,
            RunStatus::Killed => 140,
            RunStatus::Running => 120,
            _ => 200,
        };
        let mut ms = Vec::new();
        for s in 0..steps {
            let t = start + s * 9_000;
            let p = s as f64 / 200.0;
            let a = acc * (1.0 - (-5.0 * p).exp()) + rng.noise(0.01);
            ms.push(Metric::new(
                "train/loss",
                1.2 * (-3.0 * p).exp() + 0.1 + rng.noise(0.03),
                t,
                s,
            ));
            if s % 10 == 0 {
                ms.push(Metric::new("val/accuracy", a.clamp(0.0, 1.0), t, s));
                ms.push(Metric::new("val/f1", (a - 0.03).clamp(0.0, 1.0), t, s));
            }
        }
        if status == RunStatus::Failed {
            ms.push(Metric::new(
                "train/loss",
                f64::NAN,
                start + steps * 9_000,
                steps,
            ));
        }
        log_metrics(store, &id, ms)?;
        store.log_inputs(
            &id,
            &[DatasetInput {
                dataset: Dataset {
                    name: "support-tickets-v3".into(),
                    digest: "a1b2c3d4".into(),
                    source_type: "local".into(),
                    source: r#"{"uri": "data/tickets.parquet"}"#.into(),
                    schema: None,
                    profile: Some(r#"{"num_rows": 48213}"#.into()),
                },
                tags: vec![InputTag {
                    key: "mlflow.data.context".into(),
                    value: "training".into(),
                }],
            }],
        )?;
        write_text(
            &art,
            "config.yaml",
            &format!(
                "model: {model}\noptimizer:\n  name: adamw\n  lr: 2.0e-05\n  weight_decay: 0.01\ndata:\n  max_len: 256\n  batch_size: 32\n"
            ),
        )?;
        let mut log = String::new();
        for s in 0..steps {
            log.push_str(&format!(
                "[step {s:>4}] loss={:.4}\n",
                1.2 * (-3.0 * s as f64 / 200.0).exp() + 0.1
            ));
        }
        if status == RunStatus::Failed {
            log.push_str("RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB\n");
        }
        write_text(&art, "logs/train.log", &log)?;
        if i == 2 {
            let mut table =
                String::from(r#"{"columns": ["text", "label", "prediction", "score"], "data": ["#);
            let texts = [
                "printer offline again",
                "cannot log in",
                "refund please",
                "app crashes on start",
                "how to export data",
            ];
            let labels = ["hardware", "account", "billing", "bug", "howto"];
            for (j, t) in texts.iter().enumerate() {
                if j > 0 {
                    table.push_str(", ");
                }
                let pred = if j == 3 { "hardware" } else { labels[j] };
                table.push_str(&format!(
                    r#"["{t}", "{}", "{pred}", {:.3}]"#,
                    labels[j],
                    0.6 + 0.07 * j as f64
                ));
            }
            table.push_str("]}");
            write_text(&art, "eval_predictions.json", &table)?;
            store.set_tag(
                &id,
                &RunTag::new(
                    tags::LOGGED_ARTIFACTS,
                    r#"[{"path": "eval_predictions.json", "type": "table"}]"#,
                ),
            )?;
            write_bytes(&art, "confusion_matrix.png", &png(&confusion_image(5)))?;
        }
        if status != RunStatus::Running {
            let end = start + steps * 9_000 + 5_000;
            finish(store, &id, status, end)?;
        }
    }
    Ok(())
}

fn resnet_sweep(store: &Arc<dyn TrackingStore>, rng: &mut Rng) -> Res<()> {
    let exp = store.create_experiment("resnet-sweep", None, &[])?;
    let start = T0 + 24 * 3_600_000;
    let (parent, part) = create(
        store,
        RunSpec {
            experiment_id: &exp,
            name: "grid-root",
            start,
            parent: None,
            tags: vec![(tags::NOTE_CONTENT, "Grid search over learning rate, weight decay and augmentation for ResNet-18 on CIFAR-10.".to_string())],
        },
    )?;
    params(
        store,
        &parent,
        &[
            ("arch", "resnet18".into()),
            ("dataset", "cifar10".into()),
            ("epochs", "30".into()),
        ],
    )?;
    write_text(
        &part,
        "grid.yaml",
        "lr: [0.1, 0.03, 0.01]\nweight_decay: [0.0005, 0.005]\naugment: [basic, randaug]\n",
    )?;
    let mut best = (f64::MIN, String::new());
    let mut i = 0;
    let mut last_end = start;
    for lr in [0.1, 0.03, 0.01] {
        for wd in [5e-4, 5e-3] {
            for aug in ["basic", "randaug"] {
                let run_start = start + 60_000 + i as i64 * 600_000;
                let name = format!("lr={lr} wd={wd} {aug}");
                let (id, art) = create(
                    store,
                    RunSpec {
                        experiment_id: &exp,
                        name: &name,
                        start: run_start,
                        parent: Some(&parent),
                        tags: vec![("sweep", "grid-1".to_string())],
                    },
                )?;
                params(
                    store,
                    &id,
                    &[
                        ("arch", "resnet18".into()),
                        ("lr", format!("{lr}")),
                        ("weight_decay", format!("{wd}")),
                        ("augment", aug.into()),
                        ("batch_size", "128".into()),
                        ("optimizer", "sgd".into()),
                    ],
                )?;
                let quality =
                    0.93 - (lr - 0.03f64).abs() * 0.6 - if wd > 1e-3 { 0.01 } else { 0.0 }
                        + if aug == "randaug" { 0.012 } else { 0.0 };
                let steps: i64 = 300;
                let mut ms = Vec::new();
                // One run is restarted from a checkpoint at step 180 (steps go back).
                let restart = i == 5;
                let mut t = run_start;
                let mut schedule: Vec<i64> = (0..steps).collect();
                if restart {
                    schedule = (0..200).chain(180..steps).collect();
                }
                for s in schedule {
                    t += 1_900 + (rng.next() * 200.0) as i64;
                    let p = s as f64 / steps as f64;
                    let mut loss = 2.3 * (-4.0 * p).exp() * (1.0 + lr) + 0.15 + rng.noise(0.04);
                    if i == 3 && s == 211 {
                        loss = 9.5; // a single spike: per-pixel min/max keeps it visible
                    }
                    let cur_lr = lr * 0.5 * (1.0 + (std::f64::consts::PI * p).cos());
                    ms.push(Metric::new("train/loss", loss, t, s));
                    ms.push(Metric::new("train/lr", cur_lr, t, s));
                    if s % 5 == 4 {
                        let acc = quality * (1.0 - (-6.0 * p).exp()) + rng.noise(0.006);
                        ms.push(Metric::new("val/accuracy", acc, t, s));
                        ms.push(Metric::new(
                            "val/loss",
                            0.25 + 2.0 * (-5.0 * p).exp() + rng.noise(0.02),
                            t,
                            s,
                        ));
                    }
                    if s % 10 == 0 {
                        ms.push(Metric::new(
                            "system/gpu_utilization",
                            80.0 + rng.noise(12.0),
                            t,
                            s,
                        ));
                    }
                }
                log_metrics(store, &id, ms)?;
                let final_acc = quality + rng.noise(0.003);
                store.log_batch(
                    &id,
                    &[Metric::new("test/accuracy", final_acc, t, steps)],
                    &[],
                    &[],
                )?;
                if final_acc > best.0 {
                    best = (final_acc, id.clone());
                }
                write_text(
                    &art,
                    "metrics.json",
                    &format!(
                        "{{\"test_accuracy\": {final_acc:.4}, \"params\": {{\"lr\": {lr}, \"weight_decay\": {wd}, \"augment\": \"{aug}\"}}}}"
                    ),
                )?;
                if i < 2 {
                    // An MLflow image series (log_image(key=..., step=...)), 3.11+ file names.
                    for (k, step) in [0, 100, 200, 299].into_iter().enumerate() {
                        let img = sample_image(step as u32, i as u32);
                        let file = format!(
                            "images/samples+step+{step}+timestamp+{}+00000000-0000-4000-8000-00000000000{k}.png",
                            run_start + step * 2000
                        );
                        write_bytes(&art, &file, &png(&img))?;
                    }
                    store.set_tag(&id, &RunTag::new(tags::LOGGED_IMAGES, "True"))?;
                    let mut csv = String::from("class,precision,recall,f1\n");
                    for (c, cls) in [
                        "airplane",
                        "automobile",
                        "bird",
                        "cat",
                        "deer",
                        "dog",
                        "frog",
                        "horse",
                        "ship",
                        "truck",
                    ]
                    .iter()
                    .enumerate()
                    {
                        let p = quality - 0.05 + 0.01 * (c % 4) as f64;
                        csv.push_str(&format!("{cls},{p:.3},{:.3},{:.3}\n", p - 0.01, p - 0.005));
                    }
                    write_text(&art, "per_class.csv", &csv)?;
                }
                last_end = t + 3_000;
                finish(store, &id, RunStatus::Finished, last_end)?;
                i += 1;
            }
        }
    }
    store.log_batch(
        &parent,
        &[Metric::new("best/test_accuracy", best.0, last_end, 0)],
        &[],
        &[RunTag::new("best_run", best.1)],
    )?;
    finish(store, &parent, RunStatus::Finished, last_end + 1_000)?;
    Ok(())
}

fn write_text(root: &Path, rel: &str, text: &str) -> Res<()> {
    write_bytes(root, rel, text.as_bytes())
}

fn write_bytes(root: &Path, rel: &str, bytes: &[u8]) -> Res<()> {
    let p = root.join(rel);
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d)?;
    }
    std::fs::write(p, bytes)?;
    Ok(())
}

/// An RGB image: width, height, pixels.
struct Rgb(u32, u32, Vec<u8>);

fn confusion_image(n: u32) -> Rgb {
    let cell = 24;
    let size = n * cell;
    let mut px = Vec::with_capacity((size * size * 3) as usize);
    for y in 0..size {
        for x in 0..size {
            let (r, c) = (y / cell, x / cell);
            let v = if r == c {
                230
            } else {
                40 + ((r * 7 + c * 13) % 5) * 18
            };
            px.extend([255 - v as u8, 255 - (v as u8) / 2, 255]);
        }
    }
    Rgb(size, size, px)
}

fn sample_image(step: u32, seed: u32) -> Rgb {
    let size = 96;
    let mut px = Vec::with_capacity((size * size * 3) as usize);
    let sharp = 1.0 + step as f64 / 60.0;
    for y in 0..size {
        for x in 0..size {
            let (fx, fy) = (x as f64 / size as f64 - 0.5, y as f64 / size as f64 - 0.5);
            let ring = ((fx * fx + fy * fy).sqrt() * 12.0 * sharp + seed as f64).sin();
            let v = ((ring * 0.5 + 0.5) * 255.0) as u8;
            px.extend([v, (x * 255 / size) as u8, 255 - v]);
        }
    }
    Rgb(size, size, px)
}

/// Encodes an RGB image as a PNG with stored (uncompressed) deflate blocks: no dependency.
fn png(img: &Rgb) -> Vec<u8> {
    let Rgb(w, h, px) = img;
    let mut raw = Vec::with_capacity(px.len() + *h as usize);
    for row in px.chunks((*w * 3) as usize) {
        raw.push(0);
        raw.extend_from_slice(row);
    }
    let mut z = vec![0x78, 0x01];
    let mut chunks = raw.chunks(65_535).peekable();
    while let Some(c) = chunks.next() {
        z.push(u8::from(chunks.peek().is_none()));
        let len = c.len() as u16;
        z.extend(len.to_le_bytes());
        z.extend((!len).to_le_bytes());
        z.extend_from_slice(c);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + byte as u32) % 65_521;
        b = (b + a) % 65_521;
    }
    z.extend(((b << 16) | a).to_be_bytes());
    let mut out = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    let mut ihdr = Vec::new();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &z);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend((data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = 0xffff_ffffu32;
    for &byte in &out[start..] {
        crc ^= byte as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    out.extend((!crc).to_be_bytes());
}
