#![doc = include_str!("../../README.md")]
#![warn(missing_docs)]

pub mod cli;
pub mod client;
mod error;
pub mod server;
pub mod wire;

pub use client::Connection;
pub use error::{Error, ProtocolError, Result};
pub use wire::Value;
