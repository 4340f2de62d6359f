//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Between MULTI and EXEC the loop queues each command instead of running
//! it (`Server::execute` answers `+QUEUED`, or an error that dooms the
//! transaction). EXEC decides here whether the transaction may run; if so
//! it tells the loop so in [`Ctx::run_transaction`], and the loop runs
//! each command through normal dispatch with blocking denied, collecting
//! the replies into one array. Keys the commands wrote are signalled to
//! blocked clients afterwards, as after any command.

use bytes::Bytes;

use crate::client::{State, Transaction};
use crate::cmd::{CmdError, CmdResult, Ctx};
use crate::watch::WatchedKey;

/// MULTI
pub fn multi(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let client = ctx.client();
    if client.state.multi().is_some() {
        // Redis answers the error but keeps the transaction going.
        return Err(CmdError::err("MULTI calls can not be nested"));
    }
    client.state = State::Multi(Transaction::default());
    ctx.out.ok();
    Ok(())
}

/// EXEC
pub fn exec(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let (me, now) = (ctx.me, ctx.now_ms);
    let client = &mut ctx.clients[me];
    let Some(tx) = client.state.multi_mut() else {
        return Err(CmdError::err("EXEC without MULTI"));
    };
    let aborted = tx.aborted;
    let touched =
        client.dirty_cas || crate::watch::any_expired(&client.watched, &ctx.store.dbs, now);
    if aborted || touched {
        client.state.end_multi();
    } else {
        tx.running = true;
    }
    unwatch_all(ctx);
    if aborted {
        return Err(CmdError::Msg(
            "EXECABORT Transaction discarded because of previous errors.".into(),
        ));
    }
    if touched {
        ctx.out.null_array();
        return Ok(());
    }
    ctx.run_transaction = true;
    Ok(())
}

/// DISCARD
pub fn discard(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    if ctx.client().state.end_multi().is_none() {
        return Err(CmdError::err("DISCARD without MULTI"));
    }
    unwatch_all(ctx);
    ctx.out.ok();
    Ok(())
}

/// WATCH key [key ...]
pub fn watch(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if ctx.client().state.multi().is_some() {
        return Err(CmdError::err("WATCH inside MULTI is not allowed"));
    }
    let (me, db, now) = (ctx.me, ctx.db_index, ctx.now_ms);
    for key in &args[1..] {
        let client = &mut ctx.clients[me];
        if client
            .watched
            .iter()
            .any(|wk| wk.db == db && wk.key == *key)
        {
            continue;
        }
        let live_at_watch = ctx.store.dbs[db].get(key, now).is_some();
        client.watched.push(WatchedKey {
            db,
            key: Bytes::copy_from_slice(key),
            live_at_watch,
        });
        ctx.store.watches.add(me, db, key);
    }
    ctx.out.ok();
    Ok(())
}

/// UNWATCH
pub fn unwatch(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    unwatch_all(ctx);
    ctx.out.ok();
    Ok(())
}

/// Forgets every key the client watches, and whether one was touched.
pub fn unwatch_all(ctx: &mut Ctx) {
    let me = ctx.me;
    ctx.store.watches.unwatch_all(me, &mut ctx.clients[me]);
}
