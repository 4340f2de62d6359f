//! Connection commands: PING, ECHO, QUIT, RESET, HELLO, AUTH, SELECT and
//! the CLIENT family.

use bytes::Bytes;

use super::{CmdError, CmdResult, Ctx, arg_i32, arg_i64, help};
use crate::client::{Mode, ReplyMode};
use crate::config::ClientClass;
use crate::resp::Protocol;
use crate::tracking::{ClientTracking, Options, Reads, Redirect, Scope};
use crate::util::eq_ic;

/// Writes a HELP reply: one status line each.
pub fn reply_help(ctx: &mut Ctx, lines: &[&str]) {
    ctx.out.array(lines.len());
    for l in lines {
        ctx.out.simple(l);
    }
}

/// PING [message]
pub fn ping(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() > 2 {
        return Err(CmdError::err(
            "wrong number of arguments for 'ping' command",
        ));
    }
    // A subscribed RESP2 client reads only arrays: Redis answers it with
    // ["pong", message].
    if ctx.client().mode.is_subscribed() && !ctx.out.is_resp3() {
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(args.get(1).map_or(&b""[..], |m| &m[..]));
        return Ok(());
    }
    match args.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(&args[1]),
        _ => {
            return Err(CmdError::err(
                "wrong number of arguments for 'ping' command",
            ));
        }
    }
    Ok(())
}

/// ECHO message
pub fn echo(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ctx.out.bulk(&args[1]);
    Ok(())
}

/// QUIT: reply OK, then close once the reply is written.
pub fn quit(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.out.ok();
    ctx.client().close_after_reply = true;
    Ok(())
}

/// RESET: back to a fresh connection's state, as far as Redis 7.0's
/// `clearClientConnectionState` goes: CLIENT NO-EVICT stays on.
pub fn reset(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let me = ctx.me;
    crate::cmd::acl::set_default_auth(ctx.store, &mut ctx.clients[me]);
    let client = ctx.client();
    client.db = 0;
    client.name = None;
    // Replies come back on, but RESET's own reply stays dropped after
    // CLIENT REPLY SKIP: Redis clears REPLY_OFF and SKIP_NEXT, not the
    // running command's SKIP.
    if client.reply_mode != ReplyMode::Skip {
        client.reply_mode = ReplyMode::On;
    }
    client.state.end_multi();
    // Out of MONITOR and of every subscription, without confirmations.
    let mut subs = client.mode.take_subscriptions();
    let was_monitor = client.mode.is_monitor();
    client.mode = Mode::Normal;
    if was_monitor {
        ctx.store.monitors.retain(|&m| m != me);
    }
    ctx.store.pubsub.forget(&mut subs, me);
    ctx.store.tracking.forget(me, &mut ctx.clients[me]);
    super::multi::unwatch_all(ctx);
    ctx.out.proto = Protocol::Resp2;
    ctx.db_index = 0;
    ctx.out.simple("RESET");
    Ok(())
}

