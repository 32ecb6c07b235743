//! Date parsing and formatting in the moment.js dialect Airtable's formulas use.
//!
//! Everything is UTC: the fake has no per-field or per-base time zones, and it ignores
//! locales (English names only). That is a documented simplification, not Airtable's
//! behaviour for bases set to other zones.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};

/// ISO 8601 with milliseconds, the way Airtable's API writes dateTime cells.
pub(crate) fn iso(d: &DateTime<Utc>) -> String {
    d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Date-and-time layouts tried (after RFC 3339) when no format is given.
const NAIVE_DATETIME_FORMATS: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%m/%d/%Y %I:%M%p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
];

/// Date-only layouts tried when no format is given; they mean midnight UTC.
const DATE_FORMATS: &[&str] = &[
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%m/%d/%Y",
    "%B %d, %Y",
    "%b %d, %Y",
    "%d %B %Y",
    "%d %b %Y",
];

/// Parses a date without a format: ISO 8601 (what pyairtable sends in `DATETIME_PARSE`
/// and what the API stores), plus a few common US layouts such as Airtable's own
/// `M/D/YYYY h:mm a`. Text without an offset is read as UTC.
pub(crate) fn parse_flexible(input: &str) -> Option<DateTime<Utc>> {
    let s = input.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(d) = DateTime::parse_from_str(s, f) {
            return Some(d.with_timezone(&Utc));
        }
    }
    let naive = s
        .strip_suffix('Z')
        .or_else(|| s.strip_suffix('z'))
        .unwrap_or(s);
    for f in NAIVE_DATETIME_FORMATS {
        if let Ok(d) = NaiveDateTime::parse_from_str(naive, f) {
            return Some(d.and_utc());
        }
    }
    for f in DATE_FORMATS {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return Some(d.and_time(NaiveTime::MIN).and_utc());
        }
    }
    None
}

/// One piece of a moment.js format string.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    /// A format token such as `YYYY`.
    Token(&'static str),
    /// Text copied verbatim (including `[escaped]` text).
    Literal(String),
}

/// Supported moment.js tokens, longest first so that `YYYY` wins over `YY`.
const TOKENS: &[&str] = &[
    "YYYY", "MMMM", "DDDD", "dddd", "LLL", "MMM", "DDD", "ddd", "SSS", "YY", "MM", "DD", "Do",
    "dd", "HH", "hh", "mm", "ss", "SS", "ZZ", "LL", "LT", "Q", "M", "D", "d", "H", "h", "m", "s",
    "S", "A", "a", "X", "x", "Z", "L",
];

/// Localised shorthands, expanded for the `en` locale.
fn expansion(token: &str) -> Option<&'static str> {
    match token {
        "LT" => Some("h:mm A"),
        "L" => Some("MM/DD/YYYY"),
        "LL" => Some("MMMM D, YYYY"),
        "LLL" => Some("MMMM D, YYYY h:mm A"),
        _ => None,
    }
}

fn split_format(format: &str) -> Vec<Piece> {
    let chars: Vec<char> = format.chars().collect();
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c == '['
            && let Some(len) = chars[i + 1..].iter().position(|&c| c == ']')
        {
            literal.extend(&chars[i + 1..i + 1 + len]);
            i += len + 2;
            continue;
        }
        let token = TOKENS.iter().find(|t| {
            let mut tc = t.chars();
            let n = t.len();
            chars.len() >= i + n && chars[i..i + n].iter().all(|c| tc.next() == Some(*c))
        });
        match token {
            Some(t) => {
                if !literal.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                }
                pieces.push(Piece::Token(t));
                i += t.len();
            }
            None => {
                literal.push(c);
                i += 1;
            }
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    pieces
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

fn prefix(name: &str, n: usize) -> String {
    name.chars().take(n).collect()
}

fn ordinal_suffix(n: u32) -> &'static str {
    match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    }
}

/// Formats a date with a moment.js format string (`DATETIME_FORMAT`).
///
/// Supports the common tokens: `YYYY YY Q MMMM MMM MM M DDDD DDD Do DD D dddd ddd dd d
/// HH H hh h mm m ss s SSS SS S A a X x Z ZZ` and the `L LL LLL LT` shorthands;
/// `[text]` is copied verbatim and any other character is literal.
pub(crate) fn format_moment(d: &DateTime<Utc>, format: &str) -> String {
    let mut out = String::new();
    for piece in split_format(format) {
        match piece {
            Piece::Literal(text) => out.push_str(&text),
            Piece::Token(token) => match expansion(token) {
                Some(expanded) => out.push_str(&format_moment(d, expanded)),
                None => out.push_str(&format_token(d, token)),
            },
        }
    }
    out
}

