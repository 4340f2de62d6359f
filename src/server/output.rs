//! Output: queueing clients for the iteration's write, output-buffer
//! limits, writing, and closing connections.

use super::*;

impl Server {
    /// Writes the output a publish gave other clients (checking each
    /// against its output-buffer limits).
    pub(super) fn write_notified(&mut self) {
        let mut notified = mem::take(&mut self.store.notified);
        for &token in &notified {
            self.queue_write(token);
        }
        notified.clear();
        self.store.notified = notified;
    }

    /// Queues a client whose output grew for this iteration's write, once
    /// its output is checked against its class's limits.
    pub(super) fn queue_write(&mut self, token: usize) {
        if self.over_output_limit(token) {
            self.close_for_output_limit(token);
            return;
        }
        if let Some(c) = self.clients.get_mut(token) {
            // Its output grew: its memory is recounted before the loop
            // sleeps (client eviction).
            self.store.client_mem.mark(token, c);
            if !c.write_queued {
                c.write_queued = true;
                self.pending_writes.push(token);
            }
        }
    }

    /// Redis's checkClientOutputBufferLimits: past the hard limit, or past
    /// the soft limit for longer than its seconds (counted from when the
    /// output was first seen over it, and restarted once it is under).
    /// Only output beyond the first `REPLY_BUFFER_BYTES` counts.
    pub(super) fn over_output_limit(&mut self, token: usize) -> bool {
        let Some(c) = self.clients.get_mut(token) else {
            return false;
        };
        if c.out.overflowed {
            return true;
        }
        let used = c.output_memory();
        if used == 0 {
            return false;
        }
        let limit = self.store.config.output_limits[c.mode.class() as usize];
        let hard = limit.hard_bytes > 0 && used >= limit.hard_bytes;
        let mut soft = limit.soft_bytes > 0 && used >= limit.soft_bytes;
        if soft {
            let now_s = unix_ms() / 1000;
            match c.soft_limit_since_s {
                None => {
                    c.soft_limit_since_s = Some(now_s);
                    soft = false;
                }
                Some(since) => soft = now_s.saturating_sub(since) > limit.soft_seconds,
            }
        } else {
            c.soft_limit_since_s = None;
        }
        hard || soft
    }

    /// Schedules a client past its output-buffer limit to be closed once
    /// the command is done, writing it nothing more, as Redis logs and
    /// counts it.
    pub(super) fn close_for_output_limit(&mut self, token: usize) {
        let Some(c) = self.clients.get_mut(token) else {
            return;
        };
        if self
            .store
            .to_close
            .iter()
            .any(|&(t, id)| t == token && id == c.id)
        {
            return;
        }
        c.out.overflowed = true;
        let now = unix_ms();
        log::warn!(
            "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
            c.info_line(now, None)
        );
        self.store.stats.client_output_buffer_limit_disconnections += 1;
        self.store.to_close.push((token, c.id));
    }

    /// Under `appendfsync always`, this iteration's output waits for the
    /// sync of the AOF bytes written so far (Redis's promise: no reply,
    /// whether to a write or to a read that saw one, before the write is on
    /// disk). The sync runs on a helper while the loop goes on; held
    /// output is queued again as syncs finish.
    pub(super) fn hold_for_sync(&mut self) {
        let (written, synced) = crate::persist::aof::durability(&mut self.store);
        if written > synced {
            for &token in &self.pending_writes {
                let Some(c) = self.clients.get_mut(token) else {
                    continue;
                };
                let end = c.out_end();
                match c.held.back_mut() {
                    Some(last) if last.1 == written => last.0 = end,
                    _ => c.held.push_back((end, written)),
                }
            }
        }
        if synced > self.released_at_sync {
            self.released_at_sync = synced;
            for token in mem::take(&mut self.held_writes) {
                self.queue_write(token);
            }
        }
    }

