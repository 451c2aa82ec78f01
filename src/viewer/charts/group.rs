//! Grouped charts: runs grouped by params, tags or attributes, one line per group (mean or
//! median) with a band (min–max or ±std) around it.
//!
//! Aggregates are computed over every logged point of every run of a group, aligned by step (or,
//! on a time x axis, over time bins: [`aggregate_time`]), never on reduced data: a background thread ([`BandWorker`]) computes a [`Band`] per (metric,
//! group) from the full histories, and the card reduces the band to the visible range per pixel
//! column for drawing (an envelope of the band, first/min/max/last of the line), so a spike in a
//! single step of a single run is still in the band.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};

use egui_plot::{Line, Plot, PlotPoint, PlotPoints};

use crate::format::number_sig;
use crate::model::{Run, tags};

use super::super::cache::Entry;
use super::super::commands::Command;
use super::super::context::ViewCtx;
use super::super::theme;
use super::super::worker::Series;
use super::{Charts, log_tick_label, x_tick_label};

/// A key runs are grouped by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum GroupKey {
    /// A param.
    Param(String),
    /// A tag.
    Tag(String),
    /// A run attribute: `status`, `user`, `experiment_id` or `source`.
    Attribute(String),
}

/// The run attributes runs can be grouped by.
pub const GROUP_ATTRIBUTES: [&str; 5] = ["status", "user", "experiment_id", "source", "store"];

impl GroupKey {
    /// `params.lr`, `tags.model`, `attributes.status`.
    pub fn title(&self) -> String {
        match self {
            GroupKey::Param(k) => format!("params.{k}"),
            GroupKey::Tag(k) => format!("tags.{k}"),
            GroupKey::Attribute(k) => format!("attributes.{k}"),
        }
    }

    /// The run's value of this key (None when the run has none).
    pub fn value_of(&self, run: &Run) -> Option<String> {
        match self {
            GroupKey::Param(k) => run.data.params.get(k).cloned(),
            GroupKey::Tag(k) => run.data.tags.get(k).cloned(),
            GroupKey::Attribute(k) => match k.as_str() {
                "status" => Some(run.info.status.as_str().to_string()),
                "user" => Some(run.info.user_id.clone()),
                "experiment_id" => Some(run.info.experiment_id.clone()),
                "source" => run.data.tags.get(tags::SOURCE_NAME).cloned(),
                // Which open store the run comes from (first or second), for runs of two stores.
                "store" => {
                    use super::super::worker::router::{slot_name, slot_of};
                    Some(slot_name(slot_of(&run.info.run_id)).to_string())
                }
                _ => None,
            },
        }
    }
}

/// The line drawn for a group.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub enum GroupLine {
    /// Mean of the runs' values at each step.
    #[default]
    Mean,
    /// Median of the runs' values at each step.
    Median,
}

/// The band drawn around a group's line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GroupBand {
    /// From the lowest to the highest value at each step.
    #[default]
    MinMax,
    /// Mean ± one standard deviation (population) at each step.
    Std,
    /// No band.
    None,
}

impl GroupBand {
    fn label(self) -> &'static str {
        match self {
            GroupBand::MinMax => "band: min–max",
            GroupBand::Std => "band: ±std",
            GroupBand::None => "band: none",
        }
    }
}

/// Runs sharing the values of the group keys.
#[derive(Debug, Clone, PartialEq)]
pub struct RunGroup {
    /// `lr=0.01, optimizer=adam` (`(none)` for a run without the key).
    pub label: String,
    /// The runs, in the order given.
    pub runs: Vec<Arc<Run>>,
    /// Palette colour (see [`group_runs`]).
    pub color: egui::Color32,
}

impl RunGroup {
    /// The group's colour.
    pub fn color(&self) -> egui::Color32 {
        self.color
    }
}

/// Palette colours for group labels: each label's slot comes from a hash of the label (so a group
/// keeps its colour whatever else is shown), moved on to the next free colour when an earlier
/// group of the list holds it (so up to 20 groups have distinct colours).
fn group_colors<'a>(labels: impl Iterator<Item = &'a str>) -> Vec<egui::Color32> {
    let n = theme::PALETTE.len();
    let mut taken = vec![false; n];
    let mut used = 0;
    labels
        .map(|label| {
            let h = label.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
            let mut slot = (h % n as u64) as usize;
            if used < n {
                while taken[slot] {
                    slot = (slot + 1) % n;
                }
                taken[slot] = true;
                used += 1;
            }
            let [r, g, b] = theme::PALETTE[slot];
            egui::Color32::from_rgb(r, g, b)
        })
        .collect()
}

