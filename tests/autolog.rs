//! autolog: environment tags on new runs, the options, and (feature `burn`) the burn-train
//! integration: metrics per step and epoch, params, checkpoints, datasets, exclusive/disable,
//! and real MLflow reading the run of `examples/burn_training.rs`.
//!
//! The fluent API and autolog keep process-wide state, so every test takes `LOCK` and resets.

mod support;

use std::sync::{Mutex, MutexGuard};

use mlscope::model::tags;
use mlscope::tracking::autolog::{
    self, AUTOLOGGING_TAG, CRATE_NAME_TAG, CRATE_VERSION_TAG, GIT_BRANCH_TAG, GIT_DIRTY_TAG,
    HOST_TAG, MLSCOPE_VERSION_TAG, RUSTC_VERSION_TAG, TARGET_TAG,
};
use mlscope::{AutologOptions, RunOptions, TrackingClient};

static LOCK: Mutex<()> = Mutex::new(());

struct Fixture {
    _guard: MutexGuard<'static, ()>,
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
        mlscope::tracking::fluent::reset_for_tests();
        autolog::reset_autolog_for_tests();
        let dir = tempfile::tempdir().unwrap();
        mlscope::set_tracking_uri(dir.path().join("mlruns").to_string_lossy().into_owned());
        Fixture { _guard: guard, dir }
    }

    fn client(&self) -> TrackingClient {
        mlscope::tracking::fluent::client().unwrap()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        mlscope::tracking::fluent::reset_for_tests();
        autolog::reset_autolog_for_tests();
    }
}

