//! The ACL command's subcommands (Redis 7.0's `aclCommand`), and what the
//! rest of the server asks of ACLs on a client's behalf: logging a denial,
//! switching a client's user, disconnecting the clients of a user that
//! was removed or lost channels.

use bytes::Bytes;

use super::{CmdError, CmdResult, Ctx, help};
use crate::acl::{self, DEFAULT_USER, Denied, LogContext, LogEntry, Reason, UserId};
use crate::pubsub::Kind;
use crate::util::eq_ic;

/// The largest password ACL GENPASS makes, in bits.
const GENPASS_MAX_BITS: i64 = 4096;

/// The error a command denied at the gate gets (Redis's processCommand).
pub fn denied_message(denied: Denied, cmd: &super::Command) -> Vec<u8> {
    match denied {
        Denied::Command => format!(
            "NOPERM this user has no permissions to run the '{}' command",
            cmd.name
        )
        .into_bytes(),
        Denied::Key(_) => {
            b"NOPERM this user has no permissions to access one of the keys used as arguments"
                .to_vec()
        }
        Denied::Channel(_) => {
            b"NOPERM this user has no permissions to access one of the channels used as arguments"
                .to_vec()
        }
    }
}

/// Why a script's command was denied, after "The user executing the
/// script " (Redis's getAclErrorMessage).
pub fn script_denied_reason(denied: Denied) -> &'static str {
    match denied {
        Denied::Command => "can't run this command or subcommand",
        Denied::Key(_) => {
            "can't access at least one of the keys mentioned in the command arguments"
        }
        Denied::Channel(_) => "can't publish to the channel mentioned in the command",
    }
}

/// The error a queued command denied at EXEC gets (Redis's execCommand).
pub fn denied_at_exec_message(denied: Denied) -> String {
    let reason = match denied {
        Denied::Command => "no permission to execute the command or subcommand",
        Denied::Key(_) => "no permission to touch the specified keys",
        Denied::Channel(_) => "no permission to access one of the channels used as arguments",
    };
    format!(
        "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {reason}"
    )
}

/// Adds a denial to the ACL log (Redis's addACLLogEntry), for the client
/// `token`.
pub fn log_denial(
    store: &mut crate::store::Store,
    clients: &slab::Slab<crate::client::Client>,
    token: usize,
    denied: Denied,
    context: LogContext,
    cmd: &super::Command,
    args: &[Bytes],
) {
    let (reason, object) = match denied {
        Denied::Command => (Reason::Command, cmd.name.as_bytes().to_vec()),
        Denied::Key(p) => (Reason::Key, args[p].to_vec()),
        Denied::Channel(p) => (Reason::Channel, args[p].to_vec()),
    };
    let Some(client) = clients.get(token) else {
        return;
    };
    let username = client.user_name.to_vec();
    log_entry(store, client, reason, context, object, username);
}

fn log_entry(
    store: &mut crate::store::Store,
    client: &crate::client::Client,
    reason: Reason,
    context: LogContext,
    object: Vec<u8>,
    username: Vec<u8>,
) {
    let now = crate::store::unix_ms();
    let entry = LogEntry {
        count: 1,
        reason,
        context,
        object,
        username,
        ctime_ms: now,
        client_info: client.info_line(now, None),
    };
    let max = store
        .config
        .get("acllog-max-len")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(128);
    store.acl.log_denial(entry, max);
}

/// Authenticates the running client as `user` (Redis's
/// ACLAuthenticateUser): on success the client runs as that user; on
/// failure the attempt is logged and WRONGPASS returned.
pub fn authenticate(ctx: &mut Ctx, args: &[Bytes], user: &[u8], password: &[u8]) -> CmdResult {
    if let Some(id) = ctx.store.acl.check_credentials(user, password) {
        let name = Bytes::copy_from_slice(&ctx.store.acl.user(id).name);
        let c = ctx.client();
        c.user = Some(id);
        c.user_name = name;
        c.authenticated = true;
        return Ok(());
    }
    let context = if ctx.in_exec() {
        LogContext::Multi
    } else {
        LogContext::Toplevel
    };
    let object = args[0].to_vec();
    log_entry(
        ctx.store,
        &ctx.clients[ctx.me],
        Reason::Auth,
        context,
        object,
        user.to_vec(),
    );
    Err(CmdError::Msg(
        "WRONGPASS invalid username-password pair or user is disabled.".into(),
    ))
}

