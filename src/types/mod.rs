//! The aggregate data types, one file each: the structure and its internal
//! API first, then its commands. (Strings, the first type, live in
//! `cmd/string.rs`.)

pub mod hash;
pub mod list;
pub mod set;
