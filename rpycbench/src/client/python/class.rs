//! A Python class as a peer sees its instances: `dir()`, the members rpyc's default
//! policy lets through, the INSPECT reply and the docstring. The tables themselves are
//! generated from CPython (`cpython.rs`).

/// What `getattr(instance, name)` gives for a member a peer may reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Member {
    /// A slot wrapper bound to the instance (`method-wrapper`), e.g. `obj.__eq__`.
    Wrapper,
    /// A C method bound to the instance (`builtin_function_or_method`), e.g. `obj.__format__`.
    Builtin,
    /// A Python function bound to the instance (`method`); its qualified name.
    Method(&'static str),
    /// A classmethod bound to the class (`method`); its qualified name.
    ClassMethod(&'static str),
    /// The attribute is `None` (`list.__hash__`: lists are unhashable).
    NoneValue,
}

impl Member {
    /// Whether calling the attribute calls a method of the instance.
    pub(crate) fn is_callable(self) -> bool {
        matches!(self, Member::Wrapper | Member::Builtin | Member::Method(_) | Member::ClassMethod(_))
    }
}

/// A CPython class: what its instances show a peer.
#[derive(Debug)]
pub(crate) struct PyClass {
    /// `type(obj).__module__`.
    pub(crate) module: &'static str,
    /// `type(obj).__name__`.
    pub(crate) name: &'static str,
    /// `obj.__doc__`.
    pub(crate) doc: Option<&'static str>,
    /// `dir(obj)`, sorted as Python sorts it.
    pub(crate) dir: &'static [&'static str],
    /// The members in rpyc's safe attributes: kind and the bound attribute's `__doc__`.
    pub(crate) members: &'static [(&'static str, Member, Option<&'static str>)],
    /// What a Python server answers to INSPECT: `(method, docstring)` in its order.
    pub(crate) inspect: &'static [(&'static str, Option<&'static str>)],
}

impl PyClass {
    /// The member `name`, if the class has it among its safe attributes.
    pub(crate) fn member(&self, name: &str) -> Option<(Member, Option<&'static str>)> {
        self.members.iter().find(|(n, ..)| *n == name).map(|(_, m, doc)| (*m, *doc))
    }

    /// `hasattr(instance, name)` for the class's own attributes.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.dir.binary_search(&name).is_ok()
    }
}
