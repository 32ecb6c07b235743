//! ABS, ROUND, ROUNDUP, ROUNDDOWN, INT, MOD, CEILING, FLOOR, MIN, MAX, SUM, AVERAGE,
//! COUNT, COUNTA, COUNTALL.
//!
//! Arguments read as numbers through the usual coercion, so non-numeric text gives
//! `NaN`, which a filter treats as false. Aggregates open up arrays (lookups).

use super::super::value::{FormulaValue, parse_number_text};
use super::flatten;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Rounding {
    /// Nearest, ties toward +infinity (Airtable's documented ROUND).
    HalfUp,
    /// Away from zero.
    Up,
    /// Toward zero.
    Down,
}

pub(super) fn call(name: &str, args: &[FormulaValue]) -> Option<FormulaValue> {
    let num = |i: usize| args.get(i).map_or(f64::NAN, FormulaValue::to_number);
    let places = || args.get(1).map_or(0.0, FormulaValue::to_number);
    let n = match name {
        "ABS" => num(0).abs(),
        "INT" => num(0).floor(),
        "MOD" => {
            let divisor = num(1);
            if divisor == 0.0 {
                return Some(FormulaValue::error());
            }
            // JavaScript's `%`: the result takes the sign of the dividend.
            tidy(num(0) % divisor)
        }
        "ROUND" => round(num(0), places(), Rounding::HalfUp),
        "ROUNDUP" => round(num(0), places(), Rounding::Up),
        "ROUNDDOWN" => round(num(0), places(), Rounding::Down),
        "CEILING" => to_multiple(num(0), args.get(1), f64::ceil),
        "FLOOR" => to_multiple(num(0), args.get(1), f64::floor),
        "MIN" => numbers(args).into_iter().reduce(f64::min).unwrap_or(0.0),
        "MAX" => numbers(args).into_iter().reduce(f64::max).unwrap_or(0.0),
        "SUM" => numbers(args).into_iter().sum(),
        "AVERAGE" => {
            let values = numbers(args);
            if values.is_empty() {
                return Some(FormulaValue::error());
            }
            values.iter().sum::<f64>() / values.len() as f64
        }
        "COUNT" => count(args, |v| matches!(v, FormulaValue::Number(_))),
        "COUNTA" => count(args, |v| {
            !matches!(v, FormulaValue::Blank) && *v != FormulaValue::Text(String::new())
        }),
        "COUNTALL" => count(args, |_| true),
        _ => return None,
    };
    Some(FormulaValue::Number(n))
}

/// The numeric items among the arguments: numbers, booleans and numeric text.
/// Blanks, dates and other text are skipped, as spreadsheets do.
fn numbers(args: &[FormulaValue]) -> Vec<f64> {
    flatten(args)
        .into_iter()
        .filter_map(|v| match v {
            FormulaValue::Number(n) => Some(*n),
            FormulaValue::Bool(b) => Some(f64::from(u8::from(*b))),
            FormulaValue::Text(s) => parse_number_text(s),
            _ => None,
        })
        .collect()
}

fn count(args: &[FormulaValue], keep: impl Fn(&FormulaValue) -> bool) -> f64 {
    flatten(args).into_iter().filter(|v| keep(v)).count() as f64
}

/// Rounds to `places` decimal places (negative places round to tens, hundreds, ...).
///
/// Works on the shortest decimal form of the number rather than on binary floats, so
/// `ROUND(1.005, 2)` is 1.01 as a person would expect, not 1.00.
fn round(value: f64, places: f64, mode: Rounding) -> f64 {
    if places.is_nan() {
        return f64::NAN;
    }
    if !value.is_finite() {
        return value;
    }
    // Beyond ±400 places every finite double is already exact (or rounds to zero).
    let places = places.trunc().clamp(-400.0, 400.0) as i32;
    let scientific = format!("{:e}", value.abs());
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return value;
    };
    let Ok(exponent) = exponent.parse::<i32>() else {
        return value;
    };
    // value = 0.DIGITS × 10^(exponent + 1)
    let digits: Vec<u8> = mantissa
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect();
    let keep = exponent + 1 + places;
    let Ok(keep_len) = usize::try_from(keep.max(0)) else {
        return value;
    };
    if keep_len >= digits.len() {
        return value;
    }
    let (kept, dropped) = digits.split_at(keep_len);
    let mut kept: u64 = kept.iter().fold(0, |acc, d| acc * 10 + u64::from(*d));
    let nonzero_dropped = dropped.iter().any(|d| *d != 0);
    let increment = match mode {
        Rounding::Down => false,
        Rounding::Up => nonzero_dropped,
        Rounding::HalfUp => {
            // `keep < 0` means every dropped digit is below the first rounding position.
            let first = if keep < 0 {
                0
            } else {
                dropped.first().copied().unwrap_or(0)
            };
            let exact_half = first == 5 && dropped.iter().skip(1).all(|d| *d == 0);
            let positive = value > 0.0;
            first > 5 || (first == 5 && (!exact_half || positive))
        }
    };
    if increment {
        kept += 1;
    }
    let magnitude: f64 = format!("{kept}e{}", -places).parse().unwrap_or(f64::NAN);
    if value < 0.0 { -magnitude } else { magnitude }
}

