//! Objects the built-in service returns by reference besides lists and dicts: `User`,
//! an instance of a plain Python class with `exposed_` attributes.

use super::python_classes::USER;
use crate::client::python::{object_member, ops, Py, PyClass, PyInstance};
use crate::client::{Args, Connection, Object};
use crate::error::Result;

/// `rpycbench_service.User`: `exposed_id`, `exposed_name`, `exposed_email` and
/// `exposed_status`, set by its `__init__`; `repr` is `User({id!r})`.
pub(crate) struct User {
    id: Object,
    /// `user{id}@example.com`: the email, whose first `name_len` bytes are the name
    /// (`user{id}`), so one heap block holds both.
    email: String,
    name_len: usize,
}

/// What the email of an `int` id takes at most: `user`, 20 digits and a sign,
/// `@example.com`.
const EMAIL_CAPACITY: usize = 4 + 21 + 12;

impl User {
    /// `User(id)`: its name and email format `id` as the f-strings of `__init__` do.
    pub(crate) fn new(conn: &mut Connection, id: Object) -> Result<User> {
        let mut email = String::with_capacity(EMAIL_CAPACITY);
        email.push_str("user");
        ops::format_into(conn, &id, &mut email)?;
        let name_len = email.len();
        email.push_str("@example.com");
        Ok(User { id, email, name_len })
    }

    fn name(&self) -> &str {
        &self.email[..self.name_len]
    }

    /// Lends a new user.
    pub(crate) fn lend(self) -> Object {
        Py::lend(self)
    }
}

impl PyInstance for User {
    fn class(&self) -> &PyClass {
        &USER
    }

    fn instance_attr(&self, name: &str) -> Option<Object> {
        Some(match name {
            "exposed_id" => self.id.clone(),
            "exposed_name" => self.name().into(),
            "exposed_email" => self.email.as_str().into(),
            "exposed_status" => "active".into(),
            _ => return None,
        })
    }

    fn dir(&self) -> Vec<String> {
        let mut names: Vec<String> = USER.dir.iter().map(|s| (*s).to_owned()).collect();
        names.extend(["exposed_email", "exposed_id", "exposed_name", "exposed_status"].map(String::from));
        names.sort();
        names
    }

    fn repr(&self, _me: &Py<Self>, conn: &mut Connection) -> Result<String> {
        Ok(format!("User({})", ops::repr(conn, &self.id)?))
    }

    fn call_member(&self, me: &Py<Self>, conn: &mut Connection, name: &str, args: Args) -> Result<Object> {
        match name {
            // `User.__repr__` is a Python method: it takes no arguments but self.
            "__repr__" => {
                crate::server::binding::Signature { qualname: "User.__repr__", params: &[] }.bind(args)?;
                self.repr(me, conn).map(Object::from)
            }
            _ => object_member(me, conn, name, args),
        }
    }
}