fn format_token(d: &DateTime<Utc>, token: &str) -> String {
    let month_name = MONTHS.get(d.month0() as usize).copied().unwrap_or_default();
    let weekday_name = WEEKDAYS
        .get(d.weekday().num_days_from_sunday() as usize)
        .copied()
        .unwrap_or_default();
    let hour12 = match d.hour() % 12 {
        0 => 12,
        h => h,
    };
    let millis = d.timestamp_subsec_millis();
    match token {
        "YYYY" => format!("{:04}", d.year()),
        "YY" => format!("{:02}", d.year().rem_euclid(100)),
        "Q" => (d.month0() / 3 + 1).to_string(),
        "MMMM" => month_name.to_string(),
        "MMM" => prefix(month_name, 3),
        "MM" => format!("{:02}", d.month()),
        "M" => d.month().to_string(),
        "DDDD" => format!("{:03}", d.ordinal()),
        "DDD" => d.ordinal().to_string(),
        "Do" => format!("{}{}", d.day(), ordinal_suffix(d.day())),
        "DD" => format!("{:02}", d.day()),
        "D" => d.day().to_string(),
        "dddd" => weekday_name.to_string(),
        "ddd" => prefix(weekday_name, 3),
        "dd" => prefix(weekday_name, 2),
        "d" => d.weekday().num_days_from_sunday().to_string(),
        "HH" => format!("{:02}", d.hour()),
        "H" => d.hour().to_string(),
        "hh" => format!("{hour12:02}"),
        "h" => hour12.to_string(),
        "mm" => format!("{:02}", d.minute()),
        "m" => d.minute().to_string(),
        "ss" => format!("{:02}", d.second()),
        "s" => d.second().to_string(),
        "SSS" => format!("{millis:03}"),
        "SS" => format!("{:02}", millis / 10),
        "S" => (millis / 100).to_string(),
        "A" => if d.hour() < 12 { "AM" } else { "PM" }.to_string(),
        "a" => if d.hour() < 12 { "am" } else { "pm" }.to_string(),
        "X" => d.timestamp().to_string(),
        "x" => d.timestamp_millis().to_string(),
        "Z" => "+00:00".to_string(),
        "ZZ" => "+0000".to_string(),
        other => other.to_string(),
    }
}

/// The fields collected while parsing with a format.
#[derive(Default)]
struct Fields {
    year: Option<i32>,
    month: Option<u32>,
    day: Option<u32>,
    hour: Option<u32>,
    minute: Option<u32>,
    second: Option<u32>,
    nanos: Option<u32>,
    pm: Option<bool>,
    offset_seconds: Option<i32>,
    timestamp_millis: Option<i64>,
}

/// A cursor over the input text being parsed.
struct Cursor {
    chars: Vec<char>,
    pos: usize,
}

impl Cursor {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// Reads between 1 and `max` ASCII digits.
    fn digits(&mut self, max: usize) -> Option<u64> {
        self.skip_spaces();
        let mut value: u64 = 0;
        let mut count = 0;
        while count < max
            && let Some(d) = self.peek().and_then(|c| c.to_digit(10))
        {
            value = value.checked_mul(10)?.checked_add(u64::from(d))?;
            count += 1;
            self.pos += 1;
        }
        (count > 0).then_some(value)
    }

    fn signed_digits(&mut self, max: usize) -> Option<i64> {
        self.skip_spaces();
        let negative = match self.peek() {
            Some('-') => {
                self.pos += 1;
                true
            }
            Some('+') => {
                self.pos += 1;
                false
            }
            _ => false,
        };
        let value = i64::try_from(self.digits(max)?).ok()?;
        Some(if negative { -value } else { value })
    }

    fn word(&mut self) -> String {
        self.skip_spaces();
        let start = self.pos;
        while self.peek().is_some_and(char::is_alphabetic) {
            self.pos += 1;
        }
        self.chars
            .get(start..self.pos)
            .map(|w| w.iter().collect())
            .unwrap_or_default()
    }

    /// Moment's forgiving literal matching: consume the literal character if it is
    /// there, otherwise skip any run of separators.
    fn literal(&mut self, c: char) -> Option<()> {
        if self.peek() == Some(c) {
            self.pos += 1;
            return Some(());
        }
        if c.is_alphanumeric() {
            return None;
        }
        while self
            .peek()
            .is_some_and(|x| !x.is_alphanumeric() && x != '+' && x != '-')
        {
            self.pos += 1;
        }
        Some(())
    }
}

fn small(v: u64) -> Option<u32> {
    u32::try_from(v).ok()
}

fn month_from_name(word: &str) -> Option<u32> {
    let word = word.to_lowercase();
    if word.chars().count() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| m.to_lowercase().starts_with(&word))
        .and_then(|i| u32::try_from(i + 1).ok())
}

