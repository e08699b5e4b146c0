//! The attribute's syntax, `kind, name = value, flag, …`, and typed readers for values.
//!
//! Parsing checks only the shape: a name, then optionally `=` and a Rust expression.
//! What a value means is read later, option by option, so that every wrong value gets
//! its own error instead of the first one ending the parse.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Error, Expr, Ident, Lit, LitStr, Path, Result, Token, UnOp};

/// The attribute's arguments in source order; the kind is the first one, a bare word.
pub(crate) struct Args {
    pub options: Vec<Opt>,
}

/// One `name` or `name = value` argument.
pub(crate) struct Opt {
    pub name: Ident,
    pub value: Option<Expr>,
}

impl Parse for Args {
    fn parse(input: ParseStream) -> Result<Self> {
        let options = Punctuated::<Opt, Token![,]>::parse_terminated(input)?;
        Ok(Args { options: options.into_iter().collect() })
    }
}

impl Parse for Opt {
    fn parse(input: ParseStream) -> Result<Self> {
        if !input.peek(Ident::peek_any) {
            return Err(input.error("expected an option name, like `requests = 1000`"));
        }
        let name = Ident::parse_any(input)?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Some(input.parse()?)
        } else {
            None
        };
        Ok(Opt { name, value })
    }
}

/// A literal number and the span of its whole expression (sign included).
enum Number<'a> {
    Int(&'a syn::LitInt, bool),
    Float(&'a syn::LitFloat, bool),
}

fn number(expr: &Expr) -> Option<Number<'_>> {
    let (lit, negative) = match expr {
        Expr::Lit(lit) => (&lit.lit, false),
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => match &*u.expr {
            Expr::Lit(lit) => (&lit.lit, true),
            _ => return None,
        },
        _ => return None,
    };
    match lit {
        Lit::Int(i) => Some(Number::Int(i, negative)),
        Lit::Float(f) => Some(Number::Float(f, negative)),
        _ => None,
    }
}