    /// Writes every queued client's output; keeps WRITABLE interest only for
    /// clients whose socket could not take it all.
    pub(super) fn flush_writes(&mut self) {
        let mut queued = mem::take(&mut self.pending_writes);
        let now_ms = unix_ms();
        // In the order output was added: once a client has its reply, all
        // output the same loop pass produced before it (a subscriber's
        // message, a MONITOR line) has been written too. (Redis writes the
        // newest first; measured, it made no difference to fan-out.)
        for token in queued.drain(..) {
            let Some(client) = self.clients.get_mut(token) else {
                continue;
            };
            client.write_queued = false;
            client.note_reply_peak();
            // A client past its output-buffer limit is closed unwritten.
            if client.out.overflowed {
                continue;
            }
            let omem = client.output_memory();
            if omem > 0 {
                self.store.note_output(omem, unix_ms() / 1000);
            }
            let mut failed = false;
            let mut written = 0;
            let allowed = client.writable_output(self.released_at_sync);
            // Even a client alone with output is held to the budget, as in
            // Redis: others may have requests waiting to be read, and a
            // fast reader of a huge reply would keep the loop from them. A
            // monitor takes everything, as in Redis (its feed would
            // otherwise grow without bound under load).
            let budget = if client.mode.is_monitor() {
                usize::MAX
            } else {
                MAX_WRITE_PER_ITERATION_BYTES
            };
            // As in Redis, pieces go whole (a 1 MB value in one call if
            // the socket takes it) and the budget is checked between calls.
            // One piece (the usual small reply) takes write(2), cheaper
            // than writev(2) in the kernel.
            while !client.out.is_empty() && written < budget && written < allowed {
                let Some(stream) = client.stream.as_mut() else {
                    break;
                };
                let result = if client.out.is_one_piece() {
                    let front = client.out.front();
                    stream.write(&front[..front.len().min(allowed - written)])
                } else {
                    let mut iov = [io::IoSlice::new(&[]); crate::resp::writer::MAX_IOV];
                    let count = client
                        .out
                        .io_slices(&mut iov, budget - written, allowed - written);
                    stream.write_vectored(&iov[..count])
                };
                match result {
                    Ok(0) => {
                        failed = true;
                        break;
                    }
                    Ok(n) => {
                        client.out.consume(n);
                        written += n;
                        self.store.stats.net_output_bytes += n as u64;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        log::debug!("Writing to client: {e}");
                        failed = true;
                        break;
                    }
                }
            }
            client.out_written += written as u64;
            // Output written counts as interaction, as in Redis: a client
            // slowly taking a long reply is not idle (`timeout`).
            if written > 0 {
                client.last_interaction_ms = now_ms;
                self.store.client_mem.mark(token, client);
            }
            let done = client.out.is_empty();
            // Stopped where the held output starts: written again once the
            // AOF sync it waits for is done.
            let held = !done && !failed && written >= allowed;
            if held {
                self.held_writes.push(token);
            }
            // Stopped by the budget, not by a full socket: no readiness
            // event will come, so write again next iteration.
            if !done && !failed && !held && written >= budget {
                self.pending_rewrites.push(token);
            }
            if failed || (done && client.close_after_reply) {
                self.close_client(token);
                continue;
            }
            if done {
                // Give back a large buffer once drained.
                if client.out.buf.capacity() > 1024 * 1024 {
                    client.out.buf = bytes::BytesMut::new();
                }
            }
            let want_writable = !done && !held;
            if want_writable != client.writable_registered {
                let interest = if want_writable {
                    Interest::READABLE | Interest::WRITABLE
                } else {
                    Interest::READABLE
                };
                let Some(stream) = client.stream.as_mut() else {
                    continue;
                };
                if let Err(e) = self
                    .poll
                    .registry()
                    .reregister(stream, Token(token), interest)
                {
                    log::debug!("Reregistering client: {e}");
                    self.close_client(token);
                    continue;
                }
                client.writable_registered = want_writable;
            }
        }
        // Keep the vector's room for the next iteration.
        if self.pending_writes.is_empty() {
            self.pending_writes = queued;
        }
    }

    /// Closes the clients CLIENT KILL or an output-buffer limit marked,
    /// each by its id: a connection that took a closed client's slot since
    /// is left alone.
    pub(super) fn close_killed(&mut self) {
        crate::call::close_killed(&mut self.store, &mut self.clients);
    }

    pub(super) fn close_client(&mut self, token: usize) {
        if let Some(mut client) =
            crate::call::forget_client(&mut self.store, &mut self.clients, token)
            && let Some(stream) = client.stream.as_mut()
        {
            let _ = self.poll.registry().deregister(stream);
        }
    }
}
