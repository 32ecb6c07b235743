//! Intrinsic functions (`States.Format(...)` and friends) as AWS's JSONPath reference
//! describes them: parsed once when the definition loads, evaluated against the state's data
//! and the context object. A wrong argument at run time is `States.IntrinsicFailure`; a path
//! argument that names nothing is `States.Runtime`, as for any other path.

use base64::Engine;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};
use sha2::Digest;

use crate::error::StatesError;
use crate::path::Path;

/// One argument of an intrinsic call.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Literal(Value),
    Path(Path),
    Call(Call),
}

/// A parsed intrinsic call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: String,
    pub args: Vec<Arg>,
}

/// The functions this interpreter knows; a call to any other is refused at load.
pub const FUNCTIONS: &[&str] = &[
    "States.Format",
    "States.StringToJson",
    "States.JsonToString",
    "States.Array",
    "States.ArrayPartition",
    "States.ArrayContains",
    "States.ArrayRange",
    "States.ArrayGetItem",
    "States.ArrayLength",
    "States.ArrayUnique",
    "States.Base64Encode",
    "States.Base64Decode",
    "States.Hash",
    "States.JsonMerge",
    "States.MathRandom",
    "States.MathAdd",
    "States.StringSplit",
    "States.UUID",
];

impl Call {
    pub fn parse(text: &str) -> Result<Call, String> {
        let chars: Vec<char> = text.trim().chars().collect();
        let mut parser = Parser { chars, at: 0 };
        let call = parser.call()?;
        parser.skip_spaces();
        if parser.at != parser.chars.len() {
            return Err(format!("unexpected text after the call in '{text}'"));
        }
        Ok(call)
    }

    pub fn evaluate(&self, data: &Value, context: &Value) -> Result<Value, StatesError> {
        let mut args = Vec::with_capacity(self.args.len());
        for arg in &self.args {
            args.push(match arg {
                Arg::Literal(value) => value.clone(),
                Arg::Path(path) => path.resolve(data, context).cloned().ok_or_else(|| {
                    StatesError::runtime(format!(
                        "The JSONPath '{path}' in the intrinsic function {} could not be found",
                        self.name
                    ))
                })?,
                Arg::Call(call) => call.evaluate(data, context)?,
            });
        }
        apply(&self.name, &args)
    }
}

struct Parser {
    chars: Vec<char>,
    at: usize,
}

impl Parser {
    fn skip_spaces(&mut self) {
        while self.chars.get(self.at).is_some_and(|c| c.is_whitespace()) {
            self.at += 1;
        }
    }

    fn call(&mut self) -> Result<Call, String> {
        self.skip_spaces();
        let start = self.at;
        while self
            .chars
            .get(self.at)
            .is_some_and(|c| c.is_alphanumeric() || *c == '.')
        {
            self.at += 1;
        }
        let name: String = self.chars[start..self.at].iter().collect();
        if !FUNCTIONS.contains(&name.as_str()) {
            return Err(format!("unknown intrinsic function '{name}'"));
        }
        self.skip_spaces();
        if self.chars.get(self.at) != Some(&'(') {
            return Err(format!("expected '(' after {name}"));
        }
        self.at += 1;
        let mut args = Vec::new();
        self.skip_spaces();
        if self.chars.get(self.at) == Some(&')') {
            self.at += 1;
            return Ok(Call { name, args });
        }
        loop {
            args.push(self.arg()?);
            self.skip_spaces();
            match self.chars.get(self.at) {
                Some(',') => self.at += 1,
                Some(')') => {
                    self.at += 1;
                    return Ok(Call { name, args });
                }
                _ => return Err(format!("expected ',' or ')' in the arguments of {name}")),
            }
        }
    }

