//! The operators: arithmetic, `&`, and comparisons.
//!
//! Comparison rules (Airtable documents none of this; these follow its JavaScript
//! heritage and the idioms clients rely on):
//! - an error on either side makes the result that error;
//! - arrays (multi-selects, links, lookups) compare as their `", "`-joined text;
//! - blank equals blank, `""`, `0` and `FALSE()`, so `{F}=''` and `{F}=0` both find
//!   empty cells (and `0=''` is true, as in JavaScript);
//! - numbers and booleans compare numerically; text that looks like a number compares
//!   numerically against a number, other text compares as text against the number's
//!   printed form;
//! - text compares to text case-sensitively, by code point;
//! - dates compare as instants; text compared to a date is parsed as a date (falling back
//!   to comparing against the date's ISO text); a date is never equal to, less or greater
//!   than a blank, number or boolean.

use std::cmp::Ordering;

use super::ast::BinaryOp;
use super::datetime;
use super::value::{FormulaValue, MAX_TEXT_BYTES, format_number, parse_number_text};

/// Applies a binary operator to two evaluated operands.
pub(crate) fn binary(op: BinaryOp, a: &FormulaValue, b: &FormulaValue) -> FormulaValue {
    if let Some(e) = a.find_error().or_else(|| b.find_error()) {
        return e.clone();
    }
    match op {
        BinaryOp::Add => FormulaValue::Number(a.to_number() + b.to_number()),
        BinaryOp::Sub => FormulaValue::Number(a.to_number() - b.to_number()),
        BinaryOp::Mul => FormulaValue::Number(a.to_number() * b.to_number()),
        BinaryOp::Div => {
            let divisor = b.to_number();
            if divisor == 0.0 {
                FormulaValue::error()
            } else {
                FormulaValue::Number(a.to_number() / divisor)
            }
        }
        BinaryOp::Concat => {
            let (x, y) = (a.to_text(), b.to_text());
            if x.len().saturating_add(y.len()) > MAX_TEXT_BYTES {
                return FormulaValue::error();
            }
            FormulaValue::Text(x + &y)
        }
        BinaryOp::Eq => FormulaValue::Bool(compare(a, b) == Some(Ordering::Equal)),
        BinaryOp::NotEq => FormulaValue::Bool(compare(a, b) != Some(Ordering::Equal)),
        BinaryOp::Lt => FormulaValue::Bool(compare(a, b) == Some(Ordering::Less)),
        BinaryOp::Gt => FormulaValue::Bool(compare(a, b) == Some(Ordering::Greater)),
        BinaryOp::LtEq => FormulaValue::Bool(matches!(
            compare(a, b),
            Some(Ordering::Less | Ordering::Equal)
        )),
        BinaryOp::GtEq => FormulaValue::Bool(matches!(
            compare(a, b),
            Some(Ordering::Greater | Ordering::Equal)
        )),
    }
}

/// `a = b` by the rules above (used by `=` and `SWITCH`).
pub(crate) fn equals(a: &FormulaValue, b: &FormulaValue) -> bool {
    compare(a, b) == Some(Ordering::Equal)
}

/// Orders two values; `None` means they are incomparable (every comparison but `!=`
/// is false).
pub(crate) fn compare(a: &FormulaValue, b: &FormulaValue) -> Option<Ordering> {
    use FormulaValue as V;
    let a = flatten(a);
    let b = flatten(b);
    match (&a, &b) {
        (V::Error(_), _) | (_, V::Error(_)) => None,
        (V::Blank, V::Blank) => Some(Ordering::Equal),
        (V::Date(x), V::Date(y)) => Some(x.cmp(y)),
        (V::Date(d), V::Text(s)) => compare_date_text(d, s),
        (V::Text(s), V::Date(d)) => compare_date_text(d, s).map(Ordering::reverse),
        (V::Date(_), _) | (_, V::Date(_)) => None,
        (V::Blank, V::Text(s)) => Some(str::cmp("", s)),
        (V::Text(s), V::Blank) => Some(s.as_str().cmp("")),
        (V::Text(x), V::Text(y)) => Some(x.cmp(y)),
        (V::Text(s), other) => compare_number_text(other.to_number(), s).map(Ordering::reverse),
        (other, V::Text(s)) => compare_number_text(other.to_number(), s),
        // Both are now blank, number or boolean.
        (x, y) => x.to_number().partial_cmp(&y.to_number()),
    }
}

/// Arrays compare as their joined text.
fn flatten(v: &FormulaValue) -> FormulaValue {
    match v {
        FormulaValue::Array(_) => FormulaValue::Text(v.to_text()),
        other => other.clone(),
    }
}

fn compare_date_text(d: &chrono::DateTime<chrono::Utc>, s: &str) -> Option<Ordering> {
    if s.trim().is_empty() {
        return None;
    }
    match datetime::parse_flexible(s) {
        Some(parsed) => Some(d.cmp(&parsed)),
        None => Some(datetime::iso(d).as_str().cmp(s)),
    }
}

