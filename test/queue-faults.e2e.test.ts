/**
 * Exactly once under faults, on a redis-server of this file's own (own port and directory,
 * append-only, fsync always) that the tests kill and restart: an outage longer than the lock
 * mid-job, a worker SIGKILLed between "output written" and "job recorded", a cancel while no worker
 * runs, bursts of parallel submits against each limit, bad job data, and `start`'s own faults (Ctrl-C
 * with the embedded Redis, a port taken, Redis unreachable). Every test asserts exactly once: one
 * delivery, one completion, or at most the limit accepted. Cheap engines (`ffmpeg` upscaler, small
 * clips) keep each run to seconds.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openService, type Service } from '../src/service/context.js';
import { startEnhanceWorker } from '../src/queue/worker.js';
import { submitEnhance } from '../src/queue/producer.js';
import { isServiceRefusal } from '../src/queue/limits.js';
import { doneMarkerPath } from '../src/queue/done-marker.js';
import { freePort } from '../src/redis/embedded.js';
import type { Config } from '../src/config/schema.js';
import type { Requester } from '../src/queue/jobs.js';
import { clips, ffmpeg, repoRoot, rvmModel, tempDir } from './helpers/media.js';
import { makeClip, testConfig } from './helpers/fixtures.js';
import { ownRedis, type OwnRedis } from './helpers/own-redis.js';
import { sleep, until } from './helpers/wait.js';
import { deliverySink, type DeliverySink } from './helpers/deliveries.js';
import { ensureDefaultBackgrounds } from '../src/backgrounds/library.js';

const tmp = tempDir('dancelift-faults-');
const cli = path.join(repoRoot, 'bin', 'dancelift.js');
let redis: OwnRedis;
let small: string;
/** 24 frames at 256x256 through RVM: seconds of work, so a fault lands mid-job. */
let slow: string;
/** One small background library for every stack (full-size defaults take minutes on 2 cores). */
const backgrounds = path.join(tmp.dir, 'backgrounds');
const cleanups: Array<() => Promise<unknown> | unknown> = [];
const requester = (userId = 'u1'): Requester => ({ platform: 'telegram', chatId: 'chat1', userId, locale: 'en' });

beforeAll(async () => {
  redis = await ownRedis(path.join(tmp.dir, 'redis'));
  await ensureDefaultBackgrounds(backgrounds, { size: 96 });
  small = await makeClip(tmp.dir, 'small.mp4', clips.girl, { seconds: 1, width: 96, height: 96, audio: false });
  const two = await makeClip(tmp.dir, 'girl256.mp4', clips.girl, { seconds: 2, width: 256, height: 256, audio: false });
  slow = path.join(tmp.dir, 'slow.mp4');
  await ffmpeg(['-stream_loop', '2', '-i', two, '-c', 'copy', slow]);
});
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
afterAll(async () => {
  await redis?.stop();
  tmp.remove();
});

interface Stack {
  config: Config;
  env: Record<string, string>;
  service: Service;
  /** Every log line of the service, as JSON text. */
  lines: string[];
  sink: DeliverySink;
  job(jobId: string): Promise<{ state: string; failedReason?: string; returnvalue: unknown; progress: unknown } | undefined>;
}

