//! Shrinking a failing sequence, and printing it as a `tests/diff` script.
//!
//! A sequence shrinks by removing runs of steps, halving the run length
//! until single steps are tried (delta debugging), then arguments one by
//! one; a smaller sequence is kept only when it still fails with the same
//! signature (the same kind of difference on the same command), so the
//! result shows the difference that was found, not another one.

use std::time::{Duration, Instant};

use super::exec::{Event, Failure, Outcome, Pair};
use super::generate::Step;
use super::norm::Norm;

/// A bound on shrinking, so a run that finds something ends.
const SHRINK_TIME: Duration = Duration::from_secs(120);

pub fn minimize(pair: &mut Pair, steps: &[Step], failure: &Failure) -> (Vec<Step>, Outcome) {
    let started = Instant::now();
    let mut best: Vec<Step> = steps[..(failure.step + 1).min(steps.len())].to_vec();
    let mut fails = |candidate: &[Step]| -> Option<Outcome> {
        if started.elapsed() > SHRINK_TIME || pair.reset().is_err() {
            return None;
        }
        let outcome = pair.run(candidate);
        let same = outcome
            .failure
            .as_ref()
            .is_some_and(|f| f.signature == failure.signature);
        same.then_some(outcome)
    };
    let mut last = match fails(&best) {
        Some(outcome) => outcome,
        None => {
            // The truncated sequence does not fail alike (the difference
            // may need what followed): shrink the whole of it.
            best = steps.to_vec();
            match fails(&best) {
                Some(outcome) => outcome,
                None => {
                    let outcome = Outcome {
                        events: Vec::new(),
                        failure: Some(failure.clone()),
                    };
                    return (best, outcome);
                }
            }
        }
    };
    let mut chunk = best.len().div_ceil(2).max(1);
    loop {
        let mut i = 0;
        let mut removed = false;
        while i < best.len() {
            let mut candidate = best.clone();
            candidate.drain(i..(i + chunk).min(best.len()));
            if let Some(outcome) = fails(&candidate) {
                best = candidate;
                last = outcome;
                removed = true;
            } else {
                i += chunk;
            }
        }
        if chunk == 1 && !removed {
            break;
        }
        if !removed {
            chunk = chunk.div_ceil(2);
        }
    }
    // Then arguments, from the last, keeping each command's name.
    for s in 0..best.len() {
        let mut a = best[s].args.len();
        while a > 1 {
            a -= 1;
            let mut candidate = best.clone();
            let step = &mut candidate[s];
            step.args.remove(a);
            // The rule follows the command: COMMAND INFO x cut down to
            // COMMAND is compared as COMMAND is.
            step.norm = Norm::for_command(&step.args, &step.args[0]);
            if let Some(outcome) = fails(&candidate) {
                best = candidate;
                last = outcome;
            }
        }
    }
    // Then the lines of script bodies (EVAL's and SCRIPT LOAD's), from
    // the last: a body is written a statement to a line, so most lines
    // go alone; a line that opens or closes a block does not (the body
    // no longer compiles, which fails differently).
    for s in 0..best.len() {
        let Some(at) = body_position(&best[s].args) else {
            continue;
        };
        let mut l = best[s].args[at].split(|&b| b == b'\n').count();
        while l > 0 {
            l -= 1;
            let mut lines: Vec<&[u8]> = best[s].args[at].split(|&b| b == b'\n').collect();
            if lines.len() < 2 {
                break;
            }
            lines.remove(l);
            let body = lines.join(&b'\n');
            let mut candidate = best.clone();
            candidate[s].args[at] = body;
            if let Some(outcome) = fails(&candidate) {
                best = candidate;
                last = outcome;
            }
        }
    }
    (best, last)
}

/// Where a step's script body is, if it has one.
fn body_position(args: &[Vec<u8>]) -> Option<usize> {
    let name = args.first()?.to_ascii_lowercase();
    let at = match name.as_slice() {
        b"eval" | b"eval_ro" => 1,
        b"script" if args.get(1)?.eq_ignore_ascii_case(b"load") => 2,
        _ => return None,
    };
    (at < args.len()).then_some(at)
}

/// The run as a script for `tests/diff/`, in the format described at the
/// top of tests/differential.rs.
pub fn script(steps: &[Step], events: &[Event]) -> String {
    let mut out = String::new();
    out.push_str("# Found by the differential fuzzer (tests/fuzz.rs).\n");
    out.push_str("DEBUG SET-ACTIVE-EXPIRE 0\n");
    let uses_ids = steps
        .iter()
        .any(|s| s.args.iter().any(|a| a.starts_with(b"${id:")));
    let mut current = 0;
    let mut switch = |out: &mut String, conn: usize| {
        if conn != current {
            out.push_str(&format!("~conn {conn}\n"));
            current = conn;
        }
    };
    if uses_ids {
        // Open every connection first, as the fuzzer does, so that each
        // one has an ID to substitute.
        for conn in 1..super::generate::CONNS {
            switch(&mut out, conn);
        }
        switch(&mut out, 0);
    }
    for event in events {
        match event {
            Event::Sent { step, awaited } => {
                let step = &steps[*step];
                switch(&mut out, step.conn);
                let line = step
                    .args
                    .iter()
                    .map(|a| quote(a))
                    .collect::<Vec<_>>()
                    .join(" ");
                match (awaited, step.norm.directive()) {
                    (false, _) => out.push_str(&format!("~noreply {line}\n")),
                    (true, Some(directive)) => out.push_str(&format!("{directive} {line}\n")),
                    (true, None) => out.push_str(&format!("{line}\n")),
                }
            }
            Event::Replies {
                conn,
                count,
                masked,
            } => {
                switch(&mut out, *conn);
                let directive = if *masked { "~raw-masked" } else { "~raw" };
                out.push_str(&format!("{directive} \"\" {count}\n"));
            }
            Event::Reconnected { conn } => {
                switch(&mut out, *conn);
                out.push_str("~reconnect\n");
            }
        }
    }
    out
}

/// One argument as a script word that splits back to the same bytes
/// (see `split_inline_args`): bare when that is unambiguous, otherwise in
/// double quotes with escapes.
pub fn quote(arg: &[u8]) -> String {
    let bare = !arg.is_empty()
        && arg
            .iter()
            .all(|&b| b.is_ascii_graphic() && !b"\"'\\".contains(&b))
        && !arg.starts_with(b"~")
        && !arg.starts_with(b"#");
    if bare {
        return String::from_utf8_lossy(arg).into_owned();
    }
    let mut out = String::from("\"");
    for &b in arg {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b' '..=b'~' => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}