fn apply_pieces(pieces: &[Piece], cur: &mut Cursor, f: &mut Fields, depth: u8) -> Option<()> {
    for piece in pieces {
        match piece {
            Piece::Literal(text) => {
                for c in text.chars() {
                    if c.is_whitespace() {
                        cur.skip_spaces();
                    } else {
                        cur.literal(c)?;
                    }
                }
            }
            Piece::Token(token) => apply_token(token, cur, f, depth)?,
        }
    }
    Some(())
}

fn apply_token(token: &str, cur: &mut Cursor, f: &mut Fields, depth: u8) -> Option<()> {
    if let Some(expanded) = expansion(token) {
        // Expansions contain no shorthands, so this recursion is one level deep.
        if depth > 2 {
            return None;
        }
        return apply_pieces(&split_format(expanded), cur, f, depth + 1);
    }
    match token {
        "YYYY" => f.year = i32::try_from(cur.signed_digits(6)?).ok(),
        "YY" => {
            let y = i32::try_from(cur.digits(2)?).ok()?;
            // moment.js: two-digit years above 68 are 19xx.
            f.year = Some(if y > 68 { 1900 + y } else { 2000 + y });
        }
        "Q" => {
            let q = small(cur.digits(1)?)?;
            f.month.get_or_insert(q.saturating_sub(1) * 3 + 1);
        }
        "MMMM" | "MMM" => f.month = Some(month_from_name(&cur.word())?),
        "MM" | "M" => f.month = small(cur.digits(2)?),
        "DDDD" | "DDD" => {
            // Day of year: resolved against January 1st of the parsed year later.
            let ordinal = small(cur.digits(3)?)?;
            f.month = Some(1);
            f.day = Some(ordinal);
        }
        "Do" => {
            f.day = small(cur.digits(2)?);
            cur.word();
        }
        "DD" | "D" => f.day = small(cur.digits(2)?),
        "dddd" | "ddd" | "dd" => {
            cur.word();
        }
        "d" => {
            cur.digits(1)?;
        }
        "HH" | "H" | "hh" | "h" => f.hour = small(cur.digits(2)?),
        "mm" | "m" => f.minute = small(cur.digits(2)?),
        "ss" | "s" => f.second = small(cur.digits(2)?),
        "SSS" | "SS" | "S" => {
            cur.skip_spaces();
            let start = cur.pos;
            let value = cur.digits(9)?;
            let len = u32::try_from(cur.pos - start).ok()?;
            f.nanos = small(value * 10u64.pow(9 - len.min(9)));
        }
        "A" | "a" => {
            let w = cur.word().to_lowercase();
            f.pm = match w.as_str() {
                "am" | "a" => Some(false),
                "pm" | "p" => Some(true),
                _ => return None,
            };
        }
        "X" => f.timestamp_millis = cur.signed_digits(15)?.checked_mul(1000),
        "x" => f.timestamp_millis = Some(cur.signed_digits(18)?),
        "Z" | "ZZ" => {
            cur.skip_spaces();
            if cur.peek() == Some('Z') || cur.peek() == Some('z') {
                cur.pos += 1;
                f.offset_seconds = Some(0);
            } else {
                let sign = match cur.peek() {
                    Some('+') => 1,
                    Some('-') => -1,
                    _ => return None,
                };
                cur.pos += 1;
                let hours = i32::try_from(cur.digits(2)?).ok()?;
                if cur.peek() == Some(':') {
                    cur.pos += 1;
                }
                let minutes = i32::try_from(cur.digits(2).unwrap_or(0)).ok()?;
                f.offset_seconds = Some(sign * (hours * 3600 + minutes * 60));
            }
        }
        _ => return None,
    }
    Some(())
}

