//! EVAL, EVALSHA, their read-only forms, and SCRIPT (`crate::script` runs
//! them).

use bytes::Bytes;

use super::{CmdError, CmdResult, Ctx};
use crate::call::Shown;
use crate::script;
use crate::util::eq_ic;

pub fn eval(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    run_eval(ctx, args, false, false)
}

pub fn evalsha(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    run_eval(ctx, args, true, false)
}

pub fn eval_ro(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    run_eval(ctx, args, false, true)
}

pub fn evalsha_ro(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    run_eval(ctx, args, true, true)
}

/// Redis's evalGenericCommand. MONITOR sees the EVAL before the commands
/// its script runs.
fn run_eval(ctx: &mut Ctx, args: &[Bytes], evalsha: bool, ro: bool) -> CmdResult {
    feed_monitors(ctx, args);
    if evalsha && args[1].len() != 40 {
        return Err(script::noscript());
    }
    let id = ctx.client().id;
    if let Some(mode) = ctx.store.scripting.debug.mode(ctx.me, id) {
        if evalsha {
            return Err(CmdError::err(
                "Please use EVAL instead of EVALSHA for debugging",
            ));
        }
        let body = args[1].clone();
        return script::ldb::debug_eval(ctx, mode, &body, |ctx| eval_body(ctx, args, evalsha, ro));
    }
    eval_body(ctx, args, evalsha, ro)
}

/// Redis's evalGenericCommand after the debugger's check.
fn eval_body(ctx: &mut Ctx, args: &[Bytes], evalsha: bool, ro: bool) -> CmdResult {
    let numkeys = crate::util::parse_i64(&args[2]).ok_or(CmdError::NotInteger)?;
    if numkeys > args.len() as i64 - 3 {
        return Err(CmdError::err(
            "Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(CmdError::err("Number of keys can't be negative"));
    }
    let target = ctx.store.scripting.eval_target(&args[1], evalsha, ro)?;
    let split = 3 + numkeys as usize;
    script::run(ctx, target, &args[3..split], &args[split..])
}

/// Feeds MONITOR the script command itself (it is `skip_monitor`, so
/// `call()` does not), before what the script runs.
pub fn feed_monitors(ctx: &mut Ctx, args: &[Bytes]) {
    if ctx.store.monitors.is_empty() || ctx.clients.get(ctx.me).is_none_or(|c| c.stream.is_none()) {
        return;
    }
    let Some(cmd) = super::lookup(&args[0]) else {
        return;
    };
    let shown = Shown {
        args,
        redacted: &[],
    };
    crate::call::feed_monitors(ctx.store, ctx.clients, ctx.me, cmd, shown, ctx.out, true);
}

pub fn script_load(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let sha = ctx.store.scripting.load(&args[2], false)?;
    ctx.out.bulk(&sha);
    Ok(())
}

pub fn script_exists(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ctx.out.array(args.len() - 2);
    for sha in &args[2..] {
        let found = ctx.store.scripting.exists(sha);
        ctx.out.int(found as i64);
    }
    Ok(())
}

pub fn script_flush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    match args.len() {
        2 => {}
        3 if eq_ic(&args[2], "sync") || eq_ic(&args[2], "async") => {}
        _ => return Err(CmdError::err("SCRIPT FLUSH only support SYNC|ASYNC option")),
    }
    ctx.store.scripting.flush();
    ctx.out.ok();
    Ok(())
}

pub fn script_kill(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    kill(ctx, true)
}

/// SCRIPT KILL and FUNCTION KILL (Redis's scriptKill).
pub fn kill(ctx: &mut Ctx, eval: bool) -> CmdResult {
    let Some(running) = ctx.store.scripting.running.as_mut() else {
        return Err(CmdError::Msg(
            "NOTBUSY No scripts in execution right now.".into(),
        ));
    };
    if running.obey {
        return Err(CmdError::Msg("UNKILLABLE The busy script was sent by a master instance in the context of replication and cannot be killed.".into()));
    }
    if running.write_dirty {
        return Err(CmdError::Msg("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.".into()));
    }
    if eval && !running.eval {
        return Err(CmdError::Msg(BUSY_FUNCTION.into()));
    }
    if !eval && running.eval {
        return Err(CmdError::Msg(BUSY_SCRIPT.into()));
    }
    running.killed = true;
    ctx.out.ok();
    Ok(())
}

pub const BUSY_SCRIPT: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// SCRIPT DEBUG YES|SYNC|NO: whether the client's next EVAL runs under
/// the Lua debugger (see `script::ldb`).
pub fn script_debug(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    // The debugger writes to the socket directly: replies still queued
    // would come after its output (Redis's clientHasPendingReplies).
    if !ctx.out.is_empty() {
        return Err(CmdError::err(
            "SCRIPT DEBUG must be called outside a pipeline",
        ));
    }
    let (me, id) = (ctx.me, ctx.client().id);
    let debug = &mut ctx.store.scripting.debug;
    if eq_ic(&args[2], "no") {
        debug.disable(me);
    } else if eq_ic(&args[2], "yes") {
        debug.enable(me, id, script::ldb::Mode::Forked, ctx.clients);
    } else if eq_ic(&args[2], "sync") {
        debug.enable(me, id, script::ldb::Mode::Sync, ctx.clients);
    } else {
        return Err(CmdError::err("Use SCRIPT DEBUG YES/SYNC/NO"));
    }
    ctx.out.ok();
    Ok(())
}

pub fn script_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    super::connection::reply_help(ctx, super::help::SCRIPT);
    Ok(())
}
