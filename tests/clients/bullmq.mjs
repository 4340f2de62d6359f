// BullMQ (over ioredis) against the server on the port given: a job queue
// is the heaviest user of Lua scripting among common clients. Every queue
// operation is an EVALSHA of one of BullMQ's ~50 scripts (falling back to
// EVAL after NOSCRIPT), and the worker also blocks in BZPOPMIN on the
// queue's marker key. Run by tests/scripting_clients.rs; prints `ok` and
// exits 0 when every check holds, else prints what failed and exits 1.
//
// Usage: node bullmq.mjs PORT [TIMEOUT_SECONDS]
//
// JOBS jobs are added with addBulk (ADD_BATCH a call) while a Worker of
// CONCURRENCY runs. Among them:
// - every 50th job (i % 50 == 0) is delayed by 200 to 1,499 ms; it must not
//   start before its delay has passed since it was added;
// - every 40th, offset 1 (i % 40 == 1), fails on its first attempt and has
//   attempts: 3 with a fixed backoff of BACKOFF_MS; it must run exactly
//   twice, the second time no sooner than BACKOFF_MS after the first threw;
// - every 100th, offset 3, has a priority (1 to 10), which goes through
//   BullMQ's prioritized set instead of the wait list;
// - the rest run once.
// Every job must complete exactly once (one successful run, one
// `completed` event) with its own return value, read back from the server;
// getJobCounts must end with JOBS completed and nothing anywhere else.
// The whole run is bounded (TIMEOUT_SECONDS, 100 by default): past it the
// script reports how far it got and fails. Connections go to 127.0.0.1 only
// and are closed before exiting.
import { Queue, Worker } from 'bullmq';

const port = Number(process.argv[2]);
const timeoutSeconds = Number(process.argv[3] ?? 100);
if (!Number.isInteger(port) || port <= 0 || !(timeoutSeconds > 0)) {
  console.error('usage: node bullmq.mjs PORT [TIMEOUT_SECONDS]');
  process.exit(2);
}

const JOBS = 10_000;
const ADD_BATCH = 500;
const CONCURRENCY = 50;
const BACKOFF_MS = 50;
const QUEUE = `ferrokv-jobs-${process.pid}`;

const isDelayed = (i) => i % 50 === 0;
const isRetried = (i) => i % 40 === 1;
const isPrioritized = (i) => i % 100 === 3;
const delayOf = (i) => 200 + ((i * 7919) % 1300);
const resultOf = (i) => `done:${i}`;

const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
const failures = [];
function fail(message) {
  if (failures.length < 20) failures.push(message);
}

// Per job index: when its add was sent, the start time of each run, when
// its first run threw, successful runs and `completed` events.
const addedAt = new Array(JOBS).fill(0);
const runs = Array.from({ length: JOBS }, () => []);
const threwAt = new Array(JOBS).fill(0);
const succeeded = new Array(JOBS).fill(0);
const completedEvents = new Array(JOBS).fill(0);
let completedCount = 0;
let failedEvents = 0;
let allDone;
const done = new Promise((resolve) => { allDone = resolve; });

const started = Date.now();
const queue = new Queue(QUEUE, { connection });
queue.on('error', (e) => fail(`queue error: ${e.message}`));

const worker = new Worker(
  QUEUE,
  async (job) => {
    const i = job.data.i;
    const now = Date.now();
    runs[i].push(now);
    if (isRetried(i) && runs[i].length === 1) {
      threwAt[i] = Date.now();
      throw new Error(`planned failure of job ${i}`);
    }
    succeeded[i] += 1;
    return resultOf(i);
  },
  { connection, concurrency: CONCURRENCY },
);
worker.on('error', (e) => fail(`worker error: ${e.message}`));
worker.on('failed', (job, err) => {
  failedEvents += 1;
  if (!job || !isRetried(job.data.i) || !/^planned failure/.test(err.message)) {
    fail(`unexpected failure of job ${job?.id} (data ${JSON.stringify(job?.data)}): ${err.message}`);
  }
});
worker.on('completed', (job, result) => {
  const i = job.data.i;
  completedEvents[i] += 1;
  if (result !== resultOf(i)) fail(`job ${i} completed with ${JSON.stringify(result)}`);
  if (completedEvents[i] === 1) {
    completedCount += 1;
    if (completedCount === JOBS) allDone();
  } else {
    fail(`job ${i} completed ${completedEvents[i]} times`);
  }
});

let timer;
const timedOut = new Promise((resolve) => {
  timer = setTimeout(() => resolve('timeout'), timeoutSeconds * 1000);
});

