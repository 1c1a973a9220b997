// BullMQ against a server on 127.0.0.1:$REDIS_PORT: a Queue and a Worker, plain jobs,
// a delayed job, a prioritized job, and a job that fails its first attempt and is
// retried (attempts: 2). Every job must complete with the worker's return value.
// Prints a summary line and exits 0 only when every check passed; gives up after
// $BULLMQ_TIMEOUT_MS (default 30 s).
import { Queue, Worker, Job } from 'bullmq';

const port = Number(process.env.REDIS_PORT || 6379);
const timeoutMs = Number(process.env.BULLMQ_TIMEOUT_MS || 30000);
const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
const name = `mr-bullmq-${process.pid}`;

let passed = 0;
let failed = 0;
function check(what, ok, detail = '') {
  if (ok) {
    passed++;
  } else {
    failed++;
    console.error(`FAIL ${what} ${detail}`);
  }
}

const queue = new Queue(name, { connection });
const attempts = {};
const worker = new Worker(
  name,
  async (job) => {
    attempts[job.name] = (attempts[job.name] || 0) + 1;
    if (job.name === 'flaky' && job.attemptsMade === 0) {
      throw new Error('first attempt fails');
    }
    await job.updateProgress(50);
    return { doubled: job.data.n * 2 };
  },
  { connection, concurrency: 3 },
);

const plain = 10;
const total = plain + 3;
let completed = 0;
let failures = 0;
const allDone = new Promise((resolve) => {
  worker.on('completed', () => {
    completed++;
    if (completed === total) resolve();
  });
});
worker.on('failed', () => {
  failures++;
});
worker.on('error', (err) => console.error('worker error:', err.message));

const timer = setTimeout(() => {
  console.error(`FAIL timeout: ${completed}/${total} completed after ${timeoutMs} ms`);
  process.exit(1);
}, timeoutMs);

try {
  await worker.waitUntilReady();
  const ids = {};
  for (let i = 0; i < plain; i++) {
    const job = await queue.add(`job${i}`, { n: i });
    ids[`job${i}`] = job.id;
  }
  ids.flaky = (await queue.add('flaky', { n: 21 }, { attempts: 2, backoff: { type: 'fixed', delay: 50 } })).id;
  ids.delayed = (await queue.add('delayed', { n: 5 }, { delay: 300 })).id;
  ids.prio = (await queue.add('prio', { n: 7 }, { priority: 1 })).id;
  const bulk = await queue.addBulk([{ name: 'bulk', data: { n: 1 } }]);
  check('addBulk returns the job', bulk.length === 1);
  await allDone.then(() => null);
  // The bulk job is one more; wait for it too.
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const c = await queue.getJobCounts('completed');
    if (c.completed >= total + 1) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const counts = await queue.getJobCounts('completed', 'failed', 'waiting', 'delayed', 'active', 'prioritized');
  check('all jobs completed', counts.completed === total + 1, JSON.stringify(counts));
  check('nothing failed for good', counts.failed === 0, JSON.stringify(counts));
  check('nothing left waiting', counts.waiting === 0 && counts.delayed === 0 && counts.active === 0, JSON.stringify(counts));
  for (const [jobName, id] of Object.entries(ids)) {
    const job = await Job.fromId(queue, id);
    check(`${jobName} finished`, job && job.finishedOn > 0);
    check(`${jobName} return value`, job && job.returnvalue && job.returnvalue.doubled === job.data.n * 2, JSON.stringify(job && job.returnvalue));
  }
  const flaky = await Job.fromId(queue, ids.flaky);
  check('flaky retried once', flaky.attemptsMade === 2 && attempts.flaky === 2, `attemptsMade=${flaky.attemptsMade} runs=${attempts.flaky}`);
  check('one failed attempt reported', failures === 1, `failures=${failures}`);
  const delayed = await Job.fromId(queue, ids.delayed);
  check('delayed job waited', delayed.processedOn - delayed.timestamp >= 250, `${delayed.processedOn - delayed.timestamp} ms`);
  const logs = await queue.getJobs(['completed'], 0, 100);
  check('completed jobs listed', logs.length === total + 1, `${logs.length}`);
  await queue.obliterate({ force: true });
} catch (e) {
  check('no exception', false, e && e.stack ? e.stack : String(e));
} finally {
  clearTimeout(timer);
  await worker.close();
  await queue.close();
}
console.log(`bullmq: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
