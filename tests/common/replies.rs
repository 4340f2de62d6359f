//! Talking to a server through [`Client`] with decoded replies: commands
//! that must answer `+OK`, an integer, a bulk string or an array of them
//! (each panics naming the command when the reply is anything else),
//! pipelined batches, and `INFO` fields. Shared by the persistence, AOF
//! and AOF crash tests; like the rest of `common`, each crate uses a
//! subset (the `dead_code` allowance of `common` covers this module).

use super::{Client, Frame, escape, parse_frame};

/// The databases a server has, as in Redis's default configuration.
pub const DATABASES: usize = 16;

/// Sends a command and decodes its reply.
pub fn call<A: AsRef<[u8]>>(c: &mut Client, args: &[A]) -> Frame {
    let raw = c.cmd(args);
    match parse_frame(&raw) {
        Ok(Some((frame, _))) => frame,
        _ => unreachable!("Client::cmd returns exactly one complete reply"),
    }
}

/// Sends a command that must answer `+OK`.
pub fn ok<A: AsRef<[u8]>>(c: &mut Client, args: &[A]) {
    let reply = c.cmd(args);
    assert_eq!(escape(&reply), "+OK\\r\\n", "reply to [{}]", shown(args));
}

/// Sends a command that must answer an integer, and returns it.
pub fn int<A: AsRef<[u8]>>(c: &mut Client, args: &[A]) -> i64 {
    as_int(call(c, args), args)
}

/// Sends a command that must answer a bulk string, and returns it.
pub fn bulk<A: AsRef<[u8]>>(c: &mut Client, args: &[A]) -> Vec<u8> {
    as_bulk(call(c, args), args)
}

/// Sends a command that must answer an array of bulk strings, and returns
/// them in order.
pub fn bulks<A: AsRef<[u8]>>(c: &mut Client, args: &[A]) -> Vec<Vec<u8>> {
    as_bulks(call(c, args), args)
}

/// Sends a command whose reply must be exactly `expected`.
pub fn expect_reply<A: AsRef<[u8]>>(c: &mut Client, args: &[A], expected: &str) {
    let reply = c.cmd(args);
    assert_eq!(
        escape(&reply),
        escape(expected.as_bytes()),
        "reply to [{}]",
        shown(args)
    );
}

/// The integer `args` answered, or a panic naming what came instead.
pub fn as_int<A: AsRef<[u8]>>(reply: Frame, args: &[A]) -> i64 {
    match reply {
        Frame::Integer(n) => n,
        other => panic!("[{}] answered {other:?}, not an integer", shown(args)),
    }
}

/// The bulk string `args` answered, or a panic naming what came instead.
pub fn as_bulk<A: AsRef<[u8]>>(reply: Frame, args: &[A]) -> Vec<u8> {
    match reply {
        Frame::Bulk(bytes) => bytes,
        other => panic!("[{}] answered {other:?}, not a bulk string", shown(args)),
    }
}

/// The bulk strings of the array `args` answered, in order, or a panic
/// naming what came instead.
pub fn as_bulks<A: AsRef<[u8]>>(reply: Frame, args: &[A]) -> Vec<Vec<u8>> {
    match reply {
        Frame::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Frame::Bulk(bytes) => bytes,
                other => panic!("[{}] answered an array holding {other:?}", shown(args)),
            })
            .collect(),
        other => panic!("[{}] answered {other:?}, not an array", shown(args)),
    }
}

/// Commands sent back to back before their replies are read. Small enough
/// that the commands of one batch never fill a socket buffer while the
/// server waits for its replies to be read.
pub const PIPELINE_BATCH: usize = 256;

/// Sends `commands` pipelined, in batches of [`PIPELINE_BATCH`], and
/// returns their replies in order. Reading a dataset of thousands of keys
/// one round trip at a time would take most of a test's time.
pub fn pipeline(c: &mut Client, commands: &[Vec<Vec<u8>>]) -> Vec<Frame> {
    pipelined(c, commands, Client::read_frame)
}

/// Sends `commands` in batches of [`PIPELINE_BATCH`], reading each
/// batch's replies with `read`.
fn pipelined<R, E: std::fmt::Display>(
    c: &mut Client,
    commands: &[Vec<Vec<u8>>],
    read: fn(&mut Client) -> Result<R, E>,
) -> Vec<R> {
    let mut replies = Vec::with_capacity(commands.len());
    for batch in commands.chunks(PIPELINE_BATCH) {
        let mut bytes = Vec::new();
        for command in batch {
            bytes.extend_from_slice(&super::encode_command(command));
        }
        c.send_raw(&bytes)
            .unwrap_or_else(|e| panic!("send {} pipelined commands: {e}", batch.len()));
        for command in batch {
            let reply =
                read(c).unwrap_or_else(|e| panic!("reply to pipelined [{}]: {e}", shown(command)));
            replies.push(reply);
        }
    }
    replies
}