    fn arg(&mut self) -> Result<Arg, String> {
        self.skip_spaces();
        match self.chars.get(self.at) {
            Some('\'') => {
                self.at += 1;
                let mut text = String::new();
                loop {
                    match self.chars.get(self.at) {
                        None => return Err("unclosed string literal".into()),
                        Some('\\') => {
                            let Some(&next) = self.chars.get(self.at + 1) else {
                                return Err("dangling '\\' in a string literal".into());
                            };
                            // `\{` and `\}` stay escaped: States.Format reads them as
                            // literal braces rather than a placeholder.
                            if next == '{' || next == '}' {
                                text.push('\\');
                            }
                            text.push(next);
                            self.at += 2;
                        }
                        Some('\'') => {
                            self.at += 1;
                            return Ok(Arg::Literal(Value::String(text)));
                        }
                        Some(&c) => {
                            text.push(c);
                            self.at += 1;
                        }
                    }
                }
            }
            Some('$') => {
                let start = self.at;
                let mut quote: Option<char> = None;
                while let Some(&c) = self.chars.get(self.at) {
                    match quote {
                        Some(q) if c == q => quote = None,
                        Some(_) => {}
                        None if c == '\'' || c == '"' => quote = Some(c),
                        None if c == ',' || c == ')' || c.is_whitespace() => break,
                        None => {}
                    }
                    self.at += 1;
                }
                let text: String = self.chars[start..self.at].iter().collect();
                Ok(Arg::Path(Path::parse(&text)?))
            }
            Some(c) if c.is_ascii_digit() || *c == '-' => {
                let start = self.at;
                while self
                    .chars
                    .get(self.at)
                    .is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
                {
                    self.at += 1;
                }
                let text: String = self.chars[start..self.at].iter().collect();
                let number: Value =
                    serde_json::from_str(&text).map_err(|_| format!("'{text}' is not a number"))?;
                Ok(Arg::Literal(number))
            }
            Some(_) => {
                for (word, value) in [
                    ("null", Value::Null),
                    ("true", Value::Bool(true)),
                    ("false", Value::Bool(false)),
                ] {
                    let end = self.at + word.len();
                    if end <= self.chars.len()
                        && self.chars[self.at..end].iter().collect::<String>() == word
                        && !self.chars.get(end).is_some_and(|c| c.is_alphanumeric())
                    {
                        self.at = end;
                        return Ok(Arg::Literal(value));
                    }
                }
                Ok(Arg::Call(self.call()?))
            }
            None => Err("missing argument".into()),
        }
    }
}

fn fail(name: &str, message: impl std::fmt::Display) -> StatesError {
    StatesError::intrinsic(format!("Invalid arguments in {name}: {message}"))
}

fn count(
    name: &str,
    args: &[Value],
    expected: std::ops::RangeInclusive<usize>,
) -> Result<(), StatesError> {
    if expected.contains(&args.len()) {
        Ok(())
    } else {
        Err(fail(
            name,
            format!("expected {expected:?} arguments, got {}", args.len()),
        ))
    }
}

fn string<'a>(name: &str, value: &'a Value) -> Result<&'a str, StatesError> {
    value
        .as_str()
        .ok_or_else(|| fail(name, format!("{value} is not a string")))
}

fn array<'a>(name: &str, value: &'a Value) -> Result<&'a Vec<Value>, StatesError> {
    value
        .as_array()
        .ok_or_else(|| fail(name, format!("{value} is not an array")))
}

fn integer(name: &str, value: &Value) -> Result<i64, StatesError> {
    if let Some(n) = value.as_i64() {
        return Ok(n);
    }
    match value.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
        _ => Err(fail(name, format!("{value} is not an integer"))),
    }
}

