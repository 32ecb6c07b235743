//! The function library: which functions exist, how many arguments each takes, and
//! dispatch to the family that implements it.
//!
//! Anything not listed here is rejected at parse time, so `filterByFormula` with an
//! unsupported function fails with 422 instead of silently matching nothing.

mod date;
mod logic;
mod number;
mod record;
mod regex;
mod text;

use super::RecordContext;
use super::value::FormulaValue;

/// A function's canonical name and arity.
#[derive(Debug)]
pub(crate) struct Spec {
    pub name: &'static str,
    pub min: usize,
    /// `None` means any number of further arguments.
    pub max: Option<usize>,
}

const fn spec(name: &'static str, min: usize, max: Option<usize>) -> Spec {
    Spec { name, min, max }
}

const ANY: Option<usize> = None;

/// Every supported function. Optional arguments follow Airtable's function reference.
const SPECS: &[Spec] = &[
    // logic
    spec("AND", 1, ANY),
    spec("OR", 1, ANY),
    spec("XOR", 1, ANY),
    spec("NOT", 1, Some(1)),
    spec("IF", 2, Some(3)),
    spec("SWITCH", 2, ANY),
    spec("BLANK", 0, Some(0)),
    spec("ERROR", 0, Some(0)),
    spec("ISERROR", 1, Some(1)),
    spec("TRUE", 0, Some(0)),
    spec("FALSE", 0, Some(0)),
    // text
    spec("FIND", 2, Some(3)),
    spec("SEARCH", 2, Some(3)),
    spec("LOWER", 1, Some(1)),
    spec("UPPER", 1, Some(1)),
    spec("LEN", 1, Some(1)),
    spec("TRIM", 1, Some(1)),
    spec("LEFT", 2, Some(2)),
    spec("RIGHT", 2, Some(2)),
    spec("MID", 3, Some(3)),
    spec("CONCATENATE", 1, ANY),
    spec("SUBSTITUTE", 3, Some(4)),
    spec("REPLACE", 4, Some(4)),
    spec("REPT", 2, Some(2)),
    spec("T", 1, Some(1)),
    spec("VALUE", 1, Some(1)),
    spec("REGEX_MATCH", 2, Some(2)),
    spec("REGEX_EXTRACT", 2, Some(2)),
    spec("REGEX_REPLACE", 3, Some(3)),
    // numbers
    spec("ABS", 1, Some(1)),
    spec("ROUND", 1, Some(2)),
    spec("ROUNDUP", 1, Some(2)),
    spec("ROUNDDOWN", 1, Some(2)),
    spec("INT", 1, Some(1)),
    spec("MOD", 2, Some(2)),
    spec("CEILING", 1, Some(2)),
    spec("FLOOR", 1, Some(2)),
    spec("MIN", 1, ANY),
    spec("MAX", 1, ANY),
    spec("SUM", 1, ANY),
    spec("AVERAGE", 1, ANY),
    spec("COUNT", 1, ANY),
    spec("COUNTA", 1, ANY),
    spec("COUNTALL", 1, ANY),
    // record
    spec("RECORD_ID", 0, Some(0)),
    spec("CREATED_TIME", 0, Some(0)),
    spec("LAST_MODIFIED_TIME", 0, ANY),
    // dates
    spec("IS_AFTER", 2, Some(2)),
    spec("IS_BEFORE", 2, Some(2)),
    spec("IS_SAME", 2, Some(3)),
    spec("DATETIME_PARSE", 1, Some(3)),
    spec("DATEADD", 3, Some(3)),
    spec("DATETIME_DIFF", 2, Some(3)),
    spec("DATESTR", 1, Some(1)),
    spec("DATETIME_FORMAT", 1, Some(2)),
    spec("TODAY", 0, Some(0)),
    spec("NOW", 0, Some(0)),
    spec("WEEKDAY", 1, Some(2)),
    spec("YEAR", 1, Some(1)),
    spec("MONTH", 1, Some(1)),
    spec("DAY", 1, Some(1)),
];

/// Finds a function by name, case-insensitively.
pub(crate) fn lookup(name: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

/// Calls a function on evaluated arguments. The parser has already checked the name
/// and arity; an error argument makes the result that error, except for `ISERROR`.
pub(crate) fn call(name: &str, args: &[FormulaValue], record: &dyn RecordContext) -> FormulaValue {
    if name != "ISERROR"
        && let Some(e) = args.iter().find_map(FormulaValue::find_error)
    {
        return e.clone();
    }
    logic::call(name, args)
        .or_else(|| text::call(name, args))
        .or_else(|| regex::call(name, args))
        .or_else(|| number::call(name, args))
        .or_else(|| record::call(name, args, record))
        .or_else(|| date::call(name, args, record))
        .unwrap_or_else(FormulaValue::error)
}

/// All values with arrays opened up (aggregate functions treat `SUM({Lookup}, 1)` as a list).
fn flatten(args: &[FormulaValue]) -> Vec<&FormulaValue> {
    let mut out = Vec::new();
    for arg in args {
        match arg {
            FormulaValue::Array(items) => out.extend(flatten(items)),
            other => out.push(other),
        }
    }
    out
}

/// A count or position argument: a finite, non-negative number, rounded down.
/// Anything else (text, `NaN`, negatives) is an error, as in spreadsheets.
fn count_arg(value: Option<&FormulaValue>) -> Result<usize, FormulaValue> {
    let n = value.map_or(f64::NAN, FormulaValue::to_number);
    if n.is_finite() && n >= 0.0 {
        // `as` saturates for values beyond usize::MAX.
        Ok(n.floor() as usize)
    } else {
        Err(FormulaValue::error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formula::testing::TestRecord;

    #[test]
    fn every_spec_is_implemented() {
        let record = TestRecord::new();
        // Feed each function its minimum number of plausible arguments: a dispatch miss
        // would show up as the generic error for every input, so try two argument kinds.
        for s in SPECS {
            if s.name == "ERROR" {
                continue;
            }
            let date = FormulaValue::Text("2024-01-01".into());
            let handled = [date.clone(), FormulaValue::Number(1.0)].iter().any(|arg| {
                let mut args = vec![arg.clone(); s.min];
                if matches!(s.name, "DATEADD" | "DATETIME_DIFF" | "IS_SAME") {
                    args = vec![
                        date.clone(),
                        date.clone(),
                        FormulaValue::Text("days".into()),
                    ];
                    if s.name == "DATEADD" {
                        args[1] = FormulaValue::Number(1.0);
                    }
                }
                !matches!(call(s.name, &args, &record), FormulaValue::Error(_))
            });
            assert!(handled, "{} is not dispatched", s.name);
        }
    }

    #[test]
    fn lookup_is_case_insensitive() {
        assert_eq!(
            lookup("datetime_parse").map(|s| s.name),
            Some("DATETIME_PARSE")
        );
        assert_eq!(lookup("Find").map(|s| s.name), Some("FIND"));
        assert!(lookup("NOPE").is_none());
    }

    #[test]
    fn errors_propagate_except_into_iserror() {
        let record = TestRecord::new();
        let err = [FormulaValue::error()];
        assert_eq!(call("LOWER", &err, &record), FormulaValue::error());
        assert_eq!(call("ISERROR", &err, &record), FormulaValue::Bool(true));
        let nested = [FormulaValue::Array(vec![FormulaValue::error()])];
        assert_eq!(call("SUM", &nested, &record), FormulaValue::error());
    }
}
