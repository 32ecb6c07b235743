//! Splits formula text into tokens.
//!
//! Works on `char`s rather than bytes so that no input, however malformed, can land a
//! slice off a UTF-8 boundary.

use super::FormulaError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    Number(f64),
    /// A string literal, escapes already resolved.
    Text(String),
    /// `{Field Name}`, escapes already resolved.
    Field(String),
    /// A bare word: a function name when followed by `(`, otherwise a field name.
    Ident(String),
    LParen,
    RParen,
    Comma,
    Plus,
    Minus,
    Star,
    Slash,
    Amp,
    Eq,
    NotEq,
    Lt,
    Gt,
    LtEq,
    GtEq,
}

/// A token and the character offset where it starts, for error messages.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spanned {
    pub token: Token,
    pub pos: usize,
}

fn error(message: String) -> FormulaError {
    FormulaError { message }
}

pub(crate) fn tokenize(source: &str) -> Result<Vec<Spanned>, FormulaError> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let start = i;
        let next = chars.get(i + 1).copied();
        let token = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            // Airtable allows `/* comments */` in formulas.
            '/' if next == Some('*') => {
                let close = chars
                    .get(i + 2..)
                    .and_then(|rest| rest.windows(2).position(|w| w == ['*', '/']));
                match close {
                    Some(offset) => {
                        i += offset + 4;
                        continue;
                    }
                    None => {
                        return Err(error(format!(
                            "Invalid formula: unterminated comment at position {}",
                            start + 1
                        )));
                    }
                }
            }
            '0'..='9' => {
                let (n, end) = number(&chars, i)?;
                i = end;
                Token::Number(n)
            }
            '.' if next.is_some_and(|d| d.is_ascii_digit()) => {
                let (n, end) = number(&chars, i)?;
                i = end;
                Token::Number(n)
            }
            '"' | '\'' => {
                let (s, end) = string(&chars, i)?;
                i = end;
                Token::Text(s)
            }
            '{' => {
                let (s, end) = field(&chars, i)?;
                i = end;
                Token::Field(s)
            }
            c if c.is_alphabetic() || c == '_' => {
                let end = chars[i..]
                    .iter()
                    .position(|c| !(c.is_alphanumeric() || *c == '_'))
                    .map_or(chars.len(), |p| i + p);
                let word: String = chars[i..end].iter().collect();
                i = end;
                Token::Ident(word)
            }
            _ => {
                let (token, len) = match (c, next) {
                    ('!', Some('=')) => (Token::NotEq, 2),
                    ('<', Some('=')) => (Token::LtEq, 2),
                    ('>', Some('=')) => (Token::GtEq, 2),
                    ('<', _) => (Token::Lt, 1),
                    ('>', _) => (Token::Gt, 1),
                    ('=', _) => (Token::Eq, 1),
                    ('+', _) => (Token::Plus, 1),
                    ('-', _) => (Token::Minus, 1),
                    ('*', _) => (Token::Star, 1),
                    ('/', _) => (Token::Slash, 1),
                    ('&', _) => (Token::Amp, 1),
                    ('(', _) => (Token::LParen, 1),
                    (')', _) => (Token::RParen, 1),
                    (',', _) => (Token::Comma, 1),
                    _ => {
                        return Err(error(format!(
                            "Invalid formula: unexpected character '{c}' at position {}",
                            start + 1
                        )));
                    }
                };
                i += len;
                token
            }
        };
        tokens.push(Spanned { token, pos: start });
    }
    Ok(tokens)
}

/// Reads `123`, `1.5`, `.5`, `1e-5` (Python's `str(float)` emits exponents, and
/// pyairtable passes numbers through `str`).
fn number(chars: &[char], start: usize) -> Result<(f64, usize), FormulaError> {
    let digit_at = |i: usize| chars.get(i).is_some_and(char::is_ascii_digit);
    let mut i = start;
    while digit_at(i) {
        i += 1;
    }
    if chars.get(i) == Some(&'.') {
        i += 1;
        while digit_at(i) {
            i += 1;
        }
    }
    if matches!(chars.get(i), Some('e' | 'E')) {
        let sign = usize::from(matches!(chars.get(i + 1), Some('+' | '-')));
        if digit_at(i + 1 + sign) {
            i += 1 + sign;
            while digit_at(i) {
                i += 1;
            }
        }
    }
    let text: String = chars[start..i].iter().collect();
    text.parse::<f64>()
        .map(|n| (n, i))
        .map_err(|_| error(format!("Invalid formula: bad number '{text}'")))
}

/// Reads a quoted string. Backslash escapes `\" \' \\ \n \t \r` resolve; any other
/// backslash is kept literally, so regular expressions like `"\d+"` survive as written
/// (Airtable's exact handling of unknown escapes is unconfirmed).
fn string(chars: &[char], start: usize) -> Result<(String, usize), FormulaError> {
    let quote = chars.get(start).copied().unwrap_or('"');
    let mut out = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i).copied() {
            None => {
                return Err(error(format!(
                    "Invalid formula: unterminated string starting at position {}",
                    start + 1
                )));
            }
            Some('\\') => {
                match chars.get(i + 1).copied() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some(c @ ('\\' | '"' | '\'')) => out.push(c),
                    Some(c) => {
                        out.push('\\');
                        out.push(c);
                    }
                    None => {
                        return Err(error(format!(
                            "Invalid formula: unterminated string starting at position {}",
                            start + 1
                        )));
                    }
                }
                i += 2;
            }
            Some(c) if c == quote => return Ok((out, i + 1)),
            Some(c) => {
                out.push(c);
                i += 1;
            }
        }
    }
}

