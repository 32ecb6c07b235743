//! AND, OR, XOR, NOT, IF, SWITCH, BLANK, ERROR, ISERROR, TRUE, FALSE.
//!
//! `IF` and `SWITCH` are normally evaluated lazily by `eval.rs`; the eager versions
//! here only exist so that dispatch is total.

use super::super::ops;
use super::super::value::FormulaValue;

pub(super) fn call(name: &str, args: &[FormulaValue]) -> Option<FormulaValue> {
    let truthy = |i: usize| args.get(i).is_some_and(FormulaValue::is_truthy);
    Some(match name {
        "AND" => FormulaValue::Bool(args.iter().all(FormulaValue::is_truthy)),
        "OR" => FormulaValue::Bool(args.iter().any(FormulaValue::is_truthy)),
        "XOR" => FormulaValue::Bool(args.iter().filter(|a| a.is_truthy()).count() % 2 == 1),
        "NOT" => FormulaValue::Bool(!truthy(0)),
        "IF" => {
            let branch = if truthy(0) { args.get(1) } else { args.get(2) };
            branch.cloned().unwrap_or(FormulaValue::Blank)
        }
        "SWITCH" => switch(args),
        "BLANK" => FormulaValue::Blank,
        "ERROR" => FormulaValue::error(),
        "ISERROR" => FormulaValue::Bool(args.iter().any(|a| a.find_error().is_some())),
        "TRUE" => FormulaValue::Bool(true),
        "FALSE" => FormulaValue::Bool(false),
        _ => return None,
    })
}

fn switch(args: &[FormulaValue]) -> FormulaValue {
    let Some((subject, rest)) = args.split_first() else {
        return FormulaValue::error();
    };
    let mut pairs = rest.chunks_exact(2);
    for pair in pairs.by_ref() {
        if let [pattern, result] = pair
            && ops::equals(subject, pattern)
        {
            return result.clone();
        }
    }
    pairs
        .remainder()
        .first()
        .cloned()
        .unwrap_or(FormulaValue::Blank)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formula::testing::{TestRecord, num, run, run_on, text};

    const T: FormulaValue = FormulaValue::Bool(true);
    const F: FormulaValue = FormulaValue::Bool(false);

    #[test]
    fn boolean_functions() {
        assert_eq!(run("AND(1, 'x', TRUE())"), T);
        assert_eq!(run("AND(1, '')"), F);
        assert_eq!(run("OR(0, '', BLANK(), 2)"), T);
        assert_eq!(run("OR(0, FALSE())"), F);
        assert_eq!(run("XOR(1, 1, 1)"), T);
        assert_eq!(run("XOR(1, 1)"), F);
        assert_eq!(run("NOT(0)"), T);
        assert_eq!(run("NOT('a')"), F);
        assert_eq!(run("TRUE() + TRUE()"), num(2.0));
        assert_eq!(run("FALSE() = 0"), T);
    }

    #[test]
    fn if_is_lazy() {
        assert_eq!(run("IF(1, 'yes', 'no')"), text("yes"));
        assert_eq!(run("IF(0, 'yes', 'no')"), text("no"));
        assert_eq!(run("IF(0, 'yes')"), FormulaValue::Blank);
        assert_eq!(run("IF(0, 1/0, 5)"), num(5.0));
        assert_eq!(run("IF(1/0, 1, 2)"), FormulaValue::error());
    }

    #[test]
    fn switch_matches_with_equals() {
        let r = TestRecord::new().with("Status", text("Done"));
        assert_eq!(
            run_on("SWITCH({Status}, 'Todo', 1, 'Done', 2, 0)", &r),
            num(2.0)
        );
        assert_eq!(run_on("SWITCH({Status}, 'Todo', 1, 0)", &r), num(0.0));
        assert_eq!(
            run_on("SWITCH({Status}, 'Todo', 1)", &r),
            FormulaValue::Blank
        );
        assert_eq!(run_on("SWITCH({Status}, 'x')", &r), text("x"));
        assert_eq!(run("SWITCH(2, 1, 1/0, 2, 'two')"), text("two"));
        assert_eq!(run("SWITCH('', BLANK(), 'empty', 'full')"), text("empty"));
        assert_eq!(switch(&[num(1.0), num(1.0), text("one")]), text("one"));
        assert_eq!(switch(&[]), FormulaValue::error());
    }

    #[test]
    fn errors() {
        assert_eq!(run("ERROR()"), FormulaValue::error());
        assert_eq!(run("ISERROR(ERROR())"), T);
        assert_eq!(run("ISERROR(1/0)"), T);
        assert_eq!(run("ISERROR(1)"), F);
        assert_eq!(run("AND(1, ERROR())"), FormulaValue::error());
        assert!(!run("ERROR()").is_truthy());
        assert_eq!(call("IF", &[num(0.0), num(1.0)]), Some(FormulaValue::Blank));
        assert_eq!(call("NOPE", &[]), None);
    }
}
