//! Axis scaling of chart cards: the y range fitted to the visible points (all of them, or the
//! 1st–99th percentile when outliers are ignored), log-y ticks at 1, 2, 5 × 10^k, and tick labels
//! that stay distinct however far the x axis is zoomed.

use egui_plot::{GridInput, GridMark};

use super::{RunLines, XAxis};

/// Most values per run sampled for a robust (percentile) y range.
const ROBUST_SAMPLES: usize = 20_000;
/// Share of the y range added above and below the fitted values.
const Y_MARGIN: f64 = 0.05;

/// The y range to show for the points of `lines` (drawn runs only) with x in `[x0, x1]` (all
/// points when the range is not finite), with a margin. `robust`: the 1st to 99th percentile
/// of those values instead of their min and max, so that a few spikes do not flatten the rest.
/// None when no point is in range.
pub fn fit_y<'a>(
    lines: impl Iterator<Item = &'a RunLines>,
    (x0, x1): (f64, f64),
    robust: bool,
) -> Option<(f64, f64)> {
    let all = !(x0.is_finite() && x1.is_finite());
    let in_range = |x: f64| all || (x0..=x1).contains(&x);
    let lines: Vec<&RunLines> = lines.collect();
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    if robust {
        let per_run = (ROBUST_SAMPLES / lines.len().max(1)).max(64);
        let mut samples = Vec::new();
        for l in &lines {
            for seg in &l.prepared.segments {
                let (i0, i1) = if all {
                    (0, seg.xs.len())
                } else {
                    (
                        seg.xs.partition_point(|&x| x < x0),
                        seg.xs.partition_point(|&x| x <= x1),
                    )
                };
                let n = i1.saturating_sub(i0);
                let stride = n.div_ceil(per_run).max(1);
                samples.extend(seg.ys[i0..i0 + n].iter().step_by(stride).copied());
            }
        }
        if samples.len() >= 20 {
            samples.sort_unstable_by(f64::total_cmp);
            let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
            lo = at(0.01);
            hi = at(0.99);
        }
    }
    if !lo.is_finite() {
        // The reduced lines hold every pixel column's min and max: their extremes are the
        // extremes of every point in range.
        for l in &lines {
            for p in l.raw.iter().chain(&l.smooth).flatten() {
                if in_range(p.x) {
                    lo = lo.min(p.y);
                    hi = hi.max(p.y);
                }
            }
        }
    }
    if !(lo.is_finite() && hi.is_finite()) {
        return None;
    }
    let span = hi - lo;
    let pad = if span > 0.0 {
        span * Y_MARGIN
    } else {
        (lo.abs() * Y_MARGIN).max(1e-9)
    };
    Some((lo - pad, hi + pad))
}

/// Grid marks of a log y axis (values are log10 of the data): at 1, 2 and 5 × 10^k over a few
/// decades (only some decades over many), at every digit × 10^k over less than one, and at
/// round linear steps when zoomed within a fraction of a decade; always at round values.
pub fn log_grid(input: GridInput) -> Vec<GridMark> {
    log_marks(input.bounds.0, input.bounds.1)
}

fn log_marks(lo: f64, hi: f64) -> Vec<GridMark> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return Vec::new();
    }
    let decades = hi - lo;
    let mut out = Vec::new();
    if decades < 0.5 {
        // Within half a decade: round linear steps of the values themselves.
        let (a, b) = (10f64.powf(lo), 10f64.powf(hi));
        let step = nice_step((b - a) / 5.0);
        let mut k = (a / step).ceil();
        while k * step <= b && out.len() < 50 {
            let v = k * step;
            if v > 0.0 {
                out.push(GridMark {
                    value: v.log10(),
                    step_size: decades / 5.0,
                });
            }
            k += 1.0;
        }
        return out;
    }
    let mantissas: &[f64] = if decades <= 1.5 {
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    } else if decades <= 6.0 {
        &[1.0, 2.0, 5.0]
    } else {
        &[1.0]
    };
    // Over many decades, one labelled decade in `every`.
    let every = ((decades / 8.0).ceil() as i64).max(1);
    let first = lo.floor() as i64;
    let last = hi.ceil() as i64;
    for k in first..=last {
        if k.rem_euclid(every) != 0 {
            continue;
        }
        for &m in mantissas {
            let value = m.log10() + k as f64;
            if value < lo || value > hi {
                continue;
            }
            // Decades are the main lines; 2 and 5 (and other digits) lighter ones.
            let step_size = if m == 1.0 {
                every as f64
            } else {
                every as f64 * 0.3
            };
            out.push(GridMark { value, step_size });
        }
    }
    out
}

/// 1, 2 or 5 × 10^k, the nearest at or above `raw`.
fn nice_step(raw: f64) -> f64 {
    if raw.is_nan() || raw <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|&s| s >= raw * 0.999)
        .unwrap_or(10.0 * p)
}

