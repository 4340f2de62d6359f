//! The cron (Redis's serverCron): active expiry, rehashing, idle
//! clients and buffers, and shutdown.

use super::*;

impl Server {
    /// Housekeeping, `hz` times a second: expiry, rehashing, table shrinking,
    /// idle-client timeouts and the ops/sec sample.
    pub(super) fn cron(&mut self) {
        let now = unix_ms();
        self.active_expire_cycle();
        let deadline = Instant::now() + REHASH_BUDGET;
        for db in &mut self.store.dbs {
            db.shrink_tables();
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            db.rehash_for(left);
        }
        self.close_idle_clients(now);
        // A big value deleted or a big reply written: give the memory back
        // to the OS now, not whenever this thread next allocates.
        if crate::alloc::much_freed() {
            crate::alloc::return_free_memory();
        }
        // Once a second, give back the buffers of clients idle for a while.
        self.ticks_since_shrink += 1;
        if self.ticks_since_shrink >= self.store.config.hz.max(1) {
            self.ticks_since_shrink = 0;
            self.shrink_idle_buffers(now);
            self.collect_when_quiet();
        }
        if let Some((secs, changes)) = crate::persist::save_point_due(&self.store, now) {
            log::info!("{changes} changes in {secs} seconds. Saving...");
            let _ = crate::persist::start_bgsave(&mut self.store, now);
        }
        if self.store.rdb.bgsave_scheduled
            && self.store.rdb.snapshot.is_none()
            && !self.store.loading()
        {
            let _ = crate::persist::start_bgsave(&mut self.store, now);
        }
        crate::persist::aof::cron(&mut self.store, now);
        let samples = &mut self.store.stats.ops_samples;
        samples.push_back((now, self.store.stats.total_commands_processed));
        while samples.len() > 16 {
            samples.pop_front();
        }
        let hz = self.store.config.hz.max(1) as u64;
        self.wheel.insert(now + 1000 / hz, Timer::Cron);
    }

    /// Closes the clients idle for longer than `timeout` seconds (Redis's
    /// clientsCronHandleTimeout), idleness counted in whole seconds as
    /// Redis counts it. Blocked clients (those a pause holds too),
    /// subscribers and monitors wait on purpose and are left alone, and so is the AOF loader's client,
    /// which has no connection.
    fn close_idle_clients(&mut self, now_ms: u64) {
        let timeout_s = self.store.config.idle_timeout_s;
        if timeout_s == 0 {
            return;
        }
        let now_s = now_ms / 1000;
        let idle: Vec<usize> = self
            .clients
            .iter()
            .filter(|(_, c)| {
                c.stream.is_some()
                    && matches!(c.mode, Mode::Normal)
                    && !c.is_waiting()
                    && now_s.saturating_sub(c.last_interaction_ms / 1000) > timeout_s
            })
            .map(|(t, _)| t)
            .collect();
        for t in idle {
            log::debug!("Closing idle client");
            self.close_client(t);
        }
    }

    /// Once a second: after a second without commands that followed a busy
    /// spell, gives free memory back to the OS once. A bulk load leaves
    /// freed memory behind that nothing else reclaims while the server
    /// idles (the old bucket arrays of every table resize, about 10 bytes
    /// a key), as jemalloc's background purge does for redis-server. A
    /// busy server never pays for it, and an idle one pays once.
    fn collect_when_quiet(&mut self) {
        let processed = self.store.stats.total_commands_processed;
        if processed != self.processed_at_last_second {
            self.busy_since_collect = true;
        } else if self.busy_since_collect {
            crate::alloc::return_free_memory();
            self.busy_since_collect = false;
        }
        self.processed_at_last_second = processed;
    }

