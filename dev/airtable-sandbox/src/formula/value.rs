//! The runtime value of a formula, and its conversions to and from JSON cells.
//!
//! Airtable's formula language is loosely typed (it is JavaScript underneath), so
//! most of the semantics live in the coercions here: how a value reads as text,
//! as a number, and as a filter condition.

use chrono::{DateTime, Utc};
use serde_json::{Value as Json, json};

use super::datetime;

/// The longest text a formula may build (1 MB). Longer results become `#ERROR!`, so a
/// hostile formula such as `REPT('x', 1e6) & REPT('x', 1e6) & ...` cannot exhaust memory.
pub(crate) const MAX_TEXT_BYTES: usize = 1_000_000;

/// The error code Airtable shows for a failed formula. Every error value the
/// engine produces carries this code, so callers can rely on one spelling.
pub const ERROR_CODE: &str = "#ERROR!";

/// A value produced while evaluating a formula.
#[derive(Debug, Clone, PartialEq)]
pub enum FormulaValue {
    /// An empty cell, or `BLANK()`.
    Blank,
    Text(String),
    Number(f64),
    /// `TRUE()`/`FALSE()`, comparisons, and checkbox cells. Airtable treats them as 1/0.
    Bool(bool),
    /// An instant. The fake has no time zones: everything is UTC.
    Date(DateTime<Utc>),
    /// Multi-selects, record links, lookups and other list-valued cells.
    Array(Vec<FormulaValue>),
    /// A failed computation; the string is an Airtable error code such as `#ERROR!`.
    Error(String),
}

impl FormulaValue {
    /// The generic `#ERROR!` value.
    pub fn error() -> Self {
        FormulaValue::Error(ERROR_CODE.to_string())
    }

    /// Whether `filterByFormula` keeps a record for which the formula returned this value.
    ///
    /// The docs list the excluded values: `0`, `false`, `""`, `NaN`, `[]` and errors;
    /// a blank cell is excluded as well (it reads as `""`/`0`).
    pub fn is_truthy(&self) -> bool {
        match self {
            FormulaValue::Blank | FormulaValue::Error(_) => false,
            FormulaValue::Text(s) => !s.is_empty(),
            FormulaValue::Number(n) => *n != 0.0 && !n.is_nan(),
            FormulaValue::Bool(b) => *b,
            FormulaValue::Date(_) => true,
            FormulaValue::Array(items) => !items.is_empty(),
        }
    }

    /// Converts to the JSON cell value a formula field returns; `None` means the field is
    /// omitted from the record, which is how Airtable represents empty values.
    ///
    /// Choices (Airtable's exact output is not documented):
    /// - empty text and empty arrays are omitted, like any empty cell;
    /// - booleans come out as `1`/`0`, because Airtable's `TRUE()` "is represented
    ///   numerically by a 1" and comparison formulas display numbers;
    /// - whole numbers are JSON integers (`5`, not `5.0`); `NaN` and infinities become
    ///   `{"specialValue": "NaN" | "Infinity" | "-Infinity"}`;
    /// - dates are ISO 8601 with milliseconds, in UTC;
    /// - every error is `{"error": "#ERROR!"}`.
    pub fn to_json(&self) -> Option<Json> {
        match self {
            FormulaValue::Blank => None,
            FormulaValue::Text(s) if s.is_empty() => None,
            FormulaValue::Text(s) => Some(Json::String(s.clone())),
            FormulaValue::Number(n) => Some(number_to_json(*n)),
            FormulaValue::Bool(b) => Some(Json::from(i64::from(*b))),
            FormulaValue::Date(d) => Some(Json::String(datetime::iso(d))),
            FormulaValue::Array(items) => {
                let values: Vec<Json> = items.iter().filter_map(FormulaValue::to_json).collect();
                (!values.is_empty()).then_some(Json::Array(values))
            }
            FormulaValue::Error(_) => Some(json!({ "error": ERROR_CODE })),
        }
    }