/// Groups `runs` by the values of `keys`, groups sorted by label (numbers as numbers), runs kept
/// in their order within a group.
pub fn group_runs(runs: &[Arc<Run>], keys: &[GroupKey]) -> Vec<RunGroup> {
    let mut by_label: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<(Vec<Option<String>>, RunGroup)> = Vec::new();
    for r in runs {
        let values: Vec<Option<String>> = keys.iter().map(|k| k.value_of(r)).collect();
        let label = keys
            .iter()
            .zip(&values)
            .map(|(k, v)| {
                let name = match k {
                    GroupKey::Param(n) | GroupKey::Tag(n) | GroupKey::Attribute(n) => n,
                };
                format!("{name}={}", v.as_deref().unwrap_or("(none)"))
            })
            .collect::<Vec<_>>()
            .join(", ");
        match by_label.get(&label) {
            Some(&i) => groups[i].1.runs.push(Arc::clone(r)),
            None => {
                by_label.insert(label.clone(), groups.len());
                groups.push((
                    values,
                    RunGroup {
                        label,
                        runs: vec![Arc::clone(r)],
                        color: egui::Color32::GRAY,
                    },
                ));
            }
        }
    }
    groups.sort_by(|a, b| {
        for (x, y) in a.0.iter().zip(&b.0) {
            let o = match (x, y) {
                (None, None) => std::cmp::Ordering::Equal,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(_), None) => std::cmp::Ordering::Less,
                (Some(x), Some(y)) => match (x.trim().parse::<f64>(), y.trim().parse::<f64>()) {
                    (Ok(p), Ok(q)) => p.total_cmp(&q),
                    _ => x.cmp(y),
                },
            };
            if o.is_ne() {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    });
    let mut groups: Vec<RunGroup> = groups.into_iter().map(|(_, g)| g).collect();
    let colors = group_colors(groups.iter().map(|g| g.label.as_str()));
    for (g, c) in groups.iter_mut().zip(colors) {
        g.color = c;
    }
    groups
}

/// A group's aggregate of one metric, per step over every point of its runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Band {
    /// Steps where at least one run has a finite value, ascending (on a time axis: the centres
    /// of the time bins holding a finite value).
    pub steps: Vec<f64>,
    /// Mean of the runs' values at each step.
    pub mean: Vec<f64>,
    /// Median.
    pub median: Vec<f64>,
    /// Lowest value.
    pub min: Vec<f64>,
    /// Highest value.
    pub max: Vec<f64>,
    /// Population standard deviation.
    pub std: Vec<f64>,
    /// Runs with a value at each step.
    pub count: Vec<u32>,
}

impl Band {
    /// The line chosen.
    pub fn line(&self, line: GroupLine) -> &[f64] {
        match line {
            GroupLine::Mean => &self.mean,
            GroupLine::Median => &self.median,
        }
    }

    /// Lower and upper edge of the band chosen at index `i` (None: no band).
    pub fn edges(&self, band: GroupBand, i: usize) -> Option<(f64, f64)> {
        match band {
            GroupBand::MinMax => Some((self.min[i], self.max[i])),
            GroupBand::Std => Some((self.mean[i] - self.std[i], self.mean[i] + self.std[i])),
            GroupBand::None => None,
        }
    }

    /// Index of the step nearest to `x`.
    pub fn nearest(&self, x: f64) -> Option<usize> {
        if self.steps.is_empty() {
            return None;
        }
        let i = self.steps.partition_point(|&s| s < x);
        let cand = [i.saturating_sub(1), i.min(self.steps.len() - 1)];
        cand.into_iter().min_by(|&a, &b| {
            (self.steps[a] - x)
                .abs()
                .total_cmp(&(self.steps[b] - x).abs())
        })
    }
}

/// The bands of a grouped card as CSV, one row per group, metric and x:
/// `group,metric,<x>,runs,mean,median,min,max,std`, where `<x>` is `step`, `time_s` (Unix
/// seconds of the time bin's centre) or `relative_time_s`, as the card's x axis is.
pub(super) fn bands_csv(bands: &[(&str, &str, &Band)], axis: super::XAxis) -> String {
    let x = match axis {
        super::XAxis::Step => "step",
        super::XAxis::WallTime => "time_s",
        super::XAxis::Relative => "relative_time_s",
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "group", "metric", x, "runs", "mean", "median", "min", "max", "std",
    ]);
    for (group, metric, b) in bands {
        for i in 0..b.steps.len() {
            let _ = w.write_record([
                group.to_string(),
                metric.to_string(),
                b.steps[i].to_string(),
                b.count[i].to_string(),
                b.mean[i].to_string(),
                b.median[i].to_string(),
                b.min[i].to_string(),
                b.max[i].to_string(),
                b.std[i].to_string(),
            ]);
        }
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// `(step, value)` points in step order with one point per step, the one logged last there
/// (the sort is stable, so a restarted run's rewrite wins).
pub(super) fn last_per_step(mut pts: Vec<(i64, f64)>) -> Vec<(i64, f64)> {
    if !pts.is_sorted_by_key(|p| p.0) {
        pts.sort_by_key(|p| p.0);
    }
    let mut out: Vec<(i64, f64)> = Vec::with_capacity(pts.len());
    for p in pts {
        match out.last_mut() {
            Some(last) if last.0 == p.0 => *last = p,
            _ => out.push(p),
        }
    }
    out
}

/// Computes a group's band from its runs' full histories: at each step, over the runs with a
/// finite value there, the mean, median, min, max and standard deviation. A run that logged a
/// step several times counts with the value logged last (a restarted run's rewrite); NaN and
/// ±inf are left out, as on the lines.
pub fn aggregate(series: &[Arc<Series>]) -> Band {
    let per_run: Vec<Vec<(i64, f64)>> = series
        .iter()
        .map(|s| {
            let n = s.steps.len().min(s.values.len());
            let pts: Vec<(i64, f64)> = (0..n)
                .map(|i| (s.steps[i], crate::format::as_logged(s.values[i])))
                .filter(|p| p.1.is_finite())
                .collect();
            last_per_step(pts)
        })
        .collect();
    let mut steps: Vec<i64> = per_run.iter().flatten().map(|p| p.0).collect();
    steps.sort_unstable();
    steps.dedup();
    let mut band = Band {
        steps: Vec::with_capacity(steps.len()),
        mean: Vec::with_capacity(steps.len()),
        median: Vec::with_capacity(steps.len()),
        min: Vec::with_capacity(steps.len()),
        max: Vec::with_capacity(steps.len()),
        std: Vec::with_capacity(steps.len()),
        count: Vec::with_capacity(steps.len()),
    };
    let mut cursors = vec![0usize; per_run.len()];
    let mut vals: Vec<f64> = Vec::with_capacity(per_run.len());
    for step in steps {
        vals.clear();
        for (run, c) in per_run.iter().zip(cursors.iter_mut()) {
            if let Some(&(s, v)) = run.get(*c)
                && s == step
            {
                vals.push(v);
                *c += 1;
            }
        }
        let n = vals.len() as f64;
        let mean = vals.iter().sum::<f64>() / n;
        let var = vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        let (lo, hi) = vals
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let mid = vals.len() / 2;
        let (_, &mut upper, _) = vals.select_nth_unstable_by(mid, f64::total_cmp);
        let median = if vals.len() % 2 == 1 {
            upper
        } else {
            let lower = vals[..mid]
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max);
            (lower + upper) / 2.0
        };
        band.steps.push(step as f64);
        band.mean.push(mean);
        band.median.push(median);
        band.min.push(lo);
        band.max.push(hi);
        band.std.push(var.sqrt());
        band.count.push(vals.len() as u32);
    }
    band
}

