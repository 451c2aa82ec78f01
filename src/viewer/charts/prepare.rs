//! Series prepared for drawing: x from the axis choice, log y, segments where x goes back (a
//! restarted run), EMA smoothing, and a min/max pyramid per segment; extended in place as live
//! refresh appends points.

use std::time::{Duration, Instant};

use egui_plot::PlotPoint;

use super::super::lod::Pyramid;
use super::super::worker::Series;
use super::{ChartOptions, XAxis};

/// A series prepared for drawing: split into segments of increasing x, values transformed
/// (log), smoothed, with their pyramids; and what is needed to take in appended points.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prepared {
    /// Segments: xs, ys and smoothed ys (when smoothing is on).
    pub segments: Vec<Segment>,
    /// Points that cannot be drawn: NaN, +inf and -inf (MLflow's SQLite form of ±inf,
    /// ±max double, included), counted, with the x of the first `MAX_NONFINITE_MARKS`
    /// (markers at the chart's edge).
    pub nonfinite: NonFinite,
    /// Points of the series taken in.
    seen: usize,
    /// Earliest timestamp (origin of relative time).
    t0: i64,
    /// The x of the last point taken in (restarts are seen on it).
    prev_x: Option<f64>,
    /// Whether the last segment is still open (the next points may continue it).
    open: bool,
    /// EMA state of the open segment: (value before debiasing, `1 - weight^count`).
    ema: (f64, f64),
    /// (step, timestamp, value bits) of the first and last points taken in: an append keeps
    /// them, a replaced history (a restarted metric file) does not.
    ends: Option<[(i64, i64, u64); 2]>,
}

/// Most non-finite points of a series whose x is kept for markers (the count goes on).
pub const MAX_NONFINITE_MARKS: usize = 10_000;

/// The points of a series that are NaN or ±inf.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NonFinite {
    /// NaN points.
    pub nan: usize,
    /// +inf points.
    pub pos_inf: usize,
    /// -inf points.
    pub neg_inf: usize,
    /// x and kind of the first [`MAX_NONFINITE_MARKS`] of them.
    pub marks: Vec<(f64, NonFiniteKind)>,
}

/// What a point that cannot be drawn is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NonFiniteKind {
    /// Not a number.
    Nan,
    /// +inf.
    PosInf,
    /// -inf.
    NegInf,
}

impl NonFinite {
    /// Every non-finite point.
    pub fn total(&self) -> usize {
        self.nan + self.pos_inf + self.neg_inf
    }

    /// The non-finite values of a series, by step.
    pub fn of(series: &Series) -> NonFinite {
        let mut counts = NonFinite::default();
        for (&step, &v) in series.steps.iter().zip(&series.values) {
            let v = crate::format::as_logged(v);
            if !v.is_finite() {
                counts.add(step as f64, v);
            }
        }
        counts
    }

    fn add(&mut self, x: f64, v: f64) {
        let kind = if v.is_nan() {
            self.nan += 1;
            NonFiniteKind::Nan
        } else if v > 0.0 {
            self.pos_inf += 1;
            NonFiniteKind::PosInf
        } else {
            self.neg_inf += 1;
            NonFiniteKind::NegInf
        };
        if self.marks.len() < MAX_NONFINITE_MARKS {
            self.marks.push((x, kind));
        }
    }
}

/// A run of points with increasing x.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Segment {
    /// X values (non-decreasing).
    pub xs: Vec<f64>,
    /// Y values (finite).
    pub ys: Vec<f64>,
    /// Smoothed y values.
    pub smooth: Option<Vec<f64>>,
    /// Min/max pyramid of `ys`.
    pub lod: Pyramid,
    /// Min/max pyramid of `smooth`.
    pub smooth_lod: Option<Pyramid>,
}

impl Segment {
    /// Smooths and indexes the points added since the last call, continuing `ema`.
    fn finish(&mut self, weight: Option<f64>, ema: &mut (f64, f64)) {
        if let Some(w) = weight {
            let sm = self.smooth.get_or_insert_with(Vec::new);
            let from = sm.len();
            sm.extend(ema_from(&self.ys[from..], w, ema));
            self.smooth_lod
                .get_or_insert_with(Pyramid::default)
                .extend(&self.xs, sm);
        }
        self.lod.extend(&self.xs, &self.ys);
    }
}

fn point_id(series: &Series, i: usize) -> (i64, i64, u64) {
    (
        series.steps[i],
        series.timestamps[i],
        series.values[i].to_bits(),
    )
}

/// Prepares a series: x from the axis choice, y through log when asked (non-positive values
/// dropped), non-finite values set aside (counted, for markers), split where x goes backwards, EMA-smoothed, indexed.
pub fn prepare(series: &Series, options: &ChartOptions) -> Prepared {
    let mut p = Prepared {
        t0: series.timestamps.iter().copied().min().unwrap_or(0),
        ..Prepared::default()
    };
    p.take_in(series, options);
    p
}

