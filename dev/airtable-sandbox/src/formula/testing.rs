//! Test helpers: an in-memory record and a one-call "parse and evaluate".

use chrono::{DateTime, TimeZone, Utc};

use super::{FormulaValue, RecordContext, parse};

/// A record with fields addressable by name or by id, and fixed clocks so that tests
/// involving `NOW()` are deterministic.
pub(crate) struct TestRecord {
    /// (id, name, value)
    fields: Vec<(String, String, FormulaValue)>,
    pub now: DateTime<Utc>,
}

impl TestRecord {
    pub fn new() -> Self {
        TestRecord {
            fields: Vec::new(),
            now: Utc
                .with_ymd_and_hms(2024, 3, 5, 14, 7, 9)
                .single()
                .unwrap_or(DateTime::UNIX_EPOCH),
        }
    }

    /// Adds a field; its id is `fld` followed by the name without spaces.
    pub fn with(mut self, name: &str, value: FormulaValue) -> Self {
        let id = format!("fld{}", name.replace(' ', ""));
        self.fields.push((id, name.to_string(), value));
        self
    }
}

impl RecordContext for TestRecord {
    fn field(&self, name_or_id: &str) -> Option<FormulaValue> {
        self.fields
            .iter()
            .find(|(id, name, _)| name == name_or_id || id == name_or_id)
            .map(|(_, _, v)| v.clone())
    }

    fn record_id(&self) -> String {
        "recTEST000000001".to_string()
    }

    fn created_time(&self) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5)
            .single()
            .unwrap_or(DateTime::UNIX_EPOCH)
    }

    fn last_modified_time(&self) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 2, 3, 4, 5, 6)
            .single()
            .unwrap_or(DateTime::UNIX_EPOCH)
    }

    fn now(&self) -> DateTime<Utc> {
        self.now
    }
}

/// Parses and evaluates against an empty record; panics on a parse error (tests only).
pub(crate) fn run(source: &str) -> FormulaValue {
    run_on(source, &TestRecord::new())
}

/// Parses and evaluates against `record`; panics on a parse error (tests only).
pub(crate) fn run_on(source: &str, record: &TestRecord) -> FormulaValue {
    match parse(source) {
        Ok(formula) => formula.evaluate(record),
        Err(e) => panic!("{source:?} failed to parse: {e}"),
    }
}

pub(crate) fn text(s: &str) -> FormulaValue {
    FormulaValue::Text(s.to_string())
}

pub(crate) fn num(n: f64) -> FormulaValue {
    FormulaValue::Number(n)
}

pub(crate) fn date(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> FormulaValue {
    FormulaValue::Date(
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .unwrap_or(DateTime::UNIX_EPOCH),
    )
}
