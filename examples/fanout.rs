//! Pub/Sub fan-out load: one publisher, many subscribers of one channel.
//!
//! ```text
//! cargo run --release --example fanout -- --port 6379 [--subscribers 1000]
//!     [--messages 2000] [--window 200]
//! ```
//!
//! Every subscriber must receive every message, in order: each payload is
//! the message's sequence number, and a frame out of place is an error.
//! The publisher keeps at most `--window` messages ahead of the slowest
//! delivery, so the server's output buffers stay small and the run
//! measures delivery, not buffering. Prints one line:
//! `delivered=N seconds=S per_second=R` (messages times subscribers).
//! `scripts/bench.sh --only pubsub` runs it against ferrokv and
//! redis-server in turns and adds the servers' CPU per delivered message.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

const CHANNEL: &str = "fanout";
/// Payloads are zero-padded sequence numbers, so every frame has one size.
const DIGITS: usize = 10;

struct Options {
    port: u16,
    subscribers: usize,
    messages: u64,
    window: u64,
}

fn options() -> Options {
    let mut o = Options {
        port: 6379,
        subscribers: 1000,
        messages: 2000,
        window: 200,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).map(String::as_str).unwrap_or("");
        let bad = |what: &str| -> ! {
            eprintln!("fanout: {what} needs a number, got {value:?}");
            std::process::exit(2)
        };
        match pair[0].as_str() {
            "--port" => o.port = value.parse().unwrap_or_else(|_| bad("--port")),
            "--subscribers" => {
                o.subscribers = value.parse().unwrap_or_else(|_| bad("--subscribers"))
            }
            "--messages" => o.messages = value.parse().unwrap_or_else(|_| bad("--messages")),
            "--window" => o.window = value.parse().unwrap_or_else(|_| bad("--window")),
            other => {
                eprintln!("fanout: unknown option {other}");
                std::process::exit(2);
            }
        }
    }
    o
}

fn command(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

/// The frame a RESP2 subscriber receives for message `seq`.
fn frame(seq: u64) -> Vec<u8> {
    let payload = format!("{seq:0DIGITS$}");
    format!(
        "*3\r\n$7\r\nmessage\r\n${}\r\n{CHANNEL}\r\n${DIGITS}\r\n{payload}\r\n",
        CHANNEL.len()
    )
    .into_bytes()
}

/// Reads exactly `want` bytes from a blocking stream.
fn read_exact(stream: &mut TcpStream, want: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0; want];
    stream.read_exact(&mut buf)?;
    Ok(buf)
}

fn main() -> io::Result<()> {
    let o = options();
    let confirmation = format!(
        "*3\r\n$9\r\nsubscribe\r\n${}\r\n{CHANNEL}\r\n:1\r\n",
        CHANNEL.len()
    );
    let mut subscribers = Vec::with_capacity(o.subscribers);
    for _ in 0..o.subscribers {
        let mut s = TcpStream::connect(("127.0.0.1", o.port))?;
        s.set_nodelay(true)?;
        s.write_all(&command(&["SUBSCRIBE", CHANNEL]))?;
        let got = read_exact(&mut s, confirmation.len())?;
        if got != confirmation.as_bytes() {
            eprintln!(
                "fanout: SUBSCRIBE answered {:?}",
                String::from_utf8_lossy(&got)
            );
            std::process::exit(1);
        }
        s.set_nonblocking(true)?;
        subscribers.push(mio::net::TcpStream::from_std(s));
    }

    let delivered = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let publisher = {
        let delivered = Arc::clone(&delivered);
        let (port, messages, window, subs) = (o.port, o.messages, o.window, o.subscribers as u64);
        std::thread::spawn(move || -> io::Result<()> {
            let mut p = TcpStream::connect(("127.0.0.1", port))?;
            p.set_nodelay(true)?;
            let reply = format!(":{subs}\r\n");
            const BATCH: u64 = 20;
            let mut seq = 0;
            while seq < messages {
                // Stay within the window of the slowest subscriber, on
                // average: the total delivered tells how far behind.
                while seq.saturating_sub(delivered.load(Ordering::Relaxed) / subs) > window {
                    std::thread::yield_now();
                }
                let n = BATCH.min(messages - seq);
                let mut batch = Vec::new();
                for s in seq..seq + n {
                    batch.extend(command(&["PUBLISH", CHANNEL, &format!("{s:0DIGITS$}")]));
                }
                p.write_all(&batch)?;
                let got = read_exact(&mut p, reply.len() * n as usize)?;
                if got != reply.repeat(n as usize).as_bytes() {
                    eprintln!(
                        "fanout: PUBLISH answered {:?}",
                        String::from_utf8_lossy(&got)
                    );
                    std::process::exit(1);
                }
                seq += n;
            }
            Ok(())
        })
    };

    let mut poll = Poll::new()?;
    for (i, s) in subscribers.iter_mut().enumerate() {
        poll.registry().register(s, Token(i), Interest::READABLE)?;
    }
    let frame_len = frame(0).len();
    let prefix = frame(0)[..frame_len - DIGITS - 2].to_vec();
    let mut next: Vec<u64> = vec![0; o.subscribers];
    let mut partial: Vec<Vec<u8>> = vec![Vec::new(); o.subscribers];
    let mut events = Events::with_capacity(1024);
    let mut scratch = vec![0u8; 64 * 1024];
    let total = o.messages * o.subscribers as u64;
    let mut count = 0;
    let deadline = started + Duration::from_secs(600);
    while count < total {
        if Instant::now() > deadline {
            eprintln!("fanout: gave up after 600 s with {count} of {total} delivered");
            std::process::exit(1);
        }
        poll.poll(&mut events, Some(Duration::from_millis(100)))?;
        for event in events.iter() {
            let i = event.token().0;
            loop {
                match subscribers[i].read(&mut scratch) {
                    Ok(0) => {
                        eprintln!("fanout: subscriber {i} was disconnected");
                        std::process::exit(1);
                    }
                    Ok(n) => {
                        let buf = &mut partial[i];
                        buf.extend_from_slice(&scratch[..n]);
                        let whole = buf.len() / frame_len * frame_len;
                        for f in buf[..whole].chunks(frame_len) {
                            let digits = &f[prefix.len()..prefix.len() + DIGITS];
                            let seq = std::str::from_utf8(digits)
                                .ok()
                                .and_then(|d| d.parse().ok());
                            if !f.starts_with(&prefix) || seq != Some(next[i]) {
                                eprintln!(
                                    "fanout: subscriber {i} expected message {}, got {:?}",
                                    next[i],
                                    String::from_utf8_lossy(f)
                                );
                                std::process::exit(1);
                            }
                            next[i] += 1;
                            count += 1;
                        }
                        buf.drain(..whole);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        delivered.store(count, Ordering::Relaxed);
    }
    let seconds = started.elapsed().as_secs_f64();
    match publisher.join() {
        Ok(result) => result?,
        Err(_) => {
            eprintln!("fanout: the publisher thread panicked");
            std::process::exit(1);
        }
    }
    println!(
        "delivered={count} seconds={seconds:.3} per_second={:.0}",
        count as f64 / seconds
    );
    Ok(())
}
