//! Group rows of the runs table: when charts are grouped (chart options' `group_by`), the table
//! shows a collapsible row per group, with its run count and the mean of each metric column over
//! its runs, above the group's runs.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::format::number_sig;
use crate::model::Run;

use super::super::charts::{GroupKey, group_runs};
use super::super::context::ViewCtx;
use super::super::runs_model::{ColumnId, RunSet};

/// A shown line of a grouped table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShownRow {
    /// The header row of a group (index into [`GroupLayout::groups`]).
    Group(usize),
    /// A run row (index into the table's rows).
    Run(usize),
}

/// A group of shown rows.
#[derive(Debug, Clone)]
pub struct TableGroup {
    /// `lr=0.01, optimizer=adam`.
    pub label: String,
    /// Its runs.
    pub runs: Vec<Arc<Run>>,
    /// Its colour.
    pub color: egui::Color32,
}

/// The grouped table's lines.
#[derive(Debug, Default)]
pub struct GroupLayout {
    /// The groups, in order.
    pub groups: Vec<TableGroup>,
    /// Group rows and run rows, as shown.
    pub shown: Vec<ShownRow>,
}

type LayoutKey = (u64, usize, usize, Vec<GroupKey>, u64);

/// The group rows' state: collapsed groups, and the layout memoised on its inputs.
#[derive(Debug, Default)]
pub struct TableGroups {
    /// Labels of the collapsed groups.
    pub collapsed: HashSet<String>,
    collapsed_version: u64,
    memo: Option<(LayoutKey, Arc<GroupLayout>)>,
}

impl TableGroups {
    /// The grouped lines of the table, or None when runs are not grouped.
    pub fn layout(&mut self, ctx: &ViewCtx, set: &RunSet) -> Option<Arc<GroupLayout>> {
        let keys = &ctx.persisted().charts.group_by;
        if keys.is_empty() {
            return None;
        }
        let rows = ctx.rows();
        let key: LayoutKey = (
            set.version,
            rows.as_ptr() as usize,
            rows.len(),
            keys.clone(),
            self.collapsed_version,
        );
        if let Some((k, l)) = &self.memo
            && *k == key
        {
            return Some(Arc::clone(l));
        }
        let runs: Vec<Arc<Run>> = rows.iter().map(|r| Arc::clone(&set.runs[r.run])).collect();
        let row_of: HashMap<&str, usize> = runs
            .iter()
            .enumerate()
            .map(|(i, r)| (r.info.run_id.as_str(), i))
            .collect();
        let groups = group_runs(&runs, keys);
        let mut layout = GroupLayout::default();
        for (gi, g) in groups.into_iter().enumerate() {
            layout.shown.push(ShownRow::Group(gi));
            if !self.collapsed.contains(&g.label) {
                for r in &g.runs {
                    if let Some(&i) = row_of.get(r.info.run_id.as_str()) {
                        layout.shown.push(ShownRow::Run(i));
                    }
                }
            }
            layout.groups.push(TableGroup {
                label: g.label,
                runs: g.runs,
                color: g.color,
            });
        }
        let layout = Arc::new(layout);
        self.memo = Some((key, Arc::clone(&layout)));
        Some(layout)
    }

    /// Collapses or expands a group.
    pub fn toggle(&mut self, label: &str) {
        if !self.collapsed.remove(label) {
            self.collapsed.insert(label.to_string());
        }
        self.collapsed_version += 1;
    }
}

/// A group row's cell for a column: the name with the count in the name column, the mean over
/// the group's runs in metric columns (with min and max in the tooltip), the value when all runs
/// share it in param and tag columns.
pub fn group_cell(ctx: &ViewCtx, group: &TableGroup, col: &ColumnId) -> (String, Option<String>) {
    match col {
        ColumnId::Name => (
            format!("{} ({} runs)", group.label, group.runs.len()),
            Some(
                group
                    .runs
                    .iter()
                    .take(40)
                    .map(|r| r.info.run_name.as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
        ),
        ColumnId::Metric(k) => {
            let agg = ctx.metric_agg(k);
            let vals: Vec<f64> = group
                .runs
                .iter()
                .filter_map(|r| ctx.metric_value(r, k, agg))
                .filter(|v| v.is_finite())
                .collect();
            if vals.is_empty() {
                return (String::new(), None);
            }
            let mean = vals.iter().sum::<f64>() / vals.len() as f64;
            let (lo, hi) = vals
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                });
            (
                format!("μ {}", number_sig(mean)),
                Some(format!(
                    "mean {} · min {} · max {} over {} runs",
                    number_sig(mean),
                    number_sig(lo),
                    number_sig(hi),
                    vals.len()
                )),
            )
        }
        ColumnId::Param(k) | ColumnId::Tag(k) => {
            let get = |r: &Arc<Run>| match col {
                ColumnId::Param(_) => r.data.params.get(k).cloned(),
                _ => r.data.tags.get(k).cloned(),
            };
            let first = group.runs.first().and_then(get);
            if group.runs.iter().all(|r| get(r) == first) {
                (first.unwrap_or_default(), None)
            } else {
                ("…".into(), Some("differs between the group's runs".into()))
            }
        }
        _ => (String::new(), None),
    }
}
