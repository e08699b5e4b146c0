//! [`Positional`]: the positional arguments of a call a peer made, kept inline up to
//! a few, so that answering a simple call (`echo(7)`) needs no heap block for them.

use super::object::Object;
use smallvec::SmallVec;
use std::ops::{Deref, DerefMut};

/// Arguments held without a heap allocation: more than most methods take (the
/// built-in service's take at most two); a call with more moves them to the heap.
const INLINE: usize = 4;

/// Positional arguments, in order: a slice of [`Object`]s (it dereferences to
/// `[Object]`) that holds up to four without allocating.
///
/// Made from a `Vec`, an array or an iterator: `Positional::from([Object::from(7)])`,
/// `vec![x].into()`, `items.into_iter().collect()`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Positional(SmallVec<[Object; INLINE]>);

impl Positional {
    /// No arguments.
    pub fn new() -> Positional {
        Positional(SmallVec::new())
    }

    /// Appends an argument.
    pub fn push(&mut self, arg: Object) {
        self.0.push(arg);
    }

    /// Makes room for `additional` more arguments (none is made while they fit inline).
    pub fn reserve_exact(&mut self, additional: usize) {
        self.0.reserve_exact(additional);
    }

    /// Removes and returns the last argument.
    pub fn pop(&mut self) -> Option<Object> {
        self.0.pop()
    }

    /// Removes and returns the argument at `index`, shifting the rest left.
    ///
    /// # Panics
    /// If `index` is out of bounds, as `Vec::remove`.
    pub fn remove(&mut self, index: usize) -> Object {
        self.0.remove(index)
    }

    /// Inserts `arg` at `index`, shifting the rest right.
    ///
    /// # Panics
    /// If `index > len`, as `Vec::insert`.
    pub fn insert(&mut self, index: usize, arg: Object) {
        self.0.insert(index, arg);
    }

    /// Keeps the first `len` arguments.
    pub fn truncate(&mut self, len: usize) {
        self.0.truncate(len);
    }

    /// Removes every argument.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The arguments as a slice.
    pub fn as_slice(&self) -> &[Object] {
        &self.0
    }

    /// The arguments as a `Vec` (which allocates when there are any).
    pub fn into_vec(self) -> Vec<Object> {
        self.0.into_vec()
    }
}

impl Deref for Positional {
    type Target = [Object];

    fn deref(&self) -> &[Object] {
        &self.0
    }
}

impl DerefMut for Positional {
    fn deref_mut(&mut self) -> &mut [Object] {
        &mut self.0
    }
}

impl From<Vec<Object>> for Positional {
    /// Up to four arguments move inline and the vector is freed; more keep its buffer.
    fn from(v: Vec<Object>) -> Positional {
        Positional(SmallVec::from_vec(v))
    }
}

impl<const N: usize> From<[Object; N]> for Positional {
    fn from(items: [Object; N]) -> Positional {
        items.into_iter().collect()
    }
}

impl From<Positional> for Vec<Object> {
    fn from(p: Positional) -> Vec<Object> {
        p.into_vec()
    }
}

impl<const N: usize> TryFrom<Positional> for [Object; N] {
    /// The arguments back, when there are not exactly `N`.
    type Error = Positional;

    fn try_from(p: Positional) -> Result<[Object; N], Positional> {
        if p.len() != N {
            return Err(p);
        }
        let mut items = p.0.into_iter();
        // The length was checked above: every `next` yields an argument.
        Ok(std::array::from_fn(|_| items.next().expect("length checked")))
    }
}

impl FromIterator<Object> for Positional {
    fn from_iter<I: IntoIterator<Item = Object>>(iter: I) -> Positional {
        Positional(iter.into_iter().collect())
    }
}

impl Extend<Object> for Positional {
    fn extend<I: IntoIterator<Item = Object>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

/// The arguments of a [`Positional`], by value and in order.
#[derive(Debug)]
pub struct IntoIter(smallvec::IntoIter<[Object; INLINE]>);

impl Iterator for IntoIter {
    type Item = Object;

    fn next(&mut self) -> Option<Object> {
        self.0.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for IntoIter {
    fn next_back(&mut self) -> Option<Object> {
        self.0.next_back()
    }
}

impl ExactSizeIterator for IntoIter {}

impl IntoIterator for Positional {
    type Item = Object;
    type IntoIter = IntoIter;

    fn into_iter(self) -> IntoIter {
        IntoIter(self.0.into_iter())
    }
}

impl<'a> IntoIterator for &'a Positional {
    type Item = &'a Object;
    type IntoIter = std::slice::Iter<'a, Object>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(p: &Positional) -> Vec<String> {
        p.iter().map(Object::describe).collect()
    }

    #[test]
    fn holds_a_few_inline_and_more_on_the_heap() {
        let few: Positional = (0..INLINE as i64).map(Object::from).collect();
        assert!(!few.0.spilled());
        let many: Positional = (0..=INLINE as i64).map(Object::from).collect();
        assert!(many.0.spilled());
        assert_eq!(ints(&many), ["0", "1", "2", "3", "4"]);
        // A short vector moves inline; a long one keeps its buffer.
        assert!(!Positional::from(vec![Object::from(1)]).0.spilled());
        let long: Vec<Object> = (0..8).map(Object::from).collect();
        let ptr = long.as_ptr();
        assert_eq!(Positional::from(long).as_ptr(), ptr);
    }

    #[test]
    fn converts_to_an_array_of_its_exact_length_only() {
        let two = Positional::from([Object::from(1), Object::from("x")]);
        let back: Result<[Object; 3], _> = two.clone().try_into();
        assert_eq!(back.unwrap_err(), two);
        let [a, b]: [Object; 2] = two.try_into().unwrap();
        assert_eq!((a.describe(), b.describe()), ("1".to_owned(), "'x'".to_owned()));
        let none: [Object; 0] = Positional::new().try_into().unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn iterates_by_value_from_both_ends() {
        let p: Positional = (0..6).map(Object::from).collect();
        let mut it = p.into_iter();
        assert_eq!(it.len(), 6);
        assert_eq!(it.next_back().map(|o| o.describe()).as_deref(), Some("5"));
        let rest: Vec<String> = it.map(|o| o.describe()).collect();
        assert_eq!(rest, ["0", "1", "2", "3", "4"]);
    }
}