/// Most time bins of a band on a time x axis (over the group's time span).
pub const TIME_BINS: usize = 600;

/// The time bins of a group's band: half the points of its typical run (the median count), so
/// that a bin holds about two points of each run and the line goes through every run's values
/// rather than jumping between runs; at most [`TIME_BINS`].
pub fn time_bins(series: &[Arc<Series>]) -> usize {
    let mut counts: Vec<usize> = series.iter().map(|s| s.values.len()).collect();
    if counts.is_empty() {
        return 1;
    }
    let mid = counts.len() / 2;
    let (_, &mut median, _) = counts.select_nth_unstable(mid);
    (median / 2).clamp(1, TIME_BINS)
}

/// Computes a group's band on a time x axis ([`XAxis::WallTime`](super::XAxis) in seconds,
/// or [`XAxis::Relative`](super::XAxis): seconds since each run's first value of the metric)
/// over `bins` equal bins of the group's time span: each bin's mean, median, min, max and standard
/// deviation are over every finite point of the group's runs logged in it, placed at the bin's
/// centre; empty bins are left out. On the step axis, [`aggregate`].
pub fn aggregate_time(series: &[Arc<Series>], axis: super::XAxis, bins: usize) -> Band {
    let bins = bins.max(1);
    let per_run: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| {
            let n = s.timestamps.len().min(s.values.len());
            let t0 = s.timestamps[..n].iter().copied().min().unwrap_or(0);
            (0..n)
                .map(|i| {
                    let t = match axis {
                        super::XAxis::Relative => s.timestamps[i] - t0,
                        _ => s.timestamps[i],
                    };
                    (t as f64 / 1000.0, crate::format::as_logged(s.values[i]))
                })
                .filter(|p| p.1.is_finite())
                .collect()
        })
        .collect();
    let (lo, hi) = per_run
        .iter()
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.0), b.max(p.0))
        });
    if !(lo.is_finite() && hi.is_finite()) {
        return Band::default();
    }
    let width = (hi - lo) / bins as f64;
    let bin_of = |x: f64| {
        if width > 0.0 {
            (((x - lo) / width) as usize).min(bins - 1)
        } else {
            0
        }
    };
    // Every value, placed bin by bin (a counting sort: two passes, one array).
    let mut start = vec![0usize; bins + 1];
    for p in per_run.iter().flatten() {
        start[bin_of(p.0) + 1] += 1;
    }
    for b in 0..bins {
        start[b + 1] += start[b];
    }
    let mut fill = start.clone();
    let mut values = vec![0.0; start[bins]];
    for p in per_run.iter().flatten() {
        let b = bin_of(p.0);
        values[fill[b]] = p.1;
        fill[b] += 1;
    }
    let mut band = Band::default();
    for b in 0..bins {
        let vals = &mut values[start[b]..start[b + 1]];
        if vals.is_empty() {
            continue;
        }
        let n = vals.len() as f64;
        let mean = vals.iter().sum::<f64>() / n;
        let var = vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        vals.sort_unstable_by(f64::total_cmp);
        let k = vals.len();
        let median = if k % 2 == 1 {
            vals[k / 2]
        } else {
            (vals[k / 2 - 1] + vals[k / 2]) / 2.0
        };
        band.steps.push(lo + width * (b as f64 + 0.5));
        band.mean.push(mean);
        band.median.push(median);
        band.min.push(vals[0]);
        band.max.push(vals[k - 1]);
        band.std.push(var.sqrt());
        band.count.push(k as u32);
    }
    band
}

/// A band to compute.
struct Job {
    id: (String, String),
    fingerprint: u64,
    /// Aligned by step, or binned by time.
    axis: super::XAxis,
    series: Vec<Arc<Series>>,
    repaint: egui::Context,
}

/// A computed band.
struct Done {
    id: (String, String),
    fingerprint: u64,
    band: Arc<Band>,
}

/// The thread computing bands off the UI thread, started on the first request.
#[derive(Default)]
pub struct BandWorker {
    channel: Option<(Sender<Job>, Receiver<Done>)>,
    failed: bool,
}

impl BandWorker {
    fn submit(&mut self, job: Job) -> bool {
        if self.channel.is_none() && !self.failed {
            let (job_tx, job_rx) = std::sync::mpsc::channel::<Job>();
            let (done_tx, done_rx) = std::sync::mpsc::channel::<Done>();
            let spawned = std::thread::Builder::new()
                .name("mlscope-bands".into())
                .spawn(move || {
                    while let Ok(job) = job_rx.recv() {
                        let band = Arc::new(match job.axis {
                            super::XAxis::Step => aggregate(&job.series),
                            axis => aggregate_time(&job.series, axis, time_bins(&job.series)),
                        });
                        let done = Done {
                            id: job.id,
                            fingerprint: job.fingerprint,
                            band,
                        };
                        if done_tx.send(done).is_err() {
                            break;
                        }
                        job.repaint.request_repaint();
                    }
                });
            match spawned {
                Ok(_) => self.channel = Some((job_tx, done_rx)),
                Err(_) => self.failed = true,
            }
        }
        match &self.channel {
            Some((tx, _)) => tx.send(job).is_ok(),
            None => false,
        }
    }

