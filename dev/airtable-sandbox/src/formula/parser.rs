//! Recursive-descent parser from tokens to an [`Expr`] tree.
//!
//! Function names and arities are checked here, so a formula that parses can always
//! be evaluated. Nesting is capped at [`MAX_DEPTH`] so that hostile input (ten thousand
//! open parentheses, a huge operator chain) is a parse error rather than a stack
//! overflow in the parser, the evaluator, or the tree's destructor.

use super::FormulaError;
use super::ast::{BinaryOp, Expr};
use super::functions;
use super::lexer::{Spanned, Token, tokenize};

/// The deepest a formula may nest (parentheses, calls, operators, unary minus).
pub(crate) const MAX_DEPTH: usize = 100;

fn error(message: impl Into<String>) -> FormulaError {
    FormulaError {
        message: message.into(),
    }
}

#[cold]
#[inline(never)]
fn too_deep() -> FormulaError {
    error(format!(
        "Invalid formula: nested more than {MAX_DEPTH} levels deep"
    ))
}

/// Parses formula text into an expression tree.
pub(crate) fn parse_expr(source: &str) -> Result<Expr, FormulaError> {
    let tokens = tokenize(source)?;
    if tokens.is_empty() {
        return Err(error("Invalid formula: the formula is empty"));
    }
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let (expr, _) = parser.expression()?;
    match parser.tokens.get(parser.pos) {
        None => Ok(expr),
        Some(extra) => Err(parser.unexpected(Some(extra))),
    }
}

/// An expression and the height of its tree.
type Parsed = (Expr, usize);

struct Parser {
    tokens: Vec<Spanned>,
    pos: usize,
    /// Current recursion depth through `expression`.
    depth: usize,
}

