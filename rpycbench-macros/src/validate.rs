//! From parsed arguments and the function to a checked [`Bench`], collecting every
//! error so the user sees all of them in one build.
//!
//! Options are read in source order, so errors come out in the order of the code. Each
//! option goes to the part that owns it: the kind's parameters (`kind`), the servers
//! (`server`), the SLAs (`sla`), or the two general options here.

use crate::args::{Args, Opt};
use crate::kind::{KindArgs, KindName, Params, Shape, KINDS};
use crate::server::{self, Server, Servers};
use crate::signature;
use crate::sla::{self, Bound};
use proc_macro2::Span;
use syn::{Error, ItemFn, Result};

/// Every error found so far, merged with [`Error::combine`].
#[derive(Default)]
pub(crate) struct Errors(Option<Error>);

impl Errors {
    pub fn push(&mut self, error: Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// The value, or `None` after recording the error.
    pub fn ok<T>(&mut self, result: Result<T>) -> Option<T> {
        result.map_err(|e| self.push(e)).ok()
    }

    pub fn finish(self) -> Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// A benchmark declaration with every option checked and defaulted.
pub(crate) struct Bench {
    pub params: Params,
    pub shape: Shape,
    pub servers: Vec<Server>,
    /// The environment variable naming the host the servers start on (`remote`).
    pub remote: Option<syn::LitStr>,
    pub slas: Vec<Bound>,
    pub regression_pct: Option<f64>,
    pub ignored: bool,
}

const GENERAL: &[&str] = &["regression_pct", "ignore"];

pub(crate) fn validate(args: Args, func: &ItemFn) -> Result<Bench> {
    let mut errors = Errors::default();
    let kind = find_kind(&args.options, &mut errors);
    let Some((at, name)) = kind else {
        let expected = signature::expected(&func.sig, Some(Shape::Request));
        signature::check_common(&func.sig, &expected, &mut errors);
        return Err(errors.finish().expect_err("find_kind reported why there is no kind"));
    };
    let mut kind = KindArgs::new(name, &args.options[at].name);
    let mut servers = Servers::default();
    let mut slas = Vec::new();
    let (mut regression_pct, mut ignored) = (None, false);
    let mut seen: Vec<String> = Vec::new();
    for opt in args.options.iter().enumerate().filter(|(i, _)| *i != at).map(|(_, o)| o) {
        let key = opt.key();
        if seen.contains(&key) {
            errors.push(Error::new(opt.name.span(), format!("duplicate option `{key}`")));
            continue;
        }
        seen.push(key.clone());
        let result = match key.as_str() {
            k if name.params().contains(&k) => kind.set(opt),
            k if server::OPTIONS.contains(&k) => servers.set(opt),
            k if sla::is_sla(k) => sla::parse(opt, name).map(|bound| slas.push(bound)),
            "regression_pct" => regression(opt).map(|pct| regression_pct = Some(pct)),
            "ignore" => opt.flag().map(|on| ignored = on),
            _ => Err(unknown(opt, name)),
        };
        errors.ok(result);
    }
    let shape = kind.shape();
    let expected = signature::expected(&func.sig, shape);
    let params = errors.ok(kind.finish());
    let (servers, remote) = servers.finish(&mut errors);
    signature::check_common(&func.sig, &expected, &mut errors);
    signature::check_arity(&func.sig, name, shape, &expected, &mut errors);
    errors.finish()?;
    let (params, shape) = params.zip(shape).expect("no error, so both are known");
    Ok(Bench { params, shape, servers, remote, slas, regression_pct, ignored })
}

/// The kind: the first argument, a bare word. Returns its index.
fn find_kind(options: &[Opt], errors: &mut Errors) -> Option<(usize, KindName)> {
    let kinds: Vec<_> = KINDS.iter().map(|k| k.name()).collect();
    let list = kinds.join(", ");
    let Some(first) = options.first() else {
        let msg = format!("missing benchmark kind: expected one of {list}, e.g. `#[rpyc_bench(latency)]`");
        errors.push(Error::new(Span::call_site(), msg));
        return None;
    };
    let bare = |o: &Opt| o.value.is_none().then(|| KindName::parse(&o.key())).flatten();
    if let Some(kind) = bare(first) {
        return Some((0, kind));
    }
    let key = first.key();
    let known = is_option(&key);
    if first.value.is_none() && !known {
        let msg = format!("unknown benchmark kind `{key}`{}; expected one of {list}", did_you_mean(&key, &kinds));
        errors.push(Error::new(first.name.span(), msg));
        return None;
    }
    if let Some((at, kind)) = options.iter().enumerate().find_map(|(i, o)| bare(o).map(|k| (i, k))) {
        let msg = format!("the benchmark kind comes first: `#[rpyc_bench({}, ...)]`", kind.name());
        errors.push(Error::new(options[at].name.span(), msg));
        return Some((at, kind));
    }
    let msg =
        format!("missing benchmark kind before `{key}`: start with one of {list}, e.g. `#[rpyc_bench(latency, …)]`");
    errors.push(Error::new(first.name.span(), msg));
    None
}

fn is_option(key: &str) -> bool {
    KINDS.iter().any(|k| k.params().contains(&key))
        || server::OPTIONS.contains(&key)
        || sla::is_sla(key)
        || GENERAL.contains(&key)
}

fn regression(opt: &Opt) -> Result<f64> {
    let pct = opt.number("regression_pct = 10")?;
    match pct > 0.0 {
        true => Ok(pct),
        false => {
            Err(Error::new_spanned(&opt.value, "`regression_pct` is a percentage above 0, e.g. `regression_pct = 10`"))
        }
    }
}

/// An option this kind does not take: say whose it is, or what the user may have meant,
/// and list what the kind takes.
fn unknown(opt: &Opt, kind: KindName) -> Error {
    let key = opt.key();
    let name = kind.name();
    let owners: Vec<_> = KINDS.iter().filter(|k| k.params().contains(&key.as_str())).map(|k| k.name()).collect();
    let first = if KindName::parse(&key).is_some() {
        format!("a benchmark has one kind, and this one is `{name}`")
    } else if !owners.is_empty() {
        format!("`{key}` is not an option of {name} benchmarks (it belongs to {})", owners.join(" and "))
    } else {
        let mut all: Vec<&str> = kind.params().to_vec();
        all.extend(server::OPTIONS.iter().chain(&sla::allowed(kind)).chain(GENERAL));
        format!("unknown option `{key}` for a {name} benchmark{}", did_you_mean(&key, &all))
    };
    let params = match kind.params() {
        [] => String::new(),
        p => format!("parameters: {}; ", p.join(", ")),
    };
    let msg = format!(
        "{first}; a {name} benchmark takes {params}servers: {}; SLAs: {}; and {}",
        server::OPTIONS.join(", "),
        sla::allowed(kind).join(", "),
        GENERAL.join(", "),
    );
    Error::new(opt.name.span(), msg)
}

/// ` (did you mean `x`?)` for a near miss (edit distance at most 2), else nothing.
fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    let best = candidates.iter().map(|c| (distance(word, c), c)).filter(|(d, _)| *d <= 2).min();
    best.map_or_else(String::new, |(_, c)| format!(" (did you mean `{c}`?)"))
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}
