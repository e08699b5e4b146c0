//! Code generation: the user's function unchanged, then an anonymous `const` block with a
//! typed adapter and the `inventory::submit!` of the benchmark's `BenchDef`.
//!
//! The adapter calls the function with the exact types the harness passes, so a wrong
//! parameter or return type is an ordinary rustc error. The argument and the result
//! conversion carry the spans of the user's parameter and return types, so rustc points
//! at those. Everything goes through `::rpycbench::__private_0_1`, which is not public API.

use crate::kind::{Params, Shape};
use crate::server::{Mode, Server};
use crate::validate::Bench;
use proc_macro2::{Literal, Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Ident, ItemFn, ReturnType};

pub(crate) fn expand(func: &ItemFn, bench: &Bench) -> TokenStream {
    let ident = &func.sig.ident;
    let name = ident.unraw().to_string();
    let adapter = adapter(func, bench.shape);
    let variant = Ident::new(
        match bench.shape {
            Shape::Request => "Request",
            Shape::Upload => "Upload",
            Shape::Download => "Download",
        },
        Span::call_site(),
    );
    let kind = kind(&bench.params);
    let (factories, servers) = servers(&bench.servers);
    let slas = bench.slas.iter().map(|bound| {
        let stat = Ident::new(bound.stat, Span::call_site());
        let value = Literal::f64_suffixed(bound.value);
        quote!(::rpycbench::__private_0_1::Sla { stat: ::rpycbench::__private_0_1::Stat::#stat, bound: #value })
    });
    let regression_pct = match bench.regression_pct {
        Some(pct) => {
            let pct = Literal::f64_suffixed(pct);
            quote!(::core::option::Option::Some(#pct))
        }
        None => quote!(::core::option::Option::None),
    };
    let ignored = bench.ignored;
    let remote = match &bench.remote {
        Some(env) => quote!(::core::option::Option::Some(#env)),
        None => quote!(::core::option::Option::None),
    };
    // `line!()` with the function name's span: the line of `fn ping`, not of the attribute.
    let (file, line) = (quote_spanned!(ident.span()=> ::core::file!()), quote_spanned!(ident.span()=> ::core::line!()));
    quote! {
        #func

        const _: () = {
            #adapter
            #factories
            ::rpycbench::__private_0_1::inventory::submit! {
                ::rpycbench::__private_0_1::BenchDef {
                    name: #name,
                    module_path: ::core::module_path!(),
                    file: #file,
                    line: #line,
                    kind: #kind,
                    servers: &[#(#servers),*],
                    remote: #remote,
                    slas: &[#(#slas),*],
                    regression_pct: #regression_pct,
                    ignored: #ignored,
                    func: ::rpycbench::__private_0_1::BenchFn::#variant(__rpycbench_adapter),
                }
            }
        };
    }
}

/// `fn __rpycbench_adapter(conn, [data | size]) -> rpycbench::Result<()>` calling the
/// user's function.
///
/// The function is first coerced to a fn pointer of the exact signature the kind
/// calls, spanned on its name: a wrong parameter makes rustc print the expected
/// signature next to the user's. The return type is left open (`_`) and converted by
/// `IntoBenchResult`, spanned on the user's return type.
fn adapter(func: &ItemFn, shape: Shape) -> TokenStream {
    let ident = &func.sig.ident;
    let conn = quote!(__rpycbench_conn: &mut ::rpycbench::Connection);
    let (params, args, pointer) = match shape {
        Shape::Request => (conn, quote!(__rpycbench_conn), quote!(fn(&mut ::rpycbench::Connection) -> _)),
        Shape::Upload => (
            quote!(#conn, __rpycbench_data: &::rpycbench::Value),
            quote!(__rpycbench_conn, __rpycbench_data),
            quote!(fn(&mut ::rpycbench::Connection, &::rpycbench::Value) -> _),
        ),
        Shape::Download => (
            quote!(#conn, __rpycbench_size: u64),
            quote!(__rpycbench_conn, __rpycbench_size),
            quote!(fn(&mut ::rpycbench::Connection, u64) -> _),
        ),
    };
    let ret_span = match &func.sig.output {
        ReturnType::Default => ident.span(),
        ReturnType::Type(_, ty) => ty.span(),
    };
    let function = quote_spanned!(ident.span()=> #ident);
    // Defined and used with the same span, so hygiene resolves it wherever that is.
    let output = Ident::new("__rpycbench_output", ret_span);
    let convert = quote_spanned!(ret_span=> ::rpycbench::__private_0_1::IntoBenchResult::into_bench_result(#output));
    quote! {
        fn __rpycbench_adapter(#params) -> ::rpycbench::Result<()> {
            let __rpycbench_function: #pointer = #function;
            let #output = __rpycbench_function(#args);
            #convert
        }
    }
}

fn kind(params: &Params) -> TokenStream {
    // Only what the user wrote: `None` leaves the builder's default.
    fn opt<T: ToTokens>(v: &Option<T>) -> TokenStream {
        match v {
            Some(v) => quote!(::core::option::Option::Some(#v)),
            None => quote!(::core::option::Option::None),
        }
    }
    let sizes = |s: &Option<Vec<u64>>| opt(&s.as_ref().map(|s| quote!(&[#(#s),*])));
    let body = match params {
        Params::Latency { requests, warmup, duration_ms } => {
            let (requests, warmup, duration_ms) = (opt(requests), opt(warmup), opt(duration_ms));
            quote!(Latency { requests: #requests, warmup: #warmup, duration_ms: #duration_ms })
        }
        Params::Connection { connections, keep_open } => {
            let connections = opt(connections);
            quote!(Connection { connections: #connections, keep_open: #keep_open })
        }
        Params::Bandwidth { sizes: s, iterations, warmup } => {
            let (sizes, iterations, warmup) = (sizes(s), opt(iterations), opt(warmup));
            quote!(Bandwidth { sizes: #sizes, iterations: #iterations, warmup: #warmup })
        }
        Params::Transfer { sizes: s, chunk_size, iterations } => {
            let (sizes, chunk_size, iterations) = (sizes(s), opt(chunk_size), opt(iterations));
            quote!(Transfer { sizes: #sizes, chunk_size: #chunk_size, iterations: #iterations })
        }
        Params::Concurrent { clients, requests_per_client, rate, per_client } => {
            let (clients, requests_per_client) = (opt(clients), opt(requests_per_client));
            let rate = opt(&rate.map(Literal::f64_suffixed));
            quote!(Concurrent {
                clients: #clients,
                requests_per_client: #requests_per_client,
                rate: #rate,
                per_client: #per_client,
            })
        }
    };
    quote!(::rpycbench::__private_0_1::Kind::#body)
}

/// The `ServerChoice`s, and the factory function a Rust service needs.
fn servers(servers: &[Server]) -> (TokenStream, Vec<TokenStream>) {
    let mode = |Mode(variant): &Mode| {
        let variant = Ident::new(variant, Span::call_site());
        quote!(::rpycbench::__private_0_1::ServerMode::#variant)
    };
    let mut factory = TokenStream::new();
    let choices = servers
        .iter()
        .map(|server| match server {
            Server::Builtin(m) => {
                let m = mode(m);
                quote!(::rpycbench::__private_0_1::ServerChoice::Builtin(#m))
            }
            Server::Python { service, path, mode: m } => {
                let m = mode(m);
                quote!(::rpycbench::__private_0_1::ServerChoice::Python { service: #service, path: #path, mode: #m })
            }
            Server::Rust { factory: path, mode: m } => {
                // Through a function of the exact type, so that a factory returning
                // `Arc<MyService>` coerces, and a wrong one is reported at its path.
                let call = quote_spanned!(path.span()=> #path());
                factory = quote! {
                    fn __rpycbench_factory() -> ::std::sync::Arc<dyn ::rpycbench::server::Service> {
                        #call
                    }
                };
                let name = path.to_token_stream().to_string().replace(' ', "");
                let m = mode(m);
                quote! {
                    ::rpycbench::__private_0_1::ServerChoice::Rust { name: #name, factory: __rpycbench_factory, mode: #m }
                }
            }
            Server::External { env } => quote!(::rpycbench::__private_0_1::ServerChoice::External { env: #env }),
        })
        .collect();
    (factory, choices)
}
