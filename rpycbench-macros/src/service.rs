//! `#[rpyc_service]`: an `impl` block whose methods become a `Service`'s exposed methods.
//!
//! Parsing reads the attribute (`name = "module.Class"`, `doc = EXPR`) and each method's
//! shape: `&self`, an optional `&mut Connection` first, then the Python parameters (an
//! `Option<T>` or a `#[rpyc(default = literal)]` one may be left out by the caller).
//! Every mistake is collected and reported on its own tokens; the block is always
//! re-emitted (its `#[rpyc]` attributes removed) so that its uses do not add errors.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Error, Expr, FnArg, ImplItem, ItemImpl, Lit, LitStr, Meta, Pat, Result, Token, Type};

/// The attribute's arguments.
pub(crate) struct ServiceArgs {
    name: Option<LitStr>,
    doc: Option<Expr>,
}

impl Parse for ServiceArgs {
    fn parse(input: ParseStream) -> Result<Self> {
        let mut args = ServiceArgs { name: None, doc: None };
        for meta in Punctuated::<syn::MetaNameValue, Token![,]>::parse_terminated(input)? {
            let key = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
            match key.as_str() {
                "name" if args.name.is_none() => match &meta.value {
                    Expr::Lit(syn::ExprLit { lit: Lit::Str(s), .. }) if !s.value().is_empty() => {
                        args.name = Some(s.clone())
                    }
                    other => return Err(Error::new_spanned(other, "`name` is a string: \"module.Class\"")),
                },
                "doc" if args.doc.is_none() => args.doc = Some(meta.value.clone()),
                "name" | "doc" => return Err(Error::new_spanned(&meta.path, format!("`{key}` is given twice"))),
                _ => {
                    return Err(Error::new_spanned(
                        &meta.path,
                        "unknown option: `#[rpyc_service]` takes `name = \"module.Class\"` and `doc = EXPR`",
                    ))
                }
            }
        }
        Ok(args)
    }
}

/// One exposed method.
struct Method {
    ident: syn::Ident,
    takes_conn: bool,
    params: Vec<Param>,
    reply: Reply,
    /// Where the return type is written: rustc's errors about it point there.
    reply_span: Span,
}

/// How the method's answer becomes an object. Nothing (`()`) is Python's `None`, told
/// from the signature: as a value `()` is the empty tuple, which a Python function
/// without `return` does not give.
enum Reply {
    /// No return type, or `()`.
    Nothing,
    /// `Result<(), E>` (any `Result` whose value is `()`).
    NothingOrError,
    /// Anything that converts into an object, or a `Result` of it.
    Value,
}

fn reply_of(output: &syn::ReturnType) -> Reply {
    let syn::ReturnType::Type(_, ty) = output else { return Reply::Nothing };
    if matches!(&**ty, Type::Tuple(t) if t.elems.is_empty()) {
        return Reply::Nothing;
    }
    let unit_result = last_segment(ty).is_some_and(|s| {
        s.ident == "Result"
            && matches!(&s.arguments, syn::PathArguments::AngleBracketed(a)
                if matches!(a.args.first(), Some(syn::GenericArgument::Type(Type::Tuple(t))) if t.elems.is_empty()))
    });
    if unit_result {
        Reply::NothingOrError
    } else {
        Reply::Value
    }
}

/// One Python parameter.
struct Param {
    name: String,
    ty: Type,
    /// The default's brine value (tokens of a `Value` constructor), if it may be left out.
    default: Option<TokenStream>,
}

