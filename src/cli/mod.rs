//! The `mlscope` command line: list experiments and runs, describe a run, print a metric
//! history, offline, on any store (`mlruns` folder or `sqlite:` database).

pub mod artifacts;
pub mod desktop;
pub mod output;
pub mod plot;
pub mod progress;

use std::collections::BTreeSet;
use std::io::Write;

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::error::{Error, Result};
use crate::model::json::{experiment_to_json, metric_to_json, run_to_json};
use crate::model::{Run, ViewType};
use crate::store::{
    ExperimentQuery, Located, Page, RunQuery, SEARCH_MAX_RESULTS_THRESHOLD, SqliteStore,
    StoreLocation, locate_store, parse_tracking_uri,
};
use crate::tracking::TrackingClient;
use crate::tracking::client::collect_pages;
use output::{Format, Grid, format_duration, format_float, format_time, write_json};

/// What `mlscope --version` prints after the name: the version and the MLflow releases whose
/// file, SQLite and REST formats the test suite checks against real MLflow.
pub const VERSION_TEXT: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (formats checked against MLflow 3.17.2 and 2.22.5)"
);

/// Command-line arguments of `mlscope`.
#[derive(Debug, Parser)]
#[command(
    name = "mlscope",
    version = VERSION_TEXT,
    about = "Browse MLflow tracking data (mlruns folders and mlflow.db files) without a server",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// A command; without one, the desktop viewer opens.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Store to open in the viewer: an mlruns folder, a .db file, or a file:/sqlite: URI
    /// (default: MLFLOW_TRACKING_URI).
    pub store: Option<String>,
    /// Open the store in the viewer without allowing changes (also: MLSCOPE_READ_ONLY=1).
    #[arg(long)]
    pub read_only: bool,
    /// A second store to open next to the first in the viewer, to compare their runs (a path
    /// or tracking URI, like STORE).
    #[arg(long, value_name = "STORE")]
    pub compare: Option<String>,
}

/// A CLI command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List experiments.
    Experiments(ExperimentsArgs),
    /// List runs of one, several or all experiments.
    Runs(RunsArgs),
    /// Show everything about one run.
    Describe(DescribeArgs),
    /// Print every value of one metric of a run.
    History(HistoryArgs),
    /// List a run's artifacts with sizes, or download them with --out DIR.
    Artifacts(artifacts::ArtifactsArgs),
    /// Draw metrics of an experiment's runs to a PNG or SVG file, as the viewer's charts do.
    Plot(plot::PlotArgs),
    /// Add mlscope to the desktop's launcher and "Open with" for folders and .db files (per
    /// user, no root; --uninstall removes it).
    InstallDesktop(desktop::InstallDesktopArgs),
}

/// Options every command shares.
#[derive(Debug, Args)]
pub struct Common {
    /// Tracking URI or path: ./mlruns, file:///abs/mlruns, sqlite:///mlflow.db, or a project
    /// folder holding mlruns/ or mlflow.db.
    pub uri: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `mlscope experiments`.
#[derive(Debug, Args)]
pub struct ExperimentsArgs {
    #[command(flatten)]
    common: Common,
    /// Which experiments: active, deleted or all.
    #[arg(long, default_value = "active", value_parser = parse_view)]
    view: ViewType,
    /// MLflow filter string, e.g. "name LIKE 'fixtures%'".
    #[arg(long, default_value = "")]
    filter: String,
    /// Order clause, e.g. "name ASC"; repeatable.
    #[arg(long = "order-by")]
    order_by: Vec<String>,
    /// Show at most this many experiments.
    #[arg(long)]
    max_results: Option<usize>,
}

/// `mlscope runs`.
#[derive(Debug, Args)]
pub struct RunsArgs {
    #[command(flatten)]
    common: Common,
    /// Experiment id to list (repeatable; default: every experiment of the view).
    #[arg(long = "experiment-id")]
    experiment_ids: Vec<String>,
    /// Experiment name to list (repeatable).
    #[arg(long = "experiment-name")]
    experiment_names: Vec<String>,
    /// Which runs: active, deleted or all.
    #[arg(long, default_value = "active", value_parser = parse_view)]
    view: ViewType,
    /// MLflow filter string, e.g. "metrics.loss < 0.5 and params.lr = '0.01'".
    #[arg(long, default_value = "")]
    filter: String,
    /// Order clause, e.g. "metrics.loss ASC"; repeatable.
    #[arg(long = "order-by")]
    order_by: Vec<String>,
    /// Show at most this many runs (default: all).
    #[arg(long)]
    max_results: Option<usize>,
    /// Extra table columns, e.g. metrics.loss,params.lr,tags.team (table format only).
    #[arg(long, value_delimiter = ',')]
    columns: Vec<String>,
}

/// `mlscope describe`.
#[derive(Debug, Args)]
pub struct DescribeArgs {
    #[command(flatten)]
    common: Common,
    /// The run id.
    run_id: String,
}

/// `mlscope history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    common: Common,
    /// The run id.
    run_id: String,
    /// The metric key.
    key: String,
}

