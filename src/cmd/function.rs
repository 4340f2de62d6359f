//! FCALL, FCALL_RO and FUNCTION (Redis's `functions.c` commands);
//! `crate::script::function` keeps the libraries and `crate::script`
//! runs them.

use bytes::Bytes;

use super::{CmdError, CmdResult, Ctx};
use crate::script::function::{ENGINE, Replace};
use crate::script::{self, Target, sflag};
use crate::util::eq_ic;

/// FCALL function numkeys [key ...] [arg ...]
pub fn fcall(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    fcall_generic(ctx, args, false)
}

/// FCALL_RO function numkeys [key ...] [arg ...]
pub fn fcall_ro(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    fcall_generic(ctx, args, true)
}

/// Redis's fcallCommandGeneric. MONITOR sees the FCALL before the
/// commands its function runs.
fn fcall_generic(ctx: &mut Ctx, args: &[Bytes], ro: bool) -> CmdResult {
    super::script::feed_monitors(ctx, args);
    let Some(f) = ctx.store.scripting.functions.libs.function(&args[1]) else {
        return Err(CmdError::err("Function not found"));
    };
    let target = Target {
        func: f.func.clone(),
        flags: f.flags,
        name: f.name.as_str().into(),
        eval: false,
        read_only: ro,
    };
    let Some(numkeys) = crate::util::parse_i64(&args[2]) else {
        return Err(CmdError::err("Bad number of keys provided"));
    };
    if numkeys > args.len() as i64 - 3 {
        return Err(CmdError::err(
            "Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(CmdError::err("Number of keys can't be negative"));
    }
    let split = 3 + numkeys as usize;
    ctx.store.scripting.functions.running_command = Some(args.to_vec());
    let result = script::run(ctx, target, &args[3..split], &args[split..]);
    ctx.store.scripting.functions.running_command = None;
    result
}

/// FUNCTION LOAD [REPLACE] function-code
pub fn function_load(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut replace = Replace::No;
    let mut pos = 2;
    while pos < args.len() - 1 {
        if !eq_ic(&args[pos], "replace") {
            return Err(CmdError::err_quoting(
                "Unknown option given: ",
                &args[pos],
                "",
            ));
        }
        replace = Replace::Yes;
        pos += 1;
    }
    let timeout = (!ctx.must_obey()).then_some(script::function::LOAD_TIMEOUT);
    let name = ctx
        .store
        .scripting
        .functions
        .load(&args[pos], replace, timeout)
        .map_err(CmdError::err)?;
    ctx.dirty(1);
    ctx.out.bulk(name.as_bytes());
    Ok(())
}

/// FUNCTION DELETE library-name
pub fn function_delete(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if !ctx.store.scripting.functions.libs.delete(&args[2]) {
        return Err(CmdError::err("Library not found"));
    }
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

/// FUNCTION FLUSH [ASYNC|SYNC]
pub fn function_flush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    match args.len() {
        2 => {}
        3 if eq_ic(&args[2], "sync") || eq_ic(&args[2], "async") => {}
        3 => {
            return Err(CmdError::err(
                "FUNCTION FLUSH only supports SYNC|ASYNC option",
            ));
        }
        _ => return Err(super::connection::subcommand_syntax_error(args)),
    }
    ctx.store.scripting.functions.flush();
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]
pub fn function_list(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut with_code = false;
    let mut pattern: Option<&Bytes> = None;
    let mut i = 2;
    while i < args.len() {
        if !with_code && eq_ic(&args[i], "withcode") {
            with_code = true;
        } else if pattern.is_none() && eq_ic(&args[i], "libraryname") {
            if i >= args.len() - 1 {
                return Err(CmdError::err("library name argument was not given"));
            }
            i += 1;
            pattern = Some(&args[i]);
        } else {
            return Err(CmdError::err_quoting("Unknown argument ", &args[i], ""));
        }
        i += 1;
    }
    let libs: Vec<_> = ctx
        .store
        .scripting
        .functions
        .libs
        .libraries()
        .filter(|l| pattern.is_none_or(|p| crate::glob::glob_match(p, l.name.as_bytes(), true)))
        .collect();
    let out = &mut *ctx.out;
    out.array(libs.len());
    for lib in libs {
        out.map(if with_code { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(lib.name.as_bytes());
        out.bulk(b"engine");
        out.bulk(ENGINE.as_bytes());
        out.bulk(b"functions");
        out.array(lib.functions.len());
        for f in lib.functions.values() {
            out.map(3);
            out.bulk(b"name");
            out.bulk(f.name.as_bytes());
            out.bulk(b"description");
            match &f.desc {
                Some(d) => out.bulk(d),
                None => out.null(),
            }
            out.bulk(b"flags");
            let names: Vec<&str> = sflag::NAMES
                .iter()
                .filter(|(flag, _)| f.flags & flag != 0)
                .map(|(_, n)| *n)
                .collect();
            out.set(names.len());
            for n in names {
                out.simple(n);
            }
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(&lib.code);
        }
    }
    Ok(())
}

/// FUNCTION STATS
pub fn function_stats(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let running = ctx.store.scripting.running.as_ref();
    if running.is_some_and(|r| r.eval) {
        return Err(CmdError::Msg(super::script::BUSY_SCRIPT.into()));
    }
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"running_script");
    match running {
        None => out.null(),
        Some(r) => {
            out.map(3);
            out.bulk(b"name");
            out.bulk(r.name.as_bytes());
            out.bulk(b"command");
            let command = ctx.store.scripting.functions.running_command.as_deref();
            let command = command.unwrap_or_default();
            out.array(command.len());
            for a in command {
                out.bulk(a);
            }
            out.bulk(b"duration_ms");
            out.int(r.started.elapsed().as_millis() as i64);
        }
    }
    let libs = &ctx.store.scripting.functions.libs;
    out.bulk(b"engines");
    out.map(1);
    out.bulk(ENGINE.as_bytes());
    out.map(2);
    out.bulk(b"libraries_count");
    out.int(libs.library_count() as i64);
    out.bulk(b"functions_count");
    out.int(libs.function_count() as i64);
    Ok(())
}

/// FUNCTION DUMP
pub fn function_dump(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let codes = ctx.store.scripting.functions.libs.codes();
    let comp = crate::persist::compression(&ctx.store.config);
    let payload = crate::persist::rdb::functions_payload(&codes, comp);
    ctx.out.bulk(&payload);
    Ok(())
}

/// FUNCTION RESTORE serialized-value [FLUSH|APPEND|REPLACE]
pub fn function_restore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() > 4 {
        return Err(super::connection::subcommand_syntax_error(args));
    }
    #[derive(PartialEq)]
    enum Policy {
        Flush,
        Append,
        Replace,
    }
    let policy = match args.get(3) {
        None => Policy::Append,
        Some(p) if eq_ic(p, "append") => Policy::Append,
        Some(p) if eq_ic(p, "replace") => Policy::Replace,
        Some(p) if eq_ic(p, "flush") => Policy::Flush,
        Some(_) => {
            return Err(CmdError::err(
                "Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ));
        }
    };
    let functions = &mut ctx.store.scripting.functions;
    let mut restored = Default::default();
    crate::persist::rdb::restore_functions(&args[2], |code| {
        functions
            .create(&mut restored, &Bytes::from(code), Replace::No, None)
            .map(|_| ())
    })
    .map_err(CmdError::err)?;
    match policy {
        Policy::Flush => functions.libs = restored,
        Policy::Append => functions
            .libs
            .join(restored, Replace::No)
            .map_err(CmdError::err)?,
        Policy::Replace => functions
            .libs
            .join(restored, Replace::Yes)
            .map_err(CmdError::err)?,
    }
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

/// FUNCTION KILL
pub fn function_kill(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    super::script::kill(ctx, false)
}

/// FUNCTION HELP
pub fn function_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    super::connection::reply_help(ctx, super::help::FUNCTION);
    Ok(())
}