fn in_git_checkout() -> bool {
    mlscope::tracking::context::git_commit_of(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
        .is_some()
}

fn git_available() -> bool {
    std::process::Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn autolog_macro_records_the_environment_on_new_runs() {
    let fx = Fixture::new();
    mlscope::autolog!();
    assert_eq!(autolog::autolog_options(), Some(AutologOptions::default()));
    let run = mlscope::start_run(RunOptions::new().tag("team", "vision")).unwrap();
    let id = run.run_id().to_string();
    run.end().unwrap();
    let t = fx.client().get_run(&id).unwrap().data.tags;
    assert_eq!(t[CRATE_NAME_TAG], env!("CARGO_PKG_NAME"));
    assert_eq!(t[CRATE_VERSION_TAG], env!("CARGO_PKG_VERSION"));
    assert!(t[RUSTC_VERSION_TAG].starts_with("rustc 1."), "{t:?}");
    assert_eq!(t[MLSCOPE_VERSION_TAG], env!("CARGO_PKG_VERSION"));
    assert!(!t[HOST_TAG].is_empty());
    assert!(t[TARGET_TAG].contains(std::env::consts::OS));
    assert_eq!(t["team"], "vision");
    assert_eq!(t[tags::SOURCE_TYPE], "LOCAL");
    if in_git_checkout() {
        assert_eq!(t[tags::GIT_COMMIT].len(), 40, "{t:?}");
        if git_available() {
            assert!(
                t[GIT_DIRTY_TAG] == "true" || t[GIT_DIRTY_TAG] == "false",
                "{t:?}"
            );
            let head = std::process::Command::new("git")
                .args([
                    "-C",
                    env!("CARGO_MANIFEST_DIR"),
                    "symbolic-ref",
                    "--short",
                    "-q",
                    "HEAD",
                ])
                .output()
                .unwrap();
            let branch = String::from_utf8_lossy(&head.stdout).trim().to_string();
            if !branch.is_empty() {
                assert_eq!(t[GIT_BRANCH_TAG], branch);
            }
        }
    }
}

#[test]
fn without_autolog_or_with_disable_runs_get_only_the_default_tags() {
    let fx = Fixture::new();
    let run = mlscope::start_run(RunOptions::new()).unwrap();
    let id = run.run_id().to_string();
    run.end().unwrap();
    let t = fx.client().get_run(&id).unwrap().data.tags;
    assert!(!t.contains_key(RUSTC_VERSION_TAG));
    assert!(!t.contains_key(CRATE_NAME_TAG));

    mlscope::autolog!(AutologOptions::new().disable(true));
    assert!(!autolog::autolog_enabled());
    let run = mlscope::start_run(RunOptions::new()).unwrap();
    let id = run.run_id().to_string();
    run.end().unwrap();
    let t = fx.client().get_run(&id).unwrap().data.tags;
    assert!(!t.contains_key(RUSTC_VERSION_TAG));
}

#[test]
fn autolog_function_records_all_but_the_crate() {
    let fx = Fixture::new();
    mlscope::autolog(AutologOptions::new().silent(true));
    assert!(autolog::autolog_enabled());
    let run = mlscope::start_run(RunOptions::new()).unwrap();
    let id = run.run_id().to_string();
    run.end().unwrap();
    let t = fx.client().get_run(&id).unwrap().data.tags;
    assert!(t.contains_key(RUSTC_VERSION_TAG));
    assert!(!t.contains_key(CRATE_NAME_TAG));
    assert!(
        !t.contains_key(AUTOLOGGING_TAG),
        "user runs are not autologging runs"
    );
    let _ = fx.dir.path();
}

#[cfg(feature = "burn")]
mod burn_integration {
    use super::*;

    use burn::data::dataloader::DataLoaderBuilder;
    use burn::data::dataloader::batcher::Batcher;
    use burn::data::dataset::InMemDataset;
    use burn::lr_scheduler::constant::ConstantLr;
    use burn::module::{Module, Param};
    use burn::optim::SgdConfig;
    use burn::tensor::{Device, Distribution, Tensor};
    use burn::train::metric::LossMetric;
    use burn::train::{
        InferenceStep, Learner, RegressionOutput, SupervisedTraining, TrainOutput, TrainStep,
    };
    use mlscope::integrations::burn::BurnAutolog;
    use mlscope::{RunStatus, ViewType};
    use support::{Backend, Checks, MlflowVersion, TempStore, check_store_against_mlflow};

    #[derive(Module, Debug)]
    struct Toy {
        weight: Param<Tensor<2>>,
    }

    #[derive(Clone, Debug)]
    struct ToyBatch {
        target: Tensor<2>,
    }

    struct ToyBatcher;

    impl Batcher<u32, ToyBatch> for ToyBatcher {
        fn batch(&self, items: Vec<u32>, device: &Device) -> ToyBatch {
            ToyBatch {
                target: Tensor::ones([1, 2], device) * (items.len() as f32),
            }
        }
    }

    impl Toy {
        fn output(&self, batch: ToyBatch) -> RegressionOutput {
            let output = self.weight.val();
            let loss = (output.clone() - batch.target.clone())
                .powi_scalar(2)
                .mean();
            RegressionOutput::new(loss, output, batch.target)
        }
    }

    impl TrainStep for Toy {
        type Input = ToyBatch;
        type Output = RegressionOutput;
        fn step(&self, batch: ToyBatch) -> TrainOutput<RegressionOutput> {
            let out = self.output(batch);
            TrainOutput::new(self, out.loss.backward(), out)
        }
    }

    impl InferenceStep for Toy {
        type Input = ToyBatch;
        type Output = RegressionOutput;
        fn step(&self, batch: ToyBatch) -> RegressionOutput {
            self.output(batch)
        }
    }

    #[derive(serde::Serialize)]
    struct Config {
        num_epochs: usize,
        batch_size: usize,
        optimizer: Optim,
    }

    #[derive(serde::Serialize)]
    struct Optim {
        name: &'static str,
        lr: f64,
    }

    const EPOCHS: usize = 3;
    const TRAIN_ITEMS: usize = 8;
    const VALID_ITEMS: usize = 4;
    const BATCH: usize = 2;

    /// Trains the toy model for EPOCHS epochs with `autolog` installed.
    fn train(autolog: &BurnAutolog, workdir: &std::path::Path) -> Toy {
        let device = Device::flex().autodiff();
        let train_set = InMemDataset::new((0..TRAIN_ITEMS as u32).collect::<Vec<_>>());
        let valid_set = InMemDataset::new((0..VALID_ITEMS as u32).collect::<Vec<_>>());
        autolog
            .log_dataset("toy-train", &train_set, "train")
            .unwrap();
        autolog
            .log_dataset("toy-valid", &valid_set, "eval")
            .unwrap();
        let train = DataLoaderBuilder::new(ToyBatcher)
            .batch_size(BATCH)
            .build(train_set);
        let valid = DataLoaderBuilder::new(ToyBatcher)
            .batch_size(BATCH)
            .build(valid_set);
        let model = Toy {
            weight: Param::from_tensor(Tensor::random([1, 2], Distribution::Default, &device)),
        };
        let learner = Learner::new(model, SgdConfig::new().init(), ConstantLr::new(1e-2));
        let training = SupervisedTraining::new(workdir, train, valid)
            .num_epochs(EPOCHS)
            .metric_train_numeric(LossMetric::new())
            .metric_valid_numeric(LossMetric::new())
            .with_application_logger(None);
        let training = autolog.install(training, workdir);
        training.launch(learner).model
    }

    #[test]
    fn burn_training_is_logged_per_step_and_epoch() {
        let fx = Fixture::new();
        mlscope::autolog!(
            AutologOptions::new()
                .extra_tag("suite", "autolog")
                .silent(true)
        );
        let work = tempfile::tempdir().unwrap();
        let autolog = BurnAutolog::start().unwrap();
        let id = autolog.run_id().unwrap().to_string();
        autolog
            .log_config(&Config {
                num_epochs: EPOCHS,
                batch_size: BATCH,
                optimizer: Optim {
                    name: "sgd",
                    lr: 0.01,
                },
            })
            .unwrap();
        let model = train(&autolog, work.path());
        autolog.log_model(&model).unwrap();
        autolog.finish().unwrap();
        assert!(
            mlscope::active_run().unwrap().is_none(),
            "the managed run ended"
        );

        let client = fx.client();
        let run = client.get_run(&id).unwrap();
        assert_eq!(run.info.status, RunStatus::Finished);
        assert_eq!(run.data.tags[AUTOLOGGING_TAG], "burn");
        assert_eq!(run.data.tags["suite"], "autolog");
        assert!(run.data.tags.contains_key(RUSTC_VERSION_TAG));
        assert_eq!(run.data.params["num_epochs"], "3");
        assert_eq!(run.data.params["optimizer.name"], "sgd");
        assert_eq!(run.data.params["optimizer.lr"], "0.01");
        assert_eq!(run.data.params["model.num_params"], "2");

        let steps = |key: &str| -> Vec<i64> {
            client
                .get_metric_history(&id, key)
                .unwrap()
                .iter()
                .map(|m| m.step)
                .collect()
        };
        let per_epoch_train = TRAIN_ITEMS / BATCH;
        let per_epoch_valid = VALID_ITEMS / BATCH;
        assert_eq!(
            steps("train/loss"),
            (1..=(EPOCHS * per_epoch_train) as i64).collect::<Vec<_>>()
        );
        assert_eq!(
            steps("valid/loss"),
            (1..=(EPOCHS * per_epoch_valid) as i64).collect::<Vec<_>>()
        );
        let epochs: Vec<i64> = (1..=EPOCHS as i64).collect();
        assert_eq!(steps("train/epoch_loss"), epochs);
        assert_eq!(steps("valid/epoch_loss"), epochs);
        let epoch_metric = client.get_metric_history(&id, "epoch").unwrap();
        assert_eq!(
            epoch_metric
                .iter()
                .map(|m| (m.step, m.value))
                .collect::<Vec<_>>(),
            (1..=EPOCHS)
                .map(|e| ((e * per_epoch_train) as i64, e as f64))
                .collect::<Vec<_>>()
        );

        // Checkpoints: burn's default strategy keeps the last 2 epochs and the best one.
        let ckpts: Vec<String> = client
            .list_artifacts(&id, Some("checkpoints"))
            .unwrap()
            .into_iter()
            .map(|f| f.path)
            .collect();
        for epoch in EPOCHS - 1..=EPOCHS {
            for name in ["model", "optim", "scheduler"] {
                let path = format!("checkpoints/{name}-{epoch}.bpk");
                assert!(ckpts.contains(&path), "{path} in {ckpts:?}");
            }
        }
        for path in &ckpts {
            let local = work
                .path()
                .join("checkpoint")
                .join(path.trim_start_matches("checkpoints/"));
            assert!(local.exists(), "artifact {path} is a checkpoint burn kept");
        }
        let model_files: Vec<String> = client
            .list_artifacts(&id, Some("model"))
            .unwrap()
            .into_iter()
            .map(|f| f.path)
            .collect();
        assert_eq!(
            model_files,
            vec!["model/model.bpk", "model/model_summary.txt"]
        );

        let inputs = &run.inputs.dataset_inputs;
        assert_eq!(inputs.len(), 2);
        let train_input = inputs
            .iter()
            .find(|i| i.dataset.name == "toy-train")
            .unwrap();
        assert_eq!(train_input.context(), Some("train"));
        assert_eq!(train_input.dataset.digest.len(), 8);
        assert_eq!(
            train_input.dataset.profile.as_deref(),
            Some(r#"{"num_rows":8}"#)
        );
        let valid_input = inputs
            .iter()
            .find(|i| i.dataset.name == "toy-valid")
            .unwrap();
        assert_eq!(valid_input.context(), Some("eval"));
    }

    #[test]
    fn user_runs_are_joined_unless_exclusive_and_disable_logs_nothing() {
        let fx = Fixture::new();
        let work = tempfile::tempdir().unwrap();

        // Not exclusive: the training logs into the user's run, which stays active.
        mlscope::autolog!(AutologOptions::new().log_models(false).log_datasets(false));
        let user = mlscope::start_run(RunOptions::new().run_name("mine")).unwrap();
        let autolog = BurnAutolog::start().unwrap();
        assert_eq!(autolog.run_id(), Some(user.run_id()));
        train(&autolog, work.path());
        autolog.finish().unwrap();
        let id = user.run_id().to_string();
        assert!(mlscope::active_run().unwrap().is_some());
        user.end().unwrap();
        let run = fx.client().get_run(&id).unwrap();
        assert!(run.data.metrics.contains_key("train/loss"));
        assert!(!run.data.tags.contains_key(AUTOLOGGING_TAG));
        assert!(run.inputs.dataset_inputs.is_empty(), "log_datasets(false)");
        assert!(
            fx.client().list_artifacts(&id, None).unwrap().is_empty(),
            "log_models(false)"
        );

        // Exclusive: nothing goes into the user's run, and no run is created.
        mlscope::autolog!(AutologOptions::new().exclusive(true).silent(true));
        let user = mlscope::start_run(RunOptions::new().run_name("mine-too")).unwrap();
        let autolog = BurnAutolog::start().unwrap();
        assert!(!autolog.is_active());
        train(&autolog, work.path());
        autolog.finish().unwrap();
        let id = user.run_id().to_string();
        user.end().unwrap();
        assert!(fx.client().get_run(&id).unwrap().data.metrics.is_empty());

        // Disabled: inert, even without a user run.
        mlscope::autolog!(AutologOptions::new().disable(true));
        let autolog = BurnAutolog::start().unwrap();
        assert!(!autolog.is_active());
        autolog.finish().unwrap();
        let all = fx
            .client()
            .search_all_runs(&mlscope::RunQuery {
                experiment_ids: vec!["0".into()],
                view_type: ViewType::All,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(all.items.len(), 2, "only the two user runs exist");
    }

    /// Runs `examples/burn_training.rs` against a temporary store and checks the run it leaves,
    /// then has real MLflow read the store exactly as mlscope does.
    #[test]
    fn burn_example_leaves_a_complete_run_that_mlflow_reads() {
        let _fx = Fixture::new();
        let store = TempStore::new(Backend::File);
        let out = std::process::Command::new(support::example_binary("burn_training"))
            .env("MLFLOW_TRACKING_URI", store.uri())
            .env_remove("MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "burn_training failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let client = TrackingClient::new(&store.uri()).unwrap();
        let exp = client
            .get_experiment_by_name("burn-regression")
            .unwrap()
            .unwrap();
        let runs = client
            .search_all_runs(&mlscope::RunQuery::new([exp.experiment_id.clone()]))
            .unwrap()
            .items;
        assert_eq!(runs.len(), 1);
        let run = &runs[0];
        assert_eq!(run.info.status, RunStatus::Finished);
        for key in [
            "train/loss",
            "valid/loss",
            "train/epoch_loss",
            "valid/epoch_loss",
            "epoch",
        ] {
            assert!(
                run.data.metrics.contains_key(key),
                "{key}: {:?}",
                run.data.metrics.keys()
            );
        }
        assert_eq!(
            client
                .get_metric_history(&run.info.run_id, "train/loss")
                .unwrap()
                .len(),
            10 * 16_384 / 32
        );
        assert_eq!(run.data.params["num_epochs"], "10");
        assert_eq!(run.data.params["model.hidden"], "64");
        assert_eq!(run.inputs.dataset_inputs.len(), 2);
        let ckpts = client
            .list_artifacts(&run.info.run_id, Some("checkpoints"))
            .unwrap();
        assert!(
            ckpts.iter().any(|f| f.path == "checkpoints/model-10.bpk"),
            "{ckpts:?}"
        );
        assert!(run.data.metrics.keys().any(|k| k.starts_with("system/")));

        let mut checks = Checks::default();
        check_store_against_mlflow(
            &store,
            &[MlflowVersion::V3_17_2],
            "burn_training example",
            &mut checks,
        );
        checks.finish();
    }
}