/** A service on the own Redis with a lock of 5 s, its own data dir and prefix, and a delivery sink. */
async function stack(name: string, extra: Record<string, string> = {}, patch: (c: Config) => void = () => undefined): Promise<Stack> {
  const dir = path.join(tmp.dir, name);
  mkdirSync(dir, { recursive: true });
  const env = {
    REDIS_URL: redis.url,
    DANCELIFT_QUEUE_PREFIX: `faults-${name}`,
    DANCELIFT_LOCK_MS: '5000',
    DANCELIFT_STALLED_MS: '2000',
    DANCELIFT_BACKOFF_MS: '200',
    DANCELIFT_MAX_SHORT_SIDE: '256',
    DANCELIFT_DATA_DIR: path.join(dir, 'data'),
    DANCELIFT_TEMP_DIR: path.join(dir, 'tmp'),
    DANCELIFT_RVM_MODEL: rvmModel,
    DANCELIFT_ORT_PROVIDERS: 'cpu',
    DANCELIFT_BACKGROUNDS_DIR: backgrounds,
    // Instant repeats off, in the worker processes too: fault tests mean every job to run.
    DANCELIFT_CACHE_GB: '0',
    ...extra,
  };
  const config = testConfig(dir, env);
  config.storage.minFreeMb = 0;
  patch(config);
  const lines: string[] = [];
  const log = pino({ level: 'info', base: undefined }, { write: (s: string) => void lines.push(s) });
  const service = await openService(config, { startEmbedded: false, log });
  const sink = deliverySink(config, service, log);
  cleanups.push(async () => {
    await sink.close();
    await service.close();
  });
  return {
    config,
    env,
    service,
    lines,
    sink,
    async job(jobId) {
      const job = await service.queues.enhance.getJob(jobId);
      if (!job) return undefined;
      return { state: await job.getState(), failedReason: job.failedReason, returnvalue: job.returnvalue, progress: job.progress };
    },
  };
}

/** `dancelift start` with only the worker role, once it says it waits for jobs. */
async function workerProcess(s: Pick<Stack, 'env'>): Promise<{ child: ResultPromise; log: () => string }> {
  const child = execa('node', [cli, 'start'], {
    reject: false,
    forceKillAfterDelay: 60_000,
    env: { ...process.env, ...s.env, DANCELIFT_ROLES: 'worker', LOG_LEVEL: 'info' },
  });
  cleanups.push(async () => {
    child.kill('SIGKILL');
    await child;
  });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => {
    log += d.toString();
  });
  await until('worker ready', () => log.includes('worker role waiting for jobs'), 60_000);
  return { child, log: () => log };
}

/** The job is active and its pipeline runs (the worker has written its first progress). */
const active = (s: Stack, jobId: string) =>
  until(
    'job running',
    async () => {
      const job = await s.job(jobId);
      return job?.state === 'active' && typeof (job.progress as { stage?: unknown } | undefined)?.stage === 'string';
    },
    90_000,
  );