/// Parses `input` with a moment.js format (`DATETIME_PARSE(s, format)`).
///
/// Like moment in its default, forgiving mode, separators need not match exactly and
/// trailing text is ignored. A missing year is `default_year` (moment uses the current
/// year); a missing month or day is 1; a missing time is midnight UTC.
pub(crate) fn parse_with_format(
    input: &str,
    format: &str,
    default_year: i32,
) -> Option<DateTime<Utc>> {
    let mut cur = Cursor {
        chars: input.chars().collect(),
        pos: 0,
    };
    let mut f = Fields::default();
    apply_pieces(&split_format(format), &mut cur, &mut f, 0)?;
    if let Some(ms) = f.timestamp_millis {
        return DateTime::from_timestamp_millis(ms);
    }
    let year = f.year.unwrap_or(default_year);
    let month = f.month.unwrap_or(1);
    let day = f.day.unwrap_or(1);
    let date = if month == 1 && day > 31 {
        // A day-of-year beyond January.
        NaiveDate::from_yo_opt(year, day)?
    } else {
        NaiveDate::from_ymd_opt(year, month, day)?
    };
    let mut hour = f.hour.unwrap_or(0);
    if let Some(pm) = f.pm {
        hour = hour % 12 + if pm { 12 } else { 0 };
    }
    let time = NaiveTime::from_hms_nano_opt(
        hour,
        f.minute.unwrap_or(0),
        f.second.unwrap_or(0),
        f.nanos.unwrap_or(0),
    )?;
    let naive = date.and_time(time);
    let offset = chrono::Duration::seconds(i64::from(f.offset_seconds.unwrap_or(0)));
    naive.checked_sub_signed(offset).map(|n| n.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).single().unwrap()
    }

    #[test]
    fn flexible_parsing() {
        assert_eq!(parse_flexible("2024-01-01"), Some(utc(2024, 1, 1, 0, 0, 0)));
        assert_eq!(
            parse_flexible("2023-12-01T12:34:56.000Z"),
            Some(utc(2023, 12, 1, 12, 34, 56))
        );
        assert_eq!(
            parse_flexible("2023-12-01T12:34:56+02:00"),
            Some(utc(2023, 12, 1, 10, 34, 56))
        );
        assert_eq!(
            parse_flexible("2023-12-01T12:34:56"),
            Some(utc(2023, 12, 1, 12, 34, 56))
        );
        assert_eq!(
            parse_flexible("2023-12-01 12:34"),
            Some(utc(2023, 12, 1, 12, 34, 0))
        );
        assert_eq!(
            parse_flexible("1/2/2024 3:04pm"),
            Some(utc(2024, 1, 2, 15, 4, 0))
        );
        assert_eq!(parse_flexible("3/4/2024"), Some(utc(2024, 3, 4, 0, 0, 0)));
        assert_eq!(
            parse_flexible("March 4, 2024"),
            Some(utc(2024, 3, 4, 0, 0, 0))
        );
        assert_eq!(parse_flexible(""), None);
        assert_eq!(parse_flexible("hello"), None);
        assert_eq!(parse_flexible("2024-02-30"), None);
    }

    #[test]
    fn moment_formatting() {
        let d = utc(2024, 3, 5, 14, 7, 9);
        assert_eq!(
            format_moment(&d, "YYYY-MM-DD HH:mm:ss"),
            "2024-03-05 14:07:09"
        );
        assert_eq!(format_moment(&d, "M/D/YY h:mm a"), "3/5/24 2:07 pm");
        assert_eq!(
            format_moment(&d, "dddd, MMMM Do YYYY"),
            "Tuesday, March 5th 2024"
        );
        assert_eq!(format_moment(&d, "ddd MMM DDDD Q"), "Tue Mar 065 1");
        assert_eq!(format_moment(&d, "[Year] YYYY"), "Year 2024");
        assert_eq!(format_moment(&d, "x"), d.timestamp_millis().to_string());
        assert_eq!(format_moment(&d, "X"), d.timestamp().to_string());
        assert_eq!(format_moment(&d, "LL"), "March 5, 2024");
        assert_eq!(format_moment(&d, "L LT"), "03/05/2024 2:07 PM");
        assert_eq!(format_moment(&d, "[ok"), "[ok");
        assert_eq!(format_moment(&d, "HH:mm:ss.SSSZ"), "14:07:09.000+00:00");
    }

    #[test]
    fn moment_parsing() {
        assert_eq!(
            parse_with_format("05/03/2024", "DD/MM/YYYY", 2000),
            Some(utc(2024, 3, 5, 0, 0, 0))
        );
        assert_eq!(
            parse_with_format("2024-3-5 2:07 PM", "YYYY-M-D h:mm A", 2000),
            Some(utc(2024, 3, 5, 14, 7, 0))
        );
        assert_eq!(
            parse_with_format("March 5th, 2024", "MMMM Do, YYYY", 2000),
            Some(utc(2024, 3, 5, 0, 0, 0))
        );
        assert_eq!(
            parse_with_format("5 Mar", "D MMM", 2030),
            Some(utc(2030, 3, 5, 0, 0, 0))
        );
        assert_eq!(
            parse_with_format("1709647629", "X", 2000),
            Some(utc(2024, 3, 5, 14, 7, 9))
        );
        assert_eq!(
            parse_with_format("2024-03-05T14:07:09+01:00", "YYYY-MM-DDTHH:mm:ssZ", 2000),
            Some(utc(2024, 3, 5, 13, 7, 9))
        );
        assert_eq!(
            parse_with_format("99-1-1", "YY-M-D", 2000),
            Some(utc(1999, 1, 1, 0, 0, 0))
        );
        assert_eq!(parse_with_format("2024-13-01", "YYYY-MM-DD", 2000), None);
        assert_eq!(parse_with_format("abc", "YYYY", 2000), None);
        assert_eq!(
            parse_with_format("", "", 2000),
            Some(utc(2000, 1, 1, 0, 0, 0))
        );
    }
}
