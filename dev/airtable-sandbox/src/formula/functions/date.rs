//! IS_AFTER, IS_BEFORE, IS_SAME, DATETIME_PARSE, DATEADD, DATETIME_DIFF, DATESTR,
//! DATETIME_FORMAT, TODAY, NOW, WEEKDAY, YEAR, MONTH, DAY.
//!
//! Date arguments may be dates or text (parsed as ISO 8601 and a few common layouts).
//! A blank date argument gives a blank result (`IS_*` give false), since Airtable's
//! exact behaviour is unconfirmed and blank keeps filters quiet; text that is not a
//! date gives `#ERROR!`. Units follow moment.js: full names in any case, singular or
//! plural, or the shorthands `ms s m h d w M Q y` (note `m` is minutes, `M` months).
//! Everything is UTC.

use chrono::{
    DateTime, Datelike, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike, Utc,
};

use super::super::RecordContext;
use super::super::datetime::{format_moment, iso, parse_flexible, parse_with_format};
use super::super::value::FormulaValue;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl Unit {
    fn parse(s: &str) -> Option<Unit> {
        let s = s.trim();
        let shorthand = match s {
            "ms" => Some(Unit::Millisecond),
            "s" => Some(Unit::Second),
            "m" => Some(Unit::Minute),
            "h" => Some(Unit::Hour),
            "d" => Some(Unit::Day),
            "w" => Some(Unit::Week),
            "M" => Some(Unit::Month),
            "Q" => Some(Unit::Quarter),
            "y" => Some(Unit::Year),
            _ => None,
        };
        if shorthand.is_some() {
            return shorthand;
        }
        let lower = s.to_lowercase();
        match lower.strip_suffix('s').unwrap_or(&lower) {
            "millisecond" => Some(Unit::Millisecond),
            "second" => Some(Unit::Second),
            "minute" => Some(Unit::Minute),
            "hour" => Some(Unit::Hour),
            "day" => Some(Unit::Day),
            "week" => Some(Unit::Week),
            "month" => Some(Unit::Month),
            "quarter" => Some(Unit::Quarter),
            "year" => Some(Unit::Year),
            _ => None,
        }
    }

    /// Milliseconds per unit for the fixed-length units; months per unit for the rest.
    fn size(self) -> Size {
        match self {
            Unit::Millisecond => Size::Millis(1.0),
            Unit::Second => Size::Millis(1_000.0),
            Unit::Minute => Size::Millis(60_000.0),
            Unit::Hour => Size::Millis(3_600_000.0),
            Unit::Day => Size::Millis(86_400_000.0),
            Unit::Week => Size::Millis(604_800_000.0),
            Unit::Month => Size::Months(1),
            Unit::Quarter => Size::Months(3),
            Unit::Year => Size::Months(12),
        }
    }
}

enum Size {
    Millis(f64),
    Months(i64),
}

/// A unit argument: `Ok(None)` when absent or blank, an error when unrecognised.
fn unit_arg(value: Option<&FormulaValue>) -> Result<Option<Unit>, FormulaValue> {
    let text = value.map(FormulaValue::to_text).unwrap_or_default();
    if text.trim().is_empty() {
        return Ok(None);
    }
    Unit::parse(&text).map(Some).ok_or_else(FormulaValue::error)
}

/// A date argument: `Ok(None)` when blank, an error when it is not a date.
fn date_arg(value: Option<&FormulaValue>) -> Result<Option<DateTime<Utc>>, FormulaValue> {
    match value {
        None | Some(FormulaValue::Blank) => Ok(None),
        Some(FormulaValue::Date(d)) => Ok(Some(*d)),
        // A single linked or looked-up date.
        Some(FormulaValue::Array(items)) if items.len() <= 1 => date_arg(items.first()),
        Some(other) => {
            let text = other.to_text();
            if text.trim().is_empty() {
                Ok(None)
            } else {
                parse_flexible(&text)
                    .map(Some)
                    .ok_or_else(FormulaValue::error)
            }
        }
    }
}

/// Applies `f` to one date argument, passing blanks and errors through.
fn with_date(
    value: Option<&FormulaValue>,
    f: impl FnOnce(DateTime<Utc>) -> FormulaValue,
) -> FormulaValue {
    match date_arg(value) {
        Ok(Some(d)) => f(d),
        Ok(None) => FormulaValue::Blank,
        Err(e) => e,
    }
}