/// Puts a client back to the default user, authenticated only if that
/// needs no password (Redis's clientSetDefaultAuth).
pub fn set_default_auth(store: &crate::store::Store, client: &mut crate::client::Client) {
    client.user = Some(DEFAULT_USER);
    client.user_name = Bytes::from_static(b"default");
    client.authenticated = store.acl.login_free();
}

/// Disconnects the clients of removed users (Redis's
/// ACLFreeUserAndKillClients), first putting them back to the default
/// user, unauthenticated.
fn kill_clients_of(ctx: &mut Ctx, users: &[UserId]) {
    let targets: Vec<usize> = ctx
        .clients
        .iter()
        .filter(|(_, c)| c.user.is_some_and(|u| users.contains(&u)))
        .map(|(t, _)| t)
        .collect();
    for t in targets {
        let c = &mut ctx.clients[t];
        c.user = Some(DEFAULT_USER);
        c.user_name = Bytes::from_static(b"default");
        c.authenticated = false;
        super::connection::kill(ctx, t);
    }
}

/// Disconnects the user's Pub/Sub clients subscribed to a channel or
/// pattern the new rules no longer allow (Redis's
/// ACLKillPubsubClientsIfNeeded).
fn kill_pubsub_clients(ctx: &mut Ctx, recheck: &acl::RecheckPubsub) {
    let targets: Vec<usize> = ctx
        .clients
        .iter()
        .filter(|(_, c)| {
            c.user == Some(recheck.user)
                && c.mode.subscriptions().is_some_and(|subs| {
                    subs.list(Kind::Pattern)
                        .iter()
                        .any(|p| recheck.denies(p, true))
                        || subs
                            .list(Kind::Channel)
                            .iter()
                            .chain(subs.list(Kind::Shard).iter())
                            .any(|ch| recheck.denies(ch, false))
                })
        })
        .map(|(t, _)| t)
        .collect();
    for t in targets {
        super::connection::kill(ctx, t);
    }
}

/// ACL SETUSER username [rule ...]
pub fn acl_setuser(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    for j in 2..args.len() {
        ctx.redact(j);
    }
    let name = &args[2];
    if acl::has_spaces(name) {
        return Err(CmdError::err(
            "Usernames can't contain spaces or null characters",
        ));
    }
    let rules: Vec<Vec<u8>> = args[3..].iter().map(|a| a.to_vec()).collect();
    match ctx.store.acl.set_user(name, &rules) {
        Ok(recheck) => {
            if let Some(recheck) = recheck {
                kill_pubsub_clients(ctx, &recheck);
            }
            ctx.out.ok();
            Ok(())
        }
        Err(msg) => Err(CmdError::Raw(msg)),
    }
}

/// ACL DELUSER username [username ...]
pub fn acl_deluser(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args[2..]
        .iter()
        .any(|a| crate::util::until_nul(a) == b"default")
    {
        return Err(CmdError::err("The 'default' user cannot be removed"));
    }
    let mut removed = Vec::new();
    for name in &args[2..] {
        if let Some(id) = ctx.store.acl.delete(name) {
            removed.push(id);
            // A name given twice is deleted once; its slot may not be
            // reused before its clients are gone.
            kill_clients_of(ctx, &[id]);
        }
    }
    ctx.out.int(removed.len() as i64);
    Ok(())
}

