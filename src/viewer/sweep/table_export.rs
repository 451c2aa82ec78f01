//! The runs table's CSV export: the shown rows (every one, not only those on screen) and the
//! shown columns, values at full precision. The file is chosen and written off the UI thread
//! (the save dialog's thread, then the worker).

use crate::format::{duration_spaced, time_local};
use crate::model::{Run, tags};

use super::super::context::ViewCtx;
use super::super::runs_model::{ColumnId, RunSet, duration_ms};

/// The value of a column for a run, as exported.
fn value(ctx: &ViewCtx, run: &Run, col: &ColumnId) -> String {
    match col {
        ColumnId::Name => run.info.run_name.clone(),
        ColumnId::Status => run.info.status.as_str().to_string(),
        ColumnId::Start => run.info.start_time.map(time_local).unwrap_or_default(),
        ColumnId::Duration => duration_ms(run).map(duration_spaced).unwrap_or_default(),
        ColumnId::User => run.info.user_id.clone(),
        ColumnId::Source => run
            .data
            .tags
            .get(tags::SOURCE_NAME)
            .cloned()
            .unwrap_or_default(),
        ColumnId::Experiment => ctx.experiment_name(&run.info.experiment_id),
        ColumnId::Store => ctx.store_label(&run.info.run_id),
        ColumnId::Param(k) => run.data.params.get(k).cloned().unwrap_or_default(),
        ColumnId::Tag(k) => run.data.tags.get(k).cloned().unwrap_or_default(),
        ColumnId::Metric(k) => ctx
            .metric_value(run, k, ctx.metric_agg(k))
            .map(|v| v.to_string())
            .unwrap_or_default(),
    }
}

/// The shown rows and columns as CSV: `run_id` first, then each column under its header (metric
/// columns summarised as shown: last, min or max).
pub fn rows_csv(ctx: &ViewCtx, set: &RunSet, columns: &[ColumnId]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["run_id".to_string()];
    for c in columns {
        header.push(match c {
            ColumnId::Metric(k) => {
                let agg = ctx.metric_agg(k);
                if agg == super::super::runs_model::MetricAgg::Last {
                    c.id_string()
                } else {
                    format!("{} ({})", c.id_string(), agg.label())
                }
            }
            _ => c.id_string(),
        });
    }
    let _ = w.write_record(&header);
    for r in ctx.rows() {
        let run = &set.runs[r.run];
        let mut record = vec![run.info.run_id.clone()];
        record.extend(columns.iter().map(|c| value(ctx, run, c)));
        let _ = w.write_record(&record);
    }
    w.into_inner().unwrap_or_default()
}
