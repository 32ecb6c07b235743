//! FIND, SEARCH, LOWER, UPPER, LEN, TRIM, LEFT, RIGHT, MID, CONCATENATE, SUBSTITUTE,
//! REPLACE, REPT, T, VALUE.
//!
//! Positions and lengths count characters (not bytes), and every argument reads as
//! text through the usual coercion (arrays join with `", "`).

use super::super::value::{FormulaValue, MAX_TEXT_BYTES, parse_number_text};
use super::count_arg;

pub(super) fn call(name: &str, args: &[FormulaValue]) -> Option<FormulaValue> {
    let text = |i: usize| args.get(i).map(FormulaValue::to_text).unwrap_or_default();
    Some(match name {
        "FIND" => find(&text(0), &text(1), args.get(2), FormulaValue::Number(0.0)),
        "SEARCH" => find(&text(0), &text(1), args.get(2), FormulaValue::Blank),
        "LOWER" => FormulaValue::bounded_text(text(0).to_lowercase()),
        "UPPER" => FormulaValue::bounded_text(text(0).to_uppercase()),
        "LEN" => FormulaValue::Number(text(0).chars().count() as f64),
        "TRIM" => FormulaValue::Text(text(0).trim().to_string()),
        "LEFT" => with_counts(&[args.get(1)], |[n]| text(0).chars().take(n).collect()),
        "RIGHT" => with_counts(&[args.get(1)], |[n]| {
            let s = text(0);
            let skip = s.chars().count().saturating_sub(n);
            s.chars().skip(skip).collect()
        }),
        // MID's start is 1-based; 0 is read as 1.
        "MID" => with_counts(&[args.get(1), args.get(2)], |[start, n]| {
            text(0)
                .chars()
                .skip(start.saturating_sub(1))
                .take(n)
                .collect()
        }),
        "CONCATENATE" => concatenate(args),
        "SUBSTITUTE" => substitute(&text(0), &text(1), &text(2), args.get(3)),
        "REPLACE" if text(0).len() + text(3).len() > MAX_TEXT_BYTES => FormulaValue::error(),
        "REPLACE" => with_counts(&[args.get(1), args.get(2)], |[start, n]| {
            let s = text(0);
            let start = start.saturating_sub(1);
            let mut out: String = s.chars().take(start).collect();
            out.push_str(&text(3));
            out.extend(s.chars().skip(start.saturating_add(n)));
            out
        }),
        "REPT" => rept(&text(0), args.get(1)),
        "T" => match args.first() {
            Some(FormulaValue::Text(s)) => FormulaValue::Text(s.clone()),
            _ => FormulaValue::Blank,
        },
        "VALUE" => value(args.first()),
        _ => return None,
    })
}

fn concatenate(args: &[FormulaValue]) -> FormulaValue {
    let mut out = String::new();
    for arg in args {
        let piece = arg.to_text();
        if out.len().saturating_add(piece.len()) > MAX_TEXT_BYTES {
            return FormulaValue::error();
        }
        out.push_str(&piece);
    }
    FormulaValue::Text(out)
}

/// Runs `f` on count arguments, or returns the error for the first bad one.
fn with_counts<const N: usize>(
    raw: &[Option<&FormulaValue>; N],
    f: impl FnOnce([usize; N]) -> String,
) -> FormulaValue {
    let mut counts = [0usize; N];
    for (slot, value) in counts.iter_mut().zip(raw) {
        match count_arg(*value) {
            Ok(n) => *slot = n,
            Err(e) => return e,
        }
    }
    FormulaValue::Text(f(counts))
}

/// `FIND`/`SEARCH(needle, haystack, [start])`: the 1-based position of the first match
/// at or after the 0-based character `start`, else `not_found` (0 for FIND, blank for
/// SEARCH). Like JavaScript's `indexOf`, an empty needle matches at `start`.
///
/// Both are case-sensitive: Airtable's function list describes them identically apart
/// from the not-found result, and SEARCH's case handling is unconfirmed.
fn find(
    needle: &str,
    haystack: &str,
    start: Option<&FormulaValue>,
    not_found: FormulaValue,
) -> FormulaValue {
    let start = start.map_or(0.0, FormulaValue::to_number);
    let start = if start.is_finite() && start > 0.0 {
        start.floor() as usize
    } else {
        0
    };
    if start > haystack.chars().count() {
        return not_found;
    }
    let byte_start = haystack
        .char_indices()
        .nth(start)
        .map_or(haystack.len(), |(b, _)| b);
    let found = haystack
        .get(byte_start..)
        .and_then(|rest| rest.find(needle))
        .and_then(|offset| haystack.get(..byte_start + offset));
    match found {
        Some(before) => FormulaValue::Number((before.chars().count() + 1) as f64),
        None => not_found,
    }
}