    /// Frees the empty read and write buffers of clients idle for
    /// `IDLE_SHRINK_MS` that hold more than `SHRINK_SPARE_BYTES` of room:
    /// a connection that once sent or received something big costs nothing
    /// for it while it idles (Redis's clientsCronResizeQueryBuffer and
    /// clientsCronResizeOutputBuffer). A pass looks at every client once a
    /// second, a few hundred nanoseconds each.
    pub(super) fn shrink_idle_buffers(&mut self, now_ms: u64) {
        for (_, c) in self.clients.iter_mut() {
            c.resize_reply_buffer(now_ms);
            if now_ms.saturating_sub(c.last_interaction_ms) <= IDLE_SHRINK_MS {
                continue;
            }
            if c.rbuf.is_empty() && c.rbuf.capacity() > SHRINK_SPARE_BYTES {
                c.rbuf = bytes::BytesMut::new();
            }
            if c.out.is_empty() && c.out.buf.capacity() > SHRINK_SPARE_BYTES {
                c.out.buf = bytes::BytesMut::new();
            }
            if c.batch.capacity() > 1 && c.batch.iter().all(Vec::is_empty) {
                c.batch = Vec::new();
            }
        }
    }

    /// Deletes expired keys, round-robin over the databases, for at most
    /// `ACTIVE_EXPIRE_BUDGET`. If time ran out, another cycle follows soon
    /// so memory keeps being reclaimed while clients are served in between.
    pub(super) fn active_expire_cycle(&mut self) {
        if !self.store.active_expire_enabled {
            return;
        }
        let start = Instant::now();
        let deadline = start + ACTIVE_EXPIRE_BUDGET;
        let now = unix_ms();
        let n = self.store.dbs.len();
        let mut sampled = 0;
        let mut expired = 0;
        let mut out_of_time = false;
        for _ in 0..n {
            let i = self.expire_db_cursor % n;
            let report = self.store.dbs[i].active_expire(now, deadline);
            self.drain_background(i);
            sampled += report.sampled;
            expired += report.expired;
            if report.out_of_time {
                out_of_time = true;
                break;
            }
            self.expire_db_cursor = (i + 1) % n;
        }
        let elapsed_us = start.elapsed().as_micros() as u64;
        self.store.stats.expire_cycle_cpu_ms += elapsed_us / 1000;
        self.store
            .latency_events
            .add_if_needed("expire-cycle", elapsed_us / 1000);
        if sampled > 0 {
            self.store.stats.expired_stale_perc = expired as f64 * 100.0 / sampled as f64;
        }
        if out_of_time {
            self.wheel
                .insert(now + EXPIRE_FOLLOWUP_MS, Timer::ExpireCycle);
        }
    }

    pub(super) fn shutdown(&mut self) {
        log::warn!("User requested shutdown...");
        // Give clients what they were already sent an answer for.
        for (_, c) in self.clients.iter_mut() {
            while !c.out.is_empty() {
                let Some(stream) = c.stream.as_mut() else {
                    break;
                };
                match stream.write(c.out.front()) {
                    Ok(n) if n > 0 => c.out.consume(n),
                    _ => break,
                }
            }
        }
        log::warn!("ferrokv is now ready to exit, bye bye...");
    }

    /// Evicts keys while the memory used is over `maxmemory` (see
    /// `crate::evict`), then drains what that logged: `evicted` events,
    /// DELs propagated one by one, WATCH and tracking. `running` is the
    /// client whose command waits on it, with its output (moved out of its
    /// slot) and push ranges, so events it subscribed to reach it.
    pub(super) fn evict(&mut self, running: Option<RunningClient<'_>>) -> crate::evict::Outcome {
        use crate::evict::Outcome;
        // Redis's isSafeToPerformEvictions: not while loading, when the
        // dataset is not yet what it will be.
        if self.store.loading() {
            return Outcome::Ok;
        }
        // Nor while clients are paused, when it stays as it is (and
        // nothing is refused for memory); a run cut short restarts with
        // the first command after the pause.
        if self.store.pause.is_active() {
            self.store.evictor.running = false;
            return Outcome::Ok;
        }
        let aof_buffer = self.store.effects.aof.buf.len();
        let outcome = self.store.evictor.perform(
            &mut self.store.dbs,
            aof_buffer,
            unix_ms(),
            &mut self.store.latency_events,
        );
        if self.store.dbs.iter().all(|d| d.log.is_empty()) {
            return outcome;
        }
        let effects = &mut self.store.effects;
        effects.record_modified = !self.store.watches.is_empty() || self.store.tracking.is_active();
        for i in 0..self.store.dbs.len() {
            self.store.absorb(i);
        }
        let mut own_out = Reply::default();
        let mut own_pushed = Vec::new();
        let (me, out, pushed) = match running {
            Some((me, out, pushed)) => (me, out, pushed),
            None => (usize::MAX, &mut own_out, &mut own_pushed),
        };
        let reply_start = out.pending();
        let finished = crate::drain::Finished {
            out,
            pushed,
            me,
            db: 0,
            reply_start,
            nested: false,
            // Redis propagates each evicted key's DEL alone.
            transaction: false,
        };
        crate::drain::after_call(&mut self.store, &mut self.clients, finished);
        if !self.store.notified.is_empty() {
            self.write_notified();
        }
        outcome
    }

