//! What the devserver benches share: environment knobs, latency statistics over an HDR
//! histogram, a printed table, and self-checks that fail the run at the end. Each bench includes
//! it with `#[path = "support/report.rs"] mod report;`.

// Each bench binary compiles this file on its own and uses only part of it.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// A numeric knob from the environment, or `default` when it is unset or not a number.
pub(crate) fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The longest latency a histogram tells apart (an hour); longer samples count as this long.
pub(crate) const LONGEST_SAMPLE_NANOS: u64 = 3_600 * 1_000_000_000;

/// Latencies of one path, in an HDR histogram (nanoseconds, 3 significant digits: within 0.1 %).
#[derive(Clone)]
pub(crate) struct Stats {
    histogram: Histogram<u64>,
}

impl Stats {
    pub(crate) fn new(samples: Vec<Duration>) -> Self {
        let mut histogram = Histogram::new_with_bounds(1, LONGEST_SAMPLE_NANOS, 3)
            .expect("valid bounds and precision");
        for sample in samples {
            histogram.saturating_record(u64::try_from(sample.as_nanos()).unwrap_or(u64::MAX));
        }
        Self { histogram }
    }

    pub(crate) fn len(&self) -> usize {
        usize::try_from(self.histogram.len()).unwrap_or(usize::MAX)
    }

    pub(crate) fn percentile(&self, p: f64) -> Duration {
        Duration::from_nanos(self.histogram.value_at_quantile(p / 100.0))
    }

    pub(crate) fn mean(&self) -> Duration {
        Duration::from_nanos(self.histogram.mean() as u64)
    }

    pub(crate) fn max(&self) -> Duration {
        Duration::from_nanos(self.histogram.max())
    }
}

pub(crate) fn human(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros >= 1000.0 {
        format!("{:.2} ms", micros / 1000.0)
    } else {
        format!("{micros:.0} µs")
    }
}

/// A signed difference in the same units.
pub(crate) fn human_diff(micros: f64) -> String {
    let sign = if micros < 0.0 { "-" } else { "+" };
    let d = Duration::from_secs_f64(micros.abs() / 1e6);
    format!("{sign}{}", human(d))
}

pub(crate) fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// A text table with right-aligned columns after the first.
pub(crate) struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub(crate) fn print(&self) {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|i| {
                self.rows
                    .iter()
                    .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                    .chain([self.header[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            let mut out = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = cells.get(i).map_or("", String::as_str);
                let pad = width.saturating_sub(cell.chars().count());
                if i == 0 {
                    out.push_str(cell);
                    out.push_str(&" ".repeat(pad));
                } else {
                    out.push_str("  ");
                    out.push_str(&" ".repeat(pad));
                    out.push_str(cell);
                }
            }
            out.trim_end().to_string()
        };
        println!("{}", line(&self.header));
        println!(
            "{}",
            "-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1))
        );
        for row in &self.rows {
            println!("{}", line(row));
        }
    }
}

/// Failed self-checks, reported at the end (the bench still prints everything it measured).
#[derive(Default)]
pub(crate) struct Checks {
    pub(crate) failed: Vec<String>,
}

impl Checks {
    pub(crate) fn check(&mut self, ok: bool, what: impl Into<String>) {
        if !ok {
            self.failed.push(what.into());
        }
    }
}

/// The closing lines: run time and the self-checks' verdict.
pub(crate) fn finish(started: Instant, checks: &Checks) -> Result<(), String> {
    println!("bench ran in {:.1} s", started.elapsed().as_secs_f64());
    if checks.failed.is_empty() {
        println!("self-checks passed");
        Ok(())
    } else {
        Err(format!(
            "self-checks failed:\n  {}",
            checks.failed.join("\n  ")
        ))
    }
}