    fn drain(&self) -> Vec<Done> {
        match &self.channel {
            Some((_, rx)) => rx.try_iter().collect(),
            None => Vec::new(),
        }
    }
}

/// What a band is: computed (for these histories), or asked for.
enum BandEntry {
    Pending(u64),
    Ready(u64, Arc<Band>),
}

/// The grouped charts' state: groups of this frame, bands by (metric, group), band choice per
/// card.
#[derive(Default)]
pub struct GroupState {
    worker: BandWorker,
    bands: HashMap<(String, String), BandEntry>,
    /// The band drawn per card (min–max unless chosen).
    band_kind: HashMap<String, GroupBand>,
    /// The band shown while its recomputation (live appends) runs.
    stale_shown: HashMap<(String, String), Arc<Band>>,
    /// This frame's groups (empty when not grouping).
    pub groups: Vec<RunGroup>,
}

impl GroupState {
    /// The band of a group of a metric, when computed for the histories held.
    pub fn band(&self, key: &str, group: &str) -> Option<Arc<Band>> {
        match self.bands.get(&(key.to_string(), group.to_string()))? {
            BandEntry::Ready(_, b) => Some(Arc::clone(b)),
            BandEntry::Pending(_) => None,
        }
    }

    /// Takes in the bands computed since the last frame.
    pub(super) fn receive(&mut self) {
        for d in self.worker.drain() {
            if let Some(e) = self.bands.get_mut(&d.id)
                && matches!(e, BandEntry::Pending(f) if *f == d.fingerprint)
            {
                *e = BandEntry::Ready(d.fingerprint, d.band);
                self.stale_shown.remove(&d.id);
            }
        }
        if self.bands.len() > 20_000 {
            self.bands.clear();
            self.stale_shown.clear();
        }
    }

    /// Whether any band is still being computed.
    pub fn pending(&self) -> bool {
        self.bands
            .values()
            .any(|e| matches!(e, BandEntry::Pending(_)))
    }
}

/// Identifies the histories a band is computed from (run, length, last point): live appends and
/// rewrites change it.
fn fingerprint(runs: &[(&str, &Arc<Series>)]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for (id, s) in runs {
        id.hash(&mut h);
        s.values.len().hash(&mut h);
        s.steps.last().hash(&mut h);
        s.values.last().map(|v| v.to_bits()).hash(&mut h);
    }
    h.finish()
}

/// A group's band reduced to the visible range: the line (first, min, max, last per column) and
/// the band's envelope (lowest lower edge, highest upper edge per column).
struct Reduced {
    line: Vec<PlotPoint>,
    envelope: Vec<(f64, f64, f64)>,
}

fn reduce_band(
    band: &Band,
    line: GroupLine,
    kind: GroupBand,
    (x0, x1): (f64, f64),
    buckets: usize,
    log_y: bool,
) -> Reduced {
    let tf = |v: f64| {
        if !log_y {
            Some(v)
        } else if v > 0.0 {
            Some(v.log10())
        } else {
            None
        }
    };
    let ys = band.line(line);
    let n = band.steps.len();
    let (lo, hi) = if x0.is_finite() && x1.is_finite() && x1 > x0 {
        // One point beyond each side, so lines reach the edges.
        let a = band.steps.partition_point(|&s| s < x0).saturating_sub(1);
        let b = (band.steps.partition_point(|&s| s <= x1) + 1).min(n);
        (a, b)
    } else {
        (0, n)
    };
    let (fx0, fx1) = match (band.steps.get(lo), band.steps.get(hi.saturating_sub(1))) {
        (Some(&a), Some(&b)) => (a, b),
        _ => {
            return Reduced {
                line: Vec::new(),
                envelope: Vec::new(),
            };
        }
    };
    let mut line_pts = Vec::new();
    let mut envelope = Vec::new();
    if hi - lo <= buckets * 2 {
        for (i, &v) in ys.iter().enumerate().take(hi).skip(lo) {
            if let Some(y) = tf(v) {
                line_pts.push(PlotPoint::new(band.steps[i], y));
            }
            // On a log axis a lower edge at or below 0 is cut at the line.
            if let Some((a, b)) = band.edges(kind, i)
                && let (Some(a), Some(b)) = (tf(a).or(tf(v)), tf(b))
            {
                envelope.push((band.steps[i], a, b));
            }
        }
        return Reduced {
            line: line_pts,
            envelope,
        };
    }
    let width = (fx1 - fx0).max(f64::MIN_POSITIVE);
    let mut i = lo;
    while i < hi {
        let col = (((band.steps[i] - fx0) / width) * buckets as f64).floor() as usize;
        let start = i;
        // Line: first, min, max, last of the column, in x order.
        let (mut mn, mut mx) = (i, i);
        let (mut elo, mut ehi) = (f64::INFINITY, f64::NEG_INFINITY);
        while i < hi && (((band.steps[i] - fx0) / width) * buckets as f64).floor() as usize == col {
            if ys[i] < ys[mn] {
                mn = i;
            }
            if ys[i] > ys[mx] {
                mx = i;
            }
            if let Some((a, b)) = band.edges(kind, i) {
                if let Some(a) = tf(a).or(tf(ys[i])) {
                    elo = elo.min(a);
                }
                if let Some(b) = tf(b) {
                    ehi = ehi.max(b);
                }
            }
            i += 1;
        }
        let mut idx = [start, mn, mx, i - 1];
        idx.sort_unstable();
        let mut prev = usize::MAX;
        for k in idx {
            if k != prev
                && let Some(y) = tf(ys[k])
            {
                line_pts.push(PlotPoint::new(band.steps[k], y));
            }
            prev = k;
        }
        if elo.is_finite() && ehi.is_finite() {
            let xm = band.steps[start];
            envelope.push((xm, elo, ehi));
            if i - 1 != start {
                envelope.push((band.steps[i - 1], elo, ehi));
            }
        }
    }
    Reduced {
        line: line_pts,
        envelope,
    }
}