/// Reads `{Field Name}`. pyairtable escapes `}` in names as `\}`; `\\` is a backslash;
/// any other backslash is part of the name.
fn field(chars: &[char], start: usize) -> Result<(String, usize), FormulaError> {
    let mut out = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i).copied() {
            None => {
                return Err(error(format!(
                    "Invalid formula: unclosed field reference starting at position {}",
                    start + 1
                )));
            }
            Some('\\') if matches!(chars.get(i + 1), Some('}' | '\\')) => {
                out.extend(chars.get(i + 1));
                i += 2;
            }
            Some('}') => {
                if out.is_empty() {
                    return Err(error(format!(
                        "Invalid formula: empty field reference at position {}",
                        start + 1
                    )));
                }
                return Ok((out, i + 1));
            }
            Some(c) => {
                out.push(c);
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Token> {
        tokenize(s).unwrap().into_iter().map(|t| t.token).collect()
    }

    #[test]
    fn operators_and_punctuation() {
        assert_eq!(
            toks("+ - * / & = != < > <= >= ( ) ,"),
            vec![
                Token::Plus,
                Token::Minus,
                Token::Star,
                Token::Slash,
                Token::Amp,
                Token::Eq,
                Token::NotEq,
                Token::Lt,
                Token::Gt,
                Token::LtEq,
                Token::GtEq,
                Token::LParen,
                Token::RParen,
                Token::Comma
            ]
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(
            toks("1 2.5 .5 1e-05 3E+2 7."),
            vec![
                Token::Number(1.0),
                Token::Number(2.5),
                Token::Number(0.5),
                Token::Number(0.00001),
                Token::Number(300.0),
                Token::Number(7.0)
            ]
        );
        // `2e` is the number 2 followed by a word, not a malformed exponent.
        assert_eq!(
            toks("2e"),
            vec![Token::Number(2.0), Token::Ident("e".into())]
        );
    }

    #[test]
    fn string_escapes() {
        assert_eq!(toks(r"'Jane\'s'"), vec![Token::Text("Jane's".into())]);
        assert_eq!(
            toks(r#""say \"hi\"""#),
            vec![Token::Text("say \"hi\"".into())]
        );
        assert_eq!(toks(r"'a\\b'"), vec![Token::Text("a\\b".into())]);
        assert_eq!(toks(r"'a\nb\tc'"), vec![Token::Text("a\nb\tc".into())]);
        assert_eq!(toks(r#""\d+""#), vec![Token::Text("\\d+".into())]);
        assert_eq!(toks(r#""it's""#), vec![Token::Text("it's".into())]);
        assert_eq!(toks("'héllo ✓'"), vec![Token::Text("héllo ✓".into())]);
        assert!(tokenize("'open").is_err());
        assert!(tokenize(r"'ends in backslash\").is_err());
    }

    #[test]
    fn field_references() {
        assert_eq!(
            toks("{First Name}"),
            vec![Token::Field("First Name".into())]
        );
        assert_eq!(toks(r"{a\}b}"), vec![Token::Field("a}b".into())]);
        assert_eq!(toks(r"{a\\}"), vec![Token::Field("a\\".into())]);
        assert_eq!(toks(r"{a\b}"), vec![Token::Field("a\\b".into())]);
        assert_eq!(
            toks("{Guest's Name}"),
            vec![Token::Field("Guest's Name".into())]
        );
        assert!(tokenize("{unclosed").is_err());
        assert!(tokenize("{}").is_err());
    }

    #[test]
    fn comments_are_skipped() {
        assert_eq!(
            toks("1 /* one */ + /**/ 2 /* * / */"),
            vec![Token::Number(1.0), Token::Plus, Token::Number(2.0)]
        );
        assert_eq!(
            toks("'/* not a comment */'"),
            vec![Token::Text("/* not a comment */".into())]
        );
        assert!(tokenize("1 /* open").is_err());
        assert!(tokenize("/*/").is_err());
        assert_eq!(
            toks("4/2"),
            vec![Token::Number(4.0), Token::Slash, Token::Number(2.0)]
        );
    }

    #[test]
    fn identifiers_and_bad_characters() {
        assert_eq!(
            toks("DATETIME_PARSE(Name)"),
            vec![
                Token::Ident("DATETIME_PARSE".into()),
                Token::LParen,
                Token::Ident("Name".into()),
                Token::RParen
            ]
        );
        for bad in ["!", "1 ; 2", "a == b ^", "#", "`", "a | b"] {
            assert!(tokenize(bad).is_err(), "{bad}");
        }
    }
}
