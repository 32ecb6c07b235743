//! Cron schedules in a time zone: five fields (minute, hour, day of month, month, day of week)
//! read on the wall clock of an IANA zone, turned into UTC fire instants.
//!
//! # Syntax
//!
//! Each field is a comma-separated list of `*`, `N`, `A-B`, `*/S`, `A-B/S` or `A/S` (from `A` to
//! the field's maximum, every `S`). Months take `JAN`..`DEC` and days of the week `SUN`..`SAT`
//! (any case); `0` and `7` are both Sunday. The nicknames `@yearly` (`@annually`), `@monthly`,
//! `@weekly`, `@daily` (`@midnight`) and `@hourly` stand for their usual expansions. Seconds,
//! years, `L`, `W`, `#` and `?` are not cron's five fields and are refused, as are expressions
//! that can never fire (`0 0 30 2 *`, `0 0 31 4 *`).
//!
//! When both the day of month and the day of week are restricted, a day matches when EITHER
//! does (`0 9 1 * MON` is "the 1st, and every Monday"), as in Vixie cron; when either field
//! starts with `*` both must match.
//!
//! # Daylight-saving time
//!
//! A schedule names wall-clock minutes; twice a year some wall-clock minutes do not exist
//! (spring forward) or exist twice (fall back). The rules are Vixie cron's, which users of cron
//! already expect, and they distinguish two kinds of schedule:
//!
//! - **fixed-time** schedules: neither the minute nor the hour field starts with `*`
//!   (`30 2 * * *`, `0 9 * * 1-5`, `0,30 2 * * *`, `@daily`). They mean "at this time of day", so
//!   they fire exactly once per matching day whatever the clock does:
//!   - a time that falls in the spring-forward gap fires at the instant the gap ends (Paris,
//!     29 March 2026: `30 2 * * *` fires at 03:00 CEST = 01:00 UTC). Skipping it would silently
//!     lose a daily job once a year, and running it late is what Vixie cron, croner and most
//!     schedulers do. Several times in the same gap (`0,30 2 * * *`) fire once, at the gap's end;
//!   - a time that occurs twice at fall back fires once, at its first occurrence (Paris,
//!     25 October 2026: `30 2 * * *` fires at 02:30 CEST = 00:30 UTC, not again at 02:30 CET).
//! - **interval** schedules: the minute or the hour field starts with `*` (`*/15 * * * *`,
//!   `0 * * * *`, `@hourly`, `*/10 9-17 * * *`). They mean "every so often", so they follow real
//!   time: wall-clock minutes in the gap do not exist and are skipped, and minutes that occur
//!   twice fire twice. `*/15 * * * *` therefore fires every 15 real minutes through both
//!   changes, with neither a gap nor a double, and `0 * * * *` every real hour.
//!
//! The tests below prove each rule on Europe/Paris's 2026 changes; `schedules`' tests drive the
//! scheduler through the same days minute by minute.
//!
//! # Why not a crate
//!
//! `croner` 4 is the obvious candidate. It accepts more than cron's five fields (seconds, `L`,
//! `W`, `#`), which our API would then have to refuse again, and its DST rule classifies
//! schedules differently: only single-value minute and hour fields are fixed-time, so
//! `0,30 2 * * *` would fire twice in a fall-back overlap and not at all in a gap. Computing
//! instants from the zone's own local-to-UTC mapping (`chrono-tz`) is a few hundred lines whose
//! every rule is written above and tested below.

use std::str::FromStr;

use chrono::offset::LocalResult;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::error::Problem;

/// How far [`CronSchedule::next_after`] looks ahead (and `previous_at_or_before` back). A
/// satisfiable expression fires within 28 years (Feb 29 on a given weekday); past this a
/// search would only be a bug.
const HORIZON_DAYS: i64 = 50 * 366;

/// Why an expression or a zone was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error("{0}")]
    Expression(String),
    #[error("{0}")]
    TimeZone(String),
}