/// A command as owned arguments, for [`pipeline`].
pub fn command<A: AsRef<[u8]>>(args: &[A]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.as_ref().to_vec()).collect()
}

/// A command's arguments, abbreviated, for messages.
pub fn shown<A: AsRef<[u8]>>(args: &[A]) -> String {
    let parts: Vec<String> = args.iter().map(|a| abbreviated(a.as_ref())).collect();
    parts.join(" ")
}

/// Bytes for messages: escaped, and only their length when long (a
/// 100 KB value in a message helps nobody).
pub fn abbreviated(bytes: &[u8]) -> String {
    if bytes.len() > 64 {
        format!("<{} bytes>", bytes.len())
    } else {
        escape(bytes)
    }
}

pub fn select(c: &mut Client, db: usize) {
    ok(c, &["SELECT", &db.to_string()]);
}

/// Sets `rdb-key-save-delay` (microseconds), which slows a BGSAVE or an
/// AOF rewrite down to one key per that long.
pub fn set_save_delay(c: &mut Client, us: &str) {
    ok(c, &["CONFIG", "SET", "rdb-key-save-delay", us]);
}

/// The value of `field` in `INFO <section>`.
pub fn info_field(c: &mut Client, section: &str, field: &str) -> String {
    let text = String::from_utf8_lossy(&bulk(c, &["INFO", section])).into_owned();
    let prefix = format!("{field}:");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map(|value| value.trim().to_string())
        .unwrap_or_else(|| panic!("INFO {section} has no {field}:\n{text}"))
}

/// The value of `field` in `INFO persistence`.
pub fn persistence_info(c: &mut Client, field: &str) -> String {
    info_field(c, "persistence", field)
}

/// Whether neither a rewrite nor a BGSAVE runs or waits to run.
pub fn persistence_idle(c: &mut Client) -> bool {
    let text = String::from_utf8_lossy(&bulk(c, &["INFO", "persistence"])).into_owned();
    [
        "aof_rewrite_in_progress:0",
        "aof_rewrite_scheduled:0",
        "rdb_bgsave_in_progress:0",
    ]
    .iter()
    .all(|line| text.lines().any(|l| l.trim() == *line))
}

/// Runs `redis-check-rdb` on `file` (written into `dir`), which must
/// accept it. Skipped when the tool is not on `PATH`.
pub fn check_rdb(file: &[u8], dir: &std::path::Path) {
    let Some(program) = super::find_on_path("redis-check-rdb") else {
        println!("SKIPPED: redis-check-rdb not found on PATH; the file was not checked with it");
        return;
    };
    let path = dir.join("checked.rdb");
    std::fs::write(&path, file).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    let output = super::output_within(
        std::process::Command::new(&program)
            .arg(&path)
            .stdin(std::process::Stdio::null()),
        super::CLIENT_SCRIPT_TIMEOUT,
    );
    assert!(
        output.status.success(),
        "redis-check-rdb rejected ferrokv's file ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Sends `commands` pipelined as [`pipeline`] does and returns the raw
/// replies in order.
pub fn pipeline_raw(c: &mut Client, commands: &[Vec<Vec<u8>>]) -> Vec<Vec<u8>> {
    pipelined(c, commands, Client::read_reply)
}

/// Bytes for a message: escaped, cut after 400 bytes.
pub fn shown_reply(bytes: &[u8]) -> String {
    const SHOWN: usize = 400;
    if bytes.len() <= SHOWN {
        escape(bytes)
    } else {
        format!("{}... ({} bytes)", escape(&bytes[..SHOWN]), bytes.len())
    }
}

/// Where two replies first differ, with some context on each side.
pub fn first_difference(expected: &[u8], actual: &[u8]) -> String {
    let at = expected
        .iter()
        .zip(actual)
        .position(|(e, a)| e != a)
        .unwrap_or_else(|| expected.len().min(actual.len()));
    let from = at.saturating_sub(80);
    let window = |b: &[u8]| escape(&b[from.min(b.len())..(at + 80).min(b.len())]);
    format!(
        "first difference at byte {at}: expected ...{}... got ...{}...",
        window(expected),
        window(actual)
    )
}
