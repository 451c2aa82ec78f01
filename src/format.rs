//! Times, durations and numbers written for people, shared by the CLI and the viewer.
//!
//! The CLI and the viewer deliberately differ in two places, so each form has its own explicit
//! name instead of two functions called `format_time`:
//!
//! * times: the CLI prints UTC ([`time_utc`]: output that scripts compare and that does not
//!   depend on where it ran); the viewer shows the reader's local time ([`time_local`]).
//! * durations: the CLI's columns are compact (`1h02m`, [`duration_compact`]); the viewer's
//!   cells are spaced and go up to days (`1d 4h`, `1h 3m`, [`duration_spaced`]).
//! * numbers: the CLI prints every digit a float needs to round-trip ([`float_roundtrip`]);
//!   the viewer's cells show 5 significant digits ([`number_sig`]) with the full value in a
//!   tooltip.

/// Epoch milliseconds as `YYYY-MM-DD HH:MM:SS` in UTC (Howard Hinnant's civil-from-days
/// algorithm, so it needs no time zone database).
pub fn time_utc(epoch_ms: i64) -> String {
    let secs = epoch_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Epoch milliseconds as `YYYY-MM-DD HH:MM:SS` in the local time zone (the number itself when
/// the local time does not exist).
#[cfg(feature = "viewer")]
pub fn time_local(epoch_ms: i64) -> String {
    use chrono::TimeZone;
    match chrono::Local.timestamp_millis_opt(epoch_ms) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            t.format("%Y-%m-%d %H:%M:%S").to_string()
        }
        chrono::LocalResult::None => epoch_ms.to_string(),
    }
}

/// A duration in milliseconds as `1h02m`, `3m04s`, `5.2s` (empty when negative).
pub fn duration_compact(ms: i64) -> String {
    if ms < 0 {
        return String::new();
    }
    let secs = ms / 1000;
    if secs >= 3600 {
        format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60)
    } else if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

/// A duration in milliseconds as `2d 4h`, `1h 3m`, `12m 5s`, `4.2s`.
pub fn duration_spaced(ms: i64) -> String {
    let s = ms / 1000;
    if s >= 86_400 {
        format!("{}d {}h", s / 86_400, (s % 86_400) / 3600)
    } else if s >= 3600 {
        format!("{}h {}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m {}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

/// A count and its noun: `1 run`, `2 runs`, `0 runs` (`noun` is the singular; English plural
/// with `s`).
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A metric value as it was logged: MLflow's SQLite store keeps ±inf as ±max double
/// (`±1.7976931348623157e308`, and MLflow's own API returns them so); shown as ±inf, like the
/// file store's.
pub fn as_logged(value: f64) -> f64 {
    if value.abs() == f64::MAX {
        value.signum() * f64::INFINITY
    } else {
        value
    }
}

/// A float with the shortest digits that read back to it, exponent form for very large or
/// small magnitudes, `NaN`, `Infinity`, `-Infinity` (±max double, MLflow's SQLite form of ±inf,
/// included: [`as_logged`]).
pub fn float_roundtrip(value: f64) -> String {
    let value = as_logged(value);
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else if value != 0.0 && (value.abs() >= 1e16 || value.abs() < 1e-4) {
        format!("{value:e}")
    } else {
        format!("{value}")
    }
}

/// A number with 5 significant digits, trailing zeros dropped; exponent form outside
/// `1e-4..1e9`; `NaN`, `inf`, `-inf` (±max double included: [`as_logged`]).
pub fn number_sig(v: f64) -> String {
    let v = as_logged(v);
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-4..1e9).contains(&a) {
        return format!("{v:.4e}");
    }
    if v.fract() == 0.0 {
        return format!("{v:.0}");
    }
    let digits = (5 - (a.log10().floor() as i32 + 1)).clamp(0, 9) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_duration_forms_agree_on_seconds_and_differ_on_purpose_above() {
        for ms in [0, 4_200, 59_999] {
            assert_eq!(duration_compact(ms), duration_spaced(ms));
        }
        assert_eq!(duration_compact(3_780_000), "1h03m");
        assert_eq!(duration_spaced(3_780_000), "1h 3m");
        assert_eq!(duration_spaced(2 * 86_400_000 + 4 * 3_600_000), "2d 4h");
        assert_eq!(duration_compact(-1), "");
    }

    #[test]
    fn utc_times_handle_dates_before_the_epoch() {
        assert_eq!(time_utc(-1000), "1969-12-31 23:59:59");
    }

    #[test]
    fn significant_digits_and_round_trips() {
        assert_eq!(number_sig(-12.345678), "-12.346");
        assert_eq!(number_sig(2e9), "2.0000e9");
        assert_eq!(float_roundtrip(0.1 + 0.2), "0.30000000000000004");
    }

    #[test]
    fn counts_are_singular_for_one() {
        assert_eq!(count(1, "run"), "1 run");
        assert_eq!(count(0, "run"), "0 runs");
        assert_eq!(count(19, "run"), "19 runs");
    }

    #[test]
    fn mlflow_sqlite_infinities_read_as_infinities() {
        assert_eq!(number_sig(1.7976931348623157e308), "inf");
        assert_eq!(number_sig(-f64::MAX), "-inf");
        assert_eq!(float_roundtrip(f64::MAX), "Infinity");
        assert_eq!(float_roundtrip(-f64::MAX), "-Infinity");
        assert_eq!(number_sig(1e308), "1.0000e308");
    }
}