impl CronError {
    /// The problem at `{prefix}/cron` or `{prefix}/timezone` (`prefix` is `/trigger` in a
    /// workflow, empty for a bare `{cron, timezone}`).
    pub fn to_problem(&self, prefix: &str) -> Problem {
        match self {
            CronError::Expression(message) => Problem::new(format!("{prefix}/cron"), message),
            CronError::TimeZone(message) => Problem::new(format!("{prefix}/timezone"), message),
        }
    }
}

/// A parsed cron expression in a time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule {
    expression: String,
    tz: Tz,
    /// Bit `n` set when value `n` matches.
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    /// Sunday is bit 0 (a `7` is folded into it).
    days_of_week: u64,
    dom_star: bool,
    dow_star: bool,
    /// See the module doc: fixed-time schedules fire once per matching day across DST changes.
    fixed_time: bool,
}

struct FieldSpec {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    /// The value the first name stands for.
    names_from: u32,
}

const MINUTE: FieldSpec = FieldSpec {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
    names_from: 0,
};
const HOUR: FieldSpec = FieldSpec {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
    names_from: 0,
};
const DAY_OF_MONTH: FieldSpec = FieldSpec {
    name: "day of month",
    min: 1,
    max: 31,
    names: &[],
    names_from: 0,
};
const MONTH: FieldSpec = FieldSpec {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
    names_from: 1,
};
const DAY_OF_WEEK: FieldSpec = FieldSpec {
    name: "day of week",
    min: 0,
    max: 7,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
    names_from: 0,
};

/// The longest expression we read; real ones are a few dozen characters.
const MAX_EXPRESSION_LEN: usize = 256;

impl CronSchedule {
    /// Parses `expression` in the IANA zone `timezone` (`Europe/Paris`, `UTC`).
    pub fn parse(expression: &str, timezone: &str) -> Result<Self, CronError> {
        let tz = Tz::from_str(timezone.trim()).map_err(|_| {
            CronError::TimeZone(format!(
                "{:?} is not an IANA time zone (for example Europe/Paris or UTC)",
                timezone.chars().take(64).collect::<String>()
            ))
        })?;
        if expression.len() > MAX_EXPRESSION_LEN {
            return Err(CronError::Expression(format!(
                "a cron expression is at most {MAX_EXPRESSION_LEN} characters"
            )));
        }
        let trimmed = expression.trim();
        let expanded = if trimmed.starts_with('@') {
            nickname(trimmed)?
        } else {
            trimmed
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, dom, month, dow] = fields[..] else {
            return Err(CronError::Expression(format!(
                "a cron expression has 5 fields (minute hour day-of-month month day-of-week), not {}",
                fields.len()
            )));
        };
        let mut days_of_week = parse_field(dow, &DAY_OF_WEEK)?;
        if days_of_week & (1 << 7) != 0 {
            days_of_week = (days_of_week & !(1 << 7)) | 1;
        }
        let schedule = Self {
            expression: trimmed.to_string(),
            tz,
            minutes: parse_field(minute, &MINUTE)?,
            hours: parse_field(hour, &HOUR)?,
            days_of_month: parse_field(dom, &DAY_OF_MONTH)?,
            months: parse_field(month, &MONTH)?,
            days_of_week,
            dom_star: dom.starts_with('*'),
            dow_star: dow.starts_with('*'),
            fixed_time: !minute.starts_with('*') && !hour.starts_with('*'),
        };
        schedule.check_can_fire()?;
        Ok(schedule)
    }

    /// The expression as given (trimmed).
    pub fn expression(&self) -> &str {
        &self.expression
    }

    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// Whether DST changes move this schedule's fires rather than skip or repeat them (see the
    /// module doc).
    pub fn is_fixed_time(&self) -> bool {
        self.fixed_time
    }