describe('a job whose lock is lost after its output is written', () => {
  it('Redis killed mid-job for 12 s (lock 5 s), then restarted: the job ends completed once and its output exists', async () => {
    const s = await stack('outage');
    const w = startEnhanceWorker(s.service.worker);
    cleanups.push(() => w.close());
    const seen = { completed: 0, failed: 0 };
    w.worker.on('completed', () => void seen.completed++);
    w.worker.on('failed', () => void seen.failed++);

    const { jobId } = await submitEnhance(s.service.producer, { file: slow, requester: requester(), background: 'white', options: { upscaler: 'ffmpeg', matting: 'rvm' } });
    await active(s, jobId);
    await redis.kill();
    await sleep(12_000);
    await redis.start();

    await until('job completed', async () => (await s.job(jobId))?.state === 'completed', 180_000);
    await s.sink.delivered(jobId, 60_000);
    await until('input removed once the end is recorded', () => readdirSync(s.service.storage.inputsDir).length === 0, 30_000);
    await sleep(2000); // time for a second completion, failure or delivery to show up
    expect(seen).toEqual({ completed: 1, failed: 0 });
    expect(s.sink.of(jobId)).toHaveLength(1);
    const [d] = s.sink.of(jobId);
    expect(d.outcome.ok).toBe(true);
    if (!d.outcome.ok) return;
    expect(existsSync(s.service.storage.resolveOutput(d.outcome.result.output))).toBe(true);
    // The lock was lost, so the job ran again: from its done-marker, without recomputing.
    expect(s.lines.filter((l) => l.includes('finishing without recomputing'))).toHaveLength(1);
    expect(s.lines.filter((l) => l.includes('"msg":"enhance started"'))).toHaveLength(1);
    // One line for the outage and one for its end, not one per retry.
    expect(s.lines.filter((l) => l.includes('Redis unreachable'))).toHaveLength(1);
    expect(s.lines.filter((l) => l.includes('Redis reconnected'))).toHaveLength(1);
  });

  it('a worker SIGKILLed between "output written" and "job recorded": the next one finishes it once, without recomputing', async () => {
    const s = await stack('killed');
    const { child: first } = await workerProcess(s);
    const { jobId } = await submitEnhance(s.service.producer, { file: slow, requester: requester(), background: 'white', options: { upscaler: 'ffmpeg', matting: 'rvm' } });
    await active(s, jobId);
    const output = s.service.storage.outputPathFor(jobId, 'enhanced', '.mp4').abs;
    // Hold every write to Redis (and with them lock expiry): the worker can finish its output but
    // not record anything. Only the file system is watched meanwhile.
    const admin = new Redis(redis.url);
    cleanups.push(() => admin.quit());
    await admin.call('CLIENT', 'PAUSE', '300000', 'WRITE');
    try {
      await until('output written', () => existsSync(doneMarkerPath(output)), 180_000);
      first.kill('SIGKILL');
      await first;
    } finally {
      await admin.call('CLIENT', 'UNPAUSE');
    }
    const writtenAt = statSync(output).mtimeMs;
    expect(s.sink.of(jobId)).toHaveLength(0);
    expect(readdirSync(s.service.storage.inputsDir)).toHaveLength(1);

    const second = await workerProcess(s);
    await until('job completed', async () => (await s.job(jobId))?.state === 'completed', 120_000);
    await s.sink.delivered(jobId, 60_000);
    await until('input removed', () => readdirSync(s.service.storage.inputsDir).length === 0, 30_000);
    await sleep(2000);
    expect(s.sink.of(jobId)).toHaveLength(1);
    expect(s.sink.of(jobId)[0].outcome.ok).toBe(true);
    expect(statSync(output).mtimeMs).toBe(writtenAt);
    expect(second.log()).toMatch(/finishing without recomputing/);
    expect(second.log()).not.toMatch(/enhance started/);
  });
});

describe('cancel', () => {
  it('a job whose worker was killed, then cancelled, does not complete after the worker restarts', async () => {
    const s = await stack('cancel');
    const { child: first } = await workerProcess(s);
    const { jobId } = await submitEnhance(s.service.producer, { file: slow, requester: requester(), background: 'white', options: { upscaler: 'ffmpeg', matting: 'rvm' } });
    await active(s, jobId);
    first.kill('SIGKILL');
    await first;

    const cancel = await execa('node', [cli, 'cancel', jobId], { reject: false, env: { ...process.env, ...s.env, LOG_LEVEL: 'warn' } });
    expect(cancel.exitCode, cancel.stderr).toBe(0);
    expect(cancel.stdout.trim()).toBe(`${jobId}: cancel recorded: no worker is running it now; it ends as cancelled, without running, when a worker takes it up`);

    const second = await workerProcess(s);
    await until('job ended', async () => (await s.job(jobId))?.state === 'failed', 120_000);
    await s.sink.delivered(jobId, 30_000);
    await sleep(2000);
    expect((await s.job(jobId))?.failedReason).toMatch(/^CANCELLED/);
    expect(s.sink.of(jobId)).toHaveLength(1);
    expect(s.sink.of(jobId)[0].outcome).toMatchObject({ ok: false, error: { code: 'CANCELLED' } });
    expect(second.log()).toMatch(/cancelled before it started/);
    expect(existsSync(doneMarkerPath(s.service.storage.outputPathFor(jobId, 'enhanced', '.mp4').abs))).toBe(false);
    await until('input removed', () => readdirSync(s.service.storage.inputsDir).length === 0, 30_000);
  });

  it('a running job is stopped by the worker holding it, and cancel says so', async () => {
    const s = await stack('cancel-live');
    await workerProcess(s);
    const { jobId } = await submitEnhance(s.service.producer, { file: slow, requester: requester(), background: 'white', options: { upscaler: 'ffmpeg', matting: 'rvm' } });
    await active(s, jobId);
    const cancel = await execa('node', [cli, 'cancel', jobId], { reject: false, env: { ...process.env, ...s.env, LOG_LEVEL: 'warn' } });
    expect(cancel.stdout.trim()).toBe(`${jobId}: stopping: the worker running it is aborting it now`);
    await until('job ended', async () => (await s.job(jobId))?.state === 'failed', 60_000);
    await s.sink.delivered(jobId, 30_000);
    await sleep(1000);
    expect(s.sink.of(jobId)).toHaveLength(1);
    expect(s.sink.of(jobId)[0].outcome).toMatchObject({ ok: false, error: { code: 'CANCELLED' } });
  });
});

