//! Trains a tiny regression network with burn and autolog: every train/valid metric per step and
//! per epoch, the configuration as params, checkpoints and the final model as artifacts, the
//! datasets as run inputs, system metrics, and the environment tags.
//!
//! ```sh
//! MLFLOW_TRACKING_URI=./mlruns cargo run --example burn_training --features burn
//! MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri ./mlruns   # or mlscope's viewer
//! ```
//!
//! Burn's pure-Rust CPU backend (`flex`, burn 0.22's successor of the deprecated `ndarray`
//! backend), 16,384 synthetic points, 10 epochs: a few seconds on a laptop CPU. System metrics
//! are sampled every 0.5 s (MLflow's default is 10 s; `MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL`
//! overrides both). Working files (burn's checkpoints) go to a temporary folder.

use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset, InMemDataset};
use burn::lr_scheduler::constant::ConstantLr;
use burn::module::Module;
use burn::nn::loss::{MseLoss, Reduction};
use burn::nn::{Linear, LinearConfig, Relu};
use burn::optim::AdamConfig;
use burn::tensor::{Device, Tensor, TensorData};
use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{LearningRateMetric, LossMetric, MetricDefinition};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};
use burn::train::{
    InferenceStep, Learner, RegressionOutput, SupervisedTraining, TrainOutput, TrainStep,
};
use mlscope::integrations::burn::BurnAutolog;
use mlscope::{AutologOptions, RunOptions};
use serde::Serialize;

/// Training points (validation: a quarter as many).
const TRAIN_POINTS: usize = 16_384;
const VALID_POINTS: usize = TRAIN_POINTS / 4;

/// The training configuration, logged as params.
#[derive(Debug, Clone, Serialize)]
struct TrainingConfig {
    num_epochs: usize,
    batch_size: usize,
    learning_rate: f64,
    seed: u64,
    model: ModelConfig,
    optimizer: &'static str,
}

#[derive(Debug, Clone, Serialize)]
struct ModelConfig {
    inputs: usize,
    hidden: usize,
}

#[derive(Module, Debug)]
struct Regressor {
    hidden: Linear,
    activation: Relu,
    output: Linear,
}

impl Regressor {
    fn new(config: &ModelConfig, device: &Device) -> Self {
        Regressor {
            hidden: LinearConfig::new(config.inputs, config.hidden).init(device),
            activation: Relu::new(),
            output: LinearConfig::new(config.hidden, 1).init(device),
        }
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.output
            .forward(self.activation.forward(self.hidden.forward(x)))
    }

    fn regression(&self, batch: PointBatch) -> RegressionOutput {
        let output = self.forward(batch.inputs);
        let loss = MseLoss::new().forward(output.clone(), batch.targets.clone(), Reduction::Mean);
        RegressionOutput::new(loss, output, batch.targets)
    }
}

impl TrainStep for Regressor {
    type Input = PointBatch;
    type Output = RegressionOutput;

    fn step(&self, batch: PointBatch) -> TrainOutput<RegressionOutput> {
        let item = self.regression(batch);
        TrainOutput::new(self, item.loss.backward(), item)
    }
}

impl InferenceStep for Regressor {
    type Input = PointBatch;
    type Output = RegressionOutput;

    fn step(&self, batch: PointBatch) -> RegressionOutput {
        self.regression(batch)
    }
}

/// One synthetic point: y = 2·x₀ − 3·x₁ + 0.5 + noise.
#[derive(Debug, Clone)]
struct Point {
    x: [f32; 2],
    y: f32,
}

#[derive(Debug, Clone)]
struct PointBatch {
    inputs: Tensor<2>,
    targets: Tensor<2>,
}

struct PointBatcher;

impl Batcher<Point, PointBatch> for PointBatcher {
    fn batch(&self, items: Vec<Point>, device: &Device) -> PointBatch {
        let n = items.len();
        let xs: Vec<f32> = items.iter().flat_map(|p| p.x).collect();
        let ys: Vec<f32> = items.iter().map(|p| p.y).collect();
        PointBatch {
            inputs: Tensor::from_data(TensorData::new(xs, [n, 2]), device),
            targets: Tensor::from_data(TensorData::new(ys, [n, 1]), device),
        }
    }
}

/// Deterministic points from a small xorshift generator.
fn synthetic(n: usize, seed: u64) -> Vec<Point> {
    let mut state = seed.max(1);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f32 / (1u64 << 53) as f32 * 2.0 - 1.0
    };
    (0..n)
        .map(|_| {
            let x = [next(), next()];
            let y = 2.0 * x[0] - 3.0 * x[1] + 0.5 + 0.05 * next();
            Point { x, y }
        })
        .collect()
}

