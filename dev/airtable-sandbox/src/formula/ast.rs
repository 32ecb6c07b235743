//! The parsed form of a formula.

/// A binary operator. Precedence, lowest first: comparisons, `&`, `+ -`, `* /`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Concat,
    Eq,
    NotEq,
    Lt,
    Gt,
    LtEq,
    GtEq,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Number(f64),
    Text(String),
    /// A field by name or id, from `{...}` or a bare word.
    Field(String),
    Negate(Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// A call to a known function; the name is the canonical upper-case spelling.
    Call(&'static str, Vec<Expr>),
}

impl Expr {
    /// Appends field names in order of first appearance, without duplicates.
    pub(crate) fn collect_fields(&self, out: &mut Vec<String>) {
        match self {
            Expr::Number(_) | Expr::Text(_) => {}
            Expr::Field(name) => {
                if !out.contains(name) {
                    out.push(name.clone());
                }
            }
            Expr::Negate(inner) => inner.collect_fields(out),
            Expr::Binary(_, left, right) => {
                left.collect_fields(out);
                right.collect_fields(out);
            }
            Expr::Call(_, args) => args.iter().for_each(|a| a.collect_fields(out)),
        }
    }
}