/// Applies `f` to two date arguments; `blank` is the result when either is blank.
fn with_dates(
    a: Option<&FormulaValue>,
    b: Option<&FormulaValue>,
    blank: FormulaValue,
    f: impl FnOnce(DateTime<Utc>, DateTime<Utc>) -> FormulaValue,
) -> FormulaValue {
    match (date_arg(a), date_arg(b)) {
        (Err(e), _) | (_, Err(e)) => e,
        (Ok(Some(a)), Ok(Some(b))) => f(a, b),
        _ => blank,
    }
}

pub(super) fn call(
    name: &str,
    args: &[FormulaValue],
    record: &dyn RecordContext,
) -> Option<FormulaValue> {
    let arg = |i: usize| args.get(i);
    let number = |n: u32| FormulaValue::Number(f64::from(n));
    Some(match name {
        "IS_AFTER" => with_dates(arg(0), arg(1), FormulaValue::Bool(false), |a, b| {
            FormulaValue::Bool(a > b)
        }),
        "IS_BEFORE" => with_dates(arg(0), arg(1), FormulaValue::Bool(false), |a, b| {
            FormulaValue::Bool(a < b)
        }),
        "IS_SAME" => match unit_arg(arg(2)) {
            Err(e) => e,
            Ok(unit) => with_dates(arg(0), arg(1), FormulaValue::Bool(false), |a, b| {
                FormulaValue::Bool(same(a, b, unit))
            }),
        },
        "DATETIME_PARSE" => datetime_parse(args, record),
        "DATEADD" => match unit_arg(arg(2)) {
            Ok(Some(unit)) => with_date(arg(0), |d| {
                let count = arg(1).map_or(f64::NAN, FormulaValue::to_number);
                add(d, count, unit).map_or_else(FormulaValue::error, FormulaValue::Date)
            }),
            Ok(None) | Err(_) => FormulaValue::error(),
        },
        // The unit defaults to seconds, as in Airtable.
        "DATETIME_DIFF" => match unit_arg(arg(2)) {
            Err(e) => e,
            Ok(unit) => with_dates(arg(0), arg(1), FormulaValue::Blank, |a, b| {
                diff(a, b, unit.unwrap_or(Unit::Second))
                    .map_or_else(FormulaValue::error, FormulaValue::Number)
            }),
        },
        "DATESTR" => with_date(arg(0), |d| {
            FormulaValue::Text(d.format("%Y-%m-%d").to_string())
        }),
        "DATETIME_FORMAT" => with_date(arg(0), |d| {
            let format = arg(1).map(FormulaValue::to_text).unwrap_or_default();
            FormulaValue::bounded_text(if format.is_empty() {
                iso(&d)
            } else {
                format_moment(&d, &format)
            })
        }),
        "TODAY" => FormulaValue::Date(midnight(record.now().date_naive())),
        "NOW" => FormulaValue::Date(record.now()),
        "WEEKDAY" => with_date(arg(0), |d| {
            let start = arg(1).map(FormulaValue::to_text).unwrap_or_default();
            number(if start.trim().eq_ignore_ascii_case("monday") {
                d.weekday().num_days_from_monday()
            } else {
                d.weekday().num_days_from_sunday()
            })
        }),
        "YEAR" => with_date(arg(0), |d| FormulaValue::Number(f64::from(d.year()))),
        "MONTH" => with_date(arg(0), |d| number(d.month())),
        "DAY" => with_date(arg(0), |d| number(d.day())),
        _ => return None,
    })
}

fn midnight(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(NaiveTime::MIN).and_utc()
}

/// `DATETIME_PARSE(text, [format], [locale])`. Without a format the text is read as
/// ISO 8601 (pyairtable's encoding of every date) or a common layout; with one, as a
/// moment.js format. The locale is accepted and ignored. Blank in, blank out.
fn datetime_parse(args: &[FormulaValue], record: &dyn RecordContext) -> FormulaValue {
    let input = match args.first() {
        None | Some(FormulaValue::Blank) => return FormulaValue::Blank,
        Some(FormulaValue::Date(d)) => return FormulaValue::Date(*d),
        Some(other) => other.to_text(),
    };
    if input.trim().is_empty() {
        return FormulaValue::Blank;
    }
    let format = args.get(1).map(FormulaValue::to_text).unwrap_or_default();
    let parsed = if format.trim().is_empty() {
        parse_flexible(&input)
    } else {
        parse_with_format(&input, &format, record.now().year())
    };
    parsed.map_or_else(FormulaValue::error, FormulaValue::Date)
}

