//! The function's signature: what each kind calls it with.
//!
//! Only what rustc could not explain in the benchmark's terms is checked here: `async`,
//! `unsafe`, generics, `self` and the number of parameters. Parameter and return types
//! are left to rustc, through the typed adapter `expand` writes, so those errors point
//! at the user's own types.

use crate::kind::{KindName, Shape};
use crate::validate::Errors;
use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{Error, FnArg, GenericParam, Signature};

/// The signature a benchmark of this kind and shape must have, for messages.
pub(crate) fn expected(sig: &Signature, shape: Option<Shape>) -> String {
    let name = &sig.ident;
    let conn = "conn: &mut Connection";
    let text = match shape {
        Some(Shape::Request) => format!("`fn {name}({conn})`"),
        Some(Shape::Upload) => format!("`fn {name}({conn}, data: &Value)`"),
        Some(Shape::Download) => format!("`fn {name}({conn}, size: u64)`"),
        None => format!("`fn {name}({conn}, data: &Value)` (upload) or `fn {name}({conn}, size: u64)` (download)"),
    };
    format!("{text} returning `()` or a `Result`")
}

fn describe(kind: KindName, shape: Option<Shape>) -> String {
    match shape {
        Some(Shape::Upload) => format!("an upload {} benchmark", kind.name()),
        Some(Shape::Download) => format!("a download {} benchmark", kind.name()),
        _ => format!("a {} benchmark", kind.name()),
    }
}

/// The checks that hold for every kind.
pub(crate) fn check_common(sig: &Signature, expected: &str, errors: &mut Errors) {
    if let Some(token) = &sig.asyncness {
        let msg = format!(
            "a benchmark function cannot be `async`: the harness times each call, so block on any \
             future inside it; expected {expected}"
        );
        errors.push(Error::new(token.span, msg));
    }
    if let syn::Safety::Unsafe(token) = &sig.safety {
        let msg = format!("a benchmark function cannot be `unsafe`: the harness calls it; expected {expected}");
        errors.push(Error::new(token.span, msg));
    }
    // Lifetime parameters are harmless: the adapter's call infers them.
    if let Some(param) = sig.generics.params.iter().find(|p| !matches!(p, GenericParam::Lifetime(_))) {
        let msg = format!(
            "a benchmark function cannot be generic: the harness calls it with concrete types; expected {expected}"
        );
        errors.push(Error::new_spanned(param, msg));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(Error::new_spanned(
            variadic,
            format!("a benchmark function cannot be variadic; expected {expected}"),
        ));
    }
    if let Some(FnArg::Receiver(receiver)) = sig.inputs.first() {
        let msg = format!(
            "a benchmark function cannot take `self`: write a free function, outside any `impl`; expected {expected}"
        );
        errors.push(Error::new_spanned(receiver, msg));
    }
}

/// The number of parameters the kind passes.
pub(crate) fn check_arity(sig: &Signature, kind: KindName, shape: Option<Shape>, expected: &str, errors: &mut Errors) {
    if matches!(sig.inputs.first(), Some(FnArg::Receiver(_))) {
        return; // `check_common` said it.
    }
    let (want, words) = if kind.has_direction() { (2, "two parameters") } else { (1, "one parameter") };
    let found = sig.inputs.len();
    if found == want {
        return;
    }
    let what = describe(kind, shape);
    let msg = format!("{what} function takes {words}, found {found}: expected {expected}");
    // Too many: blame the extra ones; too few: the parentheses.
    errors.push(match found > want {
        true => {
            let extra: TokenStream = sig.inputs.iter().skip(want).map(ToTokens::to_token_stream).collect();
            Error::new_spanned(extra, msg)
        }
        false => Error::new(sig.paren_token.span.join(), msg),
    });
}
