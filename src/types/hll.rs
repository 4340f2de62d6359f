//! TODO(issue 20): being written.

use bytes::Bytes;

use crate::cmd::{CmdError, CmdResult, Ctx};

pub fn pfadd(_ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::Msg("ERR not implemented yet".into()))
}

pub fn pfcount(_ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::Msg("ERR not implemented yet".into()))
}

pub fn pfmerge(_ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::Msg("ERR not implemented yet".into()))
}

pub fn pfdebug(_ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::Msg("ERR not implemented yet".into()))
}

pub fn pfselftest(_ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::Msg("ERR not implemented yet".into()))
}