/// `SUBSTITUTE(text, old, new, [index])`: replaces every occurrence, or only the
/// `index`-th (1-based) when given. An empty `old` changes nothing.
fn substitute(s: &str, old: &str, new: &str, index: Option<&FormulaValue>) -> FormulaValue {
    if old.is_empty() {
        return FormulaValue::Text(s.to_string());
    }
    let Some(index) = index else {
        let growth = new.len().saturating_sub(old.len());
        let longest = s
            .matches(old)
            .count()
            .saturating_mul(growth)
            .saturating_add(s.len());
        if longest > MAX_TEXT_BYTES {
            return FormulaValue::error();
        }
        return FormulaValue::Text(s.replace(old, new));
    };
    let n = match count_arg(Some(index)) {
        Ok(n) if n >= 1 => n,
        _ => return FormulaValue::error(),
    };
    let replaced = s.match_indices(old).nth(n - 1).and_then(|(at, _)| {
        let before = s.get(..at)?;
        let after = s.get(at + old.len()..)?;
        Some(format!("{before}{new}{after}"))
    });
    FormulaValue::bounded_text(replaced.unwrap_or_else(|| s.to_string()))
}

fn rept(s: &str, times: Option<&FormulaValue>) -> FormulaValue {
    match count_arg(times) {
        Ok(n) if s.len().saturating_mul(n) <= MAX_TEXT_BYTES => FormulaValue::Text(s.repeat(n)),
        _ => FormulaValue::error(),
    }
}

/// `VALUE(text)`: the number in the text. Beyond plain numbers it strips thousands
/// separators, currency symbols and spaces, and reads a trailing `%` as hundredths
/// (Airtable documents that "some exceptions apply"). Empty text is blank; anything
/// else is an error.
fn value(arg: Option<&FormulaValue>) -> FormulaValue {
    let s = match arg {
        None | Some(FormulaValue::Blank) => return FormulaValue::Blank,
        Some(FormulaValue::Number(n)) => return FormulaValue::Number(*n),
        Some(FormulaValue::Bool(b)) => return FormulaValue::Number(f64::from(u8::from(*b))),
        Some(other) => other.to_text(),
    };
    let trimmed = s.trim();
    if trimmed.is_empty() {
        return FormulaValue::Blank;
    }
    if let Some(n) = parse_number_text(trimmed) {
        return FormulaValue::Number(n);
    }
    let (body, scale) = match trimmed.strip_suffix('%') {
        Some(body) => (body, 0.01),
        None => (trimmed, 1.0),
    };
    let cleaned: String = body
        .chars()
        .filter(|c| !matches!(c, ',' | '$' | '€' | '£' | '¥' | ' '))
        .collect();
    parse_number_text(&cleaned)
        .map_or_else(FormulaValue::error, |n| FormulaValue::Number(n * scale))
}

#[cfg(test)]
mod tests {
    use crate::formula::FormulaValue;
    use crate::formula::testing::{TestRecord, num, run, run_on, text};

    #[test]
    fn find_and_search() {
        assert_eq!(run("FIND('fox', 'quick brown fox')"), num(13.0));
        assert_eq!(run("FIND('Fox', 'quick brown fox')"), num(0.0));
        assert_eq!(run("SEARCH('cat', 'quick brown fox')"), FormulaValue::Blank);
        assert_eq!(run("SEARCH('fox', 'quick brown fox')"), num(13.0));
        assert_eq!(run("FIND('o', 'foo boo')"), num(2.0));
        assert_eq!(run("FIND('o', 'foo boo', 3)"), num(6.0));
        assert_eq!(run("FIND('o', 'foo', 99)"), num(0.0));
        assert_eq!(run("FIND('', 'abc')"), num(1.0));
        assert_eq!(run("FIND('✓', 'é✓x')"), num(2.0));
        assert_eq!(run("FIND('x', 'é✓x', 1)"), num(3.0));
        assert_eq!(run("FIND('a', BLANK())"), num(0.0));
        let r = TestRecord::new().with("Tags", FormulaValue::Array(vec![text("a"), text("bc")]));
        assert_eq!(run_on("FIND('bc', {Tags})", &r), num(4.0));
    }

