import { chmodSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Worker } from 'bullmq';
import { openService, type Service } from '../src/service/context.js';
import { startEnhanceWorker, type EnhanceWorker } from '../src/queue/worker.js';
import { startDeliverWorker } from '../src/queue/deliver.js';
import { submitEnhance } from '../src/queue/producer.js';
import { cancelJob } from '../src/queue/cancel.js';
import { inFlightJobs } from '../src/queue/limits.js';
import { startWebServer } from '../src/web/server.js';
import type { DeliverJobData, Requester } from '../src/queue/jobs.js';
import { clips, ffmpeg, ffprobeJson, repoRoot, rvmModel, tempDir } from './helpers/media.js';
import { makeClip, testConfig } from './helpers/fixtures.js';
import { rejection } from './helpers/assert.js';
import { freePort } from './helpers/net.js';

const tmp = tempDir('dancelift-queue-');
const work = (...p: string[]) => path.join(tmp.dir, ...p);
const prefix = `dltest-${randomBytes(4).toString('hex')}`;
const env = {
  REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  DANCELIFT_QUEUE_PREFIX: prefix,
  DANCELIFT_LOCK_MS: '4000',
  DANCELIFT_STALLED_MS: '2000',
  DANCELIFT_BACKOFF_MS: '200',
  DANCELIFT_MAX_SHORT_SIDE: '256',
};
const config = testConfig(tmp.dir, env);
const requester = (userId = 'u1'): Requester => ({ platform: 'telegram', chatId: 'chat1', userId, locale: 'en' });

let service: Service;
let small: string;
/** 24 frames at 256x256: several seconds of RVM on 2 cores, longer than the 4 s lock. */
let slow: string;
const deliveries: DeliverJobData[] = [];
let deliverer: Worker;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  small = await makeClip(tmp.dir, 'small.mp4', clips.girl, { seconds: 1, width: 96, height: 96, audio: false });
  const twoSeconds = await makeClip(tmp.dir, 'girl256.mp4', clips.girl, { seconds: 2, width: 256, height: 256, audio: false });
  slow = work('slow.mp4');
  await ffmpeg(['-stream_loop', '2', '-i', twoSeconds, '-c', 'copy', slow]);
  service = await openService(config, { startEmbedded: false });
  deliverer = startDeliverWorker(config, () => service.redisHandle.connection(), 'telegram', async (d) => {
    deliveries.push(d);
  });
});

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

afterAll(async () => {
  await deliverer?.close();
  await service?.queues.enhance.obliterate({ force: true }).catch(() => {});
  await service?.queues.deliver('telegram').obliterate({ force: true }).catch(() => {});
  const keys = await service.redis.keys(`${prefix}:*`);
  if (keys.length > 0) await service.redis.del(...keys);
  await service?.close();
  tmp.remove();
});

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 90_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const deliveriesOf = (jobId: string) => deliveries.filter((d) => d.jobId === jobId);

function inProcessWorker(): EnhanceWorker {
  const w = startEnhanceWorker(service.worker);
  cleanups.push(() => w.close());
  return w;
}