/// `CEILING`/`FLOOR(value, [significance])`: the multiple of `significance` (default 1)
/// reached by `direction`. A zero significance gives 0.
fn to_multiple(value: f64, significance: Option<&FormulaValue>, direction: fn(f64) -> f64) -> f64 {
    let significance = significance.map_or(1.0, FormulaValue::to_number);
    if significance == 0.0 {
        return 0.0;
    }
    let quotient = value / significance;
    // Undo binary noise such as 0.3 / 0.1 = 2.9999999999999996 before rounding.
    let nearest = quotient.round();
    let tolerance = (quotient.abs().max(1.0) * 1e-12).min(1e-9);
    let quotient = if (quotient - nearest).abs() <= tolerance {
        nearest
    } else {
        quotient
    };
    tidy(direction(quotient) * significance)
}

/// Drops float noise in the last digit (3 × 0.1 = 0.30000000000000004 becomes 0.3) by
/// rounding to 15 significant digits.
fn tidy(n: f64) -> f64 {
    if !n.is_finite() {
        return n;
    }
    format!("{n:.14e}").parse().unwrap_or(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formula::testing::{TestRecord, num, run, run_on, text};

    fn is_nan(v: FormulaValue) -> bool {
        matches!(v, FormulaValue::Number(n) if n.is_nan())
    }

    #[test]
    fn basic() {
        assert_eq!(run("ABS(-3.5)"), num(3.5));
        assert_eq!(run("INT(2.7)"), num(2.0));
        assert_eq!(run("INT(-2.3)"), num(-3.0));
        assert_eq!(run("MOD(7, 3)"), num(1.0));
        assert_eq!(run("MOD(-7, 3)"), num(-1.0));
        assert_eq!(run("MOD(5.5, 1)"), num(0.5));
        assert_eq!(run("MOD(1, 0)"), FormulaValue::error());
        assert!(is_nan(run("ABS('abc')")));
    }

    #[test]
    fn rounding() {
        assert_eq!(run("ROUND(2.5, 0)"), num(3.0));
        assert_eq!(run("ROUND(-2.5, 0)"), num(-2.0));
        assert_eq!(run("ROUND(-2.51, 0)"), num(-3.0));
        assert_eq!(run("ROUND(1.005, 2)"), num(1.01));
        assert_eq!(run("ROUND(1234.5678, -2)"), num(1200.0));
        assert_eq!(run("ROUND(1.4)"), num(1.0));
        assert_eq!(run("ROUND(0.0004, 2)"), num(0.0));
        assert_eq!(run("ROUND(0.004, 2)"), num(0.0));
        assert_eq!(run("ROUND(0.005, 2)"), num(0.01));
        assert_eq!(run("ROUND(4, 2)"), num(4.0));
        assert_eq!(run("ROUND(999.5, 0)"), num(1000.0));
        assert_eq!(run("ROUNDUP(1.21, 1)"), num(1.3));
        assert_eq!(run("ROUNDUP(-1.21, 1)"), num(-1.3));
        assert_eq!(run("ROUNDUP(0.0001, 2)"), num(0.01));
        assert_eq!(run("ROUNDDOWN(1.29, 1)"), num(1.2));
        assert_eq!(run("ROUNDDOWN(-1.29, 1)"), num(-1.2));
        assert_eq!(run("ROUND(1e300, 2)"), num(1e300));
        assert_eq!(run("ROUND(5, 1e300)"), num(5.0));
        assert_eq!(run("ROUND(5, -1e300)"), num(0.0));
        assert!(is_nan(run("ROUND('x', 1)")));
        assert!(is_nan(run("ROUND(1, 'x')")));
        assert_eq!(round(f64::INFINITY, 0.0, Rounding::HalfUp), f64::INFINITY);
    }

    #[test]
    fn ceiling_and_floor() {
        assert_eq!(run("CEILING(2.1)"), num(3.0));
        assert_eq!(run("CEILING(7, 5)"), num(10.0));
        assert_eq!(run("CEILING(0.3, 0.1)"), num(0.3));
        assert_eq!(run("FLOOR(2.9)"), num(2.0));
        assert_eq!(run("FLOOR(7, 5)"), num(5.0));
        assert_eq!(run("FLOOR(-2.5)"), num(-3.0));
        assert_eq!(run("FLOOR(7, 0)"), num(0.0));
    }

    #[test]
    fn aggregates() {
        assert_eq!(run("SUM(1, 2, 3)"), num(6.0));
        assert_eq!(run("SUM(1, '2', 'x', BLANK(), TRUE())"), num(4.0));
        assert_eq!(run("MIN(3, 1, 2)"), num(1.0));
        assert_eq!(run("MAX(3, 1, 2)"), num(3.0));
        assert_eq!(run("MAX('a')"), num(0.0));
        assert_eq!(run("AVERAGE(1, 2, 3, 4)"), num(2.5));
        assert_eq!(run("AVERAGE('a')"), FormulaValue::error());
        assert_eq!(run("COUNT(1, 'a', BLANK(), 2)"), num(2.0));
        assert_eq!(run("COUNTA(1, 'a', BLANK(), '')"), num(2.0));
        assert_eq!(run("COUNTALL(1, 'a', BLANK(), '')"), num(4.0));
        let r = TestRecord::new().with(
            "Scores",
            FormulaValue::Array(vec![num(10.0), num(20.0), text("x")]),
        );
        assert_eq!(run_on("SUM({Scores})", &r), num(30.0));
        assert_eq!(run_on("MAX({Scores}, 25)", &r), num(25.0));
        assert_eq!(run_on("COUNT({Scores})", &r), num(2.0));
        assert_eq!(run_on("COUNTALL({Scores})", &r), num(3.0));
    }
}