fn parse_view(s: &str) -> std::result::Result<ViewType, String> {
    s.parse::<ViewType>().map_err(|e| e.to_string())
}

/// Runs a command, writing results to `out` and store warnings to `err`.
pub fn run(command: Command, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    match command {
        Command::Experiments(args) => experiments(args, out, err),
        Command::Runs(args) => runs(args, out, err),
        Command::Describe(args) => describe(args, out, err),
        Command::History(args) => history(args, out, err),
        Command::Artifacts(args) => artifacts::run(args, out, err),
        Command::Plot(args) => plot::run(args, out, err),
        Command::InstallDesktop(args) => desktop::run(args, out, err),
    }
}

/// The tracking URI the user meant by `uri`: a project folder holding `mlruns/` or `mlflow.db`
/// opens that (said on `err`), like the viewer; a folder that is no store is an error saying why.
fn located_uri(uri: &str, err: &mut dyn Write) -> Result<String> {
    match locate_store(uri) {
        Located::Store(uri) => Ok(uri),
        Located::Inside { uri, folder, found } => {
            let _ = writeln!(
                err,
                "note: opening the {found} found inside {}: {uri}",
                folder.display()
            );
            Ok(uri)
        }
        Located::Both {
            folder,
            mlruns,
            database,
        } => Err(Error::InvalidParameter(format!(
            "{} holds both an mlruns/ folder and an mlflow.db: name the one to read ({} or {database})",
            folder.display(),
            mlruns.display()
        ))),
        Located::NotAStore { path, reason } => Err(Error::InvalidParameter(
            Located::not_a_store_message(&path, &reason),
        )),
    }
}

fn open(common: &Common, err: &mut dyn Write) -> Result<TrackingClient> {
    let uri = located_uri(&common.uri, err)?;
    let common = &Common {
        uri,
        format: common.format,
    };
    // Opening a missing local store would create an empty one; listing must never do that.
    let missing = match parse_tracking_uri(&common.uri)? {
        StoreLocation::File(path) | StoreLocation::Sqlite(path) => (!path.exists()).then_some(path),
        StoreLocation::Http(_) => None,
    };
    if let Some(path) = missing {
        return Err(Error::NotFound(format!(
            "no tracking store at '{}': {} does not exist",
            common.uri,
            path.display()
        )));
    }
    if let StoreLocation::Sqlite(path) = parse_tracking_uri(&common.uri)? {
        // A database without MLflow's tables would get them on the first write; listing only
        // reads, so it says what the file is instead.
        let store = SqliteStore::open(&path)?;
        if !store.is_initialised()? {
            return Err(Error::InvalidParameter(format!(
                "'{}' is empty, not an MLflow database (it has no tables): {}",
                common.uri,
                path.display()
            )));
        }
        return Ok(TrackingClient::from_store(std::sync::Arc::new(store)));
    }
    TrackingClient::new(&common.uri)
}

