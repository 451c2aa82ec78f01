//! What the scatter plot and parallel coordinates put on an axis: a param, or a metric summary
//! (last, min or max), read for every shown run; numbers as numbers, other values as ordered
//! categories.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::format::number_sig;
use crate::model::Run;

use super::super::commands::Command;
use super::super::context::ViewCtx;
use super::super::runs_model::MetricAgg;

/// A value per run on an axis.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dim {
    /// A param.
    Param(String),
    /// A metric summary.
    Metric(String, MetricAgg),
}

impl Dim {
    /// `params.lr`, `metrics.loss (min)`.
    pub fn title(&self) -> String {
        match self {
            Dim::Param(k) => format!("params.{k}"),
            Dim::Metric(k, MetricAgg::Last) => format!("metrics.{k}"),
            Dim::Metric(k, agg) => format!("metrics.{k} ({})", agg.label()),
        }
    }

    /// Every dimension the loaded runs offer: their params, then each metric as last, min, max.
    pub fn all(ctx: &ViewCtx) -> Vec<Dim> {
        let Some(set) = ctx.run_set() else {
            return Vec::new();
        };
        let mut out: Vec<Dim> = set
            .catalog
            .params
            .iter()
            .map(|k| Dim::Param(k.key.clone()))
            .collect();
        for m in &set.catalog.metrics {
            for agg in [MetricAgg::Last, MetricAgg::Min, MetricAgg::Max] {
                out.push(Dim::Metric(m.key.clone(), agg));
            }
        }
        out
    }

    /// Good defaults: params whose values differ between the loaded runs (numeric ones first),
    /// and metrics (last; those most runs have first, system metrics left out).
    pub fn defaults(ctx: &ViewCtx) -> (Vec<Dim>, Vec<Dim>) {
        let Some(set) = ctx.run_set() else {
            return (Vec::new(), Vec::new());
        };
        let numeric = |key: &str| {
            set.runs
                .iter()
                .filter_map(|r| r.data.params.get(key))
                .all(|v| v.trim().parse::<f64>().is_ok())
        };
        let mut params: Vec<(bool, &str)> = set
            .catalog
            .params
            .iter()
            .filter(|k| {
                // Two values at least among the runs that have it.
                let mut values = set.runs.iter().filter_map(|r| r.data.params.get(&k.key));
                let first = values.next();
                values.any(|v| Some(v) != first)
            })
            .map(|k| (!numeric(&k.key), k.key.as_str()))
            .collect();
        params.sort_by_key(|p| p.0);
        let mut metrics: Vec<(usize, &str)> = set
            .catalog
            .metrics
            .iter()
            .filter(|k| !k.key.starts_with("system/"))
            .map(|k| (usize::MAX - k.count, k.key.as_str()))
            .collect();
        metrics.sort_by_key(|m| m.0);
        (
            params
                .into_iter()
                .map(|(_, k)| Dim::Param(k.to_string()))
                .collect(),
            metrics
                .into_iter()
                .map(|(_, k)| Dim::Metric(k.to_string(), MetricAgg::Last))
                .collect(),
        )
    }
}

/// A dimension's values for a list of runs.
#[derive(Debug, Clone, PartialEq)]
pub struct DimColumn {
    /// The dimension.
    pub dim: Dim,
    /// Per run: the number, or the category's index.
    pub values: Vec<Option<f64>>,
    /// The categories when the values are not all numbers (sorted), else None.
    pub categories: Option<Vec<String>>,
    /// Lowest and highest value (categories: 0 and their count − 1).
    pub range: (f64, f64),
}