/// Adds `count` units. Like moment.js, day, week, month, quarter and year counts are
/// rounded to whole numbers, and adding months clamps to the end of shorter months
/// (Jan 31 + 1 month = Feb 29 in a leap year). `None` on overflow.
fn add(d: DateTime<Utc>, count: f64, unit: Unit) -> Option<DateTime<Utc>> {
    if !count.is_finite() {
        return None;
    }
    match unit.size() {
        Size::Months(per_unit) => {
            let units = count.round();
            if units.abs() > 1e6 {
                return None;
            }
            let months = (units as i64).checked_mul(per_unit)?;
            let magnitude = Months::new(u32::try_from(months.unsigned_abs()).ok()?);
            if months >= 0 {
                d.checked_add_months(magnitude)
            } else {
                d.checked_sub_months(magnitude)
            }
        }
        Size::Millis(per_unit) => {
            let count = if matches!(unit, Unit::Day | Unit::Week) {
                count.round()
            } else {
                count
            };
            let millis = (count * per_unit).round();
            if millis.abs() > 1e17 {
                return None;
            }
            d.checked_add_signed(TimeDelta::try_milliseconds(millis as i64)?)
        }
    }
}

/// `a - b` in whole units, truncated toward zero (moment.js `diff`).
fn diff(a: DateTime<Utc>, b: DateTime<Utc>, unit: Unit) -> Option<f64> {
    match unit.size() {
        Size::Millis(per_unit) => {
            let millis = (a - b).num_milliseconds() as f64;
            Some((millis / per_unit).trunc())
        }
        Size::Months(per_unit) => Some((whole_months(a, b)? / per_unit) as f64),
    }
}

/// Whole calendar months from `b` to `a` (negative when `a` is earlier).
fn whole_months(a: DateTime<Utc>, b: DateTime<Utc>) -> Option<i64> {
    let mut months = (i64::from(a.year()) - i64::from(b.year())) * 12 + i64::from(a.month())
        - i64::from(b.month());
    let magnitude = Months::new(u32::try_from(months.unsigned_abs()).ok()?);
    let anchor = if months >= 0 {
        b.checked_add_months(magnitude)?
    } else {
        b.checked_sub_months(magnitude)?
    };
    if a >= b && anchor > a {
        months -= 1;
    } else if a < b && anchor < a {
        months += 1;
    }
    Some(months)
}