/// AUTH [username] password
pub fn auth(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    ctx.redact(1);
    if args.len() == 2 {
        if ctx.store.acl.default_user_nopass() {
            return Err(CmdError::err(
                "AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
            ));
        }
        crate::cmd::acl::authenticate(ctx, args, b"default", &args[1])?;
    } else {
        ctx.redact(2);
        crate::cmd::acl::authenticate(ctx, args, &args[1], &args[2])?;
    }
    ctx.out.ok();
    Ok(())
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
pub fn hello(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut proto = ctx.out.proto;
    let mut i = 1;
    if args.len() >= 2 {
        let ver = crate::util::parse_i64(&args[1])
            .ok_or_else(|| CmdError::err("Protocol version is not an integer or out of range"))?;
        proto = match ver {
            2 => Protocol::Resp2,
            3 => Protocol::Resp3,
            _ => {
                return Err(CmdError::Msg("NOPROTO unsupported protocol version".into()));
            }
        };
        i = 2;
    }
    // Options take effect one by one, as in Redis: an AUTH or SETNAME before
    // a bad option has already happened when the error is returned.
    while i < args.len() {
        let more = args.len() - i - 1;
        if eq_ic(&args[i], "AUTH") && more >= 2 {
            ctx.redact(i + 1);
            ctx.redact(i + 2);
            crate::cmd::acl::authenticate(ctx, args, &args[i + 1], &args[i + 2])?;
            i += 3;
        } else if eq_ic(&args[i], "SETNAME") && more >= 1 {
            set_name(ctx, &args[i + 1])?;
            i += 2;
        } else {
            return Err(CmdError::err_quoting(
                "Syntax error in HELLO option '",
                &args[i],
                "'",
            ));
        }
    }
    if !ctx.client().authenticated {
        return Err(CmdError::Msg(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into(),
        ));
    }
    ctx.out.proto = proto;
    let id = ctx.client().id;
    ctx.out.map(7);
    ctx.out.bulk(b"server");
    ctx.out.bulk(b"redis");
    ctx.out.bulk(b"version");
    ctx.out.bulk(crate::REDIS_VERSION.as_bytes());
    ctx.out.bulk(b"proto");
    ctx.out.int(proto.number());
    ctx.out.bulk(b"id");
    ctx.out.int(id as i64);
    ctx.out.bulk(b"mode");
    ctx.out.bulk(b"standalone");
    ctx.out.bulk(b"role");
    ctx.out.bulk(b"master");
    ctx.out.bulk(b"modules");
    ctx.out.array(0);
    Ok(())
}

/// SELECT index
pub fn select(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let index = arg_i32(&args[1])?;
    if index < 0 || index as usize >= ctx.store.dbs.len() {
        return Err(CmdError::err("DB index is out of range"));
    }
    ctx.db_index = index as usize;
    ctx.client().db = index as usize;
    ctx.out.ok();
    Ok(())
}

/// Client names may not contain spaces, newlines or special characters.
fn validate_name(name: &[u8]) -> CmdResult {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(CmdError::err(
            "Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(())
}

/// CLIENT ID
pub fn client_id(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let id = ctx.client().id;
    ctx.out.int(id as i64);
    Ok(())
}

/// Sets (or, with an empty name, clears) the connection's name.
fn set_name(ctx: &mut Ctx, name: &[u8]) -> CmdResult {
    validate_name(name)?;
    ctx.client().name = if name.is_empty() {
        None
    } else {
        Some(name.to_vec())
    };
    Ok(())
}

/// Redis's reply when a subcommand gets arguments it cannot take.
pub fn subcommand_syntax_error(args: &[Bytes]) -> CmdError {
    CmdError::err_quoting(
        "unknown subcommand or wrong number of arguments for '",
        &args[1][..args[1].len().min(128)],
        &format!(
            "'. Try {} HELP.",
            String::from_utf8_lossy(&args[0]).to_ascii_uppercase()
        ),
    )
}

/// CLIENT SETNAME connection-name
pub fn client_setname(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_name(ctx, &args[2])?;
    ctx.out.ok();
    Ok(())
}

/// CLIENT GETNAME
pub fn client_getname(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    match ctx.client().name.clone() {
        Some(n) => ctx.out.bulk(&n),
        None => ctx.out.null(),
    }
    Ok(())
}

/// CLIENT SETINFO <LIB-NAME libname | LIB-VER libver>
///
/// Redis 7.2's command, accepted because redis-py, node-redis and the
/// `redis` crate send it on connect.
pub fn client_setinfo(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let attr = &args[2];
    let value = &args[3];
    let is_name = eq_ic(attr, "lib-name");
    if !is_name && !eq_ic(attr, "lib-ver") {
        return Err(CmdError::err(format!(
            "Unrecognized option '{}'",
            String::from_utf8_lossy(attr)
        )));
    }
    if value.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(CmdError::err(format!(
            "{} cannot contain spaces, newlines or special characters.",
            if is_name { "lib-name" } else { "lib-ver" }
        )));
    }
    let v = if value.is_empty() {
        None
    } else {
        Some(value.to_vec())
    };
    if is_name {
        ctx.client().lib_name = v;
    } else {
        ctx.client().lib_ver = v;
    }
    ctx.out.ok();
    Ok(())
}

/// CLIENT LIST [TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID client-id ...]
pub fn client_list(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut ids: Option<Vec<u64>> = None;
    // `Some(None)`: a class no client is in (master).
    let mut type_filter: Option<Option<ClientClass>> = None;
    if args.len() == 4 && eq_ic(&args[2], "TYPE") {
        let t = String::from_utf8_lossy(&args[3]);
        let Some(class) = ClientClass::from_name(&t) else {
            return Err(CmdError::err_quoting(
                "Unknown client type '",
                &args[3],
                "'",
            ));
        };
        type_filter = Some(class);
    } else if args.len() > 3 && eq_ic(&args[2], "ID") {
        let mut v = Vec::new();
        for a in &args[3..] {
            match crate::util::parse_i64(a) {
                Some(n) => v.push(n as u64),
                None => return Err(CmdError::err("Invalid client ID")),
            }
        }
        ids = Some(v);
    } else if args.len() != 2 {
        return Err(CmdError::Syntax);
    }
    let now = ctx.now_ms;
    let running = running_view(ctx, args);
    let me = ctx.client().id;
    let mut text = String::new();
    let mut line = |c: &crate::client::Client| {
        text.push_str(&c.info_line(now, (c.id == me).then_some(&running)));
        text.push('\n');
    };
    match ids {
        // In the order asked, a client asked for twice listed twice.
        Some(ids) => {
            let by_id: ahash::AHashMap<u64, &crate::client::Client> =
                ctx.clients.iter().map(|(_, c)| (c.id, c)).collect();
            for id in ids {
                if let Some(c) = by_id.get(&id) {
                    line(c);
                }
            }
        }
        // Oldest first, as Redis keeps its client list; the slab reuses
        // slots, so its order is not the clients' age.
        None => {
            let mut all: Vec<&crate::client::Client> = ctx
                .clients
                .iter()
                .map(|(_, c)| c)
                .filter(|c| type_filter.is_none_or(|t| t == Some(c.mode.class())))
                .collect();
            all.sort_by_key(|c| c.id);
            all.into_iter().for_each(&mut line);
        }
    }
    ctx.out.verbatim("txt", text.as_bytes());
    Ok(())
}

/// What CLIENT LIST shows of the running client, whose output and
/// arguments the handler holds.
fn running_view(ctx: &Ctx, args: &[Bytes]) -> crate::client::Running {
    crate::client::Running {
        pending: ctx.out.pending(),
        out_capacity: ctx.out.capacity(),
        argv_mem: args.iter().map(|a| a.len()).sum(),
    }
}

/// CLIENT INFO
pub fn client_info(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms;
    let running = running_view(ctx, args);
    let mut line = ctx.client().info_line(now, Some(&running));
    line.push('\n');
    ctx.out.verbatim("txt", line.as_bytes());
    Ok(())
}

/// CLIENT KILL ip:port | CLIENT KILL <filter> <value> ...
pub fn client_kill(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let me = ctx.me;
    if args.len() == 3 {
        let addr = String::from_utf8_lossy(&args[2]).into_owned();
        let target = ctx
            .clients
            .iter()
            .find(|(_, c)| c.peer.to_string() == addr)
            .map(|(t, _)| t);
        let Some(target) = target else {
            return Err(CmdError::err("No such client"));
        };
        kill(ctx, target);
        ctx.out.ok();
        return Ok(());
    }
    let mut id: Option<u64> = None;
    let mut addr: Option<String> = None;
    let mut laddr: Option<String> = None;
    let mut ctype: Option<Option<ClientClass>> = None;
    let mut user: Option<crate::acl::UserId> = None;
    let mut skipme = true;
    // Filters are checked pair by pair, so the first bad one is reported.
    let mut i = 2;
    while i < args.len() {
        let opt = &args[i];
        let Some(val) = args.get(i + 1) else {
            return Err(CmdError::Syntax);
        };
        let text = String::from_utf8_lossy(val).into_owned();
        if eq_ic(opt, "ID") {
            match crate::util::parse_i64(val) {
                Some(n) if n > 0 => id = Some(n as u64),
                _ => return Err(CmdError::err("client-id should be greater than 0")),
            }
        } else if eq_ic(opt, "TYPE") {
            let Some(class) = ClientClass::from_name(&text) else {
                return Err(CmdError::err_quoting("Unknown client type '", val, "'"));
            };
            ctype = Some(class);
        } else if eq_ic(opt, "ADDR") {
            addr = Some(text);
        } else if eq_ic(opt, "LADDR") {
            laddr = Some(text);
        } else if eq_ic(opt, "USER") {
            let Some(id) = ctx.store.acl.find(val) else {
                return Err(CmdError::err_quoting("No such user '", val, "'"));
            };
            user = Some(id);
        } else if eq_ic(opt, "SKIPME") {
            skipme = match text.to_ascii_lowercase().as_str() {
                "yes" => true,
                "no" => false,
                _ => return Err(CmdError::Syntax),
            };
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let targets: Vec<usize> = ctx
        .clients
        .iter()
        .filter(|&(t, c)| {
            id.is_none_or(|i| c.id == i)
                && addr.as_ref().is_none_or(|a| c.peer.to_string() == *a)
                && laddr.as_ref().is_none_or(|a| c.local.to_string() == *a)
                && ctype.is_none_or(|t| t == Some(c.mode.class()))
                && user.is_none_or(|u| c.user == Some(u))
                && !(skipme && t == me)
        })
        .map(|(t, _)| t)
        .collect();
    for &t in &targets {
        kill(ctx, t);
    }
    ctx.out.int(targets.len() as i64);
    Ok(())
}

/// Closes a client once the command is done (the loop does it before the
/// next command); the running client is closed after its reply is
/// written, as Redis does for CLIENT KILL of oneself.
pub(crate) fn kill(ctx: &mut Ctx, token: usize) {
    if token == ctx.me {
        ctx.client().close_after_reply = true;
    } else {
        let id = ctx.clients[token].id;
        ctx.store.to_close.push((token, id));
    }
}

/// CLIENT REPLY ON|OFF|SKIP
pub fn client_reply(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let a = &args[2];
    if eq_ic(a, "ON") {
        ctx.client().reply_mode = ReplyMode::On;
        ctx.out.ok();
    } else if eq_ic(a, "OFF") {
        ctx.client().reply_mode = ReplyMode::Off;
    } else if eq_ic(a, "SKIP") {
        let c = ctx.client();
        if c.reply_mode != ReplyMode::Off {
            // Set after this command's own suppression is decided, so it
            // applies to the next command.
            c.reply_mode = ReplyMode::SkipNext;
        }
    } else {
        return Err(CmdError::Syntax);
    }
    Ok(())
}

/// CLIENT NO-EVICT ON|OFF
pub fn client_no_evict(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let on = if eq_ic(&args[2], "ON") {
        true
    } else if eq_ic(&args[2], "OFF") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    ctx.client().no_evict = on;
    ctx.out.ok();
    Ok(())
}

/// CLIENT PAUSE timeout [WRITE|ALL]
///
/// Holds every client's commands (ALL, the default) or those that may
/// write (WRITE) for `timeout` milliseconds; a pause in force is only
/// extended (see `crate::pause`). The loop applies the change once this
/// command is done, so a transaction that pauses runs to its end.
pub fn client_pause(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    use crate::pause::Mode;
    if args.len() > 4 {
        return Err(subcommand_syntax_error(args));
    }
    // The mode is checked before the timeout, as in Redis.
    let mode = match args.get(3) {
        None => Mode::All,
        Some(m) if eq_ic(m, "WRITE") => Mode::Write,
        Some(m) if eq_ic(m, "ALL") => Mode::All,
        Some(_) => return Err(CmdError::err("CLIENT PAUSE mode must be WRITE or ALL")),
    };
    let timeout = crate::util::parse_i64(&args[2])
        .ok_or_else(|| CmdError::err("timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(CmdError::err("timeout is negative"));
    }
    // Redis adds the clock to a positive timeout unchecked: a sum that
    // overflows wraps to an end long past, and the pause is over at once.
    let end = match timeout {
        0 => 0,
        t => t.checked_add(ctx.now_ms as i64).unwrap_or(i64::MIN),
    };
    ctx.store.pause.pause(mode, end, ctx.now_ms);
    ctx.out.ok();
    Ok(())
}

/// CLIENT UNPAUSE
///
/// Ends the pause; the clients it held run, in the order they came, once
/// this command is done.
pub fn client_unpause(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.store.pause.unpause();
    ctx.out.ok();
    Ok(())
}

/// CLIENT UNBLOCK client-id [TIMEOUT|ERROR]
///
/// Only a client blocked in a command counts: one held by CLIENT PAUSE
/// is left held and the answer is 0 (Redis 7.0 answers it with an error
/// and then runs its command anyway, or with TIMEOUT crashes).
pub fn client_unblock(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() > 4 {
        return Err(subcommand_syntax_error(args));
    }
    if args.len() == 4 && !eq_ic(&args[3], "TIMEOUT") && !eq_ic(&args[3], "ERROR") {
        return Err(CmdError::err(
            "CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
        ));
    }
    let id = arg_i64(&args[2])?;
    let as_error = args.len() == 4 && eq_ic(&args[3], "ERROR");
    let target = ctx
        .clients
        .iter()
        .find(|(_, c)| c.id as i64 == id && c.state.is_blocked())
        .map(|(t, _)| t);
    match target {
        Some(token) => {
            // The loop answers the unblocked client once this command is done.
            ctx.store.blocking.unblock_requests.push((token, as_error));
            ctx.out.int(1);
        }
        None => ctx.out.int(0),
    }
    Ok(())
}

/// What CLIENT TRACKING's options asked for, before they are checked
/// against each other and the client's state.
#[derive(Default)]
struct TrackingRequest {
    redirect: Option<Redirect>,
    bcast: bool,
    optin: bool,
    optout: bool,
    noloop: bool,
    prefixes: Vec<Bytes>,
}

/// CLIENT TRACKING ON|OFF [REDIRECT client-id] [PREFIX prefix [PREFIX
/// prefix ...]] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]
///
/// The options are parsed (and a redirect target looked up) for OFF too,
/// as in Redis.
pub fn client_tracking(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let req = parse_tracking(ctx, args)?;
    let me = ctx.me;
    if eq_ic(&args[2], "on") {
        tracking_on(ctx, req)?;
    } else if eq_ic(&args[2], "off") {
        ctx.store.tracking.forget(me, &mut ctx.clients[me]);
    } else {
        return Err(CmdError::Syntax);
    }
    ctx.out.ok();
    Ok(())
}

fn parse_tracking(ctx: &mut Ctx, args: &[Bytes]) -> Result<TrackingRequest, CmdError> {
    let mut req = TrackingRequest::default();
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        let a = &args[j];
        if eq_ic(a, "redirect") && more {
            j += 1;
            if req.redirect.is_some() {
                return Err(CmdError::err(
                    "A client can only redirect to a single other client",
                ));
            }
            let id = arg_i64(&args[j])?;
            // The target must exist now, though it may go later.
            let target = ctx.clients.iter().find(|(_, c)| c.id as i64 == id);
            let Some((token, _)) = target else {
                return Err(CmdError::err(
                    "The client ID you want redirect to does not exist",
                ));
            };
            req.redirect = Some(Redirect {
                id: id as u64,
                token,
            });
        } else if eq_ic(a, "bcast") {
            req.bcast = true;
        } else if eq_ic(a, "optin") {
            req.optin = true;
        } else if eq_ic(a, "optout") {
            req.optout = true;
        } else if eq_ic(a, "noloop") {
            req.noloop = true;
        } else if eq_ic(a, "prefix") && more {
            j += 1;
            req.prefixes.push(Bytes::copy_from_slice(&args[j]));
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(req)
}

/// CLIENT TRACKING ON, once its options agree with each other and with
/// the client's current mode.
fn tracking_on(ctx: &mut Ctx, req: TrackingRequest) -> CmdResult {
    let current = ctx.client().tracking.as_deref().cloned();
    check_modes(current.as_ref(), &req)?;
    if req.bcast {
        let existing = match current.map(|t| t.scope) {
            Some(Scope::Broadcast(p)) => p,
            _ => Default::default(),
        };
        match prefix_collision(&existing, &req.prefixes) {
            Collision::None => {}
            Collision::Refused(e) => return Err(e),
            // Redis 7.0 answers the error and then goes on, OK included:
            // checkPrefixCollisionsOrReply returns the index of the
            // prefix that collided, which is only 0 (failure) for the
            // first one.
            Collision::Reported(e) => {
                ctx.out.error_bytes(&e.bytes());
                crate::call::count_error(&mut ctx.store.stats, &e.to_string());
            }
        }
    }
    let reads = if req.optin {
        Reads::OptIn
    } else if req.optout {
        Reads::OptOut
    } else {
        Reads::All
    };
    let opts = Options {
        redirect: req.redirect,
        reads: (!req.bcast).then_some(reads),
        noloop: req.noloop,
        prefixes: req.prefixes,
    };
    let me = ctx.me;
    ctx.store.tracking.enable(me, &mut ctx.clients[me], opts);
    Ok(())
}

/// The checks of CLIENT TRACKING ON's modes, in Redis's order.
fn check_modes(current: Option<&ClientTracking>, req: &TrackingRequest) -> CmdResult {
    const SWITCH: &str =
        "before disabling tracking for this client, and then re-enabling it with a different mode.";
    if !req.bcast && !req.prefixes.is_empty() {
        return Err(CmdError::err(
            "PREFIX option requires BCAST mode to be enabled",
        ));
    }
    if current.is_some_and(|t| t.is_broadcast() != req.bcast) {
        return Err(CmdError::err(format!(
            "You can't switch BCAST mode on/off {SWITCH}"
        )));
    }
    if req.bcast && (req.optin || req.optout) {
        return Err(CmdError::err(
            "OPTIN and OPTOUT are not compatible with BCAST",
        ));
    }
    if req.optin && req.optout {
        return Err(CmdError::err(
            "You can't specify both OPTIN mode and OPTOUT mode",
        ));
    }
    let reads = current.and_then(ClientTracking::reads);
    if (req.optin && reads == Some(Reads::OptOut)) || (req.optout && reads == Some(Reads::OptIn)) {
        return Err(CmdError::err(format!(
            "You can't switch OPTIN/OPTOUT mode {SWITCH}"
        )));
    }
    Ok(())
}

/// What checking BCAST prefixes for overlaps found.
enum Collision {
    None,
    Refused(CmdError),
    /// Answered, yet tracking goes on (see `tracking_on`).
    Reported(CmdError),
}

/// Two prefixes overlap when one starts the other: a key could match both.
/// Checked as Redis's checkPrefixCollisionsOrReply, in its order.
fn prefix_collision(existing: &std::collections::BTreeSet<Bytes>, new: &[Bytes]) -> Collision {
    const TAIL: &[u8] = b". Prefixes for a single client must not overlap.";
    let overlap = |a: &[u8], b: &[u8]| a.starts_with(b) || b.starts_with(a);
    let message = |p: &[u8], kind: &[u8], q: &[u8]| {
        let mut m = b"ERR Prefix '".to_vec();
        m.extend_from_slice(crate::util::until_nul(p));
        m.extend_from_slice(b"' overlaps with ");
        m.extend_from_slice(kind);
        m.extend_from_slice(b" '");
        m.extend_from_slice(crate::util::until_nul(q));
        m.push(b'\'');
        m.extend_from_slice(TAIL);
        CmdError::Raw(m)
    };
    for (i, p) in new.iter().enumerate() {
        if let Some(e) = existing.iter().find(|e| overlap(e, p)) {
            return Collision::Refused(message(p, b"an existing prefix", e));
        }
        if let Some(q) = new[i + 1..].iter().find(|q| overlap(p, q)) {
            let e = message(p, b"another provided prefix", q);
            return if i == 0 {
                Collision::Refused(e)
            } else {
                Collision::Reported(e)
            };
        }
    }
    Collision::None
}

/// CLIENT CACHING YES|NO
pub fn client_caching(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let Some(t) = ctx.client().tracking.as_deref_mut() else {
        return Err(CmdError::err(
            "CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
        ));
    };
    let (wanted, msg) = if eq_ic(&args[2], "yes") {
        (
            Reads::OptIn,
            "CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
        )
    } else if eq_ic(&args[2], "no") {
        (
            Reads::OptOut,
            "CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
        )
    } else {
        return Err(CmdError::Syntax);
    };
    if t.reads() != Some(wanted) {
        return Err(CmdError::err(msg));
    }
    t.caching = true;
    ctx.out.ok();
    Ok(())
}

/// CLIENT GETREDIR: -1 when tracking is off, 0 when on without a redirect.
pub fn client_getredir(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let id = ctx
        .client()
        .tracking
        .as_ref()
        .map_or(-1, |t| t.redirect_id() as i64);
    ctx.out.int(id);
    Ok(())
}

/// CLIENT TRACKINGINFO: a map of `flags` (a set), `redirect` and
/// `prefixes`.
pub fn client_trackinginfo(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let t = ctx.client().tracking.as_deref().cloned();
    let mut flags: Vec<&str> = vec![if t.is_some() { "on" } else { "off" }];
    if let Some(t) = &t {
        match t.scope {
            Scope::Broadcast(_) => flags.push("bcast"),
            Scope::Reads(Reads::OptIn) => {
                flags.push("optin");
                if t.caching {
                    flags.push("caching-yes");
                }
            }
            Scope::Reads(Reads::OptOut) => {
                flags.push("optout");
                if t.caching {
                    flags.push("caching-no");
                }
            }
            Scope::Reads(Reads::All) => {}
        }
        if t.noloop {
            flags.push("noloop");
        }
        if t.broken_redirect {
            flags.push("broken_redirect");
        }
    }
    ctx.out.map(3);
    ctx.out.bulk(b"flags");
    ctx.out.set(flags.len());
    for f in flags {
        ctx.out.bulk(f.as_bytes());
    }
    ctx.out.bulk(b"redirect");
    ctx.out
        .int(t.as_ref().map_or(-1, |t| t.redirect_id() as i64));
    ctx.out.bulk(b"prefixes");
    match t.map(|t| t.scope) {
        Some(Scope::Broadcast(prefixes)) => {
            ctx.out.array(prefixes.len());
            for p in prefixes {
                ctx.out.bulk(&p);
            }
        }
        _ => ctx.out.array(0),
    }
    Ok(())
}

/// CLIENT HELP
pub fn client_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    reply_help(ctx, help::CLIENT);
    Ok(())
}