fn report_warnings(err: &mut dyn Write, warnings: &[crate::StoreWarning]) {
    for w in warnings {
        let _ = writeln!(err, "warning: {w}");
    }
    if !warnings.is_empty() {
        let n = warnings.len();
        let _ = writeln!(
            err,
            "warning: {n} {} could not be read and {} skipped",
            if n == 1 { "item" } else { "items" },
            if n == 1 { "was" } else { "were" }
        );
    }
}

fn page_size(limit: Option<usize>) -> Result<usize> {
    match limit {
        Some(0) => Err(Error::InvalidParameter(
            "--max-results must be at least 1".into(),
        )),
        Some(n) => Ok(n.min(SEARCH_MAX_RESULTS_THRESHOLD)),
        None => Ok(SEARCH_MAX_RESULTS_THRESHOLD),
    }
}

fn experiments(args: ExperimentsArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    let client = open(&args.common, err)?;
    let query = ExperimentQuery {
        filter: args.filter,
        view_type: args.view,
        max_results: page_size(args.max_results)?,
        order_by: args.order_by,
        page_token: None,
    };
    let Page {
        items, warnings, ..
    } = collect_pages(args.max_results, |page_token| {
        client.search_experiments(&ExperimentQuery {
            page_token,
            ..query.clone()
        })
    })?;
    report_warnings(err, &warnings);
    match args.common.format {
        Format::Json => write_json(
            out,
            &json!({"experiments": items.iter().map(experiment_to_json).collect::<Vec<_>>()}),
        ),
        format => {
            let grid = Grid {
                header: [
                    "experiment_id",
                    "name",
                    "lifecycle_stage",
                    "creation_time",
                    "artifact_location",
                ]
                .map(String::from)
                .to_vec(),
                rows: items
                    .iter()
                    .map(|e| {
                        vec![
                            e.experiment_id.clone(),
                            e.name.clone(),
                            e.lifecycle_stage.to_string(),
                            e.creation_time.map(format_time).unwrap_or_default(),
                            e.artifact_location.clone(),
                        ]
                    })
                    .collect(),
            };
            if format == Format::Csv {
                grid.write_csv(out)
            } else {
                grid.write_table(out)
            }
        }
    }
}

/// The experiment ids a `runs` command covers: those named, or every experiment of the view.
fn resolve_experiments(client: &TrackingClient, args: &RunsArgs) -> Result<Vec<String>> {
    let mut ids = args.experiment_ids.clone();
    for id in &ids {
        client.get_experiment(id)?;
    }
    for name in &args.experiment_names {
        match client.get_experiment_by_name(name)? {
            Some(e) => ids.push(e.experiment_id),
            None => {
                return Err(Error::NotFound(format!(
                    "Experiment with name '{name}' does not exist."
                )));
            }
        }
    }
    if ids.is_empty() {
        // Deleted runs live in active experiments too; deleted experiments hold deleted runs.
        let view = match args.view {
            ViewType::ActiveOnly => ViewType::ActiveOnly,
            _ => ViewType::All,
        };
        ids = client
            .list_all_experiments(view)?
            .items
            .into_iter()
            .map(|e| e.experiment_id)
            .collect();
    }
    Ok(ids)
}

fn runs(args: RunsArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    let client = open(&args.common, err)?;
    let experiment_ids = resolve_experiments(&client, &args)?;
    let (runs, warnings) = if experiment_ids.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        let query = RunQuery {
            experiment_ids,
            filter: args.filter.clone(),
            view_type: args.view,
            max_results: page_size(args.max_results)?,
            order_by: args.order_by.clone(),
            page_token: None,
        };
        let progress = progress::Progress::items("reading runs", 0);
        let page = collect_pages(args.max_results, |page_token| {
            let page = client.search_runs(&RunQuery {
                page_token,
                ..query.clone()
            })?;
            progress.inc(page.items.len() as u64);
            Ok(page)
        })?;
        drop(progress);
        (page.items, page.warnings)
    };
    report_warnings(err, &warnings);
    match args.common.format {
        Format::Json => write_json(
            out,
            &json!({"runs": runs.iter().map(run_to_json).collect::<Vec<_>>()}),
        ),
        Format::Csv => runs_csv_grid(&runs).write_csv(out),
        Format::Table => runs_table_grid(&runs, &args.columns).write_table(out),
    }
}