/// A binary operator token and its precedence (higher binds tighter).
fn binary_op(t: &Token) -> Option<(BinaryOp, u8)> {
    Some(match t {
        Token::Eq => (BinaryOp::Eq, 1),
        Token::NotEq => (BinaryOp::NotEq, 1),
        Token::Lt => (BinaryOp::Lt, 1),
        Token::Gt => (BinaryOp::Gt, 1),
        Token::LtEq => (BinaryOp::LtEq, 1),
        Token::GtEq => (BinaryOp::GtEq, 1),
        Token::Amp => (BinaryOp::Concat, 2),
        Token::Plus => (BinaryOp::Add, 3),
        Token::Minus => (BinaryOp::Sub, 3),
        Token::Star => (BinaryOp::Mul, 4),
        Token::Slash => (BinaryOp::Div, 4),
        _ => return None,
    })
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|s| &s.token)
    }

    #[cold]
    #[inline(never)]
    fn unexpected(&self, found: Option<&Spanned>) -> FormulaError {
        match found {
            None => error("Invalid formula: unexpected end of formula"),
            Some(s) => error(format!(
                "Invalid formula: unexpected {} at position {}",
                describe(&s.token),
                s.pos + 1
            )),
        }
    }

    fn expect(&mut self, token: &Token) -> Result<(), FormulaError> {
        match self.tokens.get(self.pos) {
            Some(s) if s.token == *token => {
                self.pos += 1;
                Ok(())
            }
            other => Err(self.unexpected(other)),
        }
    }

    fn expression(&mut self) -> Result<Parsed, FormulaError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(too_deep());
        }
        let result = self.binary(1);
        self.depth -= 1;
        result
    }

    /// Precedence climbing: parses operators binding at least as tightly as
    /// `min_precedence`, left-associatively. One function for all levels keeps the
    /// stack shallow per nesting level.
    fn binary(&mut self, min_precedence: u8) -> Result<Parsed, FormulaError> {
        let (mut left, mut height) = self.unary()?;
        while let Some((op, precedence)) = self.peek().and_then(binary_op) {
            if precedence < min_precedence {
                break;
            }
            self.pos += 1;
            let (right, right_height) = self.binary(precedence + 1)?;
            height = height.max(right_height) + 1;
            if height > MAX_DEPTH {
                return Err(too_deep());
            }
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
        Ok((left, height))
    }

    /// Prefix `-` (negation) and `+` (no-op), read in a loop rather than recursively.
    fn unary(&mut self) -> Result<Parsed, FormulaError> {
        let mut negations = 0usize;
        while let Some(t @ (Token::Minus | Token::Plus)) = self.peek() {
            if *t == Token::Minus {
                negations += 1;
                if negations > MAX_DEPTH {
                    return Err(too_deep());
                }
            }
            self.pos += 1;
        }
        let (mut expr, mut height) = self.primary()?;
        for _ in 0..negations {
            expr = Expr::Negate(Box::new(expr));
            height += 1;
        }
        if height > MAX_DEPTH {
            return Err(too_deep());
        }
        Ok((expr, height))
    }

    fn primary(&mut self) -> Result<Parsed, FormulaError> {
        let Some(spanned) = self.tokens.get(self.pos).cloned() else {
            return Err(self.unexpected(None));
        };
        self.pos += 1;
        match spanned.token {
            Token::Number(n) => Ok((Expr::Number(n), 1)),
            Token::Text(s) => Ok((Expr::Text(s), 1)),
            Token::Field(name) => Ok((Expr::Field(name), 1)),
            Token::Ident(name) => {
                if self.peek() == Some(&Token::LParen) {
                    self.call(&name, spanned.pos)
                } else {
                    // A bare single word is a field name.
                    Ok((Expr::Field(name), 1))
                }
            }
            Token::LParen => {
                let inner = self.expression()?;
                self.expect(&Token::RParen)?;
                Ok(inner)
            }
            _ => Err(self.unexpected(Some(&spanned))),
        }
    }

    fn call(&mut self, name: &str, pos: usize) -> Result<Parsed, FormulaError> {
        let Some(spec) = functions::lookup(name) else {
            return Err(unknown_function(name, pos));
        };
        self.expect(&Token::LParen)?;
        let mut args = Vec::new();
        let mut height = 0;
        if self.peek() == Some(&Token::RParen) {
            self.pos += 1;
        } else {
            loop {
                let (arg, arg_height) = self.expression()?;
                height = height.max(arg_height);
                args.push(arg);
                match self.tokens.get(self.pos) {
                    Some(s) if s.token == Token::Comma => self.pos += 1,
                    Some(s) if s.token == Token::RParen => {
                        self.pos += 1;
                        break;
                    }
                    other => return Err(self.unexpected(other)),
                }
            }
        }
        let count = args.len();
        if count < spec.min || spec.max.is_some_and(|max| count > max) {
            return Err(wrong_arity(spec, count));
        }
        height += 1;
        if height > MAX_DEPTH {
            return Err(too_deep());
        }
        Ok((Expr::Call(spec.name, args), height))
    }
}

// Error builders live out of line (and cold) so that the recursive parsing functions
// keep small stack frames: nesting depth is bounded by stack size, especially in debug
// builds.

#[cold]
#[inline(never)]
fn unknown_function(name: &str, pos: usize) -> FormulaError {
    error(format!(
        "Unknown function names: {name} (at position {})",
        pos + 1
    ))
}

#[cold]
#[inline(never)]
fn wrong_arity(spec: &functions::Spec, count: usize) -> FormulaError {
    let expected = match spec.max {
        Some(max) if max == spec.min => format!("{max}"),
        Some(max) => format!("{} to {max}", spec.min),
        None => format!("at least {}", spec.min),
    };
    error(format!(
        "Invalid formula: {} takes {expected} argument(s) but got {count}",
        spec.name
    ))
}