    /// The first fire strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut day = t.with_timezone(&self.tz).date_naive().pred_opt()?;
        let last = day.checked_add_signed(Duration::days(HORIZON_DAYS))?;
        let mut best: Option<DateTime<Utc>> = None;
        let mut found_on: Option<NaiveDate> = None;
        while day <= last {
            if found_on.is_some_and(|found| day > found.succ_opt().unwrap_or(found)) {
                break;
            }
            if !self.month_matches(day) {
                day = first_of_next_month(day)?;
                continue;
            }
            if self.day_matches(day) {
                for instant in self.instants_on(day) {
                    if instant > t && best.is_none_or(|b| instant < b) {
                        best = Some(instant);
                        found_on.get_or_insert(day);
                    }
                }
            }
            day = day.succ_opt()?;
        }
        best
    }

    /// The last fire at or before `t`: the one fire a scheduler that missed several catches up.
    pub fn previous_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut day = t.with_timezone(&self.tz).date_naive().succ_opt()?;
        let first = day.checked_sub_signed(Duration::days(HORIZON_DAYS))?;
        let mut best: Option<DateTime<Utc>> = None;
        let mut found_on: Option<NaiveDate> = None;
        while day >= first {
            if found_on.is_some_and(|found| day < found.pred_opt().unwrap_or(found)) {
                break;
            }
            if self.day_matches(day) {
                for instant in self.instants_on(day) {
                    if instant <= t && best.is_none_or(|b| instant > b) {
                        best = Some(instant);
                        found_on.get_or_insert(day);
                    }
                }
            }
            day = day.pred_opt()?;
        }
        best
    }

    /// The next `n` fires strictly after `after`.
    pub fn upcoming(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut fires = Vec::with_capacity(n);
        let mut cursor = after;
        while fires.len() < n {
            match self.next_after(cursor) {
                Some(next) => {
                    fires.push(next);
                    cursor = next;
                }
                None => break,
            }
        }
        fires
    }

    fn month_matches(&self, day: NaiveDate) -> bool {
        has(self.months, day.month())
    }

    fn day_matches(&self, day: NaiveDate) -> bool {
        if !self.month_matches(day) {
            return false;
        }
        let dom = has(self.days_of_month, day.day());
        let dow = has(self.days_of_week, day.weekday().num_days_from_sunday());
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// The instants the schedule fires at on a matching local day, by the DST rules of the
    /// module doc (unordered; duplicates possible when several gap times move to its end).
    fn instants_on(&self, day: NaiveDate) -> Vec<DateTime<Utc>> {
        let mut instants = Vec::new();
        for hour in bits(self.hours) {
            for minute in bits(self.minutes) {
                let Some(local) = day.and_hms_opt(hour, minute, 0) else {
                    continue;
                };
                match self.tz.from_local_datetime(&local) {
                    LocalResult::Single(at) => instants.push(at.with_timezone(&Utc)),
                    LocalResult::Ambiguous(first, second) => {
                        instants.push(first.with_timezone(&Utc));
                        if !self.fixed_time {
                            instants.push(second.with_timezone(&Utc));
                        }
                    }
                    LocalResult::None => {
                        if self.fixed_time
                            && let Some(end) = self.gap_end(local)
                        {
                            instants.push(end);
                        }
                    }
                }
            }
        }
        instants
    }

    /// The instant a DST gap containing the wall-clock time `local` ends: the first wall-clock
    /// minute after it that exists.
    fn gap_end(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        let mut probe = local;
        // Real gaps are an hour or less; Samoa skipped a whole day in 2011.
        for _ in 0..(26 * 60) {
            probe = probe.checked_add_signed(Duration::minutes(1))?;
            match self.tz.from_local_datetime(&probe) {
                LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => {
                    return Some(at.with_timezone(&Utc));
                }
                LocalResult::None => {}
            }
        }
        None
    }

    /// Refuses expressions no date can satisfy. Only a restricted day of month combined with a
    /// `*`-led day of week can be impossible: then the day must exist in one of the months
    /// (February counts 29 days, as leap years have them). Given a month and a day, every
    /// weekday comes round over the years, and in the either-matches case any weekday will do.
    fn check_can_fire(&self) -> Result<(), CronError> {
        if !(self.dom_star || self.dow_star) {
            return Ok(());
        }
        let possible = bits(self.months).any(|month| {
            let longest = match month {
                2 => 29,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            bits(self.days_of_month).any(|day| day <= longest)
        });
        if possible {
            Ok(())
        } else {
            Err(CronError::Expression(
                "this expression never fires: none of its months has that day".to_string(),
            ))
        }
    }
}

fn nickname(name: &str) -> Result<&'static str, CronError> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        _ => {
            return Err(CronError::Expression(format!(
                "unknown nickname {:?} (use @yearly, @monthly, @weekly, @daily or @hourly)",
                name.chars().take(32).collect::<String>()
            )));
        }
    })
}