/// Numeric suffixes are fine (`1_000u64`); units are not (`10ms`), since they would be
/// silently ignored.
fn check_suffix(suffix: &str, span: Span) -> Result<()> {
    const TYPES: &[&str] =
        &["", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize", "f32", "f64"];
    match TYPES.contains(&suffix) {
        true => Ok(()),
        false => Err(Error::new(span, format!("unexpected suffix `{suffix}`: write a plain number"))),
    }
}

impl Opt {
    /// The option's name, without `r#`.
    pub fn key(&self) -> String {
        self.name.unraw().to_string()
    }

    fn value(&self, example: &str) -> Result<&Expr> {
        let msg = || format!("`{}` needs a value, e.g. `{example}`", self.name);
        self.value.as_ref().ok_or_else(|| Error::new(self.name.span(), msg()))
    }

    /// An integer from `min` to `max`.
    pub fn count(&self, min: u64, max: u64, example: &str) -> Result<u64> {
        count_of(self.value(example)?, &format!("`{}`", self.key()), min, max, example)
    }

    /// A finite number, integer or not.
    pub fn number(&self, example: &str) -> Result<f64> {
        let expr = self.value(example)?;
        let parsed = match number(expr) {
            Some(Number::Int(i, neg)) => check_suffix(i.suffix(), i.span())
                .and_then(|()| i.base10_digits().parse::<f64>().map_err(|e| Error::new(i.span(), e)))
                .map(|v| if neg { -v } else { v }),
            Some(Number::Float(f, neg)) => check_suffix(f.suffix(), f.span())
                .and_then(|()| f.base10_parse::<f64>())
                .map(|v| if neg { -v } else { v }),
            None => Err(Error::new_spanned(expr, format!("expected a number, e.g. `{example}`"))),
        }?;
        match parsed.is_finite() {
            true => Ok(parsed),
            false => Err(Error::new_spanned(expr, "expected a finite number")),
        }
    }

    /// `name` alone or `name = true|false`.
    pub fn flag(&self) -> Result<bool> {
        match &self.value {
            None => Ok(true),
            Some(Expr::Lit(syn::ExprLit { lit: Lit::Bool(b), .. })) => Ok(b.value),
            Some(other) => Err(Error::new_spanned(
                other,
                format!("expected `true` or `false`, or write `{}` alone to turn it on", self.name),
            )),
        }
    }

    /// A non-empty bracketed list of distinct sizes in bytes.
    pub fn sizes(&self, example: &str) -> Result<Vec<u64>> {
        let expr = self.value(example)?;
        let Expr::Array(list) = expr else {
            return Err(Error::new_spanned(expr, format!("expected a list of sizes in bytes, e.g. `{example}`")));
        };
        if list.elems.is_empty() {
            return Err(Error::new_spanned(list, format!("expected at least one size, e.g. `{example}`")));
        }
        let mut sizes = Vec::new();
        let mut errors = crate::validate::Errors::default();
        for elem in &list.elems {
            let msg = "a size in bytes";
            match count_of(elem, msg, 1, u64::MAX, example) {
                Ok(size) if sizes.contains(&size) => errors.push(Error::new_spanned(elem, "this size is listed twice")),
                Ok(size) => sizes.push(size),
                Err(e) => errors.push(e),
            }
        }
        errors.finish().map(|()| sizes)
    }

    /// A string literal.
    pub fn string(&self, example: &str) -> Result<LitStr> {
        match self.value(example)? {
            Expr::Lit(syn::ExprLit { lit: Lit::Str(s), .. }) => Ok(s.clone()),
            other => Err(Error::new_spanned(other, format!("expected a string, e.g. `{example}`"))),
        }
    }

    /// One word of `allowed`, as a bare word or a string (`-` read as `_`).
    pub fn word(&self, what: &str, allowed: &[&str], example: &str) -> Result<(String, Span)> {
        word_of(self.value(example)?, what, allowed, example)
    }

    /// A bracketed list of words of `allowed`, or a single one.
    pub fn words(&self, what: &str, allowed: &[&str], example: &str) -> Result<Vec<(String, Span)>> {
        match self.value(example)? {
            Expr::Array(list) if list.elems.is_empty() => {
                Err(Error::new_spanned(list, format!("expected at least one {what}, e.g. `{example}`")))
            }
            Expr::Array(list) => {
                let mut errors = crate::validate::Errors::default();
                let words: Vec<_> =
                    list.elems.iter().filter_map(|e| errors.ok(word_of(e, what, allowed, example))).collect();
                errors.finish().map(|()| words)
            }
            single => word_of(single, what, allowed, example).map(|w| vec![w]),
        }
    }

    /// A path, such as `crate::services::make`.
    pub fn path(&self, example: &str) -> Result<Path> {
        match self.value(example)? {
            Expr::Path(p) if p.qself.is_none() => Ok(p.path.clone()),
            other => Err(Error::new_spanned(other, format!("expected a path to a function, e.g. `{example}`"))),
        }
    }
}

fn count_of(expr: &Expr, what: &str, min: u64, max: u64, example: &str) -> Result<u64> {
    let at_least = || match min {
        0 => Error::new_spanned(expr, format!("{what} cannot be negative")),
        _ => Error::new_spanned(expr, format!("{what} must be at least {min}")),
    };
    match number(expr) {
        Some(Number::Int(_, true)) => Err(at_least()),
        Some(Number::Int(i, false)) => {
            check_suffix(i.suffix(), i.span())?;
            match i.base10_digits().parse::<u64>() {
                Ok(v) if v < min => Err(at_least()),
                Ok(v) if v <= max => Ok(v),
                _ => Err(Error::new_spanned(expr, format!("{what} must be at most {max}"))),
            }
        }
        _ => Err(Error::new_spanned(expr, format!("expected an integer, e.g. `{example}`"))),
    }
}

fn word_of(expr: &Expr, what: &str, allowed: &[&str], example: &str) -> Result<(String, Span)> {
    let word = match expr {
        Expr::Path(p) if p.qself.is_none() => p.path.get_ident().map(|i| i.unraw().to_string()),
        Expr::Lit(syn::ExprLit { lit: Lit::Str(s), .. }) => Some(s.value().replace('-', "_")),
        _ => None,
    };
    let list = allowed.join(", ");
    match word {
        Some(w) if allowed.contains(&w.as_str()) => Ok((w, expr.span())),
        Some(w) => Err(Error::new_spanned(expr, format!("unknown {what} `{w}`; expected one of: {list}"))),
        None => Err(Error::new_spanned(expr, format!("expected a {what} (one of: {list}), e.g. `{example}`"))),
    }
}