    /// Converts a stored JSON cell value to a formula value.
    ///
    /// `field_type` is the Airtable type string. Date-typed fields become [`FormulaValue::Date`]
    /// (an unparseable string stays text), checkboxes become [`FormulaValue::Bool`], number-typed
    /// fields accept numeric strings, and everything else converts by JSON shape. A missing
    /// value, `null`, `""` and `[]` are all [`FormulaValue::Blank`], since Airtable never
    /// stores empty values. Objects inside list cells become their display text: a
    /// collaborator or V2 link/choice its `name`, an attachment `filename (url)`, a barcode
    /// its `text`.
    pub fn from_cell(field_type: &str, value: Option<&Json>) -> FormulaValue {
        let Some(value) = value else {
            return FormulaValue::Blank;
        };
        match (field_type, value) {
            (_, Json::Null) => FormulaValue::Blank,
            ("checkbox", Json::Bool(b)) => FormulaValue::Bool(*b),
            ("checkbox", other) => FormulaValue::Bool(from_json(other).is_truthy()),
            ("date" | "dateTime" | "createdTime" | "lastModifiedTime", Json::String(s)) => {
                match datetime::parse_flexible(s) {
                    Some(d) => FormulaValue::Date(d),
                    None => from_json(value),
                }
            }
            (
                "number" | "currency" | "percent" | "rating" | "autoNumber" | "count" | "duration",
                Json::String(s),
            ) => match parse_number_text(s) {
                Some(n) => FormulaValue::Number(n),
                None => from_json(value),
            },
            _ => from_json(value),
        }
    }

    /// The value as text, the way `&` and the text functions see it.
    ///
    /// Arrays join with `", "`, which is how Airtable displays multi-selects and links
    /// in formulas (commonly reported; unconfirmed). Booleans read as `1`/`0`.
    pub(crate) fn to_text(&self) -> String {
        match self {
            FormulaValue::Blank => String::new(),
            FormulaValue::Text(s) => s.clone(),
            FormulaValue::Number(n) => format_number(*n),
            FormulaValue::Bool(b) => if *b { "1" } else { "0" }.to_string(),
            FormulaValue::Date(d) => datetime::iso(d),
            FormulaValue::Array(items) => items
                .iter()
                .map(FormulaValue::to_text)
                .collect::<Vec<_>>()
                .join(", "),
            FormulaValue::Error(code) => code.clone(),
        }
    }

    /// The value as a number, the way arithmetic sees it: blank is 0, booleans 1/0,
    /// numeric text its number, empty text 0, anything else `NaN` (JavaScript's rules).
    /// A one-element array (a single link or lookup) reads as its element.
    pub(crate) fn to_number(&self) -> f64 {
        match self {
            FormulaValue::Blank => 0.0,
            FormulaValue::Number(n) => *n,
            FormulaValue::Bool(b) => f64::from(u8::from(*b)),
            FormulaValue::Text(s) if s.trim().is_empty() => 0.0,
            FormulaValue::Text(s) => parse_number_text(s).unwrap_or(f64::NAN),
            FormulaValue::Array(items) => match items.as_slice() {
                [] => 0.0,
                [single] => single.to_number(),
                _ => parse_number_text(&self.to_text()).unwrap_or(f64::NAN),
            },
            FormulaValue::Date(_) | FormulaValue::Error(_) => f64::NAN,
        }
    }

    /// Text, or `#ERROR!` if it is longer than [`MAX_TEXT_BYTES`].
    pub(crate) fn bounded_text(s: String) -> FormulaValue {
        if s.len() > MAX_TEXT_BYTES {
            FormulaValue::error()
        } else {
            FormulaValue::Text(s)
        }
    }

    /// The first error in this value (itself, or an element of an array).
    pub(crate) fn find_error(&self) -> Option<&FormulaValue> {
        match self {
            FormulaValue::Error(_) => Some(self),
            FormulaValue::Array(items) => items.iter().find_map(FormulaValue::find_error),
            _ => None,
        }
    }
}

fn number_to_json(n: f64) -> Json {
    if n.is_nan() {
        json!({ "specialValue": "NaN" })
    } else if n.is_infinite() {
        let special = if n > 0.0 { "Infinity" } else { "-Infinity" };
        json!({ "specialValue": special })
    } else if n.fract() == 0.0 && n.abs() < MAX_SAFE_INTEGER {
        // Exact: the value is whole and within i64's (and JavaScript's) exact range.
        Json::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number)
    }
}

/// 2^53: beyond it, floats stop being exact integers (JavaScript's `Number.MAX_SAFE_INTEGER + 1`).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_992.0;