const RUN_INFO_COLUMNS: [&str; 9] = [
    "run_id",
    "experiment_id",
    "run_name",
    "status",
    "user_id",
    "start_time",
    "end_time",
    "lifecycle_stage",
    "artifact_uri",
];

/// Value of a `metrics.x` / `params.x` / `tags.x` / attribute column of a run.
fn column_value(run: &Run, column: &str) -> String {
    if let Some(key) = column.strip_prefix("metrics.") {
        return run
            .data
            .metrics
            .get(key)
            .map(|m| format_float(m.value))
            .unwrap_or_default();
    }
    if let Some(key) = column.strip_prefix("params.") {
        return run.data.params.get(key).cloned().unwrap_or_default();
    }
    if let Some(key) = column.strip_prefix("tags.") {
        return run.data.tags.get(key).cloned().unwrap_or_default();
    }
    let info = &run.info;
    match column {
        "run_id" => info.run_id.clone(),
        "experiment_id" => info.experiment_id.clone(),
        "run_name" => info.run_name.clone(),
        "status" => info.status.to_string(),
        "user_id" => info.user_id.clone(),
        "start_time" => info.start_time.map(|t| t.to_string()).unwrap_or_default(),
        "end_time" => info.end_time.map(|t| t.to_string()).unwrap_or_default(),
        "lifecycle_stage" => info.lifecycle_stage.to_string(),
        "artifact_uri" => info.artifact_uri.clone(),
        _ => String::new(),
    }
}

/// Every field of every run, flattened like `mlflow.search_runs()`'s DataFrame.
fn runs_csv_grid(runs: &[Run]) -> Grid {
    let mut metric_keys = BTreeSet::new();
    let mut param_keys = BTreeSet::new();
    let mut tag_keys = BTreeSet::new();
    for run in runs {
        metric_keys.extend(run.data.metrics.keys().cloned());
        param_keys.extend(run.data.params.keys().cloned());
        tag_keys.extend(run.data.tags.keys().cloned());
    }
    let header: Vec<String> = RUN_INFO_COLUMNS
        .iter()
        .map(|c| c.to_string())
        .chain(metric_keys.iter().map(|k| format!("metrics.{k}")))
        .chain(param_keys.iter().map(|k| format!("params.{k}")))
        .chain(tag_keys.iter().map(|k| format!("tags.{k}")))
        .collect();
    let rows = runs
        .iter()
        .map(|run| header.iter().map(|c| column_value(run, c)).collect())
        .collect();
    Grid { header, rows }
}

fn runs_table_grid(runs: &[Run], extra_columns: &[String]) -> Grid {
    let mut header: Vec<String> = [
        "run_id",
        "experiment_id",
        "run_name",
        "status",
        "start_time",
        "duration",
        "params",
        "metrics",
    ]
    .map(String::from)
    .to_vec();
    header.extend(extra_columns.iter().cloned());
    let rows = runs
        .iter()
        .map(|run| {
            let info = &run.info;
            let duration = match (info.start_time, info.end_time) {
                (Some(s), Some(e)) => format_duration(e - s),
                _ => String::new(),
            };
            let mut row = vec![
                info.run_id.clone(),
                info.experiment_id.clone(),
                info.run_name.clone(),
                info.status.to_string(),
                info.start_time.map(format_time).unwrap_or_default(),
                duration,
                run.data.params.len().to_string(),
                run.data.metrics.len().to_string(),
            ];
            row.extend(extra_columns.iter().map(|c| column_value(run, c)));
            row
        })
        .collect();
    Grid { header, rows }
}

