//! The AOF on a disk that refuses writes: its incremental file is a
//! symbolic link to `/dev/full`, so every write(2) fails with ENOSPC, as on
//! a full disk. Under `appendfsync everysec` the first write's reply goes
//! out (Redis's behaviour: the bytes stay buffered and are retried), and
//! from then on writes get `-MISCONF` and INFO says `aof_last_write_status:err`,
//! byte for byte as redis-server answers; under `always` the server exits
//! without acknowledging the write, since it can no longer keep its promise.
//!
//! The servers are spawned here, not through `common::Server`, because the
//! link must exist in their directory before they start.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{Client, Spawned, escape, find_on_path, free_port};

/// How long a server gets to answer PING, or to exit.
const WAIT: Duration = Duration::from_secs(10);

/// Starts `program` in a fresh directory whose AOF's only file is a link
/// to `/dev/full`; `None` when there is no `/dev/full`.
fn spawn_on_full_disk(program: &Path, name: &str, fsync: &str) -> Option<Spawned> {
    if !Path::new("/dev/full").exists() {
        println!("SKIPPED: no /dev/full");
        return None;
    }
    let dir = std::env::temp_dir().join(format!(
        "ferrokv-aof-full-{}-{name}-{fsync}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("appendonlydir")).expect("create the AOF directory");
    fs::write(
        dir.join("appendonlydir/appendonly.aof.manifest"),
        "file appendonly.aof.1.incr.aof seq 1 type i\n",
    )
    .expect("write the manifest");
    std::os::unix::fs::symlink(
        "/dev/full",
        dir.join("appendonlydir/appendonly.aof.1.incr.aof"),
    )
    .expect("link the incremental file to /dev/full");
    let port = free_port();
    let log = fs::File::create(dir.join("server.log")).expect("create the log");
    let child = Command::new(program)
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--appendonly", "yes", "--appendfsync", fsync])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("clone the log handle"))
        .stderr(log)
        .spawn()
        .expect("spawn the server");
    let server = Spawned { child, port, dir };
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(mut c) = Client::connect(port)
            && c.cmd_result(&["PING"]).is_ok_and(|r| r == b"+PONG\r\n")
        {
            return Some(server);
        }
        assert!(Instant::now() < deadline, "{name} did not start");
        thread::sleep(Duration::from_millis(5));
    }
}

/// What a client sees: the first write acknowledged, then MISCONF for
/// writes (reads still served), and INFO's status.
fn replies_on_full_disk(program: &Path, name: &str) -> Option<Vec<String>> {
    let server = spawn_on_full_disk(program, name, "everysec")?;
    let mut c = Client::connect(server.port).expect("connect");
    let mut seen = Vec::new();
    for args in [
        &["SET", "a", "1"][..],
        &["SET", "b", "2"],
        &["INCR", "n"],
        &["GET", "a"],
        &["PING"],
    ] {
        seen.push(escape(&c.cmd(args)));
    }
    let info = String::from_utf8_lossy(&c.cmd(&["INFO", "persistence"])).into_owned();
    for field in ["aof_last_write_status", "aof_buffer_length", "aof_enabled"] {
        let line = info
            .lines()
            .find(|l| l.starts_with(&format!("{field}:")))
            .unwrap_or_else(|| panic!("{name}: no {field} in INFO"));
        seen.push(line.to_string());
    }
    Some(seen)
}

#[test]
fn a_full_disk_stops_writes_with_misconf_as_redis_does() {
    let ours = replies_on_full_disk(Path::new(env!("CARGO_BIN_EXE_ferrokv")), "ferrokv");
    let Some(ours) = ours else { return };
    assert_eq!(
        ours,
        [
            "+OK\\r\\n",
            "-MISCONF Errors writing to the AOF file: No space left on device\\r\\n",
            "-MISCONF Errors writing to the AOF file: No space left on device\\r\\n",
            "$1\\r\\n1\\r\\n",
            "-MISCONF Errors writing to the AOF file: No space left on device\\r\\n",
            "aof_last_write_status:err",
            "aof_buffer_length:50",
            "aof_enabled:1",
        ]
    );
    let Some(redis) = find_on_path("redis-server") else {
        println!("SKIPPED: redis-server not found on PATH; ferrokv checked alone");
        return;
    };
    let theirs = replies_on_full_disk(&redis, "redis").expect("/dev/full was there a moment ago");
    assert_eq!(ours, theirs);
}

#[test]
fn under_always_a_write_that_fails_is_never_acknowledged() {
    let Some(mut server) = spawn_on_full_disk(
        Path::new(env!("CARGO_BIN_EXE_ferrokv")),
        "ferrokv",
        "always",
    ) else {
        return;
    };
    let mut c = Client::connect(server.port).expect("connect");
    // The server exits before it would answer: the connection closes.
    assert!(c.cmd_result(&["SET", "a", "1"]).is_err(), "acknowledged");
    let deadline = Instant::now() + WAIT;
    while server.child.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "the server did not exit");
        thread::sleep(Duration::from_millis(5));
    }
    let log = fs::read_to_string(server.dir.join("server.log")).expect("the log");
    assert!(
        log.contains(
            "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting..."
        ),
        "{log}"
    );
}
