//! Port of MLflow's nested-runs example: a parent run for a hyperparameter search with one
//! nested child run per (n_estimators, max_depth) combination; the parent records the best.
//!
//! ```sh
//! MLFLOW_TRACKING_URI=./mlruns cargo run --example nested_runs
//! ```

mod common;

use mlscope::RunOptions;

fn main() -> mlscope::Result<()> {
    mlscope::set_experiment("hyperparameter-tuning")?;

    let parent = mlscope::start_run(RunOptions::new().run_name("hyperparameter-tuning-parent"))?;
    let mut best: Option<(usize, usize, f64)> = None;
    for n_estimators in [50, 100, 200] {
        for max_depth in [5, 10, 15] {
            let child = mlscope::start_run(
                RunOptions::new()
                    .nested(true)
                    .run_name(format!("rf_n{n_estimators}_d{max_depth}")),
            )?;
            mlscope::log_params(&[("n_estimators", n_estimators), ("max_depth", max_depth)])?;
            let mse = common::train_and_score(n_estimators, max_depth);
            mlscope::log_metric("mse", mse, None)?;
            println!("  n_estimators={n_estimators:<3} max_depth={max_depth:<2} mse={mse:.4}");
            child.end()?;
            if best.is_none_or(|(_, _, b)| mse < b) {
                best = Some((n_estimators, max_depth, mse));
            }
        }
    }
    if let Some((n_estimators, max_depth, mse)) = best {
        mlscope::log_params(&[
            ("best_n_estimators", n_estimators),
            ("best_max_depth", max_depth),
        ])?;
        mlscope::log_metric("best_mse", mse, None)?;
        println!("best: n_estimators={n_estimators} max_depth={max_depth} mse={mse:.4}");
    }
    println!("parent run {}", parent.run_id());
    parent.end()
}