impl Prepared {
    /// Whether this was prepared from exactly `series`'s points (checked on the count and the
    /// first and last points).
    pub fn is_current(&self, series: &Series) -> bool {
        series.values.len() == self.seen && self.same_start(series)
    }

    fn same_start(&self, series: &Series) -> bool {
        let n = series
            .values
            .len()
            .min(series.steps.len())
            .min(series.timestamps.len());
        match self.ends {
            None => self.seen == 0,
            Some([first, last]) => {
                self.seen <= n
                    && point_id(series, 0) == first
                    && point_id(series, self.seen - 1) == last
            }
        }
    }

    /// Takes in the points appended to `series` since it was prepared (live refresh), as if it
    /// had been prepared whole. Returns false, changing nothing, when `series` is not an
    /// extension of what was prepared, or when an appended point moves the origin of relative
    /// time: then it must be prepared again.
    pub fn extend(&mut self, series: &Series, options: &ChartOptions) -> bool {
        if !self.same_start(series) {
            return false;
        }
        let new_t0 = series.timestamps[self.seen..].iter().copied().min();
        if self.seen == 0 {
            self.t0 = new_t0.unwrap_or(0);
        } else if let Some(t) = new_t0.filter(|&t| t < self.t0) {
            if options.x_axis == XAxis::Relative {
                return false;
            }
            self.t0 = t;
        }
        self.take_in(series, options);
        true
    }

    fn take_in(&mut self, series: &Series, options: &ChartOptions) {
        let n = series
            .values
            .len()
            .min(series.steps.len())
            .min(series.timestamps.len());
        if n <= self.seen {
            return;
        }
        let weight = (options.smoothing > 0.0).then_some(options.smoothing as f64);
        let mut cur = if self.open {
            self.segments.pop().unwrap_or_default()
        } else {
            Segment::default()
        };
        for i in self.seen..n {
            let x = match options.x_axis {
                XAxis::Step => series.steps[i] as f64,
                XAxis::WallTime => series.timestamps[i] as f64 / 1000.0,
                XAxis::Relative => (series.timestamps[i] - self.t0) as f64 / 1000.0,
            };
            // A restart is seen on the logged x, even when its value is left out below.
            if self.prev_x.is_some_and(|p| x < p) && !cur.xs.is_empty() {
                cur.finish(weight, &mut self.ema);
                self.segments.push(std::mem::take(&mut cur));
                self.ema = (0.0, 0.0);
            }
            self.prev_x = Some(x);
            // NaN and ±inf never reach the lines (they would flatten the y range): counted and
            // marked at the chart's edge instead.
            let mut y = crate::format::as_logged(series.values[i]);
            if !y.is_finite() {
                self.nonfinite.add(x, y);
                continue;
            }
            if options.log_y {
                if y <= 0.0 {
                    continue;
                }
                y = y.log10();
            }
            cur.xs.push(x);
            cur.ys.push(y);
        }
        self.open = !cur.xs.is_empty();
        if self.open {
            cur.finish(weight, &mut self.ema);
            self.segments.push(cur);
        }
        self.ends = Some([point_id(series, 0), point_id(series, n - 1)]);
        self.seen = n;
    }

    /// Heap bytes held (for the memory budget).
    pub fn heap_bytes(&self) -> usize {
        self.segments
            .iter()
            .map(|s| {
                (s.xs.capacity() + s.ys.capacity() + s.smooth.as_ref().map_or(0, Vec::capacity)) * 8
                    + s.lod.heap_bytes()
                    + s.smooth_lod.as_ref().map_or(0, Pyramid::heap_bytes)
            })
            .sum::<usize>()
            + self.nonfinite.marks.capacity() * 16
    }
}

/// What one frame spent on preparing series from scratch, against [`super::PREPARE_BUDGET`].
///
/// Only the preparing itself is timed: the frame's other work (reducing and drawing the series
/// prepared before, other cards) does not count. When the budget was a clock started with the
/// frame, a card of 500 runs reduced and drew the lines it had before reaching the next
/// unprepared series, found the budget gone and prepared one series a frame: preparing 1,000
/// series took over 120 s.
#[derive(Debug, Clone, Copy, Default)]
pub struct Budget {
    spent: Duration,
    prepared: usize,
}

impl Budget {
    /// Whether another series may be prepared in this frame (always the first one).
    pub fn allows_more(&self) -> bool {
        self.prepared == 0 || self.spent <= super::PREPARE_BUDGET
    }