fn describe(args: DescribeArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    let client = open(&args.common, err)?;
    let run = client.get_run(&args.run_id)?;
    if args.common.format == Format::Json {
        return write_json(out, &json!({"run": run_to_json(&run)}));
    }
    let info = &run.info;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut push = |section: &str, key: &str, value: String, extra: String| {
        rows.push(vec![section.into(), key.into(), value, extra]);
    };
    push("info", "run_id", info.run_id.clone(), String::new());
    push("info", "run_name", info.run_name.clone(), String::new());
    push(
        "info",
        "experiment_id",
        info.experiment_id.clone(),
        String::new(),
    );
    push("info", "status", info.status.to_string(), String::new());
    push("info", "user_id", info.user_id.clone(), String::new());
    push(
        "info",
        "start_time",
        info.start_time.map(format_time).unwrap_or_default(),
        info.start_time.map(|t| t.to_string()).unwrap_or_default(),
    );
    push(
        "info",
        "end_time",
        info.end_time.map(format_time).unwrap_or_default(),
        info.end_time.map(|t| t.to_string()).unwrap_or_default(),
    );
    push(
        "info",
        "lifecycle_stage",
        info.lifecycle_stage.to_string(),
        String::new(),
    );
    push(
        "info",
        "artifact_uri",
        info.artifact_uri.clone(),
        String::new(),
    );
    for (k, v) in &run.data.params {
        push("param", k, v.clone(), String::new());
    }
    for (k, m) in &run.data.metrics {
        push(
            "metric",
            k,
            format_float(m.value),
            format!("step {}", m.step),
        );
    }
    for (k, v) in &run.data.tags {
        push("tag", k, v.clone(), String::new());
    }
    for d in &run.inputs.dataset_inputs {
        push(
            "dataset",
            &d.dataset.name,
            d.dataset.digest.clone(),
            d.context().unwrap_or_default().to_string(),
        );
    }
    let grid = Grid {
        header: ["section", "key", "value", "detail"]
            .map(String::from)
            .to_vec(),
        rows,
    };
    if args.common.format == Format::Csv {
        grid.write_csv(out)
    } else {
        grid.write_table(out)
    }
}

fn history(args: HistoryArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    let client = open(&args.common, err)?;
    let run = client.get_run(&args.run_id)?;
    if !run.data.metrics.contains_key(&args.key) {
        return Err(Error::NotFound(format!(
            "Run '{}' has no metric '{}'",
            args.run_id, args.key
        )));
    }
    let history = client.get_metric_history(&args.run_id, &args.key)?;
    match args.common.format {
        Format::Json => write_json(
            out,
            &json!({"metrics": history.iter().map(metric_to_json).collect::<Vec<_>>()}),
        ),
        format => {
            let grid = Grid {
                header: ["step", "timestamp", "value"].map(String::from).to_vec(),
                rows: history
                    .iter()
                    .map(|m| {
                        vec![
                            m.step.to_string(),
                            m.timestamp.to_string(),
                            format_float(m.value),
                        ]
                    })
                    .collect(),
            };
            if format == Format::Csv {
                grid.write_csv(out)
            } else {
                grid.write_table(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::report_warnings;
    use crate::StoreWarning;

    fn summary(n: usize) -> String {
        let warnings: Vec<StoreWarning> = (0..n)
            .map(|i| StoreWarning {
                location: format!("run-{i}/meta.yaml"),
                message: "truncated".into(),
            })
            .collect();
        let mut err = Vec::new();
        report_warnings(&mut err, &warnings);
        let text = String::from_utf8(err).unwrap_or_default();
        text.lines().last().unwrap_or_default().to_string()
    }

    #[test]
    fn the_skipped_count_is_worded_for_one_and_for_many() {
        assert_eq!(
            summary(1),
            "warning: 1 item could not be read and was skipped"
        );
        assert_eq!(
            summary(3),
            "warning: 3 items could not be read and were skipped"
        );
    }
}
