//! The JSONPath subset ASL's classic data flow needs: reference paths.
//!
//! AWS calls a *reference path* a path that names exactly one node: `$`, `.field`, `['field']`
//! and `[n]` steps, rooted at the state's input (`$`) or at the context object (`$$`). ResultPath,
//! Choice variables, the `...Path` fields of Wait and Fail and intrinsic arguments take only
//! those ([`Path::parse`]). InputPath, OutputPath, ItemsPath and the `.$` fields of payload
//! templates also take paths that select several nodes ([`Path::parse_query`]: wildcards,
//! `..`, slices, simple filters), whose value is the array of matches, as on AWS; richer
//! filter expressions are refused at load rather than half-supported.

use serde_json::{Map, Value};

/// Where a path starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    /// `$`: the data the state is working on.
    Data,
    /// `$$`: the context object (execution, state, map item).
    Context,
}

/// One step of a path. `Field` and `Index` make reference paths; the others select several
/// nodes and are only parsed by [`Path::parse_query`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Field(String),
    Index(usize),
    /// `[*]` or `.*`: every item of an array, every value of an object.
    Wildcard,
    /// `..`: the node and all its descendants (the next step applies to each).
    Descend,
    /// `[start:end:step]`, Python-style (negative counts from the end).
    Slice {
        start: Option<i64>,
        end: Option<i64>,
        step: i64,
    },
    /// `[?(@.field op literal)]` or `[?(@.field)]`: the array items that pass.
    Filter(Filter),
}

impl Step {
    fn is_reference(&self) -> bool {
        matches!(self, Step::Field(_) | Step::Index(_))
    }

    fn describe(&self) -> &'static str {
        match self {
            Step::Field(_) | Step::Index(_) => "a field or index",
            Step::Wildcard => "a wildcard",
            Step::Descend => "a deep scan '..'",
            Step::Slice { .. } => "a slice",
            Step::Filter(_) => "a filter",
        }
    }

    fn apply<'a>(&self, node: &'a Value) -> Vec<&'a Value> {
        match (self, node) {
            (Step::Field(name), Value::Object(map)) => map.get(name).into_iter().collect(),
            (Step::Index(index), Value::Array(items)) => items.get(*index).into_iter().collect(),
            (Step::Wildcard, Value::Array(items)) => items.iter().collect(),
            (Step::Wildcard, Value::Object(map)) => map.values().collect(),
            (Step::Descend, _) => {
                let mut out = vec![node];
                let mut at = 0;
                while at < out.len() {
                    let children: Vec<&Value> = match out[at] {
                        Value::Array(items) => items.iter().collect(),
                        Value::Object(map) => map.values().collect(),
                        _ => Vec::new(),
                    };
                    out.splice(at + 1..at + 1, children);
                    at += 1;
                }
                out
            }
            (Step::Slice { start, end, step }, Value::Array(items)) => {
                slice(items.len(), *start, *end, *step)
                    .into_iter()
                    .filter_map(|index| items.get(index))
                    .collect()
            }
            (Step::Filter(filter), Value::Array(items)) => {
                items.iter().filter(|item| filter.passes(item)).collect()
            }
            _ => Vec::new(),
        }
    }
}

/// The indexes a Python-style slice takes from a list of `len` items.
fn slice(len: usize, start: Option<i64>, end: Option<i64>, step: i64) -> Vec<usize> {
    let len = len as i64;
    let clamp = |bound: i64, low: i64, high: i64| {
        let bound = if bound < 0 { bound + len } else { bound };
        bound.clamp(low, high)
    };
    let mut out = Vec::new();
    if step > 0 {
        let mut at = start.map_or(0, |s| clamp(s, 0, len));
        let stop = end.map_or(len, |e| clamp(e, 0, len));
        while at < stop {
            out.push(at as usize);
            at += step;
        }
    } else {
        let mut at = start.map_or(len - 1, |s| clamp(s, -1, len - 1));
        let stop = end.map_or(-1, |e| clamp(e, -1, len - 1));
        while at > stop {
            out.push(at as usize);
            at += step;
        }
    }
    out
}

