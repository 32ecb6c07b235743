//! Building Airtable formulas (for `filterByFormula`) from parts, with every name and value
//! escaped, so user input can never change a formula's meaning.
//!
//! Pasting a search term into `FIND("…", {Name})` is an injection hole: a term like
//! `"), TRUE(), ("` turns the filter into "match everything". Here values only ever enter a
//! formula as escaped literals and names as escaped field references:
//!
//! * field references are `{Name}` with `\` written `\\` and `}` written `\}` (as pyairtable
//!   does), so a name cannot close its braces early;
//! * strings are double-quoted with `\` → `\\`, `"` → `\"`, and line breaks as `\n` / `\r`
//!   (a raw line break in a literal is legal but fragile in logs and URLs);
//! * numbers are plain decimals, booleans `TRUE()`/`FALSE()`, dates `DATETIME_PARSE("…")`.
//!
//! Compound expressions are parenthesised when they become operands, so precedence cannot bite.

use std::fmt;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::Value;

/// A formula, or part of one. Build it with the functions of this module; print it (or use
/// [`Formula::as_str`]) to get the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Formula {
    text: String,
    /// True when the text is one unit (reference, literal, function call) that can be an
    /// operand without parentheses.
    atomic: bool,
}

impl Formula {
    fn atom(text: String) -> Self {
        Self { text, atomic: true }
    }