async function run() {
  await worker.waitUntilReady();
  for (let start = 0; start < JOBS; start += ADD_BATCH) {
    const batch = [];
    for (let i = start; i < Math.min(JOBS, start + ADD_BATCH); i += 1) {
      const opts = {};
      if (isDelayed(i)) opts.delay = delayOf(i);
      if (isRetried(i)) Object.assign(opts, { attempts: 3, backoff: { type: 'fixed', delay: BACKOFF_MS } });
      if (isPrioritized(i)) opts.priority = 1 + (i % 10);
      batch.push({ name: 'job', data: { i }, opts });
    }
    const now = Date.now();
    for (let i = start; i < start + batch.length; i += 1) addedAt[i] = now;
    const jobs = await queue.addBulk(batch);
    if (jobs.length !== batch.length) fail(`addBulk returned ${jobs.length} jobs for ${batch.length}`);
  }
  const added = Date.now() - started;
  if ((await Promise.race([done, timedOut])) === 'timeout') {
    fail(`timed out after ${timeoutSeconds} s with ${completedCount} of ${JOBS} jobs completed`);
    return;
  }
  const processed = Date.now() - started;

  for (let i = 0; i < JOBS; i += 1) {
    const want = isRetried(i) ? 2 : 1;
    if (runs[i].length !== want) fail(`job ${i} ran ${runs[i].length} times, not ${want}`);
    if (succeeded[i] !== 1) fail(`job ${i} succeeded ${succeeded[i]} times`);
    if (isDelayed(i) && runs[i][0] < addedAt[i] + delayOf(i)) {
      fail(`delayed job ${i} started ${runs[i][0] - addedAt[i]} ms after it was added, `
        + `before its delay of ${delayOf(i)} ms`);
    }
    if (isRetried(i) && runs[i].length === 2 && runs[i][1] < threwAt[i] + BACKOFF_MS) {
      fail(`job ${i} was retried ${runs[i][1] - threwAt[i]} ms after it failed, `
        + `before its backoff of ${BACKOFF_MS} ms`);
    }
  }
  const retried = Array.from({ length: JOBS }, (_, i) => i).filter(isRetried).length;
  if (failedEvents !== retried) fail(`${failedEvents} failed events, not ${retried}`);

  // What the server holds: every job completed, with its return value and
  // attempt count, and nothing left in any other state.
  const seen = new Array(JOBS).fill(0);
  for (let start = 0; start < JOBS; start += 1000) {
    const jobs = await queue.getCompleted(start, start + 999);
    for (const job of jobs) {
      const i = job.data.i;
      seen[i] += 1;
      if (job.returnvalue !== resultOf(i)) {
        fail(`job ${i} stored return value ${JSON.stringify(job.returnvalue)}`);
      }
      if (!(job.finishedOn >= job.processedOn)) fail(`job ${i}: finishedOn ${job.finishedOn} < processedOn ${job.processedOn}`);
      // BullMQ counts attempts made and started, each run once.
      const attempts = isRetried(i) ? 2 : 1;
      if (job.attemptsMade !== attempts || job.attemptsStarted !== attempts) {
        fail(`job ${i} stored attemptsMade ${job.attemptsMade} and attemptsStarted `
          + `${job.attemptsStarted}, not ${attempts}`);
      }
      if (isRetried(i) && !/^planned failure/.test(job.failedReason)) {
        fail(`retried job ${i} stored failedReason ${JSON.stringify(job.failedReason)}`);
      }
      if (isDelayed(i) && job.opts.delay !== delayOf(i)) fail(`delayed job ${i} stored delay ${job.opts.delay}`);
    }
  }
  const missing = seen.findIndex((n) => n !== 1);
  if (missing >= 0) fail(`job ${missing} is listed ${seen[missing]} times among the completed`);
  const counts = await queue.getJobCounts();
  for (const [state, n] of Object.entries(counts)) {
    const want = state === 'completed' ? JOBS : 0;
    if (n !== want) fail(`getJobCounts: ${state} is ${n}, not ${want} (${JSON.stringify(counts)})`);
  }
  if (counts.completed === undefined) fail(`getJobCounts has no completed: ${JSON.stringify(counts)}`);
  console.log(`${JOBS} jobs: added in ${added} ms, all completed ${processed} ms after the start`);
}

let code = 0;
try {
  await run();
} catch (e) {
  fail(`exception: ${e.stack ?? e}`);
}
clearTimeout(timer);
// Closing waits for the worker's active jobs and its blocking connection;
// bound it too, so a server that never answers cannot hang the script.
const closed = await Promise.race([
  Promise.all([worker.close(), queue.close()]).then(() => true, (e) => {
    fail(`close: ${e.message}`);
    return true;
  }),
  new Promise((resolve) => setTimeout(() => resolve(false), 10_000)),
]);
if (!closed) fail('closing the worker and the queue took more than 10 s');
if (failures.length > 0) {
  console.error(`bullmq: ${failures.length} failure(s):\n${failures.join('\n')}`);
  code = 1;
} else {
  console.log('ok');
}
process.exit(code);