/// ACL GETUSER username
pub fn acl_getuser(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let Some(id) = ctx.store.acl.find(&args[2]) else {
        ctx.out.null();
        return Ok(());
    };
    let user = ctx.store.acl.user(id);
    let views = user.selector_views();
    let out = &mut *ctx.out;
    out.map(6);
    out.bulk(b"flags");
    let flags = user.flags();
    out.set(flags.len());
    for f in flags {
        out.bulk(f.as_bytes());
    }
    out.bulk(b"passwords");
    let passwords: Vec<&[u8]> = user.passwords().collect();
    out.array(passwords.len());
    for p in passwords {
        out.bulk(p);
    }
    let selector = |out: &mut crate::resp::Reply, v: &acl::SelectorView| {
        out.bulk(b"commands");
        out.bulk(&v.commands);
        out.bulk(b"keys");
        out.bulk(&v.keys);
        out.bulk(b"channels");
        out.bulk(&v.channels);
    };
    selector(out, &views[0]);
    out.bulk(b"selectors");
    out.array(views.len() - 1);
    for v in &views[1..] {
        out.map(3);
        selector(out, v);
    }
    Ok(())
}

/// ACL LIST
pub fn acl_list(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let lines = ctx.store.acl.list();
    ctx.out.bulk_array(lines.iter().map(|l| &l[..]));
    Ok(())
}

/// ACL USERS
pub fn acl_users(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let names: Vec<Vec<u8>> = ctx.store.acl.users().map(|u| u.name.clone()).collect();
    ctx.out.bulk_array(names.iter().map(|n| &n[..]));
    Ok(())
}

/// ACL WHOAMI
pub fn acl_whoami(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let c = ctx.client();
    if c.user.is_some() {
        let name = c.user_name.clone();
        ctx.out.bulk(&name);
    } else {
        ctx.out.null();
    }
    Ok(())
}

/// The ACL file, or Redis's error when there is none.
fn acl_file(ctx: &Ctx) -> Result<String, CmdError> {
    match ctx.store.config.get("aclfile") {
        Some(f) if !f.is_empty() => Ok(f.to_string()),
        _ => Err(CmdError::err(
            "This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.",
        )),
    }
}

/// ACL LOAD
pub fn acl_load(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let path = acl_file(ctx)?;
    match ctx.store.acl.load_file(&path) {
        Ok(replaced) => {
            kill_clients_of(ctx, &replaced);
            // The default user may have lost its password or been turned
            // off; its clients stay as they are, as in Redis.
            ctx.out.ok();
            Ok(())
        }
        Err(e) => Err(CmdError::err(e)),
    }
}

/// ACL SAVE
pub fn acl_save(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let path = acl_file(ctx)?;
    match ctx.store.acl.save_file(&path) {
        Ok(()) => {
            ctx.out.ok();
            Ok(())
        }
        Err(e) => {
            log::warn!("Saving the ACL file {path}: {e}");
            Err(CmdError::err(
                "There was an error trying to save the ACLs. Please check the server logs for more information",
            ))
        }
    }
}

/// ACL CAT [category]
pub fn acl_cat(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(subcommand_syntax_error(&args[1]));
    }
    match args.get(2) {
        None => {
            ctx.out
                .bulk_array(acl::CATEGORIES.iter().map(|c| c.as_bytes()));
        }
        Some(name) => {
            let Some(cmds) = acl::category_commands(name) else {
                return Err(CmdError::err_quoting(
                    "Unknown category '",
                    &name[..name.len().min(128)],
                    "'",
                ));
            };
            ctx.out.bulk_array(cmds.iter().map(|c| c.as_bytes()));
        }
    }
    Ok(())
}

/// ACL GENPASS [bits]
pub fn acl_genpass(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(subcommand_syntax_error(&args[1]));
    }
    let bits = match args.get(2) {
        Some(a) => super::arg_i64(a)?,
        None => 256,
    };
    if bits <= 0 || bits > GENPASS_MAX_BITS {
        return Err(CmdError::err(format!(
            "ACL GENPASS argument must be the number of bits for the output password, a positive number up to {GENPASS_MAX_BITS}"
        )));
    }
    let chars = (bits as usize).div_ceil(4);
    let mut random = vec![0u8; chars.div_ceil(2)];
    if !read_urandom(&mut random) {
        for b in random.iter_mut() {
            *b = ctx.store.rng.next_u64() as u8;
        }
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hex: Vec<u8> = random
        .iter()
        .flat_map(|b| [HEX[(b >> 4) as usize], HEX[(b & 0xf) as usize]])
        .take(chars)
        .collect();
    ctx.out.bulk(&hex);
    Ok(())
}