fn has(set: u64, value: u32) -> bool {
    value < 64 && set & (1 << value) != 0
}

fn bits(set: u64) -> impl Iterator<Item = u32> {
    (0..64).filter(move |n| set & (1 << n) != 0)
}

fn first_of_next_month(day: NaiveDate) -> Option<NaiveDate> {
    let (year, month) = if day.month() == 12 {
        (day.year() + 1, 1)
    } else {
        (day.year(), day.month() + 1)
    };
    NaiveDate::from_ymd_opt(year, month, 1)
}

fn parse_field(text: &str, spec: &FieldSpec) -> Result<u64, CronError> {
    let mut set = 0u64;
    for element in text.split(',') {
        set |= parse_element(element, spec)
            .map_err(|why| CronError::Expression(format!("{} field {text:?}: {why}", spec.name)))?;
    }
    Ok(set)
}

fn parse_element(element: &str, spec: &FieldSpec) -> Result<u64, String> {
    let (range, step) = match element.split_once('/') {
        Some((range, step)) => {
            let step: u32 = step
                .parse()
                .map_err(|_| format!("{step:?} is not a step"))?;
            if step == 0 || step > spec.max {
                return Err(format!("the step must be 1 to {}", spec.max));
            }
            (range, Some(step))
        }
        None => (element, None),
    };
    let (low, high) = if range == "*" {
        (spec.min, spec.max)
    } else if let Some((low, high)) = range.split_once('-') {
        let (low, high) = (value(low, spec)?, value(high, spec)?);
        if low > high {
            return Err(format!(
                "the range {range:?} runs backwards (write it as two ranges)"
            ));
        }
        (low, high)
    } else {
        let single = value(range, spec)?;
        // `A/S` runs from A to the field's end.
        let high = if step.is_some() { spec.max } else { single };
        (single, high)
    };
    let step = step.unwrap_or(1);
    let mut set = 0u64;
    let mut n = low;
    while n <= high {
        set |= 1 << n;
        n += step;
    }
    Ok(set)
}

fn value(text: &str, spec: &FieldSpec) -> Result<u32, String> {
    if text.is_empty() {
        return Err("a value is missing".to_string());
    }
    let number = match text.parse::<u32>() {
        Ok(number) => number,
        Err(_) => spec
            .names
            .iter()
            .position(|name| name.eq_ignore_ascii_case(text))
            .map(|index| index as u32 + spec.names_from)
            .ok_or_else(|| format!("{:?} is not a {}", shorten(text), spec.name))?,
    };
    if number < spec.min || number > spec.max {
        return Err(format!(
            "{number} is out of range ({} to {})",
            spec.min, spec.max
        ));
    }
    Ok(number)
}