describe('limits under a burst of parallel submits (no worker)', { timeout: 300_000 }, () => {
  const long = { DANCELIFT_MAX_DURATION_S: '3600' };
  /**
   * A 20 MB video (the small one looped, stream-copied): copying it into the data dir takes long
   * enough that all the submits of a burst are between their limit check and their enqueue at once.
   */
  let big: string;
  beforeAll(async () => {
    big = path.join(tmp.dir, 'big.mp4');
    await ffmpeg(['-stream_loop', '75', '-i', slow, '-c', 'copy', big]);
  });

  /** 12 submits at once from three service instances (three sets of connections); returns how many got in and why the rest did not. */
  async function burst(s: Stack, users: (i: number) => string): Promise<{ accepted: string[]; refused: string[] }> {
    const others = await Promise.all([0, 1].map(() => openService(s.config, { startEmbedded: false, log: pino({ level: 'silent' }) })));
    cleanups.push(() => Promise.all(others.map((o) => o.close())));
    const services = [s.service, ...others];
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) =>
        submitEnhance(services[i % 3].producer, { file: big, requester: requester(users(i)), background: 'white', options: {} }),
      ),
    );
    const accepted = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.jobId] : []));
    const refused = results.flatMap((r) => {
      if (r.status === 'fulfilled') return [];
      if (!isServiceRefusal(r.reason)) throw r.reason;
      return [r.reason.code];
    });
    return { accepted, refused };
  }

  it('12 parallel submits with limits.maxQueueLength 4: exactly 4 accepted', async () => {
    const s = await stack('burst-queue', long, (c) => Object.assign(c.limits, { maxQueueLength: 4, perUserInFlight: 100, perUserPerDay: 100 }));
    const { accepted, refused } = await burst(s, (i) => `q${i}`);
    expect(accepted).toHaveLength(4);
    expect(refused).toEqual(Array(8).fill('QUEUE_FULL'));
    expect(await s.service.queues.enhance.getJobCountByTypes('waiting', 'prioritized')).toBe(4);
    // Refused submits leave no input behind.
    expect(readdirSync(s.service.storage.inputsDir)).toHaveLength(4);
  });

  it('12 parallel submits of one user with perUserInFlight 3: exactly 3 accepted', async () => {
    const s = await stack('burst-user', long, (c) => Object.assign(c.limits, { maxQueueLength: 100, perUserInFlight: 3, perUserPerDay: 100 }));
    const { accepted, refused } = await burst(s, () => 'same');
    expect(accepted).toHaveLength(3);
    expect(refused).toEqual(Array(9).fill('USER_BUSY'));
  });

  it('12 parallel submits of one user with perUserPerDay 2: exactly 2 accepted', async () => {
    const s = await stack('burst-day', long, (c) => Object.assign(c.limits, { maxQueueLength: 100, perUserInFlight: 100, perUserPerDay: 2 }));
    const { accepted, refused } = await burst(s, () => 'daily');
    expect(accepted).toHaveLength(2);
    expect(refused).toEqual(Array(10).fill('USER_DAILY_LIMIT'));
  });
});

