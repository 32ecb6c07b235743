//! Hostile input cannot change what a built formula means. Every formula is parsed by the
//! sandbox's formula engine (our stand-in for Airtable's) and evaluated against records: it must
//! parse, reference only the fields we named, and match exactly the records whose field
//! literally contains the term.

use std::collections::HashMap;

use airtable::formula;
use airtable_sandbox::formula::{FormulaValue, RecordContext, parse};
use chrono::{DateTime, Utc};

/// A record as the formula engine sees it.
struct Row {
    fields: HashMap<String, FormulaValue>,
}

impl RecordContext for Row {
    fn field(&self, name_or_id: &str) -> Option<FormulaValue> {
        Some(
            self.fields
                .get(name_or_id)
                .cloned()
                .unwrap_or(FormulaValue::Blank),
        )
    }
    fn record_id(&self) -> String {
        "rec00000000000001".into()
    }
    fn created_time(&self) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH
    }
    fn last_modified_time(&self) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH
    }
    fn now(&self) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH
    }
}

/// Terms (and cell values) chosen to break naive string pasting.
const HOSTILE: &[&str] = &[
    r#""), TRUE(), (""#,
    r#"'), TRUE(), ('"#,
    "'",
    "\"",
    r"\",
    r"\\",
    r#"\""#,
    "}",
    "{Name}",
    "a}b{c",
    "line one\nline two",
    "tab\there",
    "cr\r\n",
    r#"" & "x"#,
    "\") OR TRUE() OR (\"",
    "żółć",
    "🚀 rocket",
    "ΣΊΣΥΦΟΣ",
    "Jane's \"quoted\" \\ path}",
    "plain",
];

/// Field names that must stay one reference each.
const FIELDS: &[&str] = &["Name", r"Odd}Name\", "Notes {x}"];

fn rows() -> Vec<Row> {
    let mut rows = Vec::new();
    for (i, value) in HOSTILE.iter().enumerate() {
        let mut fields = HashMap::new();
        // Spread values over the fields, so matches must come from the right one.
        let name = FIELDS[i % FIELDS.len()];
        fields.insert(name.to_string(), FormulaValue::Text(format!("<{value}>")));
        rows.push(Row { fields });
    }
    rows.push(Row {
        fields: HashMap::new(),
    });
    rows
}

fn contains(row: &Row, term: &str, fields: &[&str]) -> bool {
    fields.iter().any(|f| match row.fields.get(*f) {
        Some(FormulaValue::Text(text)) => text.to_lowercase().contains(&term.to_lowercase()),
        _ => false,
    })
}

#[test]
fn search_matches_only_records_that_literally_contain_the_term() {
    let rows = rows();
    for term in HOSTILE {
        for fields in [&FIELDS[..1], FIELDS] {
            let built = formula::search(term, fields.iter().copied());
            let parsed = parse(built.as_str())
                .unwrap_or_else(|e| panic!("{term:?}: {built} does not parse: {e}"));
            let mut referenced = parsed.referenced_fields();
            referenced.sort();
            let mut expected_fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
            expected_fields.sort();
            assert_eq!(referenced, expected_fields, "{term:?}: {built}");
            for (i, row) in rows.iter().enumerate() {
                assert_eq!(
                    parsed.evaluate(row).is_truthy(),
                    contains(row, term, fields),
                    "term {term:?}, row {i}, formula {built}"
                );
            }
        }
    }
}

#[test]
fn equality_on_hostile_values_matches_exactly_that_value() {
    let rows = rows();
    for (i, value) in HOSTILE.iter().enumerate() {
        let name = FIELDS[i % FIELDS.len()];
        let built = formula::eq(formula::field(name), formula::string(&format!("<{value}>")));
        let parsed = parse(built.as_str()).unwrap_or_else(|e| panic!("{built}: {e}"));
        let matched: Vec<usize> = rows
            .iter()
            .enumerate()
            .filter(|(_, r)| parsed.evaluate(*r).is_truthy())
            .map(|(j, _)| j)
            .collect();
        assert_eq!(matched, vec![i], "{built}");
        // And negated, it matches everything else.
        let negated = parse(formula::not(built.clone()).as_str()).unwrap();
        let others = rows
            .iter()
            .filter(|r| negated.evaluate(*r).is_truthy())
            .count();
        assert_eq!(others, rows.len() - 1, "{built}");
    }
}

#[test]
fn literals_of_every_kind_parse() {
    let when = DateTime::parse_from_rfc3339("2026-03-04T05:06:07Z")
        .unwrap()
        .with_timezone(&Utc);
    let built = formula::and([
        formula::gt(formula::field("Age"), formula::number(30.5)),
        formula::le(formula::field("Age"), formula::integer(-2)),
        formula::eq(formula::field("Done"), formula::boolean(true)),
        formula::ne(formula::field("When"), formula::datetime(when)),
        formula::eq(formula::field("Day"), formula::date(when.date_naive())),
        formula::not(formula::is_empty("Name")),
    ]);
    assert!(parse(built.as_str()).is_ok(), "{built}");
}
