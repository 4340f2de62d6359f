//! RESP: the request parser and the reply writer.

pub mod parser;
pub mod writer;

pub use parser::{Parsed, Parser, ProtocolError};
pub use writer::{Protocol, Reply};
