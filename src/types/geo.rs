//! TODO(issue 20): being written.

use bytes::Bytes;

use crate::cmd::{CmdError, CmdResult, Ctx};

pub fn geoadd(_ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::Msg("ERR not implemented yet".into()))
}

pub fn geopos(_ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::Msg("ERR not implemented yet".into()))
}

pub fn geodist(_ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::Msg("ERR not implemented yet".into()))
}

pub fn geohash(_ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::Msg("ERR not implemented yet".into()))
}

pub fn georadius(_ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::Msg("ERR not implemented yet".into()))
}

pub fn georadius_ro(_ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::Msg("ERR not implemented yet".into()))
}

pub fn georadiusbymember(_ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::Msg("ERR not implemented yet".into()))
}

pub fn georadiusbymember_ro(_ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::Msg("ERR not implemented yet".into()))
}

pub fn geosearch(_ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::Msg("ERR not implemented yet".into()))
}

pub fn geosearchstore(_ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::Msg("ERR not implemented yet".into()))
}