fn describe(token: &Token) -> String {
    match token {
        Token::Number(n) => format!("number {n}"),
        Token::Text(_) => "string".to_string(),
        Token::Field(name) => format!("field {{{name}}}"),
        Token::Ident(word) => format!("word '{word}'"),
        Token::LParen => "'('".to_string(),
        Token::RParen => "')'".to_string(),
        Token::Comma => "','".to_string(),
        Token::Plus => "'+'".to_string(),
        Token::Minus => "'-'".to_string(),
        Token::Star => "'*'".to_string(),
        Token::Slash => "'/'".to_string(),
        Token::Amp => "'&'".to_string(),
        Token::Eq => "'='".to_string(),
        Token::NotEq => "'!='".to_string(),
        Token::Lt => "'<'".to_string(),
        Token::Gt => "'>'".to_string(),
        Token::LtEq => "'<='".to_string(),
        Token::GtEq => "'>='".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Expr {
        parse_expr(s).unwrap()
    }

    fn bin(op: BinaryOp, l: Expr, r: Expr) -> Expr {
        Expr::Binary(op, Box::new(l), Box::new(r))
    }

    fn n(v: f64) -> Expr {
        Expr::Number(v)
    }

    #[test]
    fn precedence() {
        // 1 + 2 * 3 = 7 parses as (1 + (2 * 3)) = 7
        assert_eq!(
            p("1 + 2 * 3 = 7"),
            bin(
                BinaryOp::Eq,
                bin(BinaryOp::Add, n(1.0), bin(BinaryOp::Mul, n(2.0), n(3.0))),
                n(7.0)
            )
        );
        // & binds looser than +, tighter than =
        assert_eq!(
            p("1 + 2 & 'x' = '3x'"),
            bin(
                BinaryOp::Eq,
                bin(
                    BinaryOp::Concat,
                    bin(BinaryOp::Add, n(1.0), n(2.0)),
                    Expr::Text("x".into())
                ),
                Expr::Text("3x".into())
            )
        );
        // left associativity
        assert_eq!(
            p("8 - 2 - 1"),
            bin(BinaryOp::Sub, bin(BinaryOp::Sub, n(8.0), n(2.0)), n(1.0))
        );
        // unary minus binds tightest
        assert_eq!(
            p("-2 * 3"),
            bin(BinaryOp::Mul, Expr::Negate(Box::new(n(2.0))), n(3.0))
        );
        assert_eq!(
            p("(1 + 2) * 3"),
            bin(BinaryOp::Mul, bin(BinaryOp::Add, n(1.0), n(2.0)), n(3.0))
        );
        assert_eq!(p("+5"), n(5.0));
    }

    #[test]
    fn calls_and_fields() {
        assert_eq!(
            p("and({Name}='x', Age >= 30)"),
            Expr::Call(
                "AND",
                vec![
                    bin(
                        BinaryOp::Eq,
                        Expr::Field("Name".into()),
                        Expr::Text("x".into())
                    ),
                    bin(BinaryOp::GtEq, Expr::Field("Age".into()), n(30.0)),
                ]
            )
        );
        assert_eq!(p("TRUE()"), Expr::Call("TRUE", vec![]));
        assert_eq!(p("Status"), Expr::Field("Status".into()));
    }

    #[test]
    fn syntax_errors() {
        for bad in [
            "",
            "   ",
            "(",
            ")",
            "((((",
            "1 +",
            "AND(",
            "AND(1,",
            "AND(1,)",
            "AND(,1)",
            "1 2",
            "{a} {b}",
            "FOO(1)",
            "NOT()",
            "NOT(1, 2)",
            "IF(1)",
            "TRUE(1)",
            "()",
            "= 1",
            "1 = = 1",
            "MID('a', 1)",
            "'unterminated",
            "{unclosed",
        ] {
            assert!(parse_expr(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn error_messages_name_the_problem() {
        let e = parse_expr("FOO(1)").unwrap_err();
        assert!(e.message.contains("Unknown function names: FOO"), "{e}");
        let e = parse_expr("NOT(1, 2)").unwrap_err();
        assert!(e.message.contains("NOT takes 1 argument"), "{e}");
        let e = parse_expr("1 +").unwrap_err();
        assert!(e.message.contains("unexpected end"), "{e}");
    }

    #[test]
    fn depth_limits() {
        let ok = format!(
            "{}1{}",
            "(".repeat(MAX_DEPTH - 1),
            ")".repeat(MAX_DEPTH - 1)
        );
        assert!(parse_expr(&ok).is_ok());
        let deep = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse_expr(&deep).is_err());
        let calls = format!("{}1{}", "ABS(".repeat(10_000), ")".repeat(10_000));
        assert!(parse_expr(&calls).is_err());
        let chain = vec!["1"; 10_000].join("+");
        assert!(parse_expr(&chain).is_err());
        let minus = format!("{}1", "-".repeat(10_000));
        assert!(parse_expr(&minus).is_err());
        let wide = format!("AND({})", vec!["1"; 5_000].join(","));
        assert!(parse_expr(&wide).is_ok());
    }
}
