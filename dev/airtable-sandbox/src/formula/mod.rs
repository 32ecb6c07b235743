//! Airtable's formula language, for `filterByFormula` and formula fields in the fake.
//!
//! It covers the subset clients actually send (see `airtable-api.md` §8): field
//! references, string/number literals, `TRUE()`/`FALSE()`, the operators
//! `+ - * / & = != < > <= >=`, and about sixty functions. Anything else is a parse
//! error, so the server can answer 422 `INVALID_FILTER_BY_FORMULA` instead of quietly
//! returning the wrong records.
//!
//! ```text
//! let formula = parse("AND({Name}='Jane\\'s', {Age} >= 30)")?;
//! // reject unknown fields up front: formula.referenced_fields()
//! let keep = formula.evaluate(&record).is_truthy();
//! ```
//!
//! Design notes:
//! - Parsing and evaluation never panic on any input. Nesting is capped at
//!   100 levels (`parser::MAX_DEPTH`), so deep input is an error, not a stack overflow:
//!   the deepest allowed formula needs under 0.5 MB of stack in a debug build, well
//!   inside the 2 MB of a Tokio worker thread (real formulas rarely nest 20 deep).
//! - Evaluation never fails: problems become [`FormulaValue::Error`] (`#ERROR!`), which
//!   a filter treats as false and a formula field returns as `{"error": "#ERROR!"}`.
//! - Where Airtable's behaviour is unconfirmed, the choice is documented on the code
//!   that makes it: coercions in `value.rs`, comparisons in `ops.rs`, functions in
//!   `functions/`. Everything is UTC; there are no time zones or locales.

mod ast;
mod datetime;
mod eval;
mod functions;
mod lexer;
mod ops;
mod parser;
#[cfg(test)]
pub(crate) mod testing;
mod value;

pub use value::{ERROR_CODE, FormulaValue};

/// A parsed formula, ready to evaluate against any number of records.
#[derive(Debug, Clone, PartialEq)]
pub struct Formula {
    expr: ast::Expr,
}

/// Why a formula could not be parsed: a syntax error, an unknown function (message
/// `Unknown function names: X`), a wrong argument count, or too deep nesting.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct FormulaError {
    pub message: String,
}

/// What a formula can ask of the record it runs against.
pub trait RecordContext {
    /// The value of a field by name (case-sensitive) or by field id ("fld..."); None if
    /// no such field exists in the table (as opposed to `Some(FormulaValue::Blank)` for
    /// an empty cell).
    fn field(&self, name_or_id: &str) -> Option<FormulaValue>;
    fn record_id(&self) -> String;
    fn created_time(&self) -> chrono::DateTime<chrono::Utc>;
    fn last_modified_time(&self) -> chrono::DateTime<chrono::Utc>;
    /// The clock for `NOW()`/`TODAY()`; injectable so tests are deterministic.
    fn now(&self) -> chrono::DateTime<chrono::Utc>;
}

/// Parses formula text. Syntax errors, unknown functions and wrong argument counts are
/// errors; unknown *fields* are not (check [`Formula::referenced_fields`]).
pub fn parse(source: &str) -> Result<Formula, FormulaError> {
    parser::parse_expr(source).map(|expr| Formula { expr })
}

impl Formula {
    /// Field names/ids referenced (in order of first appearance, without duplicates), so
    /// the caller can reject unknown fields up front, as Airtable does with
    /// `Unknown field names: x`. Bare words such as `Status` count as field names.
    pub fn referenced_fields(&self) -> Vec<String> {
        let mut fields = Vec::new();
        self.expr.collect_fields(&mut fields);
        fields
    }

    /// Evaluates against one record. Never panics; failures are [`FormulaValue::Error`].
    pub fn evaluate(&self, record: &dyn RecordContext) -> FormulaValue {
        eval::eval(&self.expr, record)
    }
}

impl std::str::FromStr for Formula {
    type Err = FormulaError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{TestRecord, date, num, run, run_on, text};
    use super::*;

    fn people() -> Vec<TestRecord> {
        vec![
            TestRecord::new()
                .with("Name", text("Jane's"))
                .with("Age", num(31.0))
                .with("Notes", FormulaValue::Blank)
                .with("Tags", FormulaValue::Array(vec![text("red"), text("blue")])),
            TestRecord::new()
                .with("Name", text("Bob"))
                .with("Age", num(25.0))
                .with("Notes", text("likes search terms"))
                .with("Tags", FormulaValue::Blank),
        ]
    }