fn main() -> mlscope::Result<()> {
    let config = TrainingConfig {
        num_epochs: 10,
        batch_size: 32,
        learning_rate: 1e-2,
        seed: 42,
        model: ModelConfig {
            inputs: 2,
            hidden: 64,
        },
        optimizer: "adam",
    };

    // Environment tags on every run; integrations log models and datasets (MLflow's defaults).
    mlscope::autolog!(AutologOptions::new().extra_tag("example", "burn_training"));
    mlscope::set_experiment("burn-regression")?;
    if std::env::var_os("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL").is_none() {
        mlscope::set_system_metrics_sampling_interval(Some(0.5));
    }
    let autolog = BurnAutolog::start_with(
        RunOptions::new()
            .run_name("tiny-regressor")
            .log_system_metrics(true),
    )?;
    autolog.log_config(&config)?;

    let train_set = InMemDataset::new(synthetic(TRAIN_POINTS, config.seed));
    let valid_set = InMemDataset::new(synthetic(VALID_POINTS, config.seed + 1));
    autolog.log_dataset("synthetic-train", &train_set, "train")?;
    autolog.log_dataset("synthetic-valid", &valid_set, "eval")?;
    println!(
        "run {} : {} training and {} validation points",
        autolog.run_id().unwrap_or("-"),
        train_set.len(),
        valid_set.len()
    );

    let device = Device::flex().autodiff();
    let train_loader = DataLoaderBuilder::new(PointBatcher)
        .batch_size(config.batch_size)
        .shuffle(config.seed)
        .build(train_set);
    let valid_loader = DataLoaderBuilder::new(PointBatcher)
        .batch_size(config.batch_size)
        .build(valid_set);

    let model = Regressor::new(&config.model, &device);
    let learner = Learner::new(
        model,
        AdamConfig::new().init(),
        ConstantLr::new(config.learning_rate),
    );
    let workdir = tempfile_dir();
    let training = SupervisedTraining::new(&workdir, train_loader, valid_loader)
        .num_epochs(config.num_epochs)
        .metric_train_numeric(LossMetric::new())
        .metric_valid_numeric(LossMetric::new())
        .metric_train_numeric(LearningRateMetric::new())
        .with_application_logger(None)
        .renderer(Box::new(EpochRenderer));
    let training = autolog.install(training, &workdir);
    let result = training.launch(learner);

    autolog.log_model(&result.model)?;
    let run_id = autolog.run_id().map(str::to_string);
    autolog.finish()?;
    let _ = std::fs::remove_dir_all(&workdir);
    if let Some(id) = run_id {
        let run = mlscope::get_run(&id)?;
        println!(
            "run {id} {}: valid/epoch_loss = {:?}",
            run.info.status,
            run.data.metrics.get("valid/epoch_loss").map(|m| m.value)
        );
    }
    Ok(())
}

/// Prints one line per epoch instead of burn's line per batch.
struct EpochRenderer;

impl MetricsRendererTraining for EpochRenderer {
    fn update_train(&mut self, _state: MetricState) {}
    fn update_valid(&mut self, _state: MetricState) {}
}

impl MetricsRendererEvaluation for EpochRenderer {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}
}

impl TrainingProgressLogger for EpochRenderer {
    fn start(&mut self, total: usize, start: usize, _items: Option<usize>, _label: Option<&str>) {
        println!("training epochs {start}..{total}");
    }
    fn update_epoch(&mut self, epoch: usize) {
        println!("epoch {epoch} done");
    }
    fn start_split(&mut self, _split: &str, _total_items: usize) {}
    fn update_split(&mut self, _items_processed: usize) {}
    fn end_split(&mut self) {}
    fn end(&mut self) {}
    fn log_event_training(&mut self, _event: String) {}
}

impl EvaluationProgressLogger for EpochRenderer {
    fn start_global_progress(&mut self, _total_tests: usize) {}
    fn start_test(&mut self, _name: &str, _total_items: usize) {}
    fn update_test_progress(&mut self, _items_processed: usize) {}
    fn end_test(&mut self) {}
    fn end_global_progress(&mut self) {}
    fn log_event_evaluation(&mut self, _event: String) {}
}

impl MetricsRenderer for EpochRenderer {
    fn manual_close(&mut self) {}
    fn register_metric(&mut self, _definition: MetricDefinition) {}
}

/// A fresh folder for burn's working files (checkpoints), removed at the end.
fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mlscope-burn-example-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir
}
