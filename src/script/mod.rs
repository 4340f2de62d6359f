//! Lua scripting: EVAL and FUNCTION, as Redis 7.0 runs them.

pub mod libs;
