//! Walks an expression tree against a record.
//!
//! `IF` and `SWITCH` evaluate only the branch they choose (so `IF(x, 1/0, 1)` is fine
//! when `x` is false); every other function receives its evaluated arguments.
//! Recursion is bounded by the parser's depth limit.

use super::RecordContext;
use super::ast::Expr;
use super::functions;
use super::ops;
use super::value::FormulaValue;

pub(crate) fn eval(expr: &Expr, record: &dyn RecordContext) -> FormulaValue {
    match expr {
        Expr::Number(n) => FormulaValue::Number(*n),
        Expr::Text(s) => FormulaValue::Text(s.clone()),
        // A field the table does not have is an error; callers are expected to reject
        // such formulas up front with `referenced_fields`.
        Expr::Field(name) => record.field(name).unwrap_or_else(FormulaValue::error),
        Expr::Negate(inner) => match eval(inner, record) {
            e @ FormulaValue::Error(_) => e,
            v => FormulaValue::Number(-v.to_number()),
        },
        Expr::Binary(op, left, right) => {
            let a = eval(left, record);
            let b = eval(right, record);
            ops::binary(*op, &a, &b)
        }
        Expr::Call("IF", args) => eval_if(args, record),
        Expr::Call("SWITCH", args) => eval_switch(args, record),
        Expr::Call(name, args) => {
            let values: Vec<FormulaValue> = args.iter().map(|a| eval(a, record)).collect();
            functions::call(name, &values, record)
        }
    }
}

fn eval_if(args: &[Expr], record: &dyn RecordContext) -> FormulaValue {
    let Some(condition) = args.first() else {
        return FormulaValue::error();
    };
    let branch = match eval(condition, record) {
        e @ FormulaValue::Error(_) => return e,
        c if c.is_truthy() => args.get(1),
        _ => args.get(2),
    };
    branch.map_or(FormulaValue::Blank, |b| eval(b, record))
}

/// `SWITCH(expr, pattern1, result1, ..., [default])`: patterns match with `=` semantics.
fn eval_switch(args: &[Expr], record: &dyn RecordContext) -> FormulaValue {
    let Some((subject, rest)) = args.split_first() else {
        return FormulaValue::error();
    };
    let subject = eval(subject, record);
    if let FormulaValue::Error(_) = subject {
        return subject;
    }
    let mut pairs = rest.chunks_exact(2);
    for pair in pairs.by_ref() {
        if let [pattern, result] = pair
            && ops::equals(&subject, &eval(pattern, record))
        {
            return eval(result, record);
        }
    }
    match pairs.remainder() {
        [default] => eval(default, record),
        _ => FormulaValue::Blank,
    }
}