    /// Runs `work` (preparing one series), counting its time.
    pub fn spend<T>(&mut self, work: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let out = work();
        self.spent += started.elapsed();
        self.prepared += 1;
        out
    }
}

/// Debiased exponential moving average (TensorBoard's smoothing), in one pass (the tests'
/// reference for [`ema_from`]).
#[cfg(test)]
fn ema(ys: &[f64], weight: f64) -> Vec<f64> {
    ema_from(ys, weight, &mut (0.0, 0.0))
}

/// [`ema`] going on from `state` (value before debiasing, `1 - weight^count`), which it updates.
/// The debiasing term is carried along rather than computed with `powi` per point (that was most
/// of the time of smoothing a million points).
fn ema_from(ys: &[f64], weight: f64, state: &mut (f64, f64)) -> Vec<f64> {
    let w = weight.clamp(0.0, 0.999);
    let (last, debias) = state;
    ys.iter()
        .map(|&y| {
            *last = *last * w + (1.0 - w) * y;
            *debias = 1.0 - w + w * *debias;
            if *debias > 0.0 { *last / *debias } else { y }
        })
        .collect()
}

/// Reduces one segment to the points that matter at `buckets` pixel columns over `[x0, x1]`:
/// per column its first, min, max and last point, in x order; plus the nearest point outside
/// each side of the range (so lines reach the edges) and the segment's ends (so automatic
/// bounds still see all the data). Small inputs are returned whole. A pass over every point in
/// range; charts read the segment's pyramid instead ([`Pyramid::reduce`], same points).
#[cfg(test)]
fn reduce_minmax(xs: &[f64], ys: &[f64], x0: f64, x1: f64, buckets: usize) -> Vec<PlotPoint> {
    to_points(
        xs,
        ys,
        super::super::lod::reduce_brute(xs, ys, x0, x1, buckets),
    )
}