/// A tick label of a log axis: the value `10^v`, with the few digits a 1-2-5 tick needs
/// (`0.002`, `50`, `1e-6`, `2e9`), never float noise like `0.20000000000000004`.
pub fn log_tick_label(v: f64) -> String {
    let x = 10f64.powf(v);
    if !x.is_finite() || x <= 0.0 {
        return String::new();
    }
    // Four significant digits are more than any mark needs and hide the noise of 10^log10(x).
    let e = x.log10().floor() as i32;
    let m = (x / 10f64.powi(e) * 1000.0).round() / 1000.0;
    let (m, e) = if m >= 10.0 { (m / 10.0, e + 1) } else { (m, e) };
    if !(-3..5).contains(&e) {
        return format!("{}e{e}", trim_number(format!("{m:.3}")));
    }
    let decimals = (3 - e).max(0) as usize;
    trim_number(format!("{:.*}", decimals, m * 10f64.powi(e)))
}

fn trim_number(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The label of an x tick, with as many decimals (or fractions of a second) as the distance
/// between ticks needs, so that neighbouring ticks never read the same (a curve over 1 ms).
pub fn x_tick_label(v: f64, step: f64, axis: XAxis) -> String {
    // Decimals that tell ticks `step` apart.
    let decimals = if step > 0.0 && step < 1.0 {
        ((-step.log10()).ceil() as usize).min(9)
    } else {
        0
    };
    match axis {
        XAxis::Step => format!("{v:.decimals$}"),
        XAxis::WallTime => {
            use chrono::TimeZone;
            let ms = (v * 1000.0).round() as i64;
            match chrono::Local.timestamp_millis_opt(ms) {
                chrono::LocalResult::Single(t) => {
                    let base = t.format("%H:%M:%S").to_string();
                    if decimals == 0 {
                        base
                    } else {
                        let frac = v - v.floor();
                        let f = format!("{frac:.decimals$}");
                        // "0.123" → ".123"; beyond milliseconds the clock has no more digits.
                        format!("{base}{}", f.trim_start_matches('0'))
                    }
                }
                _ => format!("{v:.0}"),
            }
        }
        XAxis::Relative => {
            if decimals > 0 || v.abs() < 60.0 {
                format!("{:.*}s", decimals.max(if step >= 1.0 { 0 } else { 1 }), v)
            } else {
                super::hover::format_x(v, axis)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(lo: f64, hi: f64) -> Vec<String> {
        log_marks(lo, hi)
            .into_iter()
            .map(|m| log_tick_label(m.value))
            .collect()
    }

    #[test]
    fn log_ticks_are_round() {
        // 0.5 .. 1 (the demo's loss): the old axis read 0.79433, 0.63096.
        let l = labels(0.1f64.log10() + 0.6, 1.2f64.log10());
        assert!(!l.is_empty());
        for s in &l {
            assert!(s.len() <= 4, "{s} in {l:?}");
        }
        assert_eq!(
            labels(-3.0, 0.0),
            [
                "0.001", "0.002", "0.005", "0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1"
            ]
        );
        assert_eq!(labels(0.0, 2.0), ["1", "2", "5", "10", "20", "50", "100"]);
        assert_eq!(labels(0.0, 1.0)[..4], ["1", "2", "3", "4"]);
        let wide = labels(-12.0, 12.0);
        assert!(wide.contains(&"1e-6".to_string()), "{wide:?}");
        for s in &wide {
            let v: f64 = s.parse().unwrap();
            assert!((v.log10() - v.log10().round()).abs() < 1e-9, "{s}");
        }
        // Zoomed inside a decade: still round values.
        let narrow = labels(0.3f64.log10(), 0.34f64.log10());
        assert!(narrow.len() >= 3, "{narrow:?}");
        assert!(narrow.iter().all(|s| s.len() <= 5), "{narrow:?}");
        assert_eq!(log_tick_label(2e9f64.log10()), "2e9");
        assert_eq!(log_tick_label(0.2f64.log10()), "0.2");
    }

    #[test]
    fn neighbouring_x_ticks_never_read_the_same() {
        let t0 = 1_700_000_000.0;
        for axis in [XAxis::Step, XAxis::WallTime, XAxis::Relative] {
            let base = if axis == XAxis::WallTime { t0 } else { 3.0 };
            let step = 0.0002;
            let l: Vec<String> = (0..5)
                .map(|i| x_tick_label(base + i as f64 * step, step, axis))
                .collect();
            let distinct: std::collections::HashSet<_> = l.iter().collect();
            assert_eq!(distinct.len(), 5, "{axis:?}: {l:?}");
        }
        assert_eq!(x_tick_label(1200.0, 100.0, XAxis::Step), "1200");
    }
}