fn read_urandom(buf: &mut [u8]) -> bool {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .is_ok()
}

/// ACL LOG [count | RESET]
pub fn acl_log(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(subcommand_syntax_error(&args[1]));
    }
    let mut count = 10;
    if let Some(a) = args.get(2) {
        if eq_ic(a, "RESET") {
            ctx.store.acl.log.clear();
            ctx.out.ok();
            return Ok(());
        }
        count = super::arg_i64(a)?.max(0);
    }
    let now = crate::store::unix_ms();
    let n = (count as usize).min(ctx.store.acl.log.len());
    let out = &mut *ctx.out;
    out.array(n);
    for e in ctx.store.acl.log.iter().take(n) {
        out.map(7);
        out.bulk(b"count");
        out.int(e.count as i64);
        out.bulk(b"reason");
        out.bulk(e.reason.name().as_bytes());
        out.bulk(b"context");
        out.bulk(e.context.name().as_bytes());
        out.bulk(b"object");
        out.bulk(&e.object);
        out.bulk(b"username");
        out.bulk(&e.username);
        out.bulk(b"age-seconds");
        out.double(now.saturating_sub(e.ctime_ms) as f64 / 1000.0);
        out.bulk(b"client-info");
        out.bulk(e.client_info.as_bytes());
    }
    Ok(())
}

/// ACL DRYRUN username command [arg ...]
pub fn acl_dryrun(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let Some(id) = ctx.store.acl.find(&args[2]) else {
        return Err(CmdError::err_quoting("User '", &args[2], "' not found"));
    };
    let request = &args[3..];
    let found = super::lookup(&request[0]).and_then(|cmd| {
        if cmd.subcommands.is_empty() || request.len() < 2 {
            Some(cmd)
        } else {
            super::lookup_sub(cmd, &request[1])
        }
    });
    let Some(cmd) = found else {
        return Err(CmdError::err_quoting(
            "Command '",
            &request[0],
            "' not found",
        ));
    };
    let argc = request.len() as i32;
    if (cmd.arity > 0 && cmd.arity != argc) || argc < -cmd.arity {
        return Err(CmdError::err(format!(
            "wrong number of arguments for '{}' command",
            cmd.name
        )));
    }
    match ctx.store.acl.user(id).check(cmd, request) {
        Ok(()) => ctx.out.ok(),
        Err(denied) => {
            let mut msg = Vec::new();
            match denied {
                Denied::Command => msg.extend_from_slice(
                    format!(
                        "This user has no permissions to run the '{}' command",
                        cmd.name
                    )
                    .as_bytes(),
                ),
                Denied::Key(p) | Denied::Channel(p) => {
                    msg.extend_from_slice(b"This user has no permissions to access the '");
                    msg.extend_from_slice(crate::util::until_nul(&request[p]));
                    msg.extend_from_slice(if matches!(denied, Denied::Key(_)) {
                        b"' key"
                    } else {
                        b"' channel"
                    });
                }
            }
            ctx.out.bulk(&msg);
        }
    }
    Ok(())
}

/// ACL HELP
pub fn acl_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    super::connection::reply_help(ctx, help::ACL);
    Ok(())
}

/// Redis's addReplySubcommandSyntaxError.
fn subcommand_syntax_error(sub: &[u8]) -> CmdError {
    CmdError::err_quoting(
        "unknown subcommand or wrong number of arguments for '",
        &sub[..sub.len().min(128)],
        "'. Try ACL HELP.",
    )
}
