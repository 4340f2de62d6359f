//! TODO(issue 20): being written.

use bytes::Bytes;

use crate::cmd::{CmdError, CmdResult, Ctx};

pub fn setbit(_ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::Msg("ERR not implemented yet".into()))
}

pub fn getbit(_ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::Msg("ERR not implemented yet".into()))
}

pub fn bitcount(_ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::Msg("ERR not implemented yet".into()))
}

pub fn bitpos(_ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::Msg("ERR not implemented yet".into()))
}

pub fn bitop(_ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::Msg("ERR not implemented yet".into()))
}

pub fn bitfield(_ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::Msg("ERR not implemented yet".into()))
}

pub fn bitfield_ro(_ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::Msg("ERR not implemented yet".into()))
}
