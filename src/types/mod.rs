//! The data types, one file each: the structure and its internal API
//! first, then its commands.

pub mod hash;
pub mod list;
pub mod set;
pub mod string;