fn from_json(value: &Json) -> FormulaValue {
    match value {
        Json::Null => FormulaValue::Blank,
        Json::Bool(b) => FormulaValue::Bool(*b),
        Json::Number(n) => n.as_f64().map_or(FormulaValue::Blank, FormulaValue::Number),
        Json::String(s) if s.is_empty() => FormulaValue::Blank,
        Json::String(s) => FormulaValue::Text(s.clone()),
        Json::Array(items) if items.is_empty() => FormulaValue::Blank,
        Json::Array(items) => FormulaValue::Array(items.iter().map(from_json).collect()),
        Json::Object(map) => {
            let text = |key: &str| map.get(key).and_then(Json::as_str);
            if map.contains_key("error") {
                FormulaValue::error()
            } else if let Some(name) = text("name") {
                FormulaValue::Text(name.to_string())
            } else if let Some(filename) = text("filename") {
                match text("url") {
                    Some(url) => FormulaValue::Text(format!("{filename} ({url})")),
                    None => FormulaValue::Text(filename.to_string()),
                }
            } else if let Some(t) = text("text").or_else(|| text("label")) {
                FormulaValue::Text(t.to_string())
            } else if let Some(id) = text("id") {
                FormulaValue::Text(id.to_string())
            } else if text("specialValue").is_some() {
                FormulaValue::Number(f64::NAN)
            } else {
                FormulaValue::Blank
            }
        }
    }
}

/// Parses text that is plainly a number (`" 42 "`, `-1.5`, `1e3`).
///
/// Stricter than `f64::from_str`, which would also accept `inf` and `NaN`.
pub(crate) fn parse_number_text(s: &str) -> Option<f64> {
    let t = s.trim();
    let plain = !t.is_empty()
        && t.chars().any(|c| c.is_ascii_digit())
        && t.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    if plain { t.parse().ok() } else { None }
}