describe('jobs that cannot succeed fail at once and say why', () => {
  it('schema-invalid data and a refused input path: one attempt each, final, delivered as a clear message', async () => {
    const s = await stack('bad-data');
    const w = startEnhanceWorker(s.service.worker);
    cleanups.push(() => w.close());
    const opts = { attempts: 3, backoff: { type: 'fixed', delay: 100 } };
    const base = { requester: requester(), input: { file: 'x.mp4', name: 'x.mp4', bytes: 1 }, background: 'white', options: {}, submittedAt: Date.now() };
    await s.service.queues.enhance.add('enhance', { ...base, input: { file: 42 } }, { ...opts, jobId: 'jbad-data' });
    await s.service.queues.enhance.add('enhance', { ...base, input: { file: '../../etc/passwd', name: 'p.mp4', bytes: 1 } }, { ...opts, jobId: 'jbad-path' });
    for (const [id, code, text] of [
      ['jbad-data', 'JOB_DATA_INVALID', /could not be read/],
      ['jbad-path', 'INPUT_REFUSED', /could not be used/],
    ] as const) {
      await until(`${id} failed`, async () => (await s.job(id))?.state === 'failed', 60_000);
      await s.sink.delivered(id, 30_000);
      const job = (await s.service.queues.enhance.getJob(id))!;
      expect(job.attemptsMade).toBe(1);
      expect(job.failedReason).toMatch(new RegExp(`^${code}: `));
      const [d] = s.sink.of(id);
      expect(d.outcome).toMatchObject({ ok: false, error: { code } });
      const { errorMessage } = await import('../src/i18n/messages.js');
      if (!d.outcome.ok) expect(errorMessage(d.outcome.error, 'en')).toMatch(text);
    }
    expect(s.lines.filter((l) => l.includes('failed for good')).length).toBe(2);
    expect(s.lines.some((l) => l.includes('"jobId":"jbad-data"') && l.includes('"attempt":1'))).toBe(true);
  });
});