    /// Drains what database `db` logged outside any command (active
    /// expiry): its `expired` events, modified keys and DEL propagation go
    /// through the same record as a command's, each DEL propagated alone
    /// (no MULTI/EXEC around them, as Redis's propagate_no_multi).
    pub(super) fn drain_background(&mut self, db: usize) {
        if self.store.dbs[db].log.is_empty() {
            return;
        }
        let effects = &mut self.store.effects;
        effects.record_modified = !self.store.watches.is_empty() || self.store.tracking.is_active();
        self.store.absorb(db);
        let mut out = Reply::default();
        let mut pushed = Vec::new();
        // No client runs: deliveries all go to their clients' own output.
        let finished = crate::drain::Finished {
            out: &mut out,
            pushed: &mut pushed,
            me: usize::MAX,
            db,
            reply_start: 0,
            nested: false,
            // Redis propagates each expired key's DEL alone.
            transaction: false,
        };
        crate::drain::after_call(&mut self.store, &mut self.clients, finished);
        if !self.store.notified.is_empty() {
            self.write_notified();
        }
    }

    /// Once per loop iteration, after writing (Redis's evictClients in
    /// beforeSleep): recounts the memory of the clients the iteration
    /// touched, then, while all clients together use `maxmemory-clients`
    /// or more, closes the evictable one using the most.
    pub(super) fn evict_clients(&mut self) {
        let limit = self.store.config.client_eviction_limit_bytes;
        self.store.client_mem.recount(&mut self.clients, limit);
        if limit == 0 {
            return;
        }
        while self.store.client_mem.total() >= limit {
            let Some((token, id)) = self.store.client_mem.biggest() else {
                log::warn!("Over client maxmemory after evicting all evictable clients");
                break;
            };
            // Every closed client leaves the index (`forget_client`); a
            // stale entry would make this loop spin, so stop instead.
            let Some(c) = self.clients.get(token).filter(|c| c.id == id) else {
                debug_assert!(false, "client {id} evictable but gone");
                break;
            };
            log::info!("Evicting client: {}", c.info_line(unix_ms(), None));
            self.store.stats.evicted_clients += 1;
            self.close_client(token);
        }
    }

    /// Once per loop iteration, before writing (Redis's beforeSleep): the
    /// pause's hold on databases loaded meanwhile, tracking's broadcast
    /// invalidations and table limit.
    pub(super) fn before_sleep(&mut self) {
        if self.store.pause.is_active() {
            self.apply_pause();
        }
        if !self.store.tracking.is_active() {
            return;
        }
        let max_keys = self
            .store
            .config
            .get("tracking-table-max-keys")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_000_000);
        let mut out = Reply::default();
        let mut pushed = Vec::new();
        let mut delivery = crate::pubsub::Delivery {
            me: usize::MAX,
            out: &mut out,
            pushed: &mut pushed,
            clients: &mut self.clients,
            notified: &mut self.store.notified,
        };
        self.store.tracking.before_sleep(&mut delivery, max_keys);
        if !self.store.notified.is_empty() {
            self.write_notified();
        }
    }
}

/// A client whose command waits on eviction: its slab key, its output
/// (moved out of its slot) and the push ranges in it.
pub(super) type RunningClient<'a> = (usize, &'a mut Reply, &'a mut Vec<(usize, usize)>);
