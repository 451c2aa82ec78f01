//! Port of MLflow's basic tracking example: one run that logs its hyperparameters and the
//! test error of a random-forest regressor on a (synthetic) housing dataset.
//!
//! Logs wherever `MLFLOW_TRACKING_URI` points (default: `./mlruns` if present, else
//! `sqlite:///mlflow.db`):
//!
//! ```sh
//! MLFLOW_TRACKING_URI=./mlruns cargo run --example basic_tracking
//! ```

mod common;

fn main() -> mlscope::Result<()> {
    let experiment = mlscope::set_experiment("housing-price-prediction")?;
    println!(
        "experiment {} ({}) in {}",
        experiment.name,
        experiment.experiment_id,
        mlscope::get_tracking_uri()
    );

    mlscope::with_run(
        mlscope::RunOptions::new().run_name("random-forest-experiment"),
        |run| {
            let (n_estimators, max_depth) = (100, 10);
            mlscope::log_params(&[("n_estimators", n_estimators), ("max_depth", max_depth)])?;

            let mse = common::train_and_score(n_estimators, max_depth);
            mlscope::log_metrics(&[("mse", mse), ("rmse", mse.sqrt())], None)?;

            println!("run {}: mse={mse:.4} rmse={:.4}", run.run_id(), mse.sqrt());
            Ok(())
        },
    )
}
