//! TODO(issue 20): being written.

use bytes::Bytes;

use crate::cmd::{CmdError, CmdResult, Ctx};

pub fn sort(_ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::Msg("ERR not implemented yet".into()))
}

pub fn sort_ro(_ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::Msg("ERR not implemented yet".into()))
}