/// A bracket that is neither a quoted name nor a filter: `n`, `*`, or a slice.
fn bracket(inner: &str) -> Option<Step> {
    if inner == "*" {
        return Some(Step::Wildcard);
    }
    if let Ok(index) = inner.parse::<usize>() {
        return Some(Step::Index(index));
    }
    let parts: Vec<&str> = inner.split(':').map(str::trim).collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let bound = |text: &str| -> Option<Option<i64>> {
        if text.is_empty() {
            Some(None)
        } else {
            text.parse::<i64>().ok().map(Some)
        }
    };
    let step = match parts.get(2) {
        None => 1,
        Some(text) => bound(text)?.unwrap_or(1),
    };
    if step == 0 {
        return None;
    }
    Some(Step::Slice {
        start: bound(parts[0])?,
        end: bound(parts[1])?,
        step,
    })
}

/// A filter on array items: `?(@.a.b)` (the field exists) or `?(@.a.b op literal)` with `==`,
/// `!=`, `<`, `<=`, `>`, `>=` and a number, a quoted string, `true`, `false` or `null`.
/// Anything richer (`&&`, regular expressions, functions) is refused at load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The fields after `@` (empty: the item itself).
    pub fields: Vec<String>,
    pub comparison: Option<(String, Value)>,
}

impl Filter {
    fn parse(text: &str) -> Result<Filter, String> {
        let body = text
            .strip_prefix("?(")
            .and_then(|rest| rest.strip_suffix(')'))
            .ok_or_else(|| format!("'{text}' is not a filter '?(...)'"))?
            .trim();
        let operator = ["==", "!=", "<=", ">=", "<", ">"]
            .iter()
            .filter_map(|op| body.find(op).map(|at| (at, *op)))
            .min_by_key(|(at, op)| (*at, std::cmp::Reverse(op.len())));
        let (subject, comparison) = match operator {
            None => (body, None),
            Some((at, op)) => {
                let literal = body[at + op.len()..].trim();
                let value = if let Some(inner) = literal
                    .strip_prefix('\'')
                    .and_then(|rest| rest.strip_suffix('\''))
                {
                    Value::String(inner.to_string())
                } else {
                    serde_json::from_str(literal)
                        .map_err(|_| format!("filter '{text}': '{literal}' is not a literal"))?
                };
                (body[..at].trim(), Some((op.to_string(), value)))
            }
        };
        let rest = subject
            .strip_prefix('@')
            .ok_or_else(|| format!("filter '{text}' must test '@' (the item)"))?;
        let mut fields = Vec::new();
        for field in rest.split('.').skip(1) {
            if field.is_empty()
                || !field
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
            {
                return Err(format!(
                    "filter '{text}': only '@.field' paths are supported"
                ));
            }
            fields.push(field.to_string());
        }
        if !rest.is_empty() && fields.is_empty() {
            return Err(format!(
                "filter '{text}': only '@.field' paths are supported"
            ));
        }
        Ok(Filter { fields, comparison })
    }