describe('enhance queue → worker → delivery', () => {
  it('processes a job and delivers it exactly once, with a working signed link', async () => {
    const web = await startWebServer({ config: { ...config, web: { ...config.web, port: 0, host: '127.0.0.1' } }, outputsDir: service.storage.outputsDir, secret: service.secret });
    cleanups.push(() => web.close());
    config.web.publicBaseUrl = web.url;
    inProcessWorker();

    const { jobId, position } = await submitEnhance(service.producer, { file: small, requester: requester(), background: '#00ff00', options: { upscaler: 'ffmpeg', matting: 'rvm' } });
    expect(position === undefined || position >= 1).toBe(true);
    const [d] = await until('delivery', () => (deliveriesOf(jobId).length > 0 ? deliveriesOf(jobId) : undefined));
    await new Promise((r) => setTimeout(r, 1500));
    expect(deliveriesOf(jobId)).toHaveLength(1);
    expect(d.outcome.ok).toBe(true);
    if (!d.outcome.ok) return;
    expect(d.outcome.result).toMatchObject({ width: 192, height: 192, hasAudio: false });
    expect(d.outcome.result.stats.stages.map((s) => s.name)).toEqual(['decode', 'upscale', 'matte', 'compose']);
    expect(d.outcome.result.stats.queueWaitS).toBeGreaterThanOrEqual(0);

    // The link opens the watch page; the same signature under /raw/ is the file.
    const page = await fetch(d.outcome.link);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('<video');
    const res = await fetch(d.outcome.link.replace('/files/', '/raw/'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/mp4');
    const file = work('downloaded.mp4');
    writeFileSync(file, Buffer.from(await res.arrayBuffer()));
    expect((await ffprobeJson(file)).streams[0]).toMatchObject({ codec_name: 'h264', width: 192, height: 192 });

    const job = await service.queues.enhance.getJob(jobId);
    expect(await job!.getState()).toBe('completed');
    expect(job!.progress).toMatchObject({ stage: 'done', percent: 100 });
    // the input is gone and the user's slot is free again
    expect(readdirSync(service.storage.inputsDir)).toEqual([]);
    expect(await inFlightJobs(service.redis, prefix, requester())).toEqual([]);
  });

  it('refuses bad input and a user over their limit before queueing anything', async () => {
    const notes = work('notes.mp4');
    writeFileSync(notes, 'not a video\n');
    expect((await rejection(submitEnhance(service.producer, { file: notes, requester: requester('u2'), background: 'white', options: {} }))).code).toBe('NOT_A_VIDEO');
    expect((await rejection(submitEnhance(service.producer, { file: small, requester: requester('u2'), background: 'moonbase', options: {} }))).code).toBe('BACKGROUND_MISSING');

    // A service whose users may have one job in flight.
    const tight = await openService({ ...config, limits: { ...config.limits, perUserInFlight: 1 } }, { startEmbedded: false });
    cleanups.push(() => tight.close());
    const first = await submitEnhance(tight.producer, { file: small, requester: requester('u3'), background: 'white', options: {} });
    const refused = await submitEnhance(tight.producer, { file: small, requester: requester('u3'), background: 'white', options: {} }).catch((e: unknown) => e as { code: string; message: string });
    expect((refused as { code: string }).code).toBe('USER_BUSY');
    const waiting = await service.queues.enhance.getJobs(['waiting']);
    expect(waiting.map((j) => j.id)).toEqual([first.jobId]);
    expect(readdirSync(service.storage.inputsDir)).toHaveLength(1);

    // cancelling the queued job removes it, frees the slot, deletes its input and tells the requester
    expect(await cancelJob(service.cancel, first.jobId)).toBe('removed');
    expect(await service.queues.enhance.getJob(first.jobId)).toBeUndefined();
    expect(readdirSync(service.storage.inputsDir)).toEqual([]);
    expect(await inFlightJobs(service.redis, prefix, requester('u3'))).toEqual([]);
    const [told] = await until('cancel delivery', () => (deliveriesOf(first.jobId).length > 0 ? deliveriesOf(first.jobId) : undefined));
    expect(told.outcome).toMatchObject({ ok: false, error: { code: 'CANCELLED' } });
    expect(await cancelJob(service.cancel, 'no-such-job')).toBe('not-found');
  });

  it('cancels a running job: the pipeline stops, temp files go, no retry, the requester is told', async () => {
    inProcessWorker();
    const { jobId } = await submitEnhance(service.producer, { file: slow, requester: requester('u4'), background: 'white', options: { upscaler: 'ffmpeg', matting: 'rvm' } });
    await until('job running', async () => {
      const job = await service.queues.enhance.getJob(jobId);
      return (await job?.getState()) === 'active' && (job?.progress as { percent?: number })?.percent !== undefined ? true : undefined;
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(await cancelJob(service.cancel, jobId)).toBe('cancelling');
    const [told] = await until('cancel delivery', () => (deliveriesOf(jobId).length > 0 ? deliveriesOf(jobId) : undefined), 30_000);
    expect(told.outcome).toMatchObject({ ok: false, error: { code: 'CANCELLED' }, attempts: 1 });
    const job = await service.queues.enhance.getJob(jobId);
    expect(await job!.getState()).toBe('failed');
    expect(job!.attemptsMade).toBe(1);
    expect(readdirSync(work('tmp'))).toEqual([]);
    expect(readdirSync(service.storage.inputsDir)).toEqual([]);
  });

  it('retries a transient failure and delivers once', async () => {
    // An external matting tool that crashes the first time it runs, then works.
    const marker = work('crashed-once');
    const script = work('flaky-matte.sh');
    writeFileSync(script, `#!/bin/sh\nif [ ! -e '${marker}' ]; then touch '${marker}'; echo 'segfault (simulated)' >&2; exit 139; fi\nexec ffmpeg -v error -y -i "$1" -vf format=gray,geq=lum=255 -c:v libx264 -qp 0 "$2"\n`);
    chmodSync(script, 0o755);
    const flaky = await openService({ ...config, matte: { ...config.matte, command: { template: `${script} {input} {output}` } } }, { startEmbedded: false });
    cleanups.push(() => flaky.close());
    const w = startEnhanceWorker(flaky.worker);
    cleanups.push(() => w.close());
    const { jobId } = await submitEnhance(flaky.producer, { file: small, requester: requester('u5'), background: 'white', options: { upscaler: 'ffmpeg', matting: 'command' } });
    const [d] = await until('delivery after retry', () => (deliveriesOf(jobId).length > 0 ? deliveriesOf(jobId) : undefined));
    await new Promise((r) => setTimeout(r, 1000));
    expect(deliveriesOf(jobId)).toHaveLength(1);
    expect(d.outcome.ok).toBe(true);
    expect(existsSync(marker)).toBe(true);
    const job = await service.queues.enhance.getJob(jobId);
    expect(job!.attemptsMade).toBe(2); // the failed attempt and the one that worked
  });
});

const cli = path.join(repoRoot, 'bin', 'dancelift.js');
const childEnv = (extra: Record<string, string> = {}) => ({
  ...process.env,
  ...env,
  DANCELIFT_DATA_DIR: config.dataDir,
  DANCELIFT_TEMP_DIR: work('tmp'),
  DANCELIFT_RVM_MODEL: rvmModel,
  DANCELIFT_ORT_PROVIDERS: 'cpu',
  LOG_LEVEL: 'warn',
  ...extra,
});

describe('dancelift start / submit / jobs (the service from the command line)', () => {
  it('submit --wait follows the job on a running service and prints the result line with a link', async () => {
    const port = await freePort();
    const web = { DANCELIFT_HTTP_PORT: String(port), PUBLIC_BASE_URL: `http://127.0.0.1:${port}` };
    const server = execa('node', [cli, 'start'], { reject: false, env: childEnv({ DANCELIFT_ROLES: 'worker,web,bots', LOG_LEVEL: 'info', ...web }) });
    cleanups.push(async () => {
      server.kill('SIGKILL');
      await server;
    });
    const submit = await execa('node', [cli, 'submit', small, '--bg', 'sunset', '--upscaler', 'ffmpeg', '--wait', '--json'], { reject: false, env: childEnv(web) });
    expect(submit.exitCode, submit.stderr).toBe(0);
    const line = JSON.parse(submit.stdout.trim());
    expect(line).toMatchObject({ input: small, ok: true, width: 192, height: 192 });
    expect(Object.keys(line)).toEqual(['input', 'output', 'ok', 'durationS', 'width', 'height', 'stats', 'link']);
    expect(submit.stderr).toMatch(/queued/);
    const res = await fetch(line.link);
    expect(res.status).toBe(200);
    expect(Number(res.headers.get('content-length'))).toBeGreaterThan(1000);

    const jobs = await execa('node', [cli, 'jobs', '--json'], { env: childEnv(web) });
    const listed = JSON.parse(jobs.stdout) as Array<{ state: string; requester: string }>;
    expect(listed.some((j) => j.state === 'completed' && j.requester.startsWith('cli:'))).toBe(true);

    // SIGTERM: a clean stop
    server.kill('SIGTERM');
    const ended = await server;
    expect(ended.exitCode).toBe(0);
    expect(String(ended.stderr)).toMatch(/telegram bot skipped: TELEGRAM_BOT_TOKEN is not set/);
  });
});

describe('a worker process killed mid-job', () => {
  /** `dancelift start` with only the worker role, once it says it is waiting for jobs. */
  // Wrapped: an execa process is thenable, so returning it from an async function would wait for it to end.
  async function startWorkerProcess(): Promise<{ child: ResultPromise }> {
    // execa would SIGKILL 5 s after a SIGTERM; a graceful hand-back on a loaded machine may take longer.
    const child = execa('node', [cli, 'start'], { reject: false, forceKillAfterDelay: 60_000, env: childEnv({ DANCELIFT_ROLES: 'worker', LOG_LEVEL: 'info' }) });
    cleanups.push(async () => {
      child.kill('SIGKILL');
      await child;
    });
    let log = '';
    child.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
    });
    await until('worker ready', () => (log.includes('worker role waiting for jobs') ? true : undefined), 30_000);
    return { child };
  }

  it('runs the job again after a restart and delivers it once', async () => {
    const { child: first } = await startWorkerProcess();
    const { jobId } = await submitEnhance(service.producer, { file: slow, requester: requester('u6'), background: 'white', options: { upscaler: 'ffmpeg', matting: 'rvm' } });
    await until('job running in the child', async () => {
      const job = await service.queues.enhance.getJob(jobId);
      return (await job?.getState()) === 'active' ? true : undefined;
    });
    await new Promise((r) => setTimeout(r, 1500));
    first.kill('SIGKILL');
    await first;
    expect(deliveriesOf(jobId)).toHaveLength(0);

    await startWorkerProcess();
    const [d] = await until('delivery after restart', () => (deliveriesOf(jobId).length > 0 ? deliveriesOf(jobId) : undefined), 120_000);
    await new Promise((r) => setTimeout(r, 2000));
    expect(deliveriesOf(jobId)).toHaveLength(1);
    expect(d.outcome.ok).toBe(true);
    const job = (await service.queues.enhance.getJob(jobId))!;
    expect(await job.getState()).toBe('completed');
    // Stalled once — the kill — and never while the second worker ran it for longer than its lock.
    expect(job.stalledCounter).toBe(1);
    // the killed run's temp dir was cleaned up when the job ran again
    expect(readdirSync(work('tmp'))).toEqual([]);
  });

  it('on SIGTERM hands the running job back without using an attempt; the next worker finishes it', async () => {
    const { child: first } = await startWorkerProcess();
    const { jobId } = await submitEnhance(service.producer, { file: slow, requester: requester('u7'), background: 'white', options: { upscaler: 'ffmpeg', matting: 'rvm' } });
    await until('job running in the child', async () => {
      const job = await service.queues.enhance.getJob(jobId);
      return (await job?.getState()) === 'active' ? true : undefined;
    });
    await new Promise((r) => setTimeout(r, 1500));
    first.kill('SIGTERM');
    const ended = await first;
    expect({ exitCode: ended.exitCode, signal: ended.signal }, `${ended.stderr}`).toEqual({ exitCode: 0, signal: undefined });
    expect(String(ended.stderr)).toMatch(/shutting down/);
    const handedBack = (await service.queues.enhance.getJob(jobId))!;
    expect(['waiting', 'delayed']).toContain(await handedBack.getState());
    expect(handedBack.attemptsMade).toBe(0);
    expect(deliveriesOf(jobId)).toHaveLength(0);

    await startWorkerProcess();
    const [d] = await until('delivery after hand-back', () => (deliveriesOf(jobId).length > 0 ? deliveriesOf(jobId) : undefined), 120_000);
    expect(d.outcome.ok).toBe(true);
    expect(readdirSync(work('tmp'))).toEqual([]);
  });
});
