//! Turns each function's cold starts into one row of a Markdown table the README can quote, with
//! the issue's two goals checked per function: init median within 1.5x of the `lambda_runtime`
//! hello-world's (measured in the same run), and peak RSS at most 20 MiB (except api-auth,
//! whose password hashing needs memory by design).

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::cold_start::ColdStart;
use crate::stats::{Spread, Timings, millis};

/// The init goal: a function's init median over the reference's.
pub const INIT_RATIO_GOAL: f64 = 1.5;
/// The memory goal, in KiB.
pub const PEAK_RSS_GOAL_KIB: u64 = 20 * 1024;
/// Functions the memory goal does not apply to.
pub const PEAK_RSS_EXEMPT: [&str; 1] = ["api-auth"];

/// Everything measured for one function in a run.
#[derive(Debug, Clone)]
pub struct FunctionResult {
    pub name: String,
    pub binary_bytes: u64,
    pub starts: Vec<ColdStart>,
}

/// One function's figures, summarised.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    pub binary_bytes: u64,
    pub starts: usize,
    pub init: Option<Spread>,
    pub first: Option<Spread>,
    pub warm_p50: Option<std::time::Duration>,
    pub warm_p99: Option<std::time::Duration>,
    /// The highest peak over the starts.
    pub peak_rss_kib: u64,
    /// Store requests: during init, the first invocation, a warm invocation (each as the
    /// distinct values seen over the starts, usually one).
    pub init_store: BTreeSet<u64>,
    pub first_store: BTreeSet<u64>,
    pub warm_store: BTreeSet<u64>,
    /// The first answers' HTTP statuses (`None` for a function error).
    pub statuses: BTreeSet<Option<u16>>,
}

impl Row {
    pub fn from_result(result: &FunctionResult) -> Self {
        let mut init = Timings::new();
        let mut first = Timings::new();
        let mut warm = Timings::new();
        for start in &result.starts {
            init.record(start.init);
            first.record(start.first.duration());
            for timing in &start.warm {
                warm.record(*timing);
            }
        }
        Self {
            name: result.name.clone(),
            binary_bytes: result.binary_bytes,
            starts: result.starts.len(),
            init: init.spread(),
            first: first.spread(),
            warm_p50: warm.percentile(50.0),
            warm_p99: warm.percentile(99.0),
            peak_rss_kib: result
                .starts
                .iter()
                .map(|s| s.peak_rss_kib)
                .max()
                .unwrap_or(0),
            init_store: result
                .starts
                .iter()
                .map(|s| s.init_store_requests)
                .collect(),
            first_store: result
                .starts
                .iter()
                .map(|s| s.first_store_requests)
                .collect(),
            warm_store: result
                .starts
                .iter()
                .filter_map(|s| s.warm_store_requests)
                .collect(),
            statuses: result.starts.iter().map(ColdStart::first_status).collect(),
        }
    }

    /// Init median over the reference's.
    pub fn init_ratio(&self, reference: &Row) -> Option<f64> {
        let mine = self.init?.median.as_secs_f64();
        let theirs = reference.init?.median.as_secs_f64();
        (theirs > 0.0).then(|| mine / theirs)
    }

    pub fn meets_init_goal(&self, reference: &Row) -> bool {
        self.init_ratio(reference)
            .is_some_and(|ratio| ratio <= INIT_RATIO_GOAL)
    }

    /// `None` when the memory goal does not apply.
    pub fn meets_memory_goal(&self) -> Option<bool> {
        (!PEAK_RSS_EXEMPT.contains(&self.name.as_str()))
            .then_some(self.peak_rss_kib <= PEAK_RSS_GOAL_KIB)
    }

    /// Every first answer was a 2xx API Gateway response.
    pub fn answered_ok(&self) -> bool {
        self.statuses
            .iter()
            .all(|status| status.is_some_and(|s| (200..300).contains(&s)))
    }
}

fn spread(spread: Option<Spread>) -> String {
    spread.map_or_else(
        || "-".to_string(),
        |s| format!("{} ({}-{})", millis(s.median), millis(s.p10), millis(s.p90)),
    )
}

fn counts(values: &BTreeSet<u64>) -> String {
    match (values.first(), values.last()) {
        (Some(low), Some(high)) if low == high => low.to_string(),
        (Some(low), Some(high)) => format!("{low}-{high}"),
        _ => "-".to_string(),
    }
}