pub(super) fn to_points(xs: &[f64], ys: &[f64], idx: Vec<usize>) -> Vec<PlotPoint> {
    idx.into_iter()
        .map(|k| PlotPoint::new(xs[k], ys[k]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viewer::charts::{ChartOptions, XAxis};

    #[test]
    fn the_frames_other_work_does_not_use_up_the_preparation_budget() {
        let mut budget = Budget::default();
        assert!(budget.allows_more());
        budget.spend(|| ());
        // The frame reduces and draws the lines it has for longer than the budget...
        std::thread::sleep(super::super::PREPARE_BUDGET * 2);
        // ...and may still prepare the next series.
        assert!(budget.allows_more());
        // Preparing past the budget stops it (the first series is always prepared).
        budget.spend(|| std::thread::sleep(super::super::PREPARE_BUDGET * 2));
        assert!(!budget.allows_more());
    }

    #[test]
    fn a_single_spike_survives_reduction() {
        let n = 1_000_000;
        let xs: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let mut ys = vec![1.0; n];
        ys[734_211] = 1000.0;
        let pts = reduce_minmax(&xs, &ys, 0.0, n as f64, 800);
        assert!(pts.len() <= 800 * 4 + 4);
        assert!(pts.iter().any(|p| p.y == 1000.0 && p.x == 734_211.0));
        // Zoomed in: still there, and the ends are kept.
        let pts = reduce_minmax(&xs, &ys, 700_000.0, 800_000.0, 100);
        assert!(pts.iter().any(|p| p.y == 1000.0));
        assert_eq!(pts.first().unwrap().x, 0.0);
        assert_eq!(pts.last().unwrap().x, (n - 1) as f64);
    }

    #[test]
    fn small_series_are_kept_whole() {
        let xs = [0.0, 1.0, 2.0];
        let ys = [3.0, 1.0, 2.0];
        assert_eq!(reduce_minmax(&xs, &ys, 0.0, 2.0, 100).len(), 3);
    }

    #[test]
    fn restarts_make_segments_and_log_drops_non_positive() {
        let s = Series {
            steps: vec![0, 1, 2, 0, 1],
            timestamps: vec![0, 1, 2, 3, 4],
            values: vec![1.0, 10.0, -1.0, f64::NAN, 100.0],
            offset: None,
        };
        let p = prepare(
            &s,
            &ChartOptions {
                log_y: true,
                ..ChartOptions::default()
            },
        );
        assert_eq!(p.segments.len(), 2);
        assert_eq!(p.segments[0].ys, vec![0.0, 1.0]);
        assert_eq!(p.segments[1].xs, vec![1.0]);
    }

    fn series_of(points: &[(i64, i64, f64)]) -> Series {
        Series {
            steps: points.iter().map(|p| p.0).collect(),
            timestamps: points.iter().map(|p| p.1).collect(),
            values: points.iter().map(|p| p.2).collect(),
            offset: None,
        }
    }

    #[test]
    fn appends_extend_the_prepared_series_as_a_rebuild_would() {
        // Restarts, NaN, infinities, non-positive values, repeated steps, pauses in time.
        let mut points = Vec::new();
        let mut seed = 12345u64;
        let mut step = 0i64;
        for i in 0..3000i64 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let r = (seed >> 33) % 100;
            step = if r == 0 { 0 } else { step + i64::from(r != 1) };
            let v = match r {
                2 => f64::NAN,
                3 => f64::INFINITY,
                4 => -1.0,
                5 => 0.0,
                _ => (seed >> 40) as f64 / 1e6,
            };
            // Time goes back now and then too (a clock change), never before the start.
            let back = if r == 6 && i > 1000 { 5000 } else { 0 };
            points.push((step, 1_000 + i * 10 + (r as i64 % 3) - back, v));
        }
        for x_axis in [XAxis::Step, XAxis::WallTime, XAxis::Relative] {
            for (log_y, smoothing) in [(false, 0.0), (true, 0.0), (false, 0.6), (true, 0.9)] {
                let o = ChartOptions {
                    x_axis,
                    smoothing,
                    log_y,
                    ..ChartOptions::default()
                };
                let whole = prepare(&series_of(&points), &o);
                assert!(whole.segments.len() > 5, "{x_axis:?}");
                let mut p = prepare(&series_of(&[]), &o);
                for end in [1, 2, 9, 500, 501, 1700, 3000] {
                    assert!(p.extend(&series_of(&points[..end]), &o));
                    assert!(p.is_current(&series_of(&points[..end])));
                }
                assert_eq!(p, whole, "{x_axis:?} log {log_y} smoothing {smoothing}");
            }
        }
    }

    #[test]
    fn a_replaced_history_or_an_earlier_origin_is_prepared_again() {
        let o = ChartOptions::default();
        let a = series_of(&[(0, 100, 1.0), (1, 200, 2.0)]);
        let mut p = prepare(&a, &o);
        // The same length, other points (a metric file written again).
        let b = series_of(&[(0, 100, 1.0), (1, 200, 5.0)]);
        assert!(!p.is_current(&b));
        assert!(!p.extend(
            &series_of(&[(0, 100, 1.0), (1, 200, 5.0), (2, 300, 1.0)]),
            &o
        ));
        // Shorter.
        assert!(!p.extend(&series_of(&[(0, 100, 1.0)]), &o));
        assert_eq!(p, prepare(&a, &o));
        // Relative time: a point older than the origin moves every x.
        let rel = ChartOptions {
            x_axis: XAxis::Relative,
            ..ChartOptions::default()
        };
        let mut p = prepare(&a, &rel);
        assert!(!p.extend(
            &series_of(&[(0, 100, 1.0), (1, 200, 2.0), (2, 50, 3.0)]),
            &rel
        ));
        assert!(p.extend(
            &series_of(&[(0, 100, 1.0), (1, 200, 2.0), (2, 350, 3.0)]),
            &rel
        ));
        assert_eq!(p.segments[0].xs, vec![0.0, 0.1, 0.25]);
    }

    #[test]
    fn the_pyramid_reduction_draws_what_the_full_pass_draws() {
        let n = 200_000;
        let s = Series {
            steps: (0..n as i64).map(|i| i % 150_000).collect(),
            timestamps: (0..n as i64).collect(),
            values: (0..n).map(|i| ((i * 37) % 1009) as f64).collect(),
            offset: None,
        };
        let p = prepare(&s, &ChartOptions::default());
        assert_eq!(p.segments.len(), 2);
        for seg in &p.segments {
            for (x0, x1, b) in [(0.0, 150_000.0, 500), (1234.5, 5678.9, 300)] {
                let fast = to_points(
                    &seg.xs,
                    &seg.ys,
                    seg.lod.reduce(&seg.xs, &seg.ys, x0, x1, b),
                );
                assert_eq!(fast, reduce_minmax(&seg.xs, &seg.ys, x0, x1, b));
            }
        }
    }

    #[test]
    fn ema_is_debiased() {
        let s = ema(&[1.0, 1.0, 1.0], 0.9);
        assert!(s.iter().all(|v| (v - 1.0).abs() < 1e-12));
        let s = ema(&[0.0, 10.0], 0.5);
        assert!((s[1] - 10.0 * 0.5 / 0.75).abs() < 1e-9);
        // Going on from a state gives what a pass over everything gives.
        let ys = [3.0, 1.0, 4.0, 1.0, 5.0];
        let mut state = (0.0, 0.0);
        let mut parts = ema_from(&ys[..2], 0.7, &mut state);
        parts.extend(ema_from(&ys[2..], 0.7, &mut state));
        assert_eq!(parts, ema(&ys, 0.7));
    }
}
