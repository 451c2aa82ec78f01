//! Port of MLflow's basic tracking example: one run that logs its hyperparameters and the
//! test error of a random-forest regressor on a (synthetic) housing dataset, plus the rich
//! artifacts MLflow's example logs: the model configuration (a dict), a predictions table, a
//! scatter figure of predicted vs. actual prices, and an image series over training steps.
//!
//! Logs wherever `MLFLOW_TRACKING_URI` points (default: `./mlruns` if present, else
//! `sqlite:///mlflow.db`):
//!
//! ```sh
//! MLFLOW_TRACKING_URI=./mlruns cargo run --example basic_tracking
//! ```

mod common;

use mlscope::plotters::coord::Shift;
use mlscope::plotters::prelude::*;
use mlscope::{PlotFigure, RawImage, Table, TableCell};
use serde_json::json;

/// Predicted vs. actual prices, like the matplotlib scatter of MLflow's example.
struct PredictedVsActual {
    points: Vec<(f64, f64)>,
}

impl PlotFigure for PredictedVsActual {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let (lo, hi) = self
            .points
            .iter()
            .flat_map(|&(a, b)| [a, b])
            .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let range = (lo - 0.2)..(hi + 0.2);
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(root)
            .caption("Predicted vs. actual price", ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(range.clone(), range.clone())?;
        chart
            .configure_mesh()
            .x_desc("actual ($100k)")
            .y_desc("predicted ($100k)")
            .draw()?;
        chart.draw_series(LineSeries::new(
            [(range.start, range.start), (range.end, range.end)],
            &RED,
        ))?;
        chart.draw_series(
            self.points
                .iter()
                .map(|&p| Circle::new(p, 3, BLUE.mix(0.6).filled())),
        )?;
        Ok(())
    }
}

/// A 48×48 heat map of the model's price over (rooms, income), other features fixed.
fn price_map(forest: &common::Forest) -> Vec<f32> {
    let n = 48;
    let values: Vec<f64> = (0..n * n)
        .map(|i| {
            let (row, col) = (i / n, i % n);
            let rooms = 2.0 + 6.0 * col as f64 / (n - 1) as f64;
            let income = 10.0 - 9.0 * row as f64 / (n - 1) as f64;
            forest.predict(&[rooms, 30.0, 8.0, income])
        })
        .collect();
    let (lo, hi) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    // Grayscale floats in [0, 1], converted like MLflow converts numpy float arrays.
    values
        .iter()
        .map(|v| ((v - lo) / (hi - lo).max(1e-9)) as f32)
        .collect()
}

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

            // The model configuration, as JSON and YAML.
            let config = json!({
                "model": "RandomForestRegressor",
                "params": {"n_estimators": n_estimators, "max_depth": max_depth, "seed": 7},
                "features": ["rooms", "age", "distance", "income"],
                "target": "price",
            });
            mlscope::log_dict(&config, "config/model.json")?;
            mlscope::log_dict(&config, "config/model.yaml")?;

            // Predictions on the test houses: a table and a scatter figure.
            let data = common::housing(400, 42);
            let forest =
                common::Forest::fit(&data.x[..300], &data.y[..300], n_estimators, max_depth, 7);
            let mut table = Table::new(["rooms", "income", "actual", "predicted", "error"]);
            let mut points = Vec::new();
            for (x, &y) in data.x[300..].iter().zip(&data.y[300..]) {
                let p = forest.predict(x);
                points.push((y, p));
                table.push_row([
                    TableCell::from((x[0] * 100.0).round() / 100.0),
                    TableCell::from((x[3] * 100.0).round() / 100.0),
                    TableCell::from((y * 1000.0).round() / 1000.0),
                    TableCell::from((p * 1000.0).round() / 1000.0),
                    TableCell::from(((p - y) * 1000.0).round() / 1000.0),
                ])?;
            }
            mlscope::log_table(&table, "predictions.json")?;
            mlscope::log_plot(
                &PredictedVsActual { points },
                "plots/predicted_vs_actual.png",
            )?;

            // How the learned price surface sharpens as the forest grows: an image per step.
            for step in 1..=5 {
                let small =
                    common::Forest::fit(&data.x[..300], &data.y[..300], 4 * step, step + 1, 7);
                let map = price_map(&small);
                mlscope::log_image_step(
                    "price_surface",
                    RawImage::f32(&map, &[48, 48]),
                    Some(step as i64),
                    None,
                )?;
            }

            println!("run {}: mse={mse:.4} rmse={:.4}", run.run_id(), mse.sqrt());
            Ok(())
        },
    )
}