    /// A formula taken as-is. Only for trusted text (e.g. a formula a client sent to the
    /// gateway, which it may write as it likes); never for building from user values.
    pub fn raw(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            atomic: false,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn into_string(self) -> String {
        self.text
    }

    /// The text to use as an operand of a binary operator.
    fn operand(&self) -> String {
        if self.atomic {
            self.text.clone()
        } else {
            format!("({})", self.text)
        }
    }
}

impl fmt::Display for Formula {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl From<Formula> for String {
    fn from(formula: Formula) -> Self {
        formula.text
    }
}

/// A reference to a field by name (or ID): `{Name}`, escaped.
pub fn field(name: &str) -> Formula {
    let mut text = String::with_capacity(name.len() + 2);
    text.push('{');
    for c in name.chars() {
        match c {
            '\\' => text.push_str("\\\\"),
            '}' => text.push_str("\\}"),
            c => text.push(c),
        }
    }
    text.push('}');
    Formula::atom(text)
}

/// A string literal: `"…"`, escaped.
pub fn string(value: &str) -> Formula {
    let mut text = String::with_capacity(value.len() + 2);
    text.push('"');
    for c in value.chars() {
        match c {
            '\\' => text.push_str("\\\\"),
            '"' => text.push_str("\\\""),
            '\n' => text.push_str("\\n"),
            '\r' => text.push_str("\\r"),
            c => text.push(c),
        }
    }
    text.push('"');
    Formula::atom(text)
}

/// A number literal. Airtable has no literal for NaN or infinity, so those become `BLANK()`
/// (which no comparison treats as a number).
pub fn number(value: f64) -> Formula {
    if !value.is_finite() {
        return Formula::atom("BLANK()".to_string());
    }
    let text = if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    };
    Formula {
        atomic: !text.starts_with('-'),
        text,
    }
}

/// An integer literal.
pub fn integer(value: i64) -> Formula {
    let text = value.to_string();
    Formula {
        atomic: value >= 0,
        text,
    }
}

/// `TRUE()` or `FALSE()`: Airtable has no boolean literals.
pub fn boolean(value: bool) -> Formula {
    Formula::atom(if value { "TRUE()" } else { "FALSE()" }.to_string())
}

/// A moment, as pyairtable encodes one: `DATETIME_PARSE("2026-01-02T03:04:05.000Z")`.
pub fn datetime(value: DateTime<Utc>) -> Formula {
    call(
        "DATETIME_PARSE",
        [string(&value.to_rfc3339_opts(SecondsFormat::Millis, true))],
    )
}

/// A calendar date: `DATETIME_PARSE("2026-01-02")`.
pub fn date(value: NaiveDate) -> Formula {
    call(
        "DATETIME_PARSE",
        [string(&value.format("%Y-%m-%d").to_string())],
    )
}

/// A JSON value as a literal: strings, numbers, booleans; `null` is `BLANK()`; arrays and
/// objects (which have no literal form) are compared as their JSON text.
pub fn value(value: &Value) -> Formula {
    match value {
        Value::Null => Formula::atom("BLANK()".to_string()),
        Value::Bool(b) => boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => integer(i),
            None => number(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => string(s),
        other => string(&other.to_string()),
    }
}

/// A function call, `NAME(arg, …)`. The name must be a plain identifier (letters, digits,
/// underscores), so it cannot smuggle syntax in; an invalid name yields `ERROR()`.
pub fn call<I>(name: &str, args: I) -> Formula
where
    I: IntoIterator<Item = Formula>,
{
    let valid = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !valid {
        return Formula::atom("ERROR()".to_string());
    }
    let args: Vec<String> = args.into_iter().map(|a| a.text).collect();
    Formula::atom(format!("{name}({})", args.join(", ")))
}

/// `AND(a, b, …)`; true when every part is (an empty list is `TRUE()`).
pub fn and<I: IntoIterator<Item = Formula>>(parts: I) -> Formula {
    let parts: Vec<Formula> = parts.into_iter().collect();
    if parts.is_empty() {
        return boolean(true);
    }
    call("AND", parts)
}

/// `OR(a, b, …)`; true when any part is (an empty list is `FALSE()`).
pub fn or<I: IntoIterator<Item = Formula>>(parts: I) -> Formula {
    let parts: Vec<Formula> = parts.into_iter().collect();
    if parts.is_empty() {
        return boolean(false);
    }
    call("OR", parts)
}

/// `NOT(a)`.
pub fn not(part: Formula) -> Formula {
    call("NOT", [part])
}

fn compare(left: Formula, op: &str, right: Formula) -> Formula {
    Formula {
        text: format!("{}{op}{}", left.operand(), right.operand()),
        atomic: false,
    }
}

/// `a=b`.
pub fn eq(left: Formula, right: Formula) -> Formula {
    compare(left, "=", right)
}

/// `a!=b`.
pub fn ne(left: Formula, right: Formula) -> Formula {
    compare(left, "!=", right)
}

/// `a>b`.
pub fn gt(left: Formula, right: Formula) -> Formula {
    compare(left, ">", right)
}

/// `a>=b`.
pub fn ge(left: Formula, right: Formula) -> Formula {
    compare(left, ">=", right)
}

/// `a<b`.
pub fn lt(left: Formula, right: Formula) -> Formula {
    compare(left, "<", right)
}

/// `a<=b`.
pub fn le(left: Formula, right: Formula) -> Formula {
    compare(left, "<=", right)
}

/// `a&b`: text concatenation.
pub fn concat(left: Formula, right: Formula) -> Formula {
    compare(left, "&", right)
}

/// The field is empty: `{F}=""` (Airtable's idiom; blank equals the empty string).
pub fn is_empty(name: &str) -> Formula {
    eq(field(name), string(""))
}

/// Every named field equals its value: `AND({A}="x", {B}=2)` (pyairtable's `match`).
pub fn match_fields<'a, I>(fields: I) -> Formula
where
    I: IntoIterator<Item = (&'a String, &'a Value)>,
{
    and(fields
        .into_iter()
        .map(|(name, v)| eq(field(name), value(v))))
}

/// Case-insensitive "contains" over several fields:
/// `OR(FIND(LOWER("term"), LOWER({F1})), FIND(LOWER("term"), LOWER({F2})), …)`.
/// `FIND` answers the 1-based position or 0, so a record matches exactly when some field
/// contains the term. With no fields nothing matches.
pub fn search<I, S>(term: &str, fields: I) -> Formula
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let needle = call("LOWER", [string(term)]);
    or(fields.into_iter().map(|name| {
        call(
            "FIND",
            [needle.clone(), call("LOWER", [field(name.as_ref())])],
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn field_names_escape_braces_and_backslashes() {
        assert_eq!(field("Name").as_str(), "{Name}");
        assert_eq!(field("a}b").as_str(), r"{a\}b}");
        assert_eq!(field(r"a\b").as_str(), r"{a\\b}");
        assert_eq!(field(r"x\}").as_str(), r"{x\\\}}");
        assert_eq!(field("{Weird} name").as_str(), r"{{Weird\} name}");
    }

    #[test]
    fn strings_escape_quotes_backslashes_and_newlines() {
        assert_eq!(string("plain").as_str(), r#""plain""#);
        assert_eq!(string(r#"say "hi""#).as_str(), r#""say \"hi\"""#);
        assert_eq!(string(r"C:\dir").as_str(), r#""C:\\dir""#);
        assert_eq!(string("a\nb\r").as_str(), r#""a\nb\r""#);
        assert_eq!(string("it's").as_str(), r#""it's""#);
        assert_eq!(
            string(r#""), TRUE(), (""#).as_str(),
            r#""\"), TRUE(), (\"""#
        );
        assert_eq!(string("żółć 🚀").as_str(), "\"żółć 🚀\"");
    }

    #[test]
    fn literals_and_combinators() {
        assert_eq!(number(3.0).as_str(), "3");
        assert_eq!(number(2.5).as_str(), "2.5");
        assert_eq!(number(f64::NAN).as_str(), "BLANK()");
        assert_eq!(boolean(true).as_str(), "TRUE()");
        assert_eq!(eq(field("Age"), integer(-3)).as_str(), "{Age}=(-3)");
        let when = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            datetime(when).as_str(),
            r#"DATETIME_PARSE("2026-01-02T03:04:05.000Z")"#
        );
        let f = and([
            gt(field("Age"), number(30.0)),
            not(is_empty("Name")),
            or([eq(field("Done"), boolean(true))]),
        ]);
        assert_eq!(
            f.as_str(),
            r#"AND({Age}>30, NOT({Name}=""), OR({Done}=TRUE()))"#
        );
        assert_eq!(and([]).as_str(), "TRUE()");
        assert_eq!(or([]).as_str(), "FALSE()");
        assert_eq!(
            eq(eq(field("a"), integer(1)), boolean(true)).as_str(),
            "({a}=1)=TRUE()"
        );
        assert_eq!(call("EVIL(1),TRUE", [field("x")]).as_str(), "ERROR()");
    }

    #[test]
    fn match_and_search() {
        let fields = json!({"Name": "O\"Brien", "Age": 3});
        let map = fields.as_object().unwrap();
        assert_eq!(
            match_fields(map).as_str(),
            r#"AND({Age}=3, {Name}="O\"Brien")"#
        );
        assert_eq!(
            search("Ab", ["Name", "Notes"]).as_str(),
            r#"OR(FIND(LOWER("Ab"), LOWER({Name})), FIND(LOWER("Ab"), LOWER({Notes})))"#
        );
        assert_eq!(search("x", Vec::<String>::new()).as_str(), "FALSE()");
    }
}
