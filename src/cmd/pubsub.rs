//! Pub/Sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH
//! and PUBSUB. The structures are in `crate::pubsub`.
//!
//! Confirmations and messages are pushes: RESP2 arrays, RESP3 `>` frames.
//! A push to the running client goes through [`Ctx::push`], so CLIENT
//! REPLY OFF or SKIP does not swallow it (Redis's CLIENT_PUSHING).

use bytes::Bytes;

use super::connection::{reply_help, subcommand_syntax_error};
use super::{CmdError, CmdResult, Ctx, help};
use crate::pubsub::{Kind, confirm};

/// SUBSCRIBE channel [channel ...]
pub fn subscribe(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    subscribe_generic(ctx, args, Kind::Channel)
}

/// PSUBSCRIBE pattern [pattern ...]
pub fn psubscribe(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    subscribe_generic(ctx, args, Kind::Pattern)
}

/// SSUBSCRIBE shardchannel [shardchannel ...]
pub fn ssubscribe(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    subscribe_generic(ctx, args, Kind::Shard)
}

/// UNSUBSCRIBE [channel ...]
pub fn unsubscribe(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    unsubscribe_generic(ctx, args, Kind::Channel);
    Ok(())
}

/// PUNSUBSCRIBE [pattern ...]
pub fn punsubscribe(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    unsubscribe_generic(ctx, args, Kind::Pattern);
    Ok(())
}

/// SUNSUBSCRIBE [shardchannel ...]
pub fn sunsubscribe(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    unsubscribe_generic(ctx, args, Kind::Shard);
    Ok(())
}

/// PUBLISH channel message
pub fn publish(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let receivers = publish_message(ctx, Kind::Channel, &args[1], &args[2]);
    ctx.out.int(receivers as i64);
    Ok(())
}

/// SPUBLISH shardchannel message
pub fn spublish(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let receivers = publish_message(ctx, Kind::Shard, &args[1], &args[2]);
    ctx.out.int(receivers as i64);
    Ok(())
}

/// PUBSUB CHANNELS [pattern]
pub fn pubsub_channels(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    channel_list(ctx, args, Kind::Channel)
}

/// PUBSUB SHARDCHANNELS [pattern]
pub fn pubsub_shardchannels(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    channel_list(ctx, args, Kind::Shard)
}

/// PUBSUB NUMSUB [channel ...]: pairs in a flat array (in RESP3 too).
pub fn pubsub_numsub(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    subscriber_counts(ctx, args, Kind::Channel);
    Ok(())
}

/// PUBSUB SHARDNUMSUB [shardchannel ...]
pub fn pubsub_shardnumsub(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    subscriber_counts(ctx, args, Kind::Shard);
    Ok(())
}

/// PUBSUB NUMPAT: the number of patterns with subscribers.
pub fn pubsub_numpat(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let n = ctx.store.pubsub.count(Kind::Pattern);
    ctx.out.int(n as i64);
    Ok(())
}

/// PUBSUB HELP
pub fn pubsub_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    reply_help(ctx, help::PUBSUB);
    Ok(())
}

fn subscribe_generic(ctx: &mut Ctx, args: &[Bytes], kind: Kind) -> CmdResult {
    // A client that expects one reply per command cannot subscribe; Redis
    // 7.0 still lets SUBSCRIBE and PSUBSCRIBE run inside a transaction.
    let in_multi = ctx.client().state.multi().is_some();
    if ctx.deny_blocking && (kind == Kind::Shard || !in_multi) {
        let name = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
        return Err(CmdError::err(format!(
            "{name} isn't allowed for a DENY BLOCKING client"
        )));
    }
    let me = ctx.me;
    let mut subs = ctx.clients[me].mode.take_subscriptions();
    for name in &args[1..] {
        ctx.store.pubsub.subscribe(&mut subs, me, kind, name);
        let count = subs.count_for(kind);
        ctx.push(|out| confirm(out, kind.subscribe_word(), Some(name), count));
    }
    ctx.clients[me].mode.put_subscriptions(subs);
    Ok(())
}

/// Without arguments, drops every subscription of `kind`, one
/// confirmation each, or one with a null name when there was none.
fn unsubscribe_generic(ctx: &mut Ctx, args: &[Bytes], kind: Kind) {
    let me = ctx.me;
    let mut subs = ctx.clients[me].mode.take_subscriptions();
    let names = if args.len() == 1 {
        subs.list(kind)
    } else {
        args[1..].to_vec()
    };
    if names.is_empty() {
        let count = subs.count_for(kind);
        ctx.push(|out| confirm(out, kind.unsubscribe_word(), None, count));
    }
    for name in &names {
        ctx.store.pubsub.unsubscribe(&mut subs, me, kind, name);
        let count = subs.count_for(kind);
        ctx.push(|out| confirm(out, kind.unsubscribe_word(), Some(name), count));
    }
    ctx.clients[me].mode.put_subscriptions(subs);
}

/// Publishes `payload` on `channel` (see `pubsub::Delivery::publish`).
fn publish_message(ctx: &mut Ctx, kind: Kind, channel: &[u8], payload: &[u8]) -> usize {
    let Ctx {
        store,
        clients,
        out,
        me,
        pushed,
        ..
    } = ctx;
    let store: &mut crate::store::Store = store;
    let mut delivery = crate::pubsub::Delivery {
        me: *me,
        out,
        pushed,
        clients,
        notified: &mut store.notified,
    };
    delivery.publish(&store.pubsub, kind, channel, payload)
}

fn channel_list(ctx: &mut Ctx, args: &[Bytes], kind: Kind) -> CmdResult {
    if args.len() > 3 {
        return Err(subcommand_syntax_error(args));
    }
    let pattern = args.get(2);
    let names: Vec<Bytes> = ctx
        .store
        .pubsub
        .names(kind)
        .filter(|c| pattern.is_none_or(|p| crate::glob::glob_match(p, c, false)))
        .cloned()
        .collect();
    ctx.out.array(names.len());
    for n in &names {
        ctx.out.bulk(n);
    }
    Ok(())
}

fn subscriber_counts(ctx: &mut Ctx, args: &[Bytes], kind: Kind) {
    ctx.out.array((args.len() - 2) * 2);
    for channel in &args[2..] {
        ctx.out.bulk(channel);
        let n = ctx.store.pubsub.subscribers(kind, channel);
        ctx.out.int(n as i64);
    }
}