// Child processes on a shared 2-core machine: minutes, not seconds, when it is busy.
describe('dancelift start and its embedded Redis', { timeout: 300_000 }, () => {
  /** `start` in a process group of its own, as a terminal runs it, with nothing on its Redis port. */
  async function startEmbedded(dataDir: string, redisPort: number, roles = 'worker'): Promise<{ child: ResultPromise; log: () => string }> {
    const env: Record<string, string | undefined> = {
      ...process.env,
      REDIS_URL: '',
      DANCELIFT_REDIS_PORT: String(redisPort),
      DANCELIFT_DATA_DIR: dataDir,
      DANCELIFT_TEMP_DIR: path.join(dataDir, '..', 'tmp'),
      DANCELIFT_ROLES: roles,
      LOG_LEVEL: 'info',
    };
    const child = execa('node', [cli, 'start'], { reject: false, detached: true, forceKillAfterDelay: false, env, extendEnv: false });
    cleanups.push(async () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
      await child;
    });
    let log = '';
    child.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
    });
    await until('start ready', () => log.includes('worker role waiting for jobs'), 60_000);
    return { child, log: () => log };
  }
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it('Ctrl-C (SIGINT to the whole process group) does not reach the embedded Redis: start stops it itself, cleanly', async () => {
    const dataDir = path.join(tmp.dir, 'ctrl-c', 'data');
    const { child } = await startEmbedded(dataDir, await freePort());
    const redisDir = path.join(dataDir, 'redis');
    const pid = Number(readFileSync(path.join(redisDir, 'redis.pid'), 'utf8'));
    expect(alive(pid)).toBe(true);
    process.kill(-child.pid!, 'SIGINT');
    const ended = await child;
    expect(ended.exitCode, String(ended.stderr)).toBe(0);
    expect(String(ended.stderr)).toMatch(/embedded Redis on port \d+ stopped/);
    expect(String(ended.stderr)).not.toMatch(/ECONNREFUSED|did not shut down/);
    expect(alive(pid)).toBe(false);
    const redisLog = readFileSync(path.join(redisDir, 'redis.log'), 'utf8');
    // Redis went down by our SHUTDOWN, not by the terminal's SIGINT.
    expect(redisLog).not.toMatch(/Received SIGINT/);
    expect(redisLog).toMatch(/User requested shutdown/);
    expect(existsSync(path.join(redisDir, 'port'))).toBe(false);
  });

  it('an embedded Redis left running by a killed start is found again through data/redis/port and stopped by the next start', async () => {
    const dataDir = path.join(tmp.dir, 'stale', 'data');
    const port = await freePort();
    const { child } = await startEmbedded(dataDir, port);
    const pid = Number(readFileSync(path.join(dataDir, 'redis', 'redis.pid'), 'utf8'));
    child.kill('SIGKILL');
    await child;
    expect(alive(pid)).toBe(true);
    const again = await startEmbedded(dataDir, await freePort());
    expect(again.log()).toMatch(new RegExp(`adopted the embedded Redis left running on port ${port} \\(pid ${pid}\\)`));
    again.child.kill('SIGTERM');
    expect((await again.child).exitCode).toBe(0);
    expect(alive(pid)).toBe(false);
  });

  it('start with its web port taken: closes what it opened, exits 1 with one line', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise((r) => blocker.close(() => r(undefined))));
    const webPort = (blocker.address() as { port: number }).port;
    const dataDir = path.join(tmp.dir, 'port-taken', 'data');
    const env = {
      ...process.env,
      REDIS_URL: '',
      DANCELIFT_REDIS_PORT: String(await freePort()),
      DANCELIFT_DATA_DIR: dataDir,
      DANCELIFT_ROLES: 'web,worker',
      DANCELIFT_HTTP_PORT: String(webPort),
      LOG_LEVEL: 'warn',
    };
    const r = await execa('node', [cli, 'start'], { reject: false, env, timeout: 240_000 });
    expect(r.timedOut).toBe(false);
    expect(r.exitCode).toBe(1);
    const lines = String(r.stderr).trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^dancelift start: .*cannot start the web role: .*EADDRINUSE/);
    // The embedded Redis it had started is gone with it.
    expect(existsSync(path.join(dataDir, 'redis', 'port'))).toBe(false);
    const pidFile = path.join(dataDir, 'redis', 'redis.pid');
    if (existsSync(pidFile)) expect(alive(Number(readFileSync(pidFile, 'utf8')))).toBe(false);
  });

  it('one SIGTERM stops start even while its Redis is down; a second one exits at once', async () => {
    const down = await ownRedis(path.join(tmp.dir, 'redis-down'));
    cleanups.push(() => down.stop());
    const dir = path.join(tmp.dir, 'sigterm');
    const { child, log } = await workerProcess({ env: { REDIS_URL: down.url, DANCELIFT_DATA_DIR: path.join(dir, 'data'), DANCELIFT_TEMP_DIR: path.join(dir, 'tmp'), DANCELIFT_QUEUE_PREFIX: 'faults-sigterm', DANCELIFT_LOCK_MS: '5000' } });
    await down.kill();
    await until('outage noticed', () => log().includes('Redis unreachable'), 30_000);
    child.kill('SIGTERM');
    const first = await Promise.race([child.then(() => 'exited' as const), sleep(20_000).then(() => 'still stopping' as const)]);
    if (first === 'still stopping') child.kill('SIGTERM');
    const ended = await child;
    // Stopped by the first signal (cleanly, or giving up on the hand-back), or at once by the second.
    expect(ended.signal, log()).toBeUndefined();
    expect(first === 'exited' ? [0, 1] : [130]).toContain(ended.exitCode);
    expect(log().match(/Redis unreachable/g)).toHaveLength(1);
  });

  it('start with Redis unreachable: exits 1 with one line', async () => {
    const env = { ...process.env, REDIS_URL: `redis://127.0.0.1:${await freePort()}`, DANCELIFT_DATA_DIR: path.join(tmp.dir, 'no-redis'), DANCELIFT_ROLES: 'worker', LOG_LEVEL: 'warn' };
    const r = await execa('node', [cli, 'start'], { reject: false, env, timeout: 240_000 });
    expect(r.timedOut).toBe(false);
    expect(r.exitCode).toBe(1);
    const lines = String(r.stderr).trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/cannot reach Redis at .*ECONNREFUSED/);
  });
});