fn statuses(statuses: &BTreeSet<Option<u16>>) -> String {
    statuses
        .iter()
        .map(|status| status.map_or_else(|| "error".to_string(), |s| s.to_string()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

/// Peak memory with two decimals, so a value just over the 20 MiB goal never prints as 20.0
/// beside a FAIL.
fn mib_precise(kib: u64) -> String {
    format!("{:.2}", kib as f64 / 1024.0)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "pass" } else { "FAIL" }
}

/// The Markdown table: the reference first, then every function, then the goals' summary.
pub fn markdown(reference: &Row, functions: &[Row]) -> String {
    let mut out = String::new();
    out.push_str(
        "| function | binary (MiB) | init ms, median (p10-p90) | init / hello | \
         first answer ms, median (p10-p90) | warm p50 / p99 ms | peak RSS (MiB) | \
         store round trips: init / first / warm | status | init <= 1.5x | RSS <= 20 MiB |\n",
    );
    out.push_str("|---|--:|--:|--:|--:|--:|--:|:-:|:-:|:-:|:-:|\n");
    for row in std::iter::once(reference).chain(functions) {
        let is_reference = std::ptr::eq(row, reference);
        let ratio = row
            .init_ratio(reference)
            .map_or_else(|| "-".to_string(), |r| format!("{r:.2}x"));
        let warm = match (row.warm_p50, row.warm_p99) {
            (Some(p50), Some(p99)) => format!("{} / {}", millis(p50), millis(p99)),
            _ => "-".to_string(),
        };
        let (init_goal, memory_goal) = if is_reference {
            ("(reference)".to_string(), "(reference)".to_string())
        } else {
            (
                verdict(row.meets_init_goal(reference)).to_string(),
                row.meets_memory_goal()
                    .map_or_else(|| "(exempt)".to_string(), |ok| verdict(ok).to_string()),
            )
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} / {} / {} | {} | {} | {} |",
            row.name,
            mib(row.binary_bytes / 1024),
            spread(row.init),
            ratio,
            spread(row.first),
            warm,
            mib_precise(row.peak_rss_kib),
            counts(&row.init_store),
            counts(&row.first_store),
            counts(&row.warm_store),
            statuses(&row.statuses),
            init_goal,
            memory_goal,
        );
    }
    out
}

/// One line per goal: how many functions meet it, and which do not.
pub fn goals(reference: &Row, functions: &[Row]) -> String {
    let slow: Vec<&str> = functions
        .iter()
        .filter(|row| !row.meets_init_goal(reference))
        .map(|row| row.name.as_str())
        .collect();
    let heavy: Vec<&str> = functions
        .iter()
        .filter(|row| row.meets_memory_goal() == Some(false))
        .map(|row| row.name.as_str())
        .collect();
    let failing: Vec<&str> = functions
        .iter()
        .filter(|row| !row.answered_ok())
        .map(|row| row.name.as_str())
        .collect();
    let line = |goal: &str, misses: &[&str]| {
        if misses.is_empty() {
            format!("- {goal}: pass for every function\n")
        } else {
            format!("- {goal}: FAIL for {}\n", misses.join(", "))
        }
    };
    let mut out = String::new();
    out.push_str(&line(
        &format!("init median within {INIT_RATIO_GOAL}x of hello-lambda's"),
        &slow,
    ));
    out.push_str(&line("peak RSS <= 20 MiB (api-auth exempt)", &heavy));
    out.push_str(&line("sample request answered 2xx", &failing));
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use axum::body::Bytes;

    use super::*;
    use crate::runtime_api::{Invocation, Outcome};

    fn start(init_ms: u64, rss_kib: u64, status: u16) -> ColdStart {
        let now = Instant::now();
        ColdStart {
            init: Duration::from_millis(init_ms),
            init_store_requests: 0,
            first: Invocation {
                request_id: "r".to_string(),
                outcome: Outcome::Response(Bytes::from(format!(r#"{{"statusCode":{status}}}"#))),
                delivered_at: now,
                answered_at: now + Duration::from_millis(3),
            },
            first_store_requests: 2,
            warm: vec![Duration::from_millis(1)],
            warm_store_requests: Some(1),
            peak_rss_kib: rss_kib,
        }
    }

    fn row(name: &str, starts: Vec<ColdStart>) -> Row {
        Row::from_result(&FunctionResult {
            name: name.to_string(),
            binary_bytes: 8 * 1024 * 1024,
            starts,
        })
    }

    #[test]
    fn goals_are_judged_against_the_reference_median() {
        let hello = row("hello-lambda", vec![start(10, 4000, 200); 3]);
        let quick = row("api-health", vec![start(14, 9000, 200); 3]);
        let slow = row("api-records", vec![start(16, 9000, 200); 3]);
        let heavy = row("api-chat", vec![start(12, 30_000, 200); 3]);
        let auth = row("api-auth", vec![start(12, 30_000, 200); 3]);
        assert!(quick.meets_init_goal(&hello));
        assert!(!slow.meets_init_goal(&hello));
        assert_eq!(heavy.meets_memory_goal(), Some(false));
        assert_eq!(auth.meets_memory_goal(), None);
        let summary = goals(&hello, &[quick, slow, heavy, auth]);
        assert!(summary.contains("FAIL for api-records\n"), "{summary}");
        assert!(summary.contains("FAIL for api-chat\n"), "{summary}");
        assert!(summary.contains("answered 2xx: pass"), "{summary}");
    }

    #[test]
    fn a_non_2xx_answer_is_reported() {
        let hello = row("hello-lambda", vec![start(10, 4000, 200)]);
        let refused = row("api-usage", vec![start(10, 4000, 401)]);
        assert!(!refused.answered_ok());
        let table = markdown(&hello, std::slice::from_ref(&refused));
        assert!(table.contains("| 401 |"), "{table}");
        assert!(goals(&hello, &[refused]).contains("answered 2xx: FAIL for api-usage"));
    }

    #[test]
    fn the_table_has_a_row_per_function_after_the_reference() {
        let hello = row("hello-lambda", vec![start(10, 4096, 200)]);
        let health = row("api-health", vec![start(12, 8192, 200)]);
        let table = markdown(&hello, &[health]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert!(lines[2].starts_with("| hello-lambda | 8.0 | 10.0 (10.0-10.0) | 1.00x |"));
        assert!(lines[3].starts_with("| api-health | 8.0 | 12.0 (12.0-12.0) | 1.20x |"));
        assert!(
            lines[3].contains("| 8.00 | 0 / 2 / 1 | 200 | pass | pass |"),
            "{table}"
        );
    }
}