/// Whether two instants fall in the same unit (same year, same month, ...); without a
/// unit they must be the same millisecond. Weeks start on Sunday.
fn same(a: DateTime<Utc>, b: DateTime<Utc>, unit: Option<Unit>) -> bool {
    match unit {
        None => a.timestamp_millis() == b.timestamp_millis(),
        Some(unit) => match (start_of(a, unit), start_of(b, unit)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
    }
}

fn start_of(d: DateTime<Utc>, unit: Unit) -> Option<NaiveDateTime> {
    let n = d.naive_utc();
    let date = n.date();
    let time = n.time();
    match unit {
        Unit::Year => Some(NaiveDate::from_ymd_opt(date.year(), 1, 1)?.and_time(NaiveTime::MIN)),
        Unit::Quarter => {
            let month = date.month0() / 3 * 3 + 1;
            Some(NaiveDate::from_ymd_opt(date.year(), month, 1)?.and_time(NaiveTime::MIN))
        }
        Unit::Month => Some(date.with_day(1)?.and_time(NaiveTime::MIN)),
        Unit::Week => {
            let back = TimeDelta::days(i64::from(date.weekday().num_days_from_sunday()));
            Some(date.checked_sub_signed(back)?.and_time(NaiveTime::MIN))
        }
        Unit::Day => Some(date.and_time(NaiveTime::MIN)),
        Unit::Hour => date.and_hms_opt(time.hour(), 0, 0),
        Unit::Minute => date.and_hms_opt(time.hour(), time.minute(), 0),
        Unit::Second => date.and_hms_opt(time.hour(), time.minute(), time.second()),
        Unit::Millisecond => Some(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formula::testing::{TestRecord, date, num, run, run_on, text};

    const T: FormulaValue = FormulaValue::Bool(true);
    const F: FormulaValue = FormulaValue::Bool(false);

    #[test]
    fn units() {
        assert_eq!(Unit::parse("days"), Some(Unit::Day));
        assert_eq!(Unit::parse("Day"), Some(Unit::Day));
        assert_eq!(Unit::parse("M"), Some(Unit::Month));
        assert_eq!(Unit::parse("m"), Some(Unit::Minute));
        assert_eq!(Unit::parse("ms"), Some(Unit::Millisecond));
        assert_eq!(Unit::parse("milliseconds"), Some(Unit::Millisecond));
        assert_eq!(Unit::parse("Quarters"), Some(Unit::Quarter));
        assert_eq!(Unit::parse("fortnight"), None);
    }

    #[test]
    fn parse_and_format() {
        assert_eq!(
            run("DATETIME_PARSE('2024-01-01')"),
            date(2024, 1, 1, 0, 0, 0)
        );
        assert_eq!(
            run("DATETIME_PARSE('2023-12-01T12:34:56.000Z')"),
            date(2023, 12, 1, 12, 34, 56)
        );
        assert_eq!(
            run("DATETIME_PARSE('5/3/2024 14:30', 'D/M/YYYY HH:mm')"),
            date(2024, 3, 5, 14, 30, 0)
        );
        assert_eq!(
            run("DATETIME_PARSE('5 Mar', 'D MMM', 'en')"),
            date(2024, 3, 5, 0, 0, 0)
        );
        assert_eq!(run("DATETIME_PARSE('garbage')"), FormulaValue::error());
        assert_eq!(run("DATETIME_PARSE('')"), FormulaValue::Blank);
        assert_eq!(
            run("DATETIME_FORMAT(DATETIME_PARSE('2024-03-05T14:07:09Z'), 'DD/MM/YYYY HH:mm')"),
            text("05/03/2024 14:07")
        );
        assert_eq!(
            run("DATETIME_FORMAT('2024-03-05T14:07:09Z')"),
            text("2024-03-05T14:07:09.000Z")
        );
        assert_eq!(run("DATESTR('2024-03-05T14:07:09Z')"), text("2024-03-05"));
        assert_eq!(run("DATESTR(BLANK())"), FormulaValue::Blank);
        assert_eq!(run("DATESTR('nope')"), FormulaValue::error());
        assert_eq!(run("DATESTR(5)"), FormulaValue::error());
    }

    #[test]
    fn comparisons() {
        assert_eq!(run("IS_AFTER('2024-01-02', '2024-01-01')"), T);
        assert_eq!(run("IS_AFTER('2024-01-01', '2024-01-01')"), F);
        assert_eq!(run("IS_BEFORE('2024-01-01', '2024-01-02')"), T);
        assert_eq!(run("IS_BEFORE(BLANK(), '2024-01-02')"), F);
        assert_eq!(run("IS_BEFORE('x', '2024-01-02')"), FormulaValue::error());
        assert_eq!(
            run("IS_SAME('2024-01-01T10:00Z', '2024-01-01T23:00Z', 'day')"),
            T
        );
        assert_eq!(run("IS_SAME('2024-01-01T10:00Z', '2024-01-01T23:00Z')"), F);
        assert_eq!(run("IS_SAME('2024-01-01', '2024-01-01')"), T);
        assert_eq!(run("IS_SAME('2024-01-01', '2024-12-31', 'year')"), T);
        assert_eq!(run("IS_SAME('2024-01-31', '2024-02-01', 'month')"), F);
        assert_eq!(run("IS_SAME('2024-02-01', '2024-03-31', 'quarter')"), T);
        // 2024-03-03 is a Sunday; the 9th is the following Saturday.
        assert_eq!(run("IS_SAME('2024-03-03', '2024-03-09', 'week')"), T);
        assert_eq!(run("IS_SAME('2024-03-02', '2024-03-03', 'week')"), F);
        assert_eq!(
            run("IS_SAME('2024-03-02T10:05Z', '2024-03-02T10:59Z', 'hour')"),
            T
        );
        assert_eq!(
            run("IS_SAME('2024-01-01', '2024-01-01', 'eons')"),
            FormulaValue::error()
        );
    }

    #[test]
    fn arithmetic() {
        assert_eq!(
            run("DATEADD('2024-01-31', 1, 'month')"),
            date(2024, 2, 29, 0, 0, 0)
        );
        assert_eq!(
            run("DATEADD('2024-01-01', -1, 'days')"),
            date(2023, 12, 31, 0, 0, 0)
        );
        assert_eq!(
            run("DATEADD('2024-01-01', 1.5, 'hours')"),
            date(2024, 1, 1, 1, 30, 0)
        );
        assert_eq!(
            run("DATEADD('2024-01-01', 2, 'w')"),
            date(2024, 1, 15, 0, 0, 0)
        );
        assert_eq!(
            run("DATEADD('2024-01-01', 1, 'Q')"),
            date(2024, 4, 1, 0, 0, 0)
        );
        assert_eq!(
            run("DATEADD('2024-02-29', 1, 'years')"),
            date(2025, 2, 28, 0, 0, 0)
        );
        assert_eq!(
            run("DATEADD('2024-01-01', 1e300, 'days')"),
            FormulaValue::error()
        );
        assert_eq!(
            run("DATEADD('2024-01-01', 1e9, 'years')"),
            FormulaValue::error()
        );
        assert_eq!(
            run("DATEADD('2024-01-01', 'x', 'days')"),
            FormulaValue::error()
        );
        assert_eq!(
            run("DATEADD('2024-01-01', 1, 'eons')"),
            FormulaValue::error()
        );
        assert_eq!(run("DATEADD(BLANK(), 1, 'days')"), FormulaValue::Blank);

        assert_eq!(
            run("DATETIME_DIFF('2024-01-03', '2024-01-01', 'days')"),
            num(2.0)
        );
        assert_eq!(
            run("DATETIME_DIFF('2024-01-01', '2024-01-03', 'days')"),
            num(-2.0)
        );
        assert_eq!(
            run("DATETIME_DIFF('2024-01-01T12:00Z', '2024-01-01', 'days')"),
            num(0.0)
        );
        assert_eq!(
            run("DATETIME_DIFF('2024-01-01T00:01Z', '2024-01-01')"),
            num(60.0)
        );
        assert_eq!(
            run("DATETIME_DIFF('2024-01-01T02:00Z', '2024-01-01', 'm')"),
            num(120.0)
        );
        assert_eq!(
            run("DATETIME_DIFF('2024-03-15', '2024-01-20', 'months')"),
            num(1.0)
        );
        assert_eq!(
            run("DATETIME_DIFF('2024-01-20', '2024-03-15', 'months')"),
            num(-1.0)
        );
        assert_eq!(
            run("DATETIME_DIFF('2024-03-20', '2024-01-20', 'M')"),
            num(2.0)
        );
        assert_eq!(
            run("DATETIME_DIFF('2025-01-01', '2024-01-02', 'years')"),
            num(0.0)
        );
        assert_eq!(
            run("DATETIME_DIFF('2026-06-01', '2024-01-01', 'quarters')"),
            num(9.0)
        );
        assert_eq!(
            run("DATETIME_DIFF(BLANK(), '2024-01-01', 'days')"),
            FormulaValue::Blank
        );
    }

    #[test]
    fn clock_and_parts() {
        let r = TestRecord::new().with("When", date(2024, 3, 3, 10, 0, 0));
        assert_eq!(run("NOW()"), date(2024, 3, 5, 14, 7, 9));
        assert_eq!(run("TODAY()"), date(2024, 3, 5, 0, 0, 0));
        assert_eq!(run_on("WEEKDAY({When})", &r), num(0.0));
        assert_eq!(run_on("WEEKDAY({When}, 'Monday')", &r), num(6.0));
        assert_eq!(run_on("YEAR({When})", &r), num(2024.0));
        assert_eq!(run_on("MONTH({When})", &r), num(3.0));
        assert_eq!(run_on("DAY({When})", &r), num(3.0));
        assert_eq!(run("YEAR(BLANK())"), FormulaValue::Blank);
        assert_eq!(run_on("IS_BEFORE({When}, TODAY())", &r), T);
        assert_eq!(
            run_on("DATETIME_DIFF(TODAY(), {When}, 'days')", &r),
            num(1.0)
        );
        let single =
            TestRecord::new().with("Lookup", FormulaValue::Array(vec![text("2024-03-03")]));
        assert_eq!(run_on("DAY({Lookup})", &single), num(3.0));
    }
}