impl Charts {
    /// The grouped charts' state (bands, groups; tests).
    pub fn group_state(&self) -> &GroupState {
        &self.groups
    }

    /// A card drawn per group: each group's line and band, computed off the UI thread.
    pub(super) fn group_card_ui(
        &mut self,
        ui: &mut egui::Ui,
        ctx: &ViewCtx,
        card: &super::layout::Card,
        (plot_height, card_rect): (f32, egui::Rect),
    ) {
        // The card's state is kept by its id; bands by metric and group.
        let key = card.id.as_str();
        let metrics = &card.spec.metrics;
        // A line per group and metric: with several metrics each group is listed once per
        // metric, named by both, drawn in the metric's line style.
        let groups: Vec<(RunGroup, usize)> = metrics
            .iter()
            .enumerate()
            .flat_map(|(mi, m)| {
                self.groups.groups.iter().map(move |g| {
                    let mut g = g.clone();
                    if metrics.len() > 1 {
                        g.label = format!("{} · {m}", g.label);
                    }
                    (g, mi)
                })
            })
            .collect();
        let n_groups = self.groups.groups.len().max(1);
        let options = ctx.persisted().charts.clone();
        let histories = ctx.histories();
        let kind = self.groups.band_kind.get(key).copied().unwrap_or_default();
        let mut loading = false;
        let mut drawn: Vec<(usize, Arc<Band>)> = Vec::new();
        // Whether every history of the card has at most one point (a final score): bars.
        let mut single = true;
        let mut any_ready = false;
        for (gi, (g, mi)) in groups.iter().enumerate() {
            let metric = metrics[*mi].as_str();
            let mut series: Vec<(&str, &Arc<Series>)> = Vec::new();
            let mut waiting = false;
            for r in &g.runs {
                if self.hidden_runs.contains(&r.info.run_id) || !r.data.metrics.contains_key(metric)
                {
                    continue;
                }
                match histories.get(&(r.info.run_id.clone(), metric.to_string())) {
                    Some(Entry::Ready(s)) => {
                        any_ready = true;
                        single &= s.values.len() <= 1;
                        series.push((r.info.run_id.as_str(), s));
                    }
                    Some(Entry::Failed(_)) => {}
                    _ => waiting = true,
                }
            }
            if waiting {
                loading = true;
            }
            if series.is_empty() {
                continue;
            }
            let id = (
                metric.to_string(),
                self.groups.groups[gi % n_groups].label.clone(),
            );
            // The x axis is part of what a band is computed for.
            let fp = fingerprint(&series)
                ^ (options.x_axis as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let current = match self.groups.bands.get(&id) {
                Some(BandEntry::Ready(f, b)) => {
                    if *f != fp && !waiting {
                        loading = true;
                        None
                    } else {
                        Some(Arc::clone(b))
                    }
                }
                Some(BandEntry::Pending(f)) if *f == fp => {
                    loading = true;
                    continue;
                }
                _ => None,
            };
            if let Some(b) = &current {
                drawn.push((gi, Arc::clone(b)));
            }
            // Compute once every history of the group is in (or again after live appends).
            let stale =
                !matches!(self.groups.bands.get(&id), Some(BandEntry::Ready(f, _)) if *f == fp);
            if stale && !waiting {
                let job = Job {
                    id: id.clone(),
                    fingerprint: fp,
                    axis: options.x_axis,
                    series: series.iter().map(|(_, s)| Arc::clone(s)).collect(),
                    repaint: ui.ctx().clone(),
                };
                if self.groups.worker.submit(job) {
                    if current.is_none() {
                        self.groups.bands.insert(id, BandEntry::Pending(fp));
                    } else {
                        // Keep drawing the old band until the new one is in.
                        self.groups.bands.insert(id.clone(), BandEntry::Pending(fp));
                        if let Some(b) = current {
                            self.groups.stale_shown.insert(id, b);
                        }
                    }
                    loading = true;
                }
            }
        }
        // Bands being recomputed: the previous one stays on screen meanwhile.
        for (gi, (_, mi)) in groups.iter().enumerate() {
            let id = (
                metrics[*mi].clone(),
                self.groups.groups[gi % n_groups].label.clone(),
            );
            if matches!(self.groups.bands.get(&id), Some(BandEntry::Pending(_)))
                && let Some(b) = self.groups.stale_shown.get(&id)
                && !drawn.iter().any(|(i, _)| *i == gi)
            {
                drawn.push((gi, Arc::clone(b)));
            }
        }
        let mut export = super::card::ExportClicks::default();
        ui.horizontal(|ui| {
            self.card_title_ui(ui, card).on_hover_text(format!(
                "{key}: one line per group ({}), computed over every logged point \
                     of its runs, {}",
                match options.group_line {
                    GroupLine::Mean => "mean",
                    GroupLine::Median => "median",
                },
                if options.x_axis == super::XAxis::Step {
                    "aligned by step".to_string()
                } else {
                    format!("in {TIME_BINS} time bins of the group's time span")
                }
            ));
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                self.card_menu_ui(ui, card);
                export = super::card::export_buttons_saying(
                    ui,
                    "Save each group's mean, median, min, max, std and run count as CSV",
                );
                // One click goes to the next band: min–max, ±std, none.
                if ui
                    .small_button(kind.label())
                    .on_hover_text("The band around each group's line (click to change)")
                    .clicked()
                {
                    let next = match kind {
                        GroupBand::MinMax => GroupBand::Std,
                        GroupBand::Std => GroupBand::None,
                        GroupBand::None => GroupBand::MinMax,
                    };
                    self.groups.band_kind.insert(key.to_string(), next);
                }
                if loading {
                    ui.spinner();
                }
            });
        });
        if export.png {
            ctx.send(Command::ExportPng {
                file_name: format!("{}.png", super::card::sanitize(key)),
                rect: card_rect,
            });
        }
        if export.csv {
            let rows: Vec<(&str, &str, &Band)> = drawn
                .iter()
                .map(|(gi, b)| {
                    let (_, mi) = &groups[*gi];
                    (
                        self.groups.groups[*gi % n_groups].label.as_str(),
                        metrics[*mi].as_str(),
                        b.as_ref(),
                    )
                })
                .collect();
            ctx.send(Command::SaveAs {
                file_name: format!("{}-groups.csv", super::card::sanitize(key)),
                bytes: bands_csv(&rows, options.x_axis).into_bytes(),
            });
        }
        if drawn.is_empty() {
            // Nothing to draw yet: an empty plot would give the linked x axis a made-up range.
            ui.allocate_space(egui::vec2(ui.available_width(), plot_height));
            if loading {
                ui.ctx().request_repaint();
            }
            return;
        }
        let (x0, x1, px) = self.last_x.get(key).copied().unwrap_or((
            f64::NEG_INFINITY,
            f64::INFINITY,
            ui.available_width(),
        ));
        let buckets = px.max(50.0) as usize;
        let log_y = options.log_y;
        let x_axis = options.x_axis;
        let reduced: Vec<(usize, Reduced)> = drawn
            .iter()
            .map(|(gi, b)| {
                (
                    *gi,
                    reduce_band(b, options.group_line, kind, (x0, x1), buckets, log_y),
                )
            })
            .collect();
        // y fitted to the visible band and lines.
        let mut fit = (f64::INFINITY, f64::NEG_INFINITY);
        for (_, r) in &reduced {
            for p in &r.line {
                if (!x0.is_finite() || (x0..=x1).contains(&p.x)) && p.y.is_finite() {
                    fit = (fit.0.min(p.y), fit.1.max(p.y));
                }
            }
            for &(x, a, b) in &r.envelope {
                if !x0.is_finite() || (x0..=x1).contains(&x) {
                    fit = (fit.0.min(a), fit.1.max(b));
                }
            }
        }
        let fit = (fit.0 <= fit.1).then(|| {
            let pad = ((fit.1 - fit.0) * 0.05).max(1e-9);
            (fit.0 - pad, fit.1 + pad)
        });
        let link = egui::Id::unique("mlscope_charts_link");
        // A metric logged once per run (a final score): a bar per group, its band as a whisker.
        let bars = any_ready && single;
        let bar_names: Vec<String> = drawn
            .iter()
            .map(|(gi, _)| groups[*gi].0.label.clone())
            .collect();
        // Its own plot memory: the bounds of a card of bars or of run lines never leak into the
        // linked x axis of grouped lines.
        let mut plot = Plot::new(("group_chart", key, bars))
            .height(plot_height)
            .allow_scroll(false)
            .show_x(false)
            .show_y(false);
        if bars {
            plot = super::card::bar_axis(plot, bar_names, 16);
        } else {
            plot = plot
                .link_axis(link, [true, false])
                .link_cursor(link, [true, false])
                .x_axis_formatter(move |mark, _| x_tick_label(mark.value, mark.step_size, x_axis));
        }
        let mut plot = plot.y_axis_formatter(move |mark, _| {
            if log_y {
                log_tick_label(mark.value)
            } else {
                number_sig(mark.value)
            }
        });
        if log_y {
            plot = plot.y_grid_spacer(super::scale::log_grid);
        }
        self.shown_lines.insert(
            key.to_string(),
            drawn
                .iter()
                .map(|(gi, _)| groups[*gi].0.label.clone())
                .collect(),
        );
        let styles: Vec<egui_plot::LineStyle> = groups
            .iter()
            .map(|(_, mi)| super::menu::metric_style(*mi))
            .collect();
        let groups: Vec<RunGroup> = groups.into_iter().map(|(g, _)| g).collect();
        let groups = &groups;
        let fit_now = (!options.lock_y && !bars).then_some(fit).flatten();
        let whisker = ui.visuals().strong_text_color();
        let response = plot.show(ui, |plot_ui| {
            if let Some((lo, hi)) = fit_now {
                plot_ui.set_plot_bounds_y(lo..=hi);
            }
            if bars {
                for (i, (gi, b)) in drawn.iter().enumerate() {
                    let g = &groups[*gi];
                    let v = b.line(options.group_line)[0];
                    plot_ui.bar_chart(egui_plot::BarChart::new(
                        g.label.clone(),
                        vec![
                            egui_plot::Bar::new(i as f64, v)
                                .width(0.7)
                                .name(&g.label)
                                .fill(g.color().gamma_multiply(0.85)),
                        ],
                    ));
                    if let Some((lo, hi)) = b.edges(kind, 0) {
                        plot_ui.line(
                            Line::new(
                                format!("{} band", g.label),
                                vec![[i as f64, lo], [i as f64, hi]],
                            )
                            .color(whisker)
                            .width(2.0),
                        );
                    }
                }
                return plot_ui.pointer_coordinate();
            }
            for (gi, r) in &reduced {
                let g = &groups[*gi];
                plot_ui.line(
                    Line::new(g.label.clone(), PlotPoints::Borrowed(&r.line))
                        .color(g.color())
                        .style(styles[*gi])
                        .width(1.8)
                        .id(("group", &g.label)),
                );
            }
            plot_ui.pointer_coordinate()
        });
        // The bands, as one translucent mesh per group (a band is not convex: egui_plot's
        // polygons would fill it wrong).
        let transform = response.transform;
        let painter = ui.painter_at(*transform.frame());
        for (gi, r) in &reduced {
            if r.envelope.len() < 2 {
                continue;
            }
            let c = groups[*gi].color();
            let fill = egui::Color32::from_rgba_unmultiplied(c.r(), c.g(), c.b(), 46);
            let mut mesh = egui::Mesh::default();
            for (k, &(x, a, b)) in r.envelope.iter().enumerate() {
                let top = transform.position_from_point(&PlotPoint::new(x, b));
                let bottom = transform.position_from_point(&PlotPoint::new(x, a));
                mesh.colored_vertex(top, fill);
                mesh.colored_vertex(bottom, fill);
                if k > 0 {
                    let i = (2 * k) as u32;
                    mesh.add_triangle(i - 2, i - 1, i);
                    mesh.add_triangle(i - 1, i, i + 1);
                }
            }
            painter.add(egui::Shape::mesh(mesh));
        }
        let b = transform.bounds();
        self.shown_y
            .insert(key.to_string(), (b.min()[1], b.max()[1]));
        let new_x = (b.min()[0], b.max()[0], transform.frame().width());
        if self.last_x.insert(key.to_string(), new_x) != Some(new_x) {
            ui.ctx().request_repaint();
        }
        if bars {
            if response.response.hovered()
                && let Some(pointer) = response.inner
                && pointer.x >= -0.5
                && let Some(one) = drawn.get(pointer.x.round() as usize)
            {
                let one = std::slice::from_ref(one);
                response.response.on_hover_ui_at_pointer(|ui| {
                    group_hover_ui(ui, groups, one, 0.0, options.group_line, kind, x_axis);
                });
            }
            return;
        }
        if response.response.hovered()
            && let Some(pointer) = response.inner
        {
            self.cursor_next = Some((key.to_string(), pointer.x));
            response.response.on_hover_ui_at_pointer(|ui| {
                group_hover_ui(
                    ui,
                    groups,
                    &drawn,
                    pointer.x,
                    options.group_line,
                    kind,
                    x_axis,
                );
            });
        }
        self.cursor_readout_groups(ui, &transform, groups, &drawn, options.group_line, key);
        if loading {
            ui.ctx().request_repaint();
        }
    }

    /// The step cursor's values on a grouped card the pointer is not on.
    fn cursor_readout_groups(
        &mut self,
        ui: &egui::Ui,
        transform: &egui_plot::PlotTransform,
        groups: &[RunGroup],
        drawn: &[(usize, Arc<Band>)],
        line: GroupLine,
        key: &str,
    ) {
        let Some(x) = self.cursor_for(key) else {
            return;
        };
        let values: Vec<(egui::Color32, String, f64)> = drawn
            .iter()
            .filter_map(|(gi, b)| {
                let i = b.nearest(x)?;
                Some((
                    groups[*gi].color(),
                    groups[*gi].label.clone(),
                    b.line(line)[i],
                ))
            })
            .collect();
        self.cursor_values.insert(
            key.to_string(),
            values.iter().map(|(_, n, v)| (n.clone(), *v)).collect(),
        );
        super::cursor::draw_cursor(ui, transform, x, &values);
    }
}