fn shorten(text: &str) -> String {
    text.chars().take(16).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn paris(expression: &str) -> CronSchedule {
        CronSchedule::parse(expression, "Europe/Paris").expect("schedule")
    }

    fn fires(schedule: &CronSchedule, after: &str, n: usize) -> Vec<String> {
        schedule
            .upcoming(utc(after), n)
            .iter()
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .collect()
    }

    #[test]
    fn fields_take_lists_ranges_steps_and_names() {
        let s = CronSchedule::parse("*/20 9-17/4 1,15 JAN-mar mon-FRI", "UTC").expect("parse");
        assert_eq!(bits(s.minutes).collect::<Vec<_>>(), vec![0, 20, 40]);
        assert_eq!(bits(s.hours).collect::<Vec<_>>(), vec![9, 13, 17]);
        assert_eq!(bits(s.days_of_month).collect::<Vec<_>>(), vec![1, 15]);
        assert_eq!(bits(s.months).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(
            bits(s.days_of_week).collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5]
        );
        let sunday = CronSchedule::parse("0 0 * * 7", "UTC").expect("7");
        assert_eq!(sunday.days_of_week, 1);
        let from = CronSchedule::parse("5/20 * * * *", "UTC").expect("a/s");
        assert_eq!(bits(from.minutes).collect::<Vec<_>>(), vec![5, 25, 45]);
    }

    #[test]
    fn malformed_expressions_and_zones_are_refused_with_their_path() {
        for bad in [
            "* * * *",
            "0 * * * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "* * * * 8",
            "*/0 * * * *",
            "5-1 * * * *",
            "L * * * *",
            "* * * FOO *",
            "1,,2 * * * *",
            "@reboot",
            "",
        ] {
            let err = CronSchedule::parse(bad, "UTC").expect_err(bad);
            assert_eq!(err.to_problem("/trigger").path, "/trigger/cron", "{bad}");
        }
        let err = CronSchedule::parse("0 9 * * *", "Mars/Olympus").expect_err("zone");
        assert_eq!(err.to_problem("/trigger").path, "/trigger/timezone");
        assert_eq!(err.to_problem("").path, "/timezone");
    }

    #[test]
    fn expressions_that_never_fire_are_refused() {
        for never in [
            "0 0 30 2 *",
            "0 0 31 4 *",
            "0 0 31 2,4,6,9,11 *",
            "0 0 31 4 */2",
        ] {
            assert!(CronSchedule::parse(never, "UTC").is_err(), "{never}");
        }
        // Both day fields restricted: either matches, so Mondays in February fire.
        let mondays = CronSchedule::parse("0 0 30 2 MON", "UTC").expect("either");
        assert_eq!(
            fires(&mondays, "2026-01-01T00:00:00Z", 2),
            ["2026-02-02T00:00:00Z", "2026-02-09T00:00:00Z"]
        );
        let leap = CronSchedule::parse("0 12 29 2 *", "UTC").expect("leap day");
        assert_eq!(
            fires(&leap, "2026-01-01T00:00:00Z", 2),
            ["2028-02-29T12:00:00Z", "2032-02-29T12:00:00Z"]
        );
    }

    #[test]
    fn day_of_month_and_day_of_week_follow_vixie() {
        // Either: the 13th or a Friday.
        let either = CronSchedule::parse("0 0 13 * FRI", "UTC").expect("either");
        assert_eq!(
            fires(&either, "2026-03-01T00:00:00Z", 3),
            [
                "2026-03-06T00:00:00Z",
                "2026-03-13T00:00:00Z",
                "2026-03-20T00:00:00Z"
            ]
        );
        // A `*`-led day of month: both must match (odd days that are Mondays).
        let both = CronSchedule::parse("0 0 */2 * MON", "UTC").expect("both");
        assert_eq!(
            fires(&both, "2026-03-01T00:00:00Z", 2),
            ["2026-03-09T00:00:00Z", "2026-03-23T00:00:00Z"]
        );
    }

    #[test]
    fn nicknames_expand() {
        let daily = CronSchedule::parse("@daily", "Europe/Paris").expect("daily");
        assert!(daily.is_fixed_time());
        assert_eq!(
            fires(&daily, "2026-01-10T12:00:00Z", 1),
            ["2026-01-10T23:00:00Z"]
        );
        let hourly = CronSchedule::parse("@HOURLY", "UTC").expect("hourly");
        assert!(!hourly.is_fixed_time());
        assert_eq!(
            fires(&hourly, "2026-01-10T12:00:00Z", 1),
            ["2026-01-10T13:00:00Z"]
        );
        assert_eq!(
            fires(
                &CronSchedule::parse("@yearly", "UTC").expect("y"),
                "2026-06-01T00:00:00Z",
                1
            ),
            ["2027-01-01T00:00:00Z"]
        );
    }

    #[test]
    fn next_after_is_strictly_after() {
        let s = CronSchedule::parse("0 9 * * *", "UTC").expect("s");
        assert_eq!(
            s.next_after(utc("2026-05-01T09:00:00Z")),
            Some(utc("2026-05-02T09:00:00Z"))
        );
        assert_eq!(
            s.next_after(utc("2026-05-01T08:59:59Z")),
            Some(utc("2026-05-01T09:00:00Z"))
        );
        assert_eq!(
            s.previous_at_or_before(utc("2026-05-01T09:00:00Z")),
            Some(utc("2026-05-01T09:00:00Z"))
        );
        assert_eq!(
            s.previous_at_or_before(utc("2026-05-01T08:59:59Z")),
            Some(utc("2026-04-30T09:00:00Z"))
        );
    }

    // Europe/Paris 2026: spring forward on 29 March at 01:00 UTC (02:00 CET -> 03:00 CEST), fall
    // back on 25 October at 01:00 UTC (03:00 CEST -> 02:00 CET).

    #[test]
    fn spring_forward_a_fixed_time_in_the_gap_fires_once_when_the_gap_ends() {
        let s = paris("30 2 * * *");
        assert_eq!(
            fires(&s, "2026-03-27T12:00:00Z", 4),
            [
                "2026-03-28T01:30:00Z", // 02:30 CET
                "2026-03-29T01:00:00Z", // 03:00 CEST: the gap's end
                "2026-03-30T00:30:00Z", // 02:30 CEST
                "2026-03-31T00:30:00Z",
            ]
        );
        let both = paris("0,30 2 * * *");
        assert_eq!(
            fires(&both, "2026-03-28T12:00:00Z", 3),
            [
                "2026-03-29T01:00:00Z",
                "2026-03-30T00:00:00Z",
                "2026-03-30T00:30:00Z"
            ]
        );
        assert_eq!(
            s.previous_at_or_before(utc("2026-03-29T05:00:00Z")),
            Some(utc("2026-03-29T01:00:00Z"))
        );
    }

    #[test]
    fn fall_back_a_fixed_time_that_happens_twice_fires_once_at_its_first_occurrence() {
        let s = paris("30 2 * * *");
        assert_eq!(
            fires(&s, "2026-10-24T12:00:00Z", 3),
            [
                "2026-10-25T00:30:00Z", // 02:30 CEST; not again at 02:30 CET (01:30 UTC)
                "2026-10-26T01:30:00Z", // 02:30 CET
                "2026-10-27T01:30:00Z",
            ]
        );
        assert_eq!(
            s.previous_at_or_before(utc("2026-10-25T05:00:00Z")),
            Some(utc("2026-10-25T00:30:00Z"))
        );
    }

    #[test]
    fn a_time_away_from_the_change_keeps_its_wall_clock_time() {
        let s = paris("0 9 * * *");
        assert_eq!(
            fires(&s, "2026-03-28T00:00:00Z", 2),
            ["2026-03-28T08:00:00Z", "2026-03-29T07:00:00Z"]
        );
        assert_eq!(
            fires(&s, "2026-10-24T00:00:00Z", 2),
            ["2026-10-24T07:00:00Z", "2026-10-25T08:00:00Z"]
        );
    }

    #[test]
    fn every_fifteen_minutes_means_every_fifteen_real_minutes_through_both_changes() {
        let s = paris("*/15 * * * *");
        for start in ["2026-03-28T22:00:00Z", "2026-10-24T22:00:00Z"] {
            let all = s.upcoming(utc(start), 6 * 4);
            let mut previous = utc(start);
            for fire in all {
                assert_eq!(fire - previous, Duration::minutes(15), "at {fire}");
                previous = fire;
            }
        }
        // The repeated hour fires twice: 02:00 CEST and 02:00 CET.
        let hourly = paris("0 * * * *");
        assert_eq!(
            fires(&hourly, "2026-10-24T23:30:00Z", 3),
            [
                "2026-10-25T00:00:00Z",
                "2026-10-25T01:00:00Z",
                "2026-10-25T02:00:00Z"
            ]
        );
        // The skipped hour does not exist: 01:00 CET, then 03:00 CEST.
        assert_eq!(
            fires(&hourly, "2026-03-28T23:30:00Z", 2),
            ["2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z"]
        );
    }
}