/// How States.Format writes an argument: strings as they are, objects and arrays the way
/// Java prints a map or a list (`{k=[1, 2]}`, as AWS's engine does and moto copies), other
/// values as JSON.
fn format_argument(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(format_argument).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .map(|(key, value)| format!("{key}={}", format_argument(value)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        other => other.to_string(),
    }
}

/// A States.MathAdd argument: AWS documents that a non-integer "is rounded off to the nearest
/// integer", and rounds as Java's `Math.round` does (halves up: 1.5 → 2, -1.5 → -1).
fn rounded(name: &str, value: &Value) -> Result<i64, StatesError> {
    if let Some(n) = value.as_i64() {
        return Ok(n);
    }
    match value.as_f64() {
        Some(f) if f.is_finite() && f.abs() < 9.0e15 => Ok((f + 0.5).floor() as i64),
        _ => Err(fail(name, format!("{value} is not a number"))),
    }
}

/// The largest array States.ArrayRange may build, as AWS documents.
const MAX_RANGE_ITEMS: i64 = 1000;
/// The longest input States.Base64Encode/Decode accept, as AWS documents.
const MAX_BASE64_INPUT: usize = 10_000;

fn apply(name: &str, args: &[Value]) -> Result<Value, StatesError> {
    match name {
        "States.Format" => {
            if args.is_empty() {
                return Err(fail(name, "a template is required"));
            }
            let template = string(name, &args[0])?;
            let mut out = String::new();
            let mut values = args[1..].iter();
            let mut chars = template.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(next) = chars.next() {
                            out.push(next);
                        }
                    }
                    '{' if chars.peek() == Some(&'}') => {
                        chars.next();
                        let value = values
                            .next()
                            .ok_or_else(|| fail(name, "more '{}' than arguments"))?;
                        out.push_str(&format_argument(value));
                    }
                    other => out.push(other),
                }
            }
            if values.next().is_some() {
                return Err(fail(name, "more arguments than '{}'"));
            }
            Ok(Value::String(out))
        }
        "States.StringToJson" => {
            count(name, args, 1..=1)?;
            serde_json::from_str(string(name, &args[0])?).map_err(|e| fail(name, e))
        }
        "States.JsonToString" => {
            count(name, args, 1..=1)?;
            Ok(Value::String(args[0].to_string()))
        }
        "States.Array" => Ok(Value::Array(args.to_vec())),
        "States.ArrayPartition" => {
            count(name, args, 2..=2)?;
            let items = array(name, &args[0])?;
            let size = integer(name, &args[1])?;
            if size <= 0 {
                return Err(fail(name, "the chunk size must be positive"));
            }
            Ok(Value::Array(
                items
                    .chunks(size as usize)
                    .map(|chunk| Value::Array(chunk.to_vec()))
                    .collect(),
            ))
        }
        "States.ArrayContains" => {
            count(name, args, 2..=2)?;
            Ok(Value::Bool(array(name, &args[0])?.contains(&args[1])))
        }
        "States.ArrayRange" => {
            count(name, args, 3..=3)?;
            let (start, end, step) = (
                integer(name, &args[0])?,
                integer(name, &args[1])?,
                integer(name, &args[2])?,
            );
            if step == 0 {
                return Err(fail(name, "the step must not be 0"));
            }
            let mut items = Vec::new();
            let mut n = start;
            while (step > 0 && n <= end) || (step < 0 && n >= end) {
                if items.len() as i64 >= MAX_RANGE_ITEMS {
                    return Err(fail(name, "the range exceeds 1000 items"));
                }
                items.push(Value::from(n));
                n += step;
            }
            Ok(Value::Array(items))
        }
        "States.ArrayGetItem" => {
            count(name, args, 2..=2)?;
            let items = array(name, &args[0])?;
            let index = integer(name, &args[1])?;
            usize::try_from(index)
                .ok()
                .and_then(|index| items.get(index))
                .cloned()
                .ok_or_else(|| fail(name, format!("index {index} is out of bounds")))
        }
        "States.ArrayLength" => {
            count(name, args, 1..=1)?;
            Ok(Value::from(array(name, &args[0])?.len()))
        }
        "States.ArrayUnique" => {
            count(name, args, 1..=1)?;
            let mut unique: Vec<Value> = Vec::new();
            for item in array(name, &args[0])? {
                if !unique.contains(item) {
                    unique.push(item.clone());
                }
            }
            Ok(Value::Array(unique))
        }
        "States.Base64Encode" => {
            count(name, args, 1..=1)?;
            let text = string(name, &args[0])?;
            if text.len() > MAX_BASE64_INPUT {
                return Err(fail(name, "the input exceeds 10,000 characters"));
            }
            Ok(Value::String(
                base64::engine::general_purpose::STANDARD.encode(text),
            ))
        }
        "States.Base64Decode" => {
            count(name, args, 1..=1)?;
            let text = string(name, &args[0])?;
            if text.len() > MAX_BASE64_INPUT {
                return Err(fail(name, "the input exceeds 10,000 characters"));
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| fail(name, e))?;
            String::from_utf8(bytes)
                .map(Value::String)
                .map_err(|e| fail(name, e))
        }
        "States.Hash" => {
            count(name, args, 2..=2)?;
            let data = match &args[0] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let digest = match string(name, &args[1])? {
                "MD5" => hex(&md5::Md5::digest(data.as_bytes())),
                "SHA-1" => hex(&sha1::Sha1::digest(data.as_bytes())),
                "SHA-256" => hex(&sha2::Sha256::digest(data.as_bytes())),
                "SHA-384" => hex(&sha2::Sha384::digest(data.as_bytes())),
                "SHA-512" => hex(&sha2::Sha512::digest(data.as_bytes())),
                other => {
                    return Err(fail(
                        name,
                        format!(
                            "algorithm '{other}' is not one of MD5, SHA-1, SHA-256, SHA-384, SHA-512"
                        ),
                    ));
                }
            };
            Ok(Value::String(digest))
        }
        "States.JsonMerge" => {
            count(name, args, 3..=3)?;
            let (Value::Object(left), Value::Object(right)) = (&args[0], &args[1]) else {
                return Err(fail(name, "both inputs must be objects"));
            };
            if args[2] != Value::Bool(false) {
                return Err(fail(
                    name,
                    "only a shallow merge (false) is supported, as on AWS",
                ));
            }
            let mut merged: Map<String, Value> = left.clone();
            for (key, value) in right {
                merged.insert(key.clone(), value.clone());
            }
            Ok(Value::Object(merged))
        }
        "States.MathRandom" => {
            // Both ends inclusive, and a non-integer bound is cut to an integer: AWS says it
            // "rounds", moto's engine truncates; the two agree on the integers machines use.
            count(name, args, 2..=3)?;
            let bound = |value: &Value| {
                value
                    .as_f64()
                    .map(|f| f as i64)
                    .ok_or_else(|| fail(name, format!("{value} is not a number")))
            };
            let (start, end) = (bound(&args[0])?, bound(&args[1])?);
            if start > end {
                return Err(fail(name, "the start must not be above the end"));
            }
            let n = match args.get(2) {
                Some(seed) => {
                    rand::rngs::StdRng::seed_from_u64(bound(seed)? as u64).random_range(start..=end)
                }
                None => rand::rng().random_range(start..=end),
            };
            Ok(Value::from(n))
        }
        "States.MathAdd" => {
            count(name, args, 2..=2)?;
            let sum = rounded(name, &args[0])?
                .checked_add(rounded(name, &args[1])?)
                .ok_or_else(|| fail(name, "overflow"))?;
            Ok(Value::from(sum))
        }
        "States.StringSplit" => {
            count(name, args, 2..=2)?;
            let text = string(name, &args[0])?;
            let delimiters: Vec<char> = string(name, &args[1])?.chars().collect();
            Ok(Value::Array(
                text.split(|c| delimiters.contains(&c))
                    .filter(|part| !part.is_empty())
                    .map(|part| Value::String(part.to_string()))
                    .collect(),
            ))
        }
        "States.UUID" => {
            count(name, args, 0..=0)?;
            Ok(Value::String(uuid::Uuid::new_v4().to_string()))
        }
        other => Err(fail(other, "unknown function")),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(text: &str, data: Value) -> Result<Value, StatesError> {
        Call::parse(text).unwrap().evaluate(&data, &json!({}))
    }

    // Expected values from the AWS "Intrinsic functions for JSONPath" reference.
    #[test]
    fn format_inserts_strings_raw_and_other_values_as_json() {
        assert_eq!(
            eval(
                "States.Format('Hello, my name is {}.', $.name)",
                json!({"name": "Arnav"})
            )
            .unwrap(),
            json!("Hello, my name is Arnav.")
        );
        assert_eq!(
            eval(
                "States.Format('n={} b={} o={}', 3, true, $.o)",
                json!({"o": {"a": 1}})
            )
            .unwrap(),
            json!("n=3 b=true o={a=1}")
        );
        assert_eq!(
            eval("States.Format('a \\{\\} {}', 'x')", json!({})).unwrap(),
            json!("a {} x")
        );
        assert!(eval("States.Format('{} {}', 'x')", json!({})).is_err());
    }

    // moto (whose engine copies AWS's output) writes objects and lists as Java does; corpus
    // case intrinsic-format.
    #[test]
    fn format_writes_objects_and_arrays_as_java_maps_and_lists() {
        assert_eq!(
            eval(
                "States.Format('{} {}', $.obj, $.list)",
                json!({"obj": {"k": [1, "x", null]}, "list": [{"a": true}, 2.5]})
            )
            .unwrap(),
            json!("{k=[1, x, null]} [{a=true}, 2.5]")
        );
    }

    // AWS: a non-integer argument "is rounded off to the nearest integer"; moto rounds as Java's
    // Math.round (corpus case intrinsic-mathadd-float).
    #[test]
    fn math_add_rounds_non_integers_as_java_does() {
        assert_eq!(eval("States.MathAdd(1.5, 1)", json!({})).unwrap(), json!(3));
        assert_eq!(
            eval("States.MathAdd(-1.5, 0)", json!({})).unwrap(),
            json!(-1)
        );
        assert_eq!(
            eval("States.MathAdd(2.4, -0.6)", json!({})).unwrap(),
            json!(1)
        );
        assert!(eval("States.MathAdd('1', 1)", json!({})).is_err());
    }

    #[test]
    fn json_string_round_trip() {
        let data =
            json!({"escapedJsonString": "{\"foo\": \"bar\"}", "unescapedJson": {"foo": "bar"}});
        assert_eq!(
            eval("States.StringToJson($.escapedJsonString)", data.clone()).unwrap(),
            json!({"foo": "bar"})
        );
        assert_eq!(
            eval("States.JsonToString($.unescapedJson)", data).unwrap(),
            json!("{\"foo\":\"bar\"}")
        );
    }

    #[test]
    fn array_functions() {
        assert_eq!(
            eval(
                "States.Array('Foo', 2020, $.bar, null)",
                json!({"bar": {"x": 1}})
            )
            .unwrap(),
            json!(["Foo", 2020, {"x": 1}, null])
        );
        assert_eq!(
            eval(
                "States.ArrayPartition($.inputArray, 4)",
                json!({"inputArray": [1,2,3,4,5,6,7,8,9]})
            )
            .unwrap(),
            json!([[1, 2, 3, 4], [5, 6, 7, 8], [9]])
        );
        assert_eq!(
            eval(
                "States.ArrayContains($.inputArray, $.lookingFor)",
                json!({"inputArray": [1,2,3,4,5,6,7,8,9], "lookingFor": 5})
            )
            .unwrap(),
            json!(true)
        );
        assert_eq!(
            eval("States.ArrayRange(1, 9, 2)", json!({})).unwrap(),
            json!([1, 3, 5, 7, 9])
        );
        assert!(eval("States.ArrayRange(1, 2000, 1)", json!({})).is_err());
        assert_eq!(
            eval(
                "States.ArrayGetItem($.inputArray, $.index)",
                json!({"inputArray": [1,2,3,4,5,6,7,8,9], "index": 5})
            )
            .unwrap(),
            json!(6)
        );
        assert!(eval("States.ArrayGetItem($.a, 3)", json!({"a": [1]})).is_err());
        assert_eq!(
            eval("States.ArrayLength($.a)", json!({"a": [1,2,3,4,5,6,7,8,9]})).unwrap(),
            json!(9)
        );
        assert_eq!(
            eval("States.ArrayUnique($.a)", json!({"a": [1,2,3,3,3,3,3,3,4]})).unwrap(),
            json!([1, 2, 3, 4])
        );
    }

    #[test]
    fn base64_hash_merge_math_split_uuid() {
        assert_eq!(
            eval(
                "States.Base64Encode($.input)",
                json!({"input": "Data to encode"})
            )
            .unwrap(),
            json!("RGF0YSB0byBlbmNvZGU=")
        );
        assert_eq!(
            eval(
                "States.Base64Decode($.base64)",
                json!({"base64": "RGF0YSB0byBlbmNvZGU="})
            )
            .unwrap(),
            json!("Data to encode")
        );
        assert_eq!(
            eval(
                "States.Hash($.Data, $.Algorithm)",
                json!({"Data": "input data", "Algorithm": "SHA-1"})
            )
            .unwrap(),
            // The AWS reference's example.
            json!("aaff4a450a104cd177d28d18d74485e8cae074b7")
        );
        assert_eq!(
            eval("States.Hash('abc', 'MD5')", json!({})).unwrap(),
            json!("900150983cd24fb0d6963f7d28e17f72")
        );
        assert_eq!(
            eval("States.Hash('abc', 'SHA-3')", json!({}))
                .unwrap_err()
                .error,
            "States.IntrinsicFailure"
        );
        assert_eq!(
            eval("States.Hash('abc', 'SHA-256')", json!({})).unwrap(),
            json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(
            eval(
                "States.JsonMerge($.json1, $.json2, false)",
                json!({
                    "json1": { "a": {"a1": 1, "a2": 2}, "b": 2 },
                    "json2": { "a": {"a3": 1, "a4": 2}, "c": 3 }
                })
            )
            .unwrap(),
            json!({"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3})
        );
        let n = eval(
            "States.MathRandom($.start, $.end)",
            json!({"start": 1, "end": 999}),
        )
        .unwrap();
        assert!((1..=999).contains(&n.as_i64().unwrap()));
        assert_eq!(
            eval("States.MathRandom(4, 4)", json!({})).unwrap(),
            json!(4)
        );
        let seeded = |_: ()| eval("States.MathRandom(1, 999, 7)", json!({})).unwrap();
        assert_eq!(seeded(()), seeded(()));
        assert_eq!(
            eval(
                "States.MathAdd($.value1, $.step)",
                json!({"value1": 111, "step": -1})
            )
            .unwrap(),
            json!(110)
        );
        assert_eq!(
            eval(
                "States.StringSplit($.inputString, $.splitter)",
                json!({"inputString": "1,2,3,4,5", "splitter": ","})
            )
            .unwrap(),
            json!(["1", "2", "3", "4", "5"])
        );
        assert_eq!(
            eval(
                "States.StringSplit($.inputString, $.splitter)",
                json!({"inputString": "This.is+a,test=string", "splitter": ".+,="})
            )
            .unwrap(),
            json!(["This", "is", "a", "test", "string"])
        );
        let id = eval("States.UUID()", json!({})).unwrap();
        assert_eq!(id.as_str().unwrap().len(), 36);
    }

    #[test]
    fn nested_calls_and_parse_errors() {
        assert_eq!(
            eval(
                "States.ArrayLength(States.StringSplit('a b c', ' '))",
                json!({})
            )
            .unwrap(),
            json!(3)
        );
        assert!(Call::parse("States.Nope(1)").is_err());
        assert!(Call::parse("States.Array(1").is_err());
        assert_eq!(
            eval("States.Array($.missing)", json!({}))
                .unwrap_err()
                .error,
            "States.Runtime"
        );
    }
}