/// Formats a number the way JavaScript prints it for the common cases: whole numbers
/// without a fraction, others with the shortest round-tripping decimals.
pub(crate) fn format_number(n: f64) -> String {
    if n.is_nan() {
        "NaN".to_string()
    } else if n.is_infinite() {
        if n > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
    } else if n.fract() == 0.0 && n.abs() < MAX_SAFE_INTEGER {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn truthiness_matches_the_filter_rules() {
        assert!(!FormulaValue::Number(0.0).is_truthy());
        assert!(!FormulaValue::Number(f64::NAN).is_truthy());
        assert!(!FormulaValue::Bool(false).is_truthy());
        assert!(!FormulaValue::Text(String::new()).is_truthy());
        assert!(!FormulaValue::Array(vec![]).is_truthy());
        assert!(!FormulaValue::error().is_truthy());
        assert!(!FormulaValue::Blank.is_truthy());
        assert!(FormulaValue::Number(-1.0).is_truthy());
        assert!(FormulaValue::Text("0".into()).is_truthy());
        assert!(FormulaValue::Bool(true).is_truthy());
        assert!(FormulaValue::Array(vec![FormulaValue::Blank]).is_truthy());
        assert!(FormulaValue::Date(Utc::now()).is_truthy());
    }

    #[test]
    fn to_json_shapes() {
        assert_eq!(FormulaValue::Blank.to_json(), None);
        assert_eq!(FormulaValue::Text(String::new()).to_json(), None);
        assert_eq!(FormulaValue::Text("a".into()).to_json(), Some(json!("a")));
        assert_eq!(FormulaValue::Number(5.0).to_json(), Some(json!(5)));
        assert_eq!(FormulaValue::Number(-0.0).to_json(), Some(json!(0)));
        assert_eq!(FormulaValue::Number(2.5).to_json(), Some(json!(2.5)));
        assert_eq!(
            FormulaValue::Number(f64::NAN).to_json(),
            Some(json!({"specialValue": "NaN"}))
        );
        assert_eq!(
            FormulaValue::Number(f64::NEG_INFINITY).to_json(),
            Some(json!({"specialValue": "-Infinity"}))
        );
        assert_eq!(FormulaValue::Bool(true).to_json(), Some(json!(1)));
        assert_eq!(FormulaValue::Bool(false).to_json(), Some(json!(0)));
        assert_eq!(
            FormulaValue::error().to_json(),
            Some(json!({"error": "#ERROR!"}))
        );
        let d = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).single().unwrap();
        assert_eq!(
            FormulaValue::Date(d).to_json(),
            Some(json!("2024-01-02T03:04:05.000Z"))
        );
        assert_eq!(
            FormulaValue::Array(vec![
                FormulaValue::Text("a".into()),
                FormulaValue::Blank,
                FormulaValue::Number(1.0)
            ])
            .to_json(),
            Some(json!(["a", 1]))
        );
        assert_eq!(FormulaValue::Array(vec![]).to_json(), None);
    }

    #[test]
    fn from_cell_by_type() {
        let date = json!("2022-09-05");
        let expected = Utc.with_ymd_and_hms(2022, 9, 5, 0, 0, 0).single().unwrap();
        assert_eq!(
            FormulaValue::from_cell("date", Some(&date)),
            FormulaValue::Date(expected)
        );
        let dt = json!("2022-09-05T07:00:00.000Z");
        let expected = Utc.with_ymd_and_hms(2022, 9, 5, 7, 0, 0).single().unwrap();
        assert_eq!(
            FormulaValue::from_cell("dateTime", Some(&dt)),
            FormulaValue::Date(expected)
        );
        assert_eq!(
            FormulaValue::from_cell("date", Some(&json!("not a date"))),
            FormulaValue::Text("not a date".into())
        );
        assert_eq!(
            FormulaValue::from_cell("checkbox", Some(&json!(true))),
            FormulaValue::Bool(true)
        );
        assert_eq!(
            FormulaValue::from_cell("checkbox", None),
            FormulaValue::Blank
        );
        assert_eq!(
            FormulaValue::from_cell("number", Some(&json!(3))),
            FormulaValue::Number(3.0)
        );
        assert_eq!(
            FormulaValue::from_cell("number", Some(&json!("3.5"))),
            FormulaValue::Number(3.5)
        );
        assert_eq!(
            FormulaValue::from_cell("singleLineText", Some(&json!(""))),
            FormulaValue::Blank
        );
        assert_eq!(
            FormulaValue::from_cell("multipleSelects", Some(&json!(["a", "b"]))),
            FormulaValue::Array(vec![
                FormulaValue::Text("a".into()),
                FormulaValue::Text("b".into())
            ])
        );
        assert_eq!(
            FormulaValue::from_cell("multipleRecordLinks", Some(&json!([]))),
            FormulaValue::Blank
        );
        let attachments = json!([{"id": "att1", "url": "https://x/y.png", "filename": "y.png"}]);
        assert_eq!(
            FormulaValue::from_cell("multipleAttachments", Some(&attachments)),
            FormulaValue::Array(vec![FormulaValue::Text("y.png (https://x/y.png)".into())])
        );
        let collaborator = json!({"id": "usr1", "email": "a@b.c", "name": "Ann"});
        assert_eq!(
            FormulaValue::from_cell("singleCollaborator", Some(&collaborator)),
            FormulaValue::Text("Ann".into())
        );
        assert_eq!(
            FormulaValue::from_cell("formula", Some(&json!({"error": "#ERROR!"}))),
            FormulaValue::error()
        );
        assert_eq!(
            FormulaValue::from_cell("anything", Some(&Json::Null)),
            FormulaValue::Blank
        );
    }

    #[test]
    fn text_and_number_coercions() {
        assert_eq!(FormulaValue::Number(3.0).to_text(), "3");
        assert_eq!(
            FormulaValue::Number(0.1 + 0.2).to_text(),
            "0.30000000000000004"
        );
        assert_eq!(FormulaValue::Number(-2.5).to_text(), "-2.5");
        assert_eq!(FormulaValue::Bool(true).to_text(), "1");
        assert_eq!(
            FormulaValue::Array(vec![
                FormulaValue::Text("a".into()),
                FormulaValue::Text("b".into())
            ])
            .to_text(),
            "a, b"
        );
        assert_eq!(FormulaValue::Text(" 42 ".into()).to_number(), 42.0);
        assert_eq!(FormulaValue::Text("".into()).to_number(), 0.0);
        assert!(FormulaValue::Text("inf".into()).to_number().is_nan());
        assert!(FormulaValue::Text("abc".into()).to_number().is_nan());
        assert_eq!(FormulaValue::Blank.to_number(), 0.0);
        assert_eq!(
            FormulaValue::Array(vec![FormulaValue::Number(7.0)]).to_number(),
            7.0
        );
        assert_eq!(parse_number_text("1e3"), Some(1000.0));
        assert_eq!(parse_number_text("-"), None);
        assert_eq!(parse_number_text("1-2"), None);
    }
}