    /// Indexes of the records a filter keeps.
    fn filter(source: &str) -> Vec<usize> {
        let formula = parse(source).unwrap();
        people()
            .iter()
            .enumerate()
            .filter(|(_, r)| formula.evaluate(*r).is_truthy())
            .map(|(i, _)| i)
            .collect()
    }

    #[test]
    fn pyairtable_match_formula() {
        assert_eq!(filter(r"AND({Name}='Jane\'s',{Age}>=30)"), vec![0]);
        assert_eq!(
            filter(r"AND({Name}='Jane\'s', {Age}>=32)"),
            Vec::<usize>::new()
        );
        assert_eq!(filter(r"OR({Name}='Bob', {Age}=31)"), vec![0, 1]);
        assert_eq!(filter("{Age}=25"), vec![1]);
        assert_eq!(filter("Age<30"), vec![1]);
    }

    #[test]
    fn search_formula_by_field_id() {
        // domdomegg's search: OR(FIND("term", {fldX}), ...)
        assert_eq!(
            filter(r#"OR(FIND("search",{fldNotes}),FIND("search",{fldName}))"#),
            vec![1]
        );
        assert_eq!(filter(r#"OR(FIND("blue",{fldTags}))"#), vec![0]);
        assert_eq!(filter(r#"FIND(LOWER("JANE"), LOWER({Name}))"#), vec![0]);
    }

    #[test]
    fn emptiness_idioms() {
        assert_eq!(filter("{Notes}=''"), vec![0]);
        assert_eq!(filter("NOT({Notes}='')"), vec![1]);
        assert_eq!(filter("{Notes}"), vec![1]);
        assert_eq!(filter("{Tags}=BLANK()"), vec![1]);
        assert_eq!(filter("{Tags}!=''"), vec![0]);
        assert_eq!(filter("{Tags}='red, blue'"), vec![0]);
    }

    #[test]
    fn pyairtable_date_literals() {
        let record = TestRecord::new()
            .with("Due", date(2024, 1, 1, 0, 0, 0))
            .with("At", date(2023, 12, 1, 12, 34, 56));
        let keep = |s: &str| run_on(s, &record).is_truthy();
        assert!(keep("{Due}=DATETIME_PARSE('2024-01-01')"));
        assert!(keep("IS_SAME({Due}, DATETIME_PARSE('2024-01-01'), 'day')"));
        assert!(keep("{At}=DATETIME_PARSE('2023-12-01T12:34:56.000Z')"));
        assert!(keep("IS_BEFORE({At}, DATETIME_PARSE('2024-01-01'))"));
        assert!(keep("{Due}='2024-01-01'"));
        assert!(!keep("IS_AFTER({At}, {Due})"));
        assert!(keep("{Due} > {At}"));
    }

    #[test]
    fn referenced_fields_in_order_without_duplicates() {
        let f =
            parse(r"AND({Name}='x', Age>1, {fldABC}, {Name}, {a\}b}, LAST_MODIFIED_TIME({Age}))")
                .unwrap();
        assert_eq!(f.referenced_fields(), vec!["Name", "Age", "fldABC", "a}b"]);
        assert!(parse("1+2").unwrap().referenced_fields().is_empty());
    }

    #[test]
    fn unknown_field_evaluates_to_error() {
        assert_eq!(run("{Missing}"), FormulaValue::error());
        assert!(!run("{Missing}=''").is_truthy());
    }

    #[test]
    fn formula_field_outputs() {
        let record = TestRecord::new()
            .with("Price", num(2.5))
            .with("Qty", num(4.0));
        assert_eq!(
            run_on("{Price}*{Qty}", &record).to_json(),
            Some(serde_json::json!(10))
        );
        assert_eq!(
            run_on("'Total: ' & {Price}*{Qty}", &record).to_json(),
            Some(serde_json::json!("Total: 10"))
        );
        assert_eq!(
            run_on("{Price}/0", &record).to_json(),
            Some(serde_json::json!({"error": "#ERROR!"}))
        );
        assert_eq!(run_on("BLANK()", &record).to_json(), None);
    }

    #[test]
    fn function_names_are_case_insensitive() {
        assert_eq!(run("lower('ABC')"), text("abc"));
        assert_eq!(run("Upper('abc')"), text("ABC"));
        assert_eq!(run("true()"), FormulaValue::Bool(true));
    }

    #[test]
    fn precedence_end_to_end() {
        assert_eq!(run("1 + 2 * 3"), num(7.0));
        assert_eq!(run("(1 + 2) * 3"), num(9.0));
        assert_eq!(run("10 - 4 - 3"), num(3.0));
        assert_eq!(run("12 / 3 / 2"), num(2.0));
        assert_eq!(run("-2 * -3"), num(6.0));
        assert_eq!(run("--2"), num(2.0));
        assert_eq!(run("1 + 2 & 3"), text("33"));
        assert_eq!(run("1 & 2 = 12"), FormulaValue::Bool(true));
        assert_eq!(run("2 * 3 > 5"), FormulaValue::Bool(true));
        assert_eq!(run("1 < 2 = TRUE()"), FormulaValue::Bool(true));
    }

    #[test]
    fn from_str_parses() {
        let f: Result<Formula, _> = "1+1".parse();
        assert!(f.is_ok());
    }

    #[test]
    fn deepest_allowed_formula_fits_a_small_stack() {
        let depth = parser::MAX_DEPTH - 1;
        let sources = [
            format!("{}1{}", "(".repeat(depth), ")".repeat(depth)),
            format!("{}{{A}}{}", "IF(1,".repeat(depth), ",2)".repeat(depth)),
            format!("{}1{}", "ABS(-".repeat(depth / 2), ")".repeat(depth / 2)),
        ];
        let worker = std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(move || {
                let record = TestRecord::new().with("A", num(3.0));
                sources
                    .iter()
                    .map(|s| parse(s).map(|f| f.evaluate(&record)))
                    .collect::<Vec<_>>()
            })
            .unwrap();
        let results = worker.join().unwrap();
        assert_eq!(results[0], Ok(num(1.0)));
        assert_eq!(results[1], Ok(num(3.0)));
        assert_eq!(results[2], Ok(num(1.0)));
    }

    /// A tiny deterministic generator, so the fuzz test needs no extra crates.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 33
        }
    }

    #[test]
    fn garbage_never_panics() {
        let record = TestRecord::new()
            .with("Name", text("x"))
            .with("Tags", FormulaValue::Array(vec![text("a")]));
        for bad in [
            "((((",
            "))))",
            "{unclosed",
            "'unterminated",
            "\"",
            "\\",
            "AND(",
            "AND(1,,2)",
            "1 +* 2",
            "FOO()",
            "{}",
            "\u{0}\u{1}\u{7f}",
            "é(",
            "{Name",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
        let deep = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(&deep).is_err());
        let deep_calls = format!("{}{}", "NOT(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(&deep_calls).is_err());

        // Random byte soup and random token soup: any result is fine, a panic is not.
        let pieces = [
            "(",
            ")",
            ",",
            "+",
            "-",
            "*",
            "/",
            "&",
            "=",
            "!=",
            "<",
            ">=",
            "'a'",
            "\"b\"",
            "{Name}",
            "{Tags}",
            "Name",
            "1",
            "0",
            "2.5",
            "IF(",
            "AND(",
            "FIND(",
            "MID(",
            "DATEADD(",
            "REGEX_MATCH(",
            "'('",
            "'[a-'",
            "DATETIME_FORMAT(",
            "ROUND(",
            "REPT(",
            "SWITCH(",
            "DATETIME_PARSE(",
            "'2024-01-01'",
            "'months'",
            "-1e308",
            "1e308",
            "VALUE(",
        ];
        let mut rng = Lcg(42);
        for _ in 0..3_000 {
            let len = (rng.next() % 40) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| (rng.next() % 256) as u8).collect();
            let source = String::from_utf8_lossy(&bytes).into_owned();
            if let Ok(f) = parse(&source) {
                let _ = f.evaluate(&record);
            }
            let source: String = (0..len)
                .map(|_| pieces[(rng.next() as usize) % pieces.len()])
                .collect::<Vec<_>>()
                .join("");
            if let Ok(f) = parse(&source) {
                let _ = f.evaluate(&record).to_json();
            }
        }
    }
}