fn compare_number_text(n: f64, s: &str) -> Option<Ordering> {
    if s.trim().is_empty() {
        return n.partial_cmp(&0.0);
    }
    match parse_number_text(s) {
        Some(parsed) => n.partial_cmp(&parsed),
        None => Some(format_number(n).as_str().cmp(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn t(s: &str) -> FormulaValue {
        FormulaValue::Text(s.into())
    }

    fn n(v: f64) -> FormulaValue {
        FormulaValue::Number(v)
    }

    fn eq(a: &FormulaValue, b: &FormulaValue) -> bool {
        binary(BinaryOp::Eq, a, b) == FormulaValue::Bool(true)
    }

    #[test]
    fn arithmetic() {
        assert_eq!(binary(BinaryOp::Add, &n(1.0), &n(2.0)), n(3.0));
        assert_eq!(binary(BinaryOp::Sub, &n(1.0), &FormulaValue::Blank), n(1.0));
        assert_eq!(binary(BinaryOp::Mul, &t("3"), &n(2.0)), n(6.0));
        assert_eq!(binary(BinaryOp::Div, &n(1.0), &n(4.0)), n(0.25));
        assert_eq!(
            binary(BinaryOp::Div, &n(1.0), &n(0.0)),
            FormulaValue::error()
        );
        assert_eq!(
            binary(BinaryOp::Div, &n(1.0), &FormulaValue::Blank),
            FormulaValue::error()
        );
        let nan = binary(BinaryOp::Add, &t("abc"), &n(1.0));
        assert!(matches!(nan, FormulaValue::Number(x) if x.is_nan()));
        assert_eq!(
            binary(BinaryOp::Add, &FormulaValue::error(), &n(1.0)),
            FormulaValue::error()
        );
        assert_eq!(
            binary(BinaryOp::Add, &FormulaValue::Bool(true), &n(1.0)),
            n(2.0)
        );
    }

    #[test]
    fn concatenation() {
        assert_eq!(binary(BinaryOp::Concat, &t("a"), &n(1.0)), t("a1"));
        assert_eq!(
            binary(BinaryOp::Concat, &FormulaValue::Blank, &FormulaValue::Blank),
            t("")
        );
        assert_eq!(
            binary(BinaryOp::Concat, &t("x"), &FormulaValue::error()),
            FormulaValue::error()
        );
        let big = t(&"x".repeat(MAX_TEXT_BYTES));
        assert_eq!(binary(BinaryOp::Concat, &big, &t("")), big);
        assert_eq!(
            binary(BinaryOp::Concat, &big, &t("y")),
            FormulaValue::error()
        );
    }

    #[test]
    fn blank_comparisons() {
        let blank = FormulaValue::Blank;
        assert!(eq(&blank, &t("")));
        assert!(eq(&t(""), &blank));
        assert!(eq(&blank, &n(0.0)));
        assert!(eq(&blank, &FormulaValue::Bool(false)));
        assert!(eq(&blank, &blank));
        assert!(!eq(&blank, &t("x")));
        assert!(!eq(&blank, &n(1.0)));
        assert!(eq(&n(0.0), &t("")));
        assert!(eq(&FormulaValue::Array(vec![]), &t("")));
        assert_eq!(
            binary(BinaryOp::Lt, &blank, &n(1.0)),
            FormulaValue::Bool(true)
        );
    }

    #[test]
    fn text_and_number_comparisons() {
        assert!(eq(&t("Jane"), &t("Jane")));
        assert!(!eq(&t("Jane"), &t("jane")));
        assert!(eq(&t("30"), &n(30.0)));
        assert!(eq(&n(30.0), &t(" 30.0 ")));
        assert!(!eq(&n(30.0), &t("thirty")));
        assert_eq!(
            binary(BinaryOp::Lt, &t("abc"), &t("abd")),
            FormulaValue::Bool(true)
        );
        assert_eq!(
            binary(BinaryOp::Gt, &n(10.0), &t("9")),
            FormulaValue::Bool(true)
        );
        assert_eq!(
            binary(BinaryOp::GtEq, &n(30.0), &n(30.0)),
            FormulaValue::Bool(true)
        );
        assert_eq!(
            binary(BinaryOp::LtEq, &n(31.0), &n(30.0)),
            FormulaValue::Bool(false)
        );
        assert_eq!(
            binary(BinaryOp::NotEq, &n(1.0), &n(2.0)),
            FormulaValue::Bool(true)
        );
        assert!(eq(&FormulaValue::Bool(true), &n(1.0)));
        let nan = n(f64::NAN);
        assert!(!eq(&nan, &nan));
        assert_eq!(
            binary(BinaryOp::NotEq, &nan, &nan),
            FormulaValue::Bool(true)
        );
    }

    #[test]
    fn array_comparisons() {
        let tags = FormulaValue::Array(vec![t("a"), t("b")]);
        assert!(eq(&tags, &t("a, b")));
        assert!(!eq(&tags, &t("a")));
        let single = FormulaValue::Array(vec![n(5.0)]);
        assert!(eq(&single, &n(5.0)));
    }

    #[test]
    fn date_comparisons() {
        let d = FormulaValue::Date(Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).single().unwrap());
        let later = FormulaValue::Date(Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).single().unwrap());
        assert!(eq(&d, &t("2024-01-01")));
        assert!(eq(&t("2024-01-01T00:00:00.000Z"), &d));
        assert_eq!(binary(BinaryOp::Lt, &d, &later), FormulaValue::Bool(true));
        assert_eq!(
            binary(BinaryOp::Gt, &t("2025-01-01"), &d),
            FormulaValue::Bool(true)
        );
        assert!(!eq(&d, &FormulaValue::Blank));
        assert!(!eq(&d, &t("")));
        assert_eq!(
            binary(BinaryOp::NotEq, &d, &t("")),
            FormulaValue::Bool(true)
        );
        assert!(!eq(&d, &n(0.0)));
        assert!(!eq(&d, &t("not a date")));
    }
}
