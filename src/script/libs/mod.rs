//! The libraries Redis adds to Lua: `cjson`, `cmsgpack`, `bit`, `struct`.

use mlua::Lua;

/// Opens every library as a global of `lua`.
pub fn open_all(_lua: &Lua) -> mlua::Result<()> {
    Ok(())
}