/// Expands the attribute on `block`.
pub(crate) fn expand(args: ServiceArgs, mut block: ItemImpl) -> TokenStream {
    let mut errors: Vec<Error> = Vec::new();
    if let Some((path, _)) = &block.trait_ {
        errors.push(Error::new_spanned(path, "#[rpyc_service] goes on an inherent `impl` block, not a trait impl"));
    }
    let mut methods = Vec::new();
    for item in &mut block.items {
        if let ImplItem::Fn(f) = item {
            match method(f) {
                Ok(Some(m)) => methods.push(m),
                Ok(None) => {}
                Err(e) => errors.push(e),
            }
        }
    }
    if methods.is_empty() && errors.is_empty() {
        errors.push(Error::new_spanned(&block.self_ty, "#[rpyc_service] found no method taking `&self` to expose"));
    }
    let combined = errors.into_iter().reduce(|mut all, e| {
        all.combine(e);
        all
    });
    if let Some(errors) = combined {
        let mut out = errors.into_compile_error();
        block.to_tokens(&mut out);
        return out;
    }
    let service = service_impl(&args, &block, &methods);
    quote!(#block #service)
}

/// The `unsafe` of a signature, as tokens to point an error at.
fn unsafe_token(safety: &syn::Safety) -> Option<TokenStream> {
    match safety {
        syn::Safety::Unsafe(token) => Some(quote!(#token)),
        _ => None,
    }
}

/// A method of the block: `None` for an associated function (no `&self`), which stays a
/// plain Rust function. Strips the `#[rpyc]` attributes of its parameters.
fn method(f: &mut syn::ImplItemFn) -> Result<Option<Method>> {
    let sig = &mut f.sig;
    let mut inputs = sig.inputs.iter_mut();
    match inputs.next() {
        Some(FnArg::Receiver(r)) if matches!(r.kind, syn::ReceiverKind::Reference(_, _, None)) => {}
        Some(FnArg::Receiver(r)) => {
            return Err(Error::new_spanned(r, "an exposed method takes `&self`: connections call it at once"))
        }
        _ => return Ok(None),
    }
    if let Some(token) = sig.asyncness.as_ref().map(ToTokens::to_token_stream).or(unsafe_token(&sig.safety)) {
        return Err(Error::new_spanned(token, "an exposed method may not be `async` or `unsafe`"));
    }
    if !sig.generics.params.is_empty() {
        return Err(Error::new_spanned(&sig.generics, "an exposed method may not be generic: Python passes objects"));
    }
    let mut takes_conn = false;
    let mut params = Vec::new();
    for (i, arg) in inputs.enumerate() {
        let FnArg::Typed(arg) = arg else { unreachable!("only the first input can be a receiver") };
        let default = take_default(&mut arg.attrs)?;
        if i == 0 && is_connection(&arg.ty) {
            if let Some((span, _)) = default {
                return Err(Error::new(span, "the connection has no default"));
            }
            takes_conn = true;
            continue;
        }
        let Pat::Ident(pat) = &*arg.pat else {
            return Err(Error::new_spanned(&arg.pat, "a parameter is a name, as in Python: `id: i64`"));
        };
        let name = pat.ident.unraw().to_string();
        let default = match default {
            Some((_, value)) => Some(value),
            None if is_option(&arg.ty) => Some(quote!(::rpycbench::server::ParamDefault::None)),
            None => None,
        };
        if default.is_none() && params.iter().any(|p: &Param| p.default.is_some()) {
            return Err(Error::new_spanned(
                &pat.ident,
                "a parameter without a default follows one with a default (Python refuses this too)",
            ));
        }
        params.push(Param { name, ty: (*arg.ty).clone(), default });
    }
    let reply_span = match &sig.output {
        syn::ReturnType::Type(_, ty) => ty.span(),
        syn::ReturnType::Default => sig.ident.span(),
    };
    Ok(Some(Method { ident: sig.ident.clone(), takes_conn, params, reply: reply_of(&sig.output), reply_span }))
}

/// `#[rpyc(default = LITERAL)]`, removed from `attrs`: its span and its `Value`.
fn take_default(attrs: &mut Vec<syn::Attribute>) -> Result<Option<(Span, TokenStream)>> {
    let mut found = None;
    let mut error = None;
    attrs.retain(|attr| {
        if !attr.path().is_ident("rpyc") {
            return true;
        }
        match default_of(attr) {
            Ok(v) if found.is_none() => found = Some((attr.span(), v)),
            Ok(_) => error = Some(Error::new_spanned(attr, "one default per parameter")),
            Err(e) => error = Some(e),
        }
        false
    });
    error.map_or(Ok(found), Err)
}

fn default_of(attr: &syn::Attribute) -> Result<TokenStream> {
    let Meta::List(list) = &attr.meta else {
        return Err(Error::new_spanned(attr, "expected `#[rpyc(default = LITERAL)]`"));
    };
    let nv: syn::MetaNameValue = list.parse_args()?;
    if !nv.path.is_ident("default") {
        return Err(Error::new_spanned(&nv.path, "expected `default = LITERAL`"));
    }
    let (lit, negative) = match &nv.value {
        Expr::Lit(l) => (&l.lit, false),
        Expr::Unary(syn::ExprUnary { op: syn::UnOp::Neg(_), expr, .. }) => match &**expr {
            Expr::Lit(l) => (&l.lit, true),
            other => return Err(Error::new_spanned(other, "a default is a literal")),
        },
        other => return Err(Error::new_spanned(other, "a default is a literal: a number or a bool")),
    };
    let sign = if negative { quote!(-) } else { quote!() };
    Ok(match lit {
        Lit::Int(i) => quote_spanned!(i.span()=> ::rpycbench::server::ParamDefault::Int(#sign #i)),
        Lit::Float(x) => quote_spanned!(x.span()=> ::rpycbench::server::ParamDefault::Float(#sign #x)),
        Lit::Bool(b) if !negative => quote_spanned!(b.span()=> ::rpycbench::server::ParamDefault::Bool(#b)),
        other => {
            return Err(Error::new_spanned(
                other,
                "a default is a number or a bool (a string default cannot be a constant: take an `Option<String>`)",
            ))
        }
    })
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        _ => None,
    }
}

fn is_connection(ty: &Type) -> bool {
    matches!(ty, Type::Reference(r) if r.mutability.is_some() && last_segment(&r.elem).is_some_and(|s| s.ident == "Connection"))
}

fn is_option(ty: &Type) -> bool {
    last_segment(ty).is_some_and(|s| s.ident == "Option")
}

trait Unraw {
    fn unraw(&self) -> syn::Ident;
}

impl Unraw for syn::Ident {
    fn unraw(&self) -> syn::Ident {
        syn::ext::IdentExt::unraw(self)
    }
}

fn service_impl(args: &ServiceArgs, block: &ItemImpl, methods: &[Method]) -> TokenStream {
    let self_ty = &block.self_ty;
    let (impl_generics, _, where_clause) = block.generics.split_for_impl();
    let type_ident = last_segment(self_ty).map(|s| s.ident.to_string()).unwrap_or_else(|| "Service".into());
    // The class as Python names it: the last part of `module.Class`.
    let (type_name, class) = match &args.name {
        Some(name) => {
            let value = name.value();
            let class = value.rsplit('.').next().unwrap_or(&value).to_owned();
            (quote!(#name), class)
        }
        None => (quote!(::core::concat!(::core::env!("CARGO_CRATE_NAME"), ".", #type_ident)), type_ident),
    };
    let doc = match (&args.doc, doc_of(&block.attrs)) {
        (Some(expr), _) => quote!(::core::option::Option::Some(#expr)),
        (None, Some(text)) => quote!(::core::option::Option::Some(#text)),
        (None, None) => quote!(::core::option::Option::None),
    };
    let names: Vec<String> = methods.iter().map(|m| m.ident.unraw().to_string()).collect();
    let arms = methods.iter().zip(&names).map(|(m, name)| arm(m, name, &class));
    let private = quote!(::rpycbench::__private_0_1);
    quote! {
        impl #impl_generics ::rpycbench::server::Service for #self_ty #where_clause {
            fn type_name(&self) -> &str {
                #type_name
            }
            fn methods(&self) -> &[&'static str] {
                &[#(#names),*]
            }
            fn doc(&self) -> ::core::option::Option<&str> {
                #doc
            }
            fn call(
                &self,
                __conn: &mut ::rpycbench::Connection,
                __method: &str,
                __args: ::rpycbench::client::Args,
            ) -> ::rpycbench::Result<::rpycbench::client::Object> {
                match __method {
                    #(#arms)*
                    _ => ::core::result::Result::Err(#private::cannot_access(__method)),
                }
            }
        }
    }
}

/// The `match` arm calling one method: bind as CPython does, convert each argument
/// (a Python-style `TypeError` naming it), call, turn the answer into an object.
fn arm(m: &Method, name: &str, class: &str) -> TokenStream {
    let qualname = format!("{class}.exposed_{name}");
    let params = m.params.iter().map(|p| {
        let pname = &p.name;
        match &p.default {
            Some(value) => quote!(::rpycbench::server::Param::optional(#pname, #value)),
            None => quote!(::rpycbench::server::Param::required(#pname)),
        }
    });
    let bindings = m.params.iter().enumerate().map(|(i, p)| {
        let var = syn::Ident::new(&format!("__a{i}"), Span::call_site());
        let (ty, pname) = (&p.ty, &p.name);
        // The path is written out here, not interpolated: only tokens written inside
        // `quote_spanned!` take the user's span, where rustc then reports a type that
        // does not convert.
        quote_spanned!(ty.span()=> let #var: #ty = ::rpycbench::__private_0_1::argument(&SIGNATURE, #pname, __bound.next())?;)
    });
    let vars = (0..m.params.len()).map(|i| syn::Ident::new(&format!("__a{i}"), Span::call_site()));
    let conn = m.takes_conn.then(|| quote!(__conn,));
    let ident = &m.ident;
    let call = quote!(Self::#ident(self, #conn #(#vars),*));
    let none = quote!(::rpycbench::client::Object::NONE);
    let reply = match m.reply {
        Reply::Nothing => quote!({
            #call;
            ::core::result::Result::Ok(#none)
        }),
        Reply::NothingOrError => quote!(#call.map(|()| #none).map_err(::core::convert::Into::into)),
        Reply::Value => quote_spanned!(m.reply_span=> ::rpycbench::__private_0_1::IntoReply::into_reply(#call)),
    };
    quote! {
        #name => {
            const SIGNATURE: ::rpycbench::server::Signature =
                ::rpycbench::server::Signature { qualname: #qualname, params: &[#(#params),*] };
            let mut __bound = SIGNATURE.bind(__args)?.into_iter();
            #(#bindings)*
            #reply
        }
    }
}

/// The block's doc comment, as Python's class docstring.
fn doc_of(attrs: &[syn::Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(syn::ExprLit { lit: Lit::Str(s), .. }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    (!lines.is_empty()).then(|| lines.iter().map(|l| l.strip_prefix(' ').unwrap_or(l)).collect::<Vec<_>>().join("\n"))
}
