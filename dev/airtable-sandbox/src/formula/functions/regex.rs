//! REGEX_MATCH, REGEX_EXTRACT, REGEX_REPLACE.
//!
//! Airtable uses RE2 syntax, which Rust's `regex` crate closely follows. A pattern that
//! does not compile makes the result `#ERROR!`. Compiled patterns are cached per thread,
//! since a filter evaluates the same pattern once per record.

use std::cell::RefCell;
use std::collections::HashMap;

use ::regex::{Captures, Regex, RegexBuilder, Replacer};

use super::super::value::{FormulaValue, MAX_TEXT_BYTES};

/// Caps on compiled size, so a hostile pattern cannot take much memory or time.
const SIZE_LIMIT: usize = 1 << 20;
/// How many patterns each thread keeps compiled before starting over.
const CACHE_CAPACITY: usize = 64;

thread_local! {
    static CACHE: RefCell<HashMap<String, Option<Regex>>> = RefCell::new(HashMap::new());
}

/// The compiled pattern, or `None` if it is invalid.
fn compile(pattern: &str) -> Option<Regex> {
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(cached) = cache.get(pattern) {
            return cached.clone();
        }
        let compiled = RegexBuilder::new(pattern)
            .size_limit(SIZE_LIMIT)
            .dfa_size_limit(SIZE_LIMIT)
            .build()
            .ok();
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(pattern.to_string(), compiled.clone());
        compiled
    })
}

pub(super) fn call(name: &str, args: &[FormulaValue]) -> Option<FormulaValue> {
    let text = |i: usize| args.get(i).map(FormulaValue::to_text).unwrap_or_default();
    if !matches!(name, "REGEX_MATCH" | "REGEX_EXTRACT" | "REGEX_REPLACE") {
        return None;
    }
    let Some(re) = compile(&text(1)) else {
        return Some(FormulaValue::error());
    };
    let subject = text(0);
    Some(match name {
        "REGEX_MATCH" => FormulaValue::Bool(re.is_match(&subject)),
        // The whole first match; no match is an error, as in Airtable.
        "REGEX_EXTRACT" => re.find(&subject).map_or_else(FormulaValue::error, |m| {
            FormulaValue::Text(m.as_str().to_string())
        }),
        // Replaces every match; `$1`/`${name}` in the replacement refer to groups.
        _ => {
            let template = text(2);
            let mut replacer = Bounded {
                template: &template,
                references: template.matches('$').count(),
                written: subject.len(),
                overflow: false,
            };
            let replaced = re.replace_all(&subject, replacer.by_ref()).into_owned();
            if replacer.overflow {
                FormulaValue::error()
            } else {
                FormulaValue::bounded_text(replaced)
            }
        }
    })
}

/// Expands the replacement template for each match, but stops writing once the result
/// could exceed [`MAX_TEXT_BYTES`] (an empty pattern matches at every position, so an
/// unbounded replacement could otherwise build terabytes).
struct Bounded<'t> {
    template: &'t str,
    /// How many `$` group references the template may contain.
    references: usize,
    /// A running upper bound on the output length.
    written: usize,
    overflow: bool,
}

impl Replacer for Bounded<'_> {
    fn replace_append(&mut self, caps: &Captures<'_>, dst: &mut String) {
        if self.overflow {
            return;
        }
        // Every group lies inside the whole match, so this bounds the expansion.
        let whole = caps.get(0).map_or(0, |m| m.len());
        let most = self
            .references
            .saturating_mul(whole)
            .saturating_add(self.template.len());
        self.written = self.written.saturating_add(most);
        if self.written > MAX_TEXT_BYTES {
            self.overflow = true;
            return;
        }
        caps.expand(self.template, dst);
    }
}

#[cfg(test)]
mod tests {
    use crate::formula::FormulaValue;
    use crate::formula::testing::{run, text};

    #[test]
    fn regex_functions() {
        assert_eq!(
            run(r#"REGEX_MATCH('abc123', '\d+')"#),
            FormulaValue::Bool(true)
        );
        assert_eq!(
            run(r#"REGEX_MATCH('abc', '^\d+$')"#),
            FormulaValue::Bool(false)
        );
        assert_eq!(
            run("REGEX_MATCH('ABC', '(?i)abc')"),
            FormulaValue::Bool(true)
        );
        assert_eq!(
            run(r#"REGEX_EXTRACT('order #4521 ok', '\d+')"#),
            text("4521")
        );
        assert_eq!(
            run(r#"REGEX_EXTRACT('none', '\d+')"#),
            FormulaValue::error()
        );
        assert_eq!(run(r#"REGEX_REPLACE('a1b22c', '\d+', '#')"#), text("a#b#c"));
        assert_eq!(
            run(r#"REGEX_REPLACE('John Smith', '(\w+) (\w+)', '$2, $1')"#),
            text("Smith, John")
        );
    }

    #[test]
    fn replacement_size_is_bounded() {
        assert!(
            run("REGEX_REPLACE(REPT('a', 100000), '', REPT('b', 100))") == FormulaValue::error()
        );
        assert_eq!(
            run("LEN(REGEX_REPLACE(REPT('a', 1000), 'a', 'bb'))"),
            crate::formula::testing::num(2000.0)
        );
        assert!(
            run("REGEX_REPLACE(REPT('a', 1000), '(a+)', REPT('$1', 1000))")
                == FormulaValue::error()
        );
    }

    #[test]
    fn invalid_patterns_are_errors() {
        assert_eq!(run("REGEX_MATCH('a', '[a-')"), FormulaValue::error());
        assert_eq!(run("REGEX_MATCH('a', '(')"), FormulaValue::error());
        // Too big to compile within the size limit.
        assert_eq!(
            run(r"REGEX_MATCH('a', '\w{1000}{1000}')"),
            FormulaValue::error()
        );
        // The cache keeps working after many distinct patterns.
        for i in 0..200 {
            assert_eq!(
                run(&format!("REGEX_MATCH('x{i}', 'x{i}')")),
                FormulaValue::Bool(true)
            );
        }
    }
}