impl DimColumn {
    /// Reads `dim` for `runs`; min/max summaries whose histories are not loaded yet are asked
    /// for (and missing until they come).
    pub fn read(ctx: &ViewCtx, runs: &[Arc<Run>], dim: &Dim) -> DimColumn {
        let (values, categories) = match dim {
            Dim::Metric(k, agg) => {
                let mut missing = Vec::new();
                let values: Vec<Option<f64>> = runs
                    .iter()
                    .map(|r| {
                        let v = ctx.metric_value(r, k, *agg);
                        if v.is_none()
                            && *agg != MetricAgg::Last
                            && r.data.metrics.contains_key(k)
                            && !ctx
                                .histories()
                                .contains(&(r.info.run_id.clone(), k.clone()))
                        {
                            missing.push(r.info.run_id.clone());
                        }
                        v.filter(|v| v.is_finite())
                    })
                    .collect();
                for run_id in missing {
                    ctx.send(Command::LoadHistories {
                        run_ids: vec![run_id],
                        keys: vec![k.clone()],
                    });
                }
                (values, None)
            }
            Dim::Param(k) => {
                let raw: Vec<Option<&String>> = runs.iter().map(|r| r.data.params.get(k)).collect();
                let numeric = raw
                    .iter()
                    .flatten()
                    .all(|v| v.trim().parse::<f64>().is_ok_and(f64::is_finite));
                if numeric {
                    (
                        raw.iter()
                            .map(|v| v.and_then(|v| v.trim().parse::<f64>().ok()))
                            .collect(),
                        None,
                    )
                } else {
                    let cats: Vec<String> = raw
                        .iter()
                        .flatten()
                        .map(|v| v.to_string())
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .collect();
                    let values = raw
                        .iter()
                        .map(|v| v.and_then(|v| cats.binary_search(v).ok()).map(|i| i as f64))
                        .collect();
                    (values, Some(cats))
                }
            }
        };
        let range = match &categories {
            Some(c) => (0.0, c.len().saturating_sub(1) as f64),
            None => values
                .iter()
                .flatten()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                }),
        };
        DimColumn {
            dim: dim.clone(),
            values,
            categories,
            range,
        }
    }

    /// A value in `0..=1` along the axis (the middle when all values are equal).
    pub fn normalized(&self, v: f64) -> f64 {
        let (lo, hi) = self.range;
        if hi > lo { (v - lo) / (hi - lo) } else { 0.5 }
    }

    /// A value as shown: the number, or the category.
    pub fn label(&self, v: f64) -> String {
        match &self.categories {
            Some(c) => c
                .get(v.round().max(0.0) as usize)
                .cloned()
                .unwrap_or_default(),
            None => number_sig(v),
        }
    }
}

/// A dimension picker: a combo box of every dimension.
pub fn dim_picker(ui: &mut egui::Ui, label: &str, all: &[Dim], current: &mut Option<Dim>) -> bool {
    let before = current.clone();
    egui::ComboBox::from_label(label)
        .selected_text(current.as_ref().map_or("choose…".into(), Dim::title))
        .width(200.0)
        .height(400.0)
        .show_ui(ui, |ui| {
            for d in all {
                ui.selectable_value(current, Some(d.clone()), d.title());
            }
        });
    *current != before
}

/// A colour along a low (blue) → high (yellow) scale, for `t` in `0..=1`.
pub fn scale_color(t: f64) -> egui::Color32 {
    const STOPS: [[f32; 3]; 4] = [
        [68.0, 1.0, 84.0],
        [59.0, 82.0, 139.0],
        [33.0, 145.0, 140.0],
        [253.0, 231.0, 37.0],
    ];
    let t = t.clamp(0.0, 1.0) as f32 * (STOPS.len() - 1) as f32;
    let i = (t.floor() as usize).min(STOPS.len() - 2);
    let f = t - i as f32;
    let c = |k: usize| (STOPS[i][k] + (STOPS[i + 1][k] - STOPS[i][k]) * f).round() as u8;
    egui::Color32::from_rgb(c(0), c(1), c(2))
}

/// Columns read for the shown runs, kept while the runs, rows and histories stay the same (so a
/// frame of 10,000 runs does not parse every param again).
#[derive(Debug, Default)]
pub struct ColumnCache {
    key: (u64, usize, usize, u64),
    columns: std::collections::HashMap<Dim, Arc<DimColumn>>,
}

impl ColumnCache {
    /// `dim` read for the shown rows' runs (`runs`, in row order).
    pub fn get(&mut self, ctx: &ViewCtx, runs: &[Arc<Run>], dim: &Dim) -> Arc<DimColumn> {
        let rows = ctx.rows();
        let key = (
            ctx.run_set().map_or(0, |s| s.version),
            rows.as_ptr() as usize,
            rows.len(),
            ctx.histories_version(),
        );
        if key != self.key {
            self.columns.clear();
            self.key = key;
        }
        Arc::clone(
            self.columns
                .entry(dim.clone())
                .or_insert_with(|| Arc::new(DimColumn::read(ctx, runs, dim))),
        )
    }
}
