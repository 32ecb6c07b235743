//! Medians and spreads of timings. Cold starts here are noisy (two shared cores), so a single
//! figure means little: every timing is reported as a median with its 10th-90th percentile.

use std::time::Duration;

use hdrhistogram::Histogram;

/// Timings in microseconds, from 1 µs to 10 minutes at 3 significant digits.
#[derive(Debug, Clone)]
pub struct Timings {
    histogram: Histogram<u64>,
}

impl Default for Timings {
    fn default() -> Self {
        Self::new()
    }
}

impl Timings {
    pub fn new() -> Self {
        // The bounds are constants within what hdrhistogram accepts, so this cannot fail.
        let histogram = Histogram::new_with_bounds(1, 600_000_000, 3)
            .unwrap_or_else(|_| unreachable!("valid histogram bounds"));
        Self { histogram }
    }

    /// Adds a timing; longer than the bound counts as the bound.
    pub fn record(&mut self, timing: Duration) {
        let micros = u64::try_from(timing.as_micros()).unwrap_or(u64::MAX);
        self.histogram.saturating_record(micros.max(1));
    }

    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// The timing at percentile `p` (0-100), or `None` without timings.
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        (self.count() > 0).then(|| Duration::from_micros(self.histogram.value_at_percentile(p)))
    }

    /// Median with its 10th-90th percentile, or `None` without timings.
    pub fn spread(&self) -> Option<Spread> {
        Some(Spread {
            median: self.percentile(50.0)?,
            p10: self.percentile(10.0)?,
            p90: self.percentile(90.0)?,
        })
    }
}

/// A median and the band most timings fell in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spread {
    pub median: Duration,
    pub p10: Duration,
    pub p90: Duration,
}

/// Milliseconds with one decimal, as the report prints them.
pub fn millis(timing: Duration) -> String {
    format!("{:.1}", timing.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_and_band_of_eleven_timings() {
        let mut timings = Timings::new();
        for ms in [30, 10, 20, 40, 50, 60, 70, 80, 90, 100, 110] {
            timings.record(Duration::from_millis(ms));
        }
        let spread = timings.spread().expect("timings");
        let close = |got: Duration, want_ms: u64| {
            let want = Duration::from_millis(want_ms);
            let error = got.abs_diff(want);
            assert!(error <= want / 100, "{got:?} is not about {want:?}");
        };
        close(spread.median, 60);
        close(spread.p10, 20);
        close(spread.p90, 100);
    }

    #[test]
    fn no_timings_no_spread() {
        assert_eq!(Timings::new().spread(), None);
    }

    #[test]
    fn milliseconds_with_one_decimal() {
        assert_eq!(millis(Duration::from_micros(12_345)), "12.3");
    }
}