impl Charts {
    /// The legend of grouped charts: each group in its colour with its run count; pointing at it
    /// lists its runs.
    pub(super) fn group_legend_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            for g in self.groups.groups.iter().take(super::LEGEND_MAX) {
                let names: Vec<&str> = g
                    .runs
                    .iter()
                    .take(40)
                    .map(|r| r.info.run_name.as_str())
                    .collect();
                let mut tip = format!("{} ({} runs)\n{}", g.label, g.runs.len(), names.join("\n"));
                if g.runs.len() > 40 {
                    tip.push_str(&format!("\nand {} more", g.runs.len() - 40));
                }
                super::legend_entry(
                    ui,
                    g.color(),
                    &format!("{} ({})", g.label, g.runs.len()),
                    false,
                )
                .on_hover_text(tip);
            }
            if self.groups.groups.len() > super::LEGEND_MAX {
                ui.weak(format!(
                    "and {} more groups",
                    self.groups.groups.len() - super::LEGEND_MAX
                ));
            }
        });
    }
}

/// The "group by" menu of the chart options: params, tags and attributes of the shown runs, any
/// number at once, and the line drawn per group.
pub(super) fn group_by_ui(ui: &mut egui::Ui, ctx: &ViewCtx, options: &mut super::ChartOptions) {
    let text = if options.group_by.is_empty() {
        "group by: none".to_string()
    } else {
        format!(
            "group by: {}",
            options
                .group_by
                .iter()
                .map(GroupKey::title)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    ui.menu_button(text, |ui| {
        if ui
            .selectable_label(options.group_by.is_empty(), "none (one line per run)")
            .clicked()
        {
            options.group_by.clear();
        }
        ui.horizontal(|ui| {
            ui.label("line:");
            ui.selectable_value(&mut options.group_line, GroupLine::Mean, "mean");
            ui.selectable_value(&mut options.group_line, GroupLine::Median, "median");
        });
        ui.separator();
        let (mut params, mut tag_keys) = (
            std::collections::BTreeSet::new(),
            std::collections::BTreeSet::new(),
        );
        if let Some(set) = ctx.run_set() {
            for r in &set.runs {
                params.extend(r.data.params.keys().cloned());
                tag_keys.extend(
                    r.data
                        .tags
                        .keys()
                        .filter(|k| !k.starts_with("mlflow.") || k.as_str() == tags::SOURCE_NAME)
                        .cloned(),
                );
            }
        }
        let store_chosen = options
            .group_by
            .contains(&GroupKey::Attribute("store".into()));
        let mut toggle = |ui: &mut egui::Ui, key: GroupKey| {
            let mut on = options.group_by.contains(&key);
            let title = key.title();
            let short = super::card::truncate_label(&title, 48);
            if ui.checkbox(&mut on, short).on_hover_text(title).changed() {
                if on {
                    options.group_by.push(key);
                } else {
                    options.group_by.retain(|k| *k != key);
                }
            }
        };
        egui::ScrollArea::vertical()
            .max_height(360.0)
            .show(ui, |ui| {
                ui.label(egui::RichText::new("Attributes").strong());
                for a in GROUP_ATTRIBUTES {
                    // The store is a choice only while a second store is open (or still chosen).
                    let key = GroupKey::Attribute(a.to_string());
                    if a == "store" && ctx.second_store().is_none() && !store_chosen {
                        continue;
                    }
                    toggle(ui, key);
                }
                if !params.is_empty() {
                    ui.label(egui::RichText::new("Params").strong());
                    for p in params {
                        toggle(ui, GroupKey::Param(p));
                    }
                }
                if !tag_keys.is_empty() {
                    ui.label(egui::RichText::new("Tags").strong());
                    for t in tag_keys {
                        toggle(ui, GroupKey::Tag(t));
                    }
                }
            });
    })
    .response
    .on_hover_text("Draw one line per group of runs (mean or median) with a band");
}

/// The read-out under the pointer of a grouped card: per group, its line and band at the
/// nearest step, and its runs.
fn group_hover_ui(
    ui: &mut egui::Ui,
    groups: &[RunGroup],
    drawn: &[(usize, Arc<Band>)],
    x: f64,
    line: GroupLine,
    kind: GroupBand,
    axis: super::XAxis,
) {
    let mut shown = 0;
    for (gi, b) in drawn {
        let Some(i) = b.nearest(x) else {
            continue;
        };
        let g = &groups[*gi];
        if shown == 0 {
            let at = if axis == super::XAxis::Step {
                format!("step {}", b.steps[i])
            } else {
                format!(
                    "{} {} (a time bin)",
                    axis.label(),
                    super::hover::format_x(b.steps[i], axis)
                )
            };
            ui.label(egui::RichText::new(at).weak());
        }
        shown += 1;
        if shown > 12 {
            ui.weak(format!("and {} more groups", drawn.len() - 12));
            break;
        }
        ui.horizontal(|ui| {
            theme::swatch(ui, g.color());
            ui.label(egui::RichText::new(&g.label).strong());
            let mut text = format!(
                "{} {}",
                match line {
                    GroupLine::Mean => "mean",
                    GroupLine::Median => "median",
                },
                number_sig(b.line(line)[i])
            );
            if let Some((lo, hi)) = b.edges(kind, i) {
                text.push_str(&format!("  [{} … {}]", number_sig(lo), number_sig(hi)));
            }
            text.push_str(&format!("  n={}", b.count[i]));
            ui.monospace(text);
        });
        let names: Vec<&str> = g
            .runs
            .iter()
            .take(8)
            .map(|r| r.info.run_name.as_str())
            .collect();
        let more = g.runs.len().saturating_sub(8);
        ui.weak(if more > 0 {
            format!("   {} and {more} more", names.join(", "))
        } else {
            format!("   {}", names.join(", "))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(points: &[(i64, f64)]) -> Arc<Series> {
        Arc::new(Series {
            steps: points.iter().map(|p| p.0).collect(),
            timestamps: points.iter().map(|p| p.0).collect(),
            values: points.iter().map(|p| p.1).collect(),
            offset: None,
        })
    }

    #[test]
    fn bands_align_by_step_and_skip_missing_steps() {
        let b = aggregate(&[
            s(&[(0, 1.0), (1, 2.0), (2, 3.0)]),
            s(&[(0, 3.0), (2, 5.0), (3, f64::NAN)]),
            s(&[(2, 10.0), (0, 2.0)]),
        ]);
        assert_eq!(b.steps, vec![0.0, 1.0, 2.0]);
        assert_eq!(b.mean, vec![2.0, 2.0, 6.0]);
        assert_eq!(b.min, vec![1.0, 2.0, 3.0]);
        assert_eq!(b.max, vec![3.0, 2.0, 10.0]);
        assert_eq!(b.median, vec![2.0, 2.0, 5.0]);
        assert_eq!(b.count, vec![3, 1, 3]);
        let var0: f64 = [1.0f64, 3.0, 2.0]
            .iter()
            .map(|v| (v - 2.0).powi(2))
            .sum::<f64>()
            / 3.0;
        assert!((b.std[0] - var0.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn up_to_twenty_groups_get_distinct_colours_that_follow_the_label() {
        let labels: Vec<String> = (0..20).map(|i| format!("seed={i}")).collect();
        let colors = group_colors(labels.iter().map(String::as_str));
        let distinct: std::collections::HashSet<_> = colors.iter().collect();
        assert_eq!(distinct.len(), 20);
        // A group alone keeps the colour its label hashes to.
        assert_eq!(group_colors(std::iter::once("seed=0"))[0], colors[0]);
    }

    #[test]
    fn a_step_logged_twice_counts_once_with_its_last_value() {
        let b = aggregate(&[s(&[(0, 1.0), (1, 5.0), (1, 7.0)]), s(&[(1, 1.0), (0, 3.0)])]);
        assert_eq!(b.mean, vec![2.0, 4.0]);
        assert_eq!(b.median, vec![2.0, 4.0]);
    }

    #[test]
    fn reduction_keeps_a_spike_of_the_band() {
        let n = 100_000;
        let mut vals: Vec<(i64, f64)> = (0..n).map(|i| (i, 1.0)).collect();
        vals[54_321].1 = 50.0;
        let b = aggregate(&[s(&vals), s(&(0..n).map(|i| (i, 1.0)).collect::<Vec<_>>())]);
        let r = reduce_band(
            &b,
            GroupLine::Mean,
            GroupBand::MinMax,
            (f64::NEG_INFINITY, f64::INFINITY),
            300,
            false,
        );
        assert!(r.envelope.len() <= 2 * 302);
        assert!(r.envelope.iter().any(|e| e.2 == 50.0));
        assert!(r.line.iter().any(|p| p.y == 25.5));
    }
}