    fn passes(&self, item: &Value) -> bool {
        let mut node = item;
        for field in &self.fields {
            match node.get(field) {
                Some(next) => node = next,
                None => return false,
            }
        }
        let Some((op, literal)) = &self.comparison else {
            return true;
        };
        let ordering = match (node, literal) {
            (Value::Number(a), Value::Number(b)) => a
                .as_f64()
                .zip(b.as_f64())
                .and_then(|(a, b)| a.partial_cmp(&b)),
            (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
            (a, b) if a == b => Some(std::cmp::Ordering::Equal),
            _ => None,
        };
        use std::cmp::Ordering::*;
        match (op.as_str(), ordering) {
            ("==", Some(Equal)) => true,
            ("!=", ordering) => ordering != Some(Equal),
            ("<", Some(Less)) | (">", Some(Greater)) => true,
            ("<=", Some(Less | Equal)) | (">=", Some(Greater | Equal)) => true,
            _ => false,
        }
    }
}

/// A parsed reference path; `text` is kept for error messages (AWS quotes the path as written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub root: Root,
    pub steps: Vec<Step>,
    pub text: String,
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl Path {
    /// Parses a reference path; the error says what is wrong, the caller adds where.
    pub fn parse(text: &str) -> Result<Path, String> {
        let path = Path::parse_query(text)?;
        match path.steps.iter().find(|step| !step.is_reference()) {
            None => Ok(path),
            Some(step) => Err(format!(
                "'{text}': {} is not allowed here (a reference path names one node)",
                step.describe()
            )),
        }
    }

    /// Parses a path that may select several nodes (`[*]`, `.*`, `..name`, slices `[a:b:c]`,
    /// filters `[?(@.field op literal)]`), as InputPath, OutputPath, ItemsPath and the `.$`
    /// fields of Parameters, ResultSelector and ItemSelector accept on AWS.
    pub fn parse_query(text: &str) -> Result<Path, String> {
        let (root, rest) = if let Some(rest) = text.strip_prefix("$$") {
            (Root::Context, rest)
        } else if let Some(rest) = text.strip_prefix('$') {
            (Root::Data, rest)
        } else {
            return Err(format!(
                "'{text}' is not a JSONPath (it must start with '$')"
            ));
        };
        let chars: Vec<char> = rest.chars().collect();
        let mut steps = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '.' => {
                    i += 1;
                    if chars.get(i) == Some(&'.') {
                        // `..name`, `..*`, `..[...]`: every descendant, then the next step.
                        steps.push(Step::Descend);
                        i += 1;
                        if chars.get(i) == Some(&'[') {
                            continue;
                        }
                    }
                    let start = i;
                    while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                        i += 1;
                    }
                    let name: String = chars[start..i].iter().collect();
                    if name.is_empty() {
                        return Err(format!("'{text}': empty field name"));
                    }
                    if name == "*" {
                        steps.push(Step::Wildcard);
                    } else {
                        steps.push(Step::Field(name));
                    }
                }
                '[' => {
                    i += 1;
                    match chars.get(i) {
                        Some(&quote @ ('\'' | '"')) => {
                            i += 1;
                            let mut name = String::new();
                            loop {
                                match chars.get(i) {
                                    None => return Err(format!("'{text}': unclosed quote")),
                                    Some('\\') if chars.get(i + 1).is_some() => {
                                        name.push(chars[i + 1]);
                                        i += 2;
                                    }
                                    Some(&c) if c == quote => {
                                        i += 1;
                                        break;
                                    }
                                    Some(&c) => {
                                        name.push(c);
                                        i += 1;
                                    }
                                }
                            }
                            if chars.get(i) != Some(&']') {
                                return Err(format!("'{text}': expected ']' after a quoted name"));
                            }
                            i += 1;
                            steps.push(Step::Field(name));
                        }
                        Some('?') => {
                            // A filter runs to the `)]` that closes it (quotes may hold either).
                            let start = i;
                            let mut quote: Option<char> = None;
                            while i < chars.len() {
                                match (quote, chars[i]) {
                                    (Some(q), c) if c == q => quote = None,
                                    (None, c @ ('\'' | '"')) => quote = Some(c),
                                    (None, ')') if chars.get(i + 1) == Some(&']') => break,
                                    _ => {}
                                }
                                i += 1;
                            }
                            if i >= chars.len() {
                                return Err(format!("'{text}': unclosed filter"));
                            }
                            let inner: String = chars[start..=i].iter().collect();
                            i += 2;
                            steps.push(Step::Filter(
                                Filter::parse(&inner).map_err(|e| format!("'{text}': {e}"))?,
                            ));
                        }
                        _ => {
                            let start = i;
                            while i < chars.len() && chars[i] != ']' {
                                i += 1;
                            }
                            let inner: String = chars[start..i].iter().collect();
                            if i >= chars.len() {
                                return Err(format!("'{text}': unclosed '['"));
                            }
                            i += 1;
                            steps.push(bracket(inner.trim()).ok_or_else(|| {
                                format!(
                                    "'{text}': '[{inner}]' is not supported (only [n], ['name'], [*], [a:b:c], [?(...)])"
                                )
                            })?);
                        }
                    }
                }
                c => return Err(format!("'{text}': unexpected '{c}'")),
            }
        }
        if steps.last() == Some(&Step::Descend) {
            return Err(format!("'{text}': '..' needs a name after it"));
        }
        Ok(Path {
            root,
            steps,
            text: text.to_string(),
        })
    }

    /// Whether the path names at most one node (only fields and indexes).
    pub fn is_reference(&self) -> bool {
        self.steps.iter().all(Step::is_reference)
    }

    /// What the path selects: for a reference path the node, if there is one; for any other a
    /// JSON array of every match, in document order (empty when nothing matches), as AWS's
    /// JSONPath gives an indefinite path.
    pub fn query(&self, data: &Value, context: &Value) -> Option<Value> {
        if self.is_reference() {
            return self.resolve(data, context).cloned();
        }
        let start = match self.root {
            Root::Data => data,
            Root::Context => context,
        };
        let mut nodes = vec![start];
        for step in &self.steps {
            nodes = nodes
                .into_iter()
                .flat_map(|node| step.apply(node))
                .collect();
        }
        Some(Value::Array(nodes.into_iter().cloned().collect()))
    }

    /// The node the path names in `data`, if there is one. The root is the caller's choice
    /// (it passes the context object for `$$` paths).
    pub fn get<'a>(&self, data: &'a Value) -> Option<&'a Value> {
        let mut node = data;
        for step in &self.steps {
            node = match (step, node) {
                (Step::Field(name), Value::Object(map)) => map.get(name)?,
                (Step::Index(index), Value::Array(items)) => items.get(*index)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// Resolves against the state's data or the context object, by the path's root.
    pub fn resolve<'a>(&self, data: &'a Value, context: &'a Value) -> Option<&'a Value> {
        match self.root {
            Root::Data => self.get(data),
            Root::Context => self.get(context),
        }
    }

    /// Writes `value` at the path inside `target`, as ResultPath does: missing objects on the
    /// way are created; a step through a value that is neither object nor (for `[n]`) array is
    /// an error, because AWS refuses to overwrite it.
    pub fn set(&self, target: Value, value: Value) -> Result<Value, String> {
        if self.root == Root::Context {
            return Err(format!(
                "'{}': cannot write to the context object",
                self.text
            ));
        }
        let mut target = target;
        if self.steps.is_empty() {
            return Ok(value);
        }
        if !self.is_reference() {
            return Err(format!(
                "'{}': only a reference path can be written",
                self.text
            ));
        }
        let mut node = &mut target;
        let last = self.steps.len() - 1;
        for (n, step) in self.steps.iter().enumerate() {
            match step {
                Step::Field(name) => {
                    if node.is_null() && n > 0 {
                        *node = Value::Object(Map::new());
                    }
                    let Value::Object(map) = node else {
                        return Err(format!(
                            "'{}': cannot set field '{name}' on a non-object",
                            self.text
                        ));
                    };
                    if n == last {
                        map.insert(name.clone(), value);
                        return Ok(target);
                    }
                    node = map
                        .entry(name.clone())
                        .or_insert_with(|| Value::Object(Map::new()));
                }
                Step::Index(index) => {
                    let Value::Array(items) = node else {
                        return Err(format!(
                            "'{}': cannot index [{index}] into a non-array",
                            self.text
                        ));
                    };
                    let Some(slot) = items.get_mut(*index) else {
                        return Err(format!("'{}': index [{index}] is out of range", self.text));
                    };
                    if n == last {
                        *slot = value;
                        return Ok(target);
                    }
                    node = slot;
                }
                _ => {
                    return Err(format!(
                        "'{}': only a reference path can be written",
                        self.text
                    ));
                }
            }
        }
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_dot_bracket_and_index_steps() {
        let path = Path::parse("$.a['b c'][2].d").unwrap();
        assert_eq!(path.root, Root::Data);
        assert_eq!(
            path.steps,
            vec![
                Step::Field("a".into()),
                Step::Field("b c".into()),
                Step::Index(2),
                Step::Field("d".into())
            ]
        );
        assert_eq!(Path::parse("$$.Execution.Id").unwrap().root, Root::Context);
    }

    #[test]
    fn refuses_what_is_not_a_reference_path() {
        for bad in [
            "a.b",
            "$..a",
            "$.a[*]",
            "$.a[?(@.b)]",
            "$.a[1:2]",
            "$.",
            "$['a",
        ] {
            assert!(Path::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    // Jayway-style results (AWS's JSONPath), as moto records them in the corpus cases
    // dataflow-jsonpath-filters and dataflow-jsonpath-filter-expression.
    #[test]
    fn queries_select_every_match_as_an_array() {
        let data = json!({"items": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 1}, {"sku": "c"}],
                          "m": {"x": {"id": 1}, "y": {"id": 2}}});
        let query = |text: &str| Path::parse_query(text).unwrap().query(&data, &json!({}));
        assert_eq!(query("$.items[*].sku"), Some(json!(["a", "b", "c"])));
        assert_eq!(query("$.items[-1:].sku"), Some(json!(["c"])));
        assert_eq!(query("$.items[0:2].qty"), Some(json!([2, 1])));
        assert_eq!(query("$.items[::-2].sku"), Some(json!(["c", "a"])));
        assert_eq!(query("$.items[?(@.qty > 1)].sku"), Some(json!(["a"])));
        assert_eq!(query("$.items[?(@.qty)].sku"), Some(json!(["a", "b"])));
        assert_eq!(query("$.items[?(@.sku == 'b')].qty"), Some(json!([1])));
        assert_eq!(
            query("$.items[?(@.sku != 'b')].sku"),
            Some(json!(["a", "c"]))
        );
        assert_eq!(query("$.m.*.id"), Some(json!([1, 2])));
        assert_eq!(query("$..id"), Some(json!([1, 2])));
        assert_eq!(query("$.nothing[*]"), Some(json!([])));
        // A reference path still names one node, or nothing.
        assert_eq!(query("$.items[1].sku"), Some(json!("b")));
        assert_eq!(query("$.items[7]"), None);
        for bad in [
            "$.a[?(@.b =~ /x/)]",
            "$.a[?(@.b && @.c)]",
            "$.a[1:2:0]",
            "$..",
            "$.a[?(x > 1)]",
        ] {
            assert!(Path::parse_query(bad).is_err(), "{bad} should be refused");
        }
        assert!(
            Path::parse_query("$.a[*]")
                .unwrap()
                .set(json!({}), json!(1))
                .is_err()
        );
    }

    #[test]
    fn gets_nodes_and_misses() {
        let data = json!({"a": {"b": [10, {"c": true}]}});
        assert_eq!(Path::parse("$").unwrap().get(&data), Some(&data));
        assert_eq!(
            Path::parse("$.a.b[0]").unwrap().get(&data),
            Some(&json!(10))
        );
        assert_eq!(
            Path::parse("$.a.b[1].c").unwrap().get(&data),
            Some(&json!(true))
        );
        assert_eq!(Path::parse("$.a.x").unwrap().get(&data), None);
        assert_eq!(Path::parse("$.a.b[5]").unwrap().get(&data), None);
    }

    #[test]
    fn set_creates_missing_objects_and_refuses_scalars() {
        let path = Path::parse("$.x.y.z").unwrap();
        assert_eq!(
            path.set(json!({"a": 1}), json!(2)).unwrap(),
            json!({"a": 1, "x": {"y": {"z": 2}}})
        );
        assert!(path.set(json!({"x": 5}), json!(2)).is_err());
        assert_eq!(
            Path::parse("$")
                .unwrap()
                .set(json!({"a": 1}), json!(3))
                .unwrap(),
            json!(3)
        );
        assert!(
            Path::parse("$.a")
                .unwrap()
                .set(json!("s"), json!(1))
                .is_err()
        );
    }
}