    #[test]
    fn case_length_trim() {
        assert_eq!(run("LOWER('ÀbC')"), text("àbc"));
        assert_eq!(run("UPPER('straße')"), text("STRASSE"));
        assert_eq!(run("LEN('héllo')"), num(5.0));
        assert_eq!(run("LEN(BLANK())"), num(0.0));
        assert_eq!(run("LEN(1234)"), num(4.0));
        assert_eq!(run("TRIM('  a b  ')"), text("a b"));
    }

    #[test]
    fn slicing() {
        assert_eq!(run("LEFT('héllo', 2)"), text("hé"));
        assert_eq!(run("LEFT('abc', 10)"), text("abc"));
        assert_eq!(run("RIGHT('héllo', 3)"), text("llo"));
        assert_eq!(run("RIGHT('abc', 10)"), text("abc"));
        assert_eq!(run("MID('abcdef', 2, 3)"), text("bcd"));
        assert_eq!(run("MID('abcdef', 0, 2)"), text("ab"));
        assert_eq!(run("MID('abc', 10, 2)"), text(""));
        assert_eq!(run("LEFT('abc', -1)"), FormulaValue::error());
        assert_eq!(run("LEFT('abc', 'x')"), FormulaValue::error());
        assert_eq!(run("LEFT('abc', 1e300)"), text("abc"));
    }

    #[test]
    fn building_text() {
        assert_eq!(run("CONCATENATE('a', 1, BLANK(), 'b')"), text("a1b"));
        assert_eq!(run("SUBSTITUTE('a-b-c', '-', '+')"), text("a+b+c"));
        assert_eq!(run("SUBSTITUTE('a-b-c', '-', '+', 2)"), text("a-b+c"));
        assert_eq!(run("SUBSTITUTE('a-b-c', '-', '+', 5)"), text("a-b-c"));
        assert_eq!(
            run("SUBSTITUTE('a-b-c', '-', '+', 0)"),
            FormulaValue::error()
        );
        assert_eq!(run("SUBSTITUTE('abc', '', 'x')"), text("abc"));
        assert_eq!(run("REPLACE('abcdef', 2, 3, 'XY')"), text("aXYef"));
        assert_eq!(run("REPLACE('abc', 10, 1, 'Z')"), text("abcZ"));
        assert_eq!(run("REPT('ab', 3)"), text("ababab"));
        assert_eq!(run("REPT('ab', 0)"), text(""));
        assert_eq!(run("REPT('ab', 1e12)"), FormulaValue::error());
        assert_eq!(run("REPT('ab', -1)"), FormulaValue::error());
        // Results beyond the 1 MB cap are errors, not memory exhaustion.
        assert_eq!(run("LEN(REPT('ab', 500000))"), num(1e6));
        assert_eq!(run("REPT('ab', 500000) & 'x'"), FormulaValue::error());
        assert_eq!(
            run("CONCATENATE(REPT('ab', 500000), 'x')"),
            FormulaValue::error()
        );
        assert!(run("SUBSTITUTE(REPT('a', 1000), 'a', REPT('b', 1001))") == FormulaValue::error());
        assert_eq!(
            run("LEN(SUBSTITUTE(REPT('a', 1000), 'a', REPT('b', 1000)))"),
            num(1e6)
        );
        assert_eq!(
            run("SUBSTITUTE(REPT('a', 1000), 'a', 'bb', 3) = 'aabb' & REPT('a', 997)"),
            FormulaValue::Bool(true)
        );
        assert!(run("REPLACE(REPT('a', 999999), 1, 0, 'bb')") == FormulaValue::error());
    }

    #[test]
    fn t_and_value() {
        assert_eq!(run("T('a')"), text("a"));
        assert_eq!(run("T(1)"), FormulaValue::Blank);
        assert_eq!(run("VALUE('42')"), num(42.0));
        assert_eq!(run("VALUE(' -1.5 ')"), num(-1.5));
        assert_eq!(run("VALUE('$1,000')"), num(1000.0));
        assert_eq!(run("VALUE('50%')"), num(0.5));
        assert_eq!(run("VALUE(7)"), num(7.0));
        assert_eq!(run("VALUE('')"), FormulaValue::Blank);
        assert_eq!(run("VALUE('abc')"), FormulaValue::error());
    }
}
