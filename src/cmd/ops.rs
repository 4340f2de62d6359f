//! The operational commands of a server without replicas or modules:
//! ROLE, WAIT and MODULE, answering as a Redis 7.0 master with no
//! replicas and no modules loaded does (`replication.c`, `module.c`).

use bytes::Bytes;

use super::connection::reply_help;
use super::{CmdError, CmdResult, Ctx, Unblocked, arg_i64, help};
use crate::blocking::WaitFor;

/// ROLE
///
/// A master's reply: its role, its replication offset and its replicas.
/// ferrokv keeps no replication backlog, so its offset stays 0, as
/// Redis's does until a replica first connects.
pub fn role(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.out.array(3);
    ctx.out.bulk(b"master");
    ctx.out.int(0);
    ctx.out.array(0);
    Ok(())
}

/// WAIT numreplicas timeout
///
/// Answers how many replicas acknowledged this client's writes: none.
/// As in Redis, when that is fewer than asked the client blocks until
/// the timeout (in milliseconds; 0 waits for ever), and then answers 0;
/// inside MULTI it answers at once.
pub fn wait(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let numreplicas = arg_i64(&args[1])?;
    let timeout_ms = crate::util::parse_i64(&args[2])
        .ok_or_else(|| CmdError::err("timeout is not an integer or out of range"))?;
    if timeout_ms < 0 {
        return Err(CmdError::err("timeout is negative"));
    }
    let acknowledged = 0;
    if acknowledged >= numreplicas {
        ctx.out.int(acknowledged);
        return Ok(());
    }
    let deadline = (timeout_ms > 0).then(|| ctx.now_ms.saturating_add(timeout_ms as u64));
    ctx.block_on(
        &[],
        deadline,
        WaitFor::Replicas,
        Unblocked::Int(acknowledged),
    );
    Ok(())
}

/// MODULE LIST
pub fn module_list(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.out.array(0);
    Ok(())
}

/// Redis's answer to any module that did not load; the reason goes to the
/// log.
const LOAD_FAILED: &str = "Error loading the extension. Please check the server logs.";

/// MODULE LOAD path [arg ...]
///
/// ferrokv loads no modules: the load fails as one that cannot be
/// opened does in Redis, with the reason in the log.
pub fn module_load(_ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    log::warn!(
        "Module {} failed to load: ferrokv does not load modules",
        String::from_utf8_lossy(&args[2])
    );
    Err(CmdError::err(LOAD_FAILED))
}

/// MODULE LOADEX path [CONFIG name value ...] [ARGS arg ...]
pub fn module_loadex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    module_load(ctx, args)
}

/// MODULE UNLOAD name
pub fn module_unload(_ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::err(
        "Error unloading module: no such module with that name",
    ))
}

/// MODULE HELP
pub fn module_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    reply_help(ctx, help::MODULE);
    Ok(())
}
