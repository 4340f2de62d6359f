//! The differential fuzzer's parts; tests/fuzz.rs describes the whole.

pub mod exec;
pub mod generate;
pub mod norm;
pub mod shrink;
