//! The JSONPath subset ASL's classic data flow needs: reference paths.
//!
//! AWS calls a *reference path* a path that names exactly one node: `$`, `.field`, `['field']`
//! and `[n]` steps, rooted at the state's input (`$`) or at the context object (`$$`). Those are
//! the only paths this interpreter accepts: wildcards, filters and slices (`[*]`, `[?(...)]`,
//! `..`) select several nodes, which the states that matter here never need, so they are refused
//! when the definition is loaded rather than half-supported.

use serde_json::{Map, Value};

/// Where a path starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    /// `$`: the data the state is working on.
    Data,
    /// `$$`: the context object (execution, state, map item).
    Context,
}

/// One step of a reference path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Field(String),
    Index(usize),
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
                        return Err(format!("'{text}': deep scan '..' is not supported"));
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
                        return Err(format!("'{text}': wildcards are not supported"));
                    }
                    steps.push(Step::Field(name));
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
                            let index = inner.trim().parse::<usize>().map_err(|_| {
                                format!(
                                    "'{text}': '[{inner}]' is not supported (only [n], ['name'])"
                                )
                            })?;
                            steps.push(Step::Index(index));
                        }
                    }
                }
                c => return Err(format!("'{text}': unexpected '{c}'")),
            }
        }
        Ok(Path {
            root,
            steps,
            text: text.to_string(),
        })
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
