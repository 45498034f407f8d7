import { chmodSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openService, type Service } from '../src/service/context.js';
import { startEnhanceWorker, type EnhanceWorker } from '../src/queue/worker.js';
import { submitEnhance } from '../src/queue/producer.js';
import { cancelJob } from '../src/queue/cancel.js';
import { inFlightJobs } from '../src/queue/limits.js';
import { startWebServer } from '../src/web/server.js';
import { openEvents } from '../src/queue/queues.js';
import type { Requester } from '../src/queue/jobs.js';
import { clips, ffmpeg, ffprobeJson, repoRoot, rvmModel, tempDir } from './helpers/media.js';
import { makeClip, testConfig } from './helpers/fixtures.js';
import { rejection } from './helpers/assert.js';
import { freePort } from './helpers/net.js';
import { deliverySink, type DeliverySink } from './helpers/deliveries.js';
import { sleep, until } from './helpers/wait.js';

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
  // Instant repeats off: these tests send the same clip again and mean it to be processed.
  DANCELIFT_CACHE_GB: '0',
};
const config = testConfig(tmp.dir, env);
const requester = (userId = 'u1'): Requester => ({ platform: 'telegram', chatId: 'chat1', userId, locale: 'en' });

let service: Service;
let small: string;
/** 24 frames at 256x256: several seconds of RVM on 2 cores, longer than the 4 s lock. */
let slow: string;
let sink: DeliverySink;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  small = await makeClip(tmp.dir, 'small.mp4', clips.girl, { seconds: 1, width: 96, height: 96, audio: false });
  const twoSeconds = await makeClip(tmp.dir, 'girl256.mp4', clips.girl, { seconds: 2, width: 256, height: 256, audio: false });
  slow = work('slow.mp4');
  await ffmpeg(['-stream_loop', '2', '-i', twoSeconds, '-c', 'copy', slow]);
  service = await openService(config, { startEmbedded: false });
  sink = deliverySink(config, service);
});

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

afterAll(async () => {
  await sink?.close();
  await service?.queues.enhance.obliterate({ force: true }).catch(() => {});
  await service?.queues.deliver('telegram').obliterate({ force: true }).catch(() => {});
  const keys = await service.redis.keys(`${prefix}:*`);
  if (keys.length > 0) await service.redis.del(...keys);
  await service?.close();
  tmp.remove();
});

const deliveriesOf = (jobId: string) => sink.of(jobId);

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
    const d = await sink.delivered(jobId);
    await sleep(1500);
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
    const waiting = await service.queues.enhance.getJobs(['waiting', 'prioritized']);
    expect(waiting.map((j) => j.id)).toEqual([first.jobId]);
    expect(readdirSync(service.storage.inputsDir)).toHaveLength(1);

    // cancelling the queued job removes it, frees the slot, deletes its input and tells the requester
    expect(await cancelJob(service.cancel, first.jobId)).toBe('removed');
    expect(await service.queues.enhance.getJob(first.jobId)).toBeUndefined();
    expect(readdirSync(service.storage.inputsDir)).toEqual([]);
    expect(await inFlightJobs(service.redis, prefix, requester('u3'))).toEqual([]);
    const told = await sink.delivered(first.jobId);
    expect(told.outcome).toMatchObject({ ok: false, error: { code: 'CANCELLED' } });
    expect(await cancelJob(service.cancel, 'no-such-job')).toBe('not-found');
  });

  it('cancels a running job: the pipeline stops, temp files go, no retry, the requester is told', async () => {
    inProcessWorker();
    const { jobId } = await submitEnhance(service.producer, { file: slow, requester: requester('u4'), background: 'white', options: { upscaler: 'ffmpeg', matting: 'rvm' } });
    await until('job running', async () => {
      const job = await service.queues.enhance.getJob(jobId);
      return (await job?.getState()) === 'active' && (job?.progress as { percent?: number })?.percent !== undefined ? true : undefined;
    }, 90_000);
    await sleep(500);
    expect(await cancelJob(service.cancel, jobId)).toBe('cancelling');
    const told = await sink.delivered(jobId, 30_000);
    expect(told.outcome).toMatchObject({ ok: false, error: { code: 'CANCELLED' }, attempts: 1 });
    const job = await service.queues.enhance.getJob(jobId);
    expect(await job!.getState()).toBe('failed');
    expect(job!.attemptsMade).toBe(1);
    expect(readdirSync(work('tmp'))).toEqual([]);
    expect(readdirSync(service.storage.inputsDir)).toEqual([]);
  });

  it('a preview jumps ahead of a full job queued before it, and carries its reframing and transparent export', async () => {
    const full = await submitEnhance(service.producer, { file: small, requester: requester('u8'), background: 'white', options: { upscaler: 'ffmpeg', matting: 'rvm' } });
    const quick = await submitEnhance(service.producer, {
      file: small,
      requester: requester('u9'),
      background: 'white',
      options: { upscaler: 'ffmpeg', matting: 'rvm', preview: 0.5, aspect: '9:16', shadow: true, exportAlpha: true },
    });
    expect(quick.position).toBe(1); // ahead of the full job
    inProcessWorker();
    const p = await sink.delivered(quick.jobId);
    const f = await sink.delivered(full.jobId);
    const [pj, fj] = await Promise.all([service.queues.enhance.getJob(quick.jobId), service.queues.enhance.getJob(full.jobId)]);
    expect(pj!.processedOn!).toBeLessThan(fj!.processedOn!);
    if (!p.outcome.ok || !f.outcome.ok) throw new Error('a job failed');
    const r = p.outcome.result;
    expect(r.output).toBe(`${quick.jobId}.preview.mp4`);
    expect(r.preview).toMatchObject({ seconds: 0.5 });
    expect(r.preview!.startS).toBeGreaterThanOrEqual(0);
    expect(r.durationS).toBeCloseTo(0.5, 1);
    expect(r.stats.totalS).toBeGreaterThan(0);
    expect(r).toMatchObject({ width: 108, height: 192 }); // 9:16 of the 192x192 upscale
    expect(r.exports).toEqual({ webm: `${quick.jobId}.alpha.webm`, mov: `${quick.jobId}.alpha.mov` });
    const webm = await ffprobeJson(service.storage.resolveOutput(r.exports!.webm));
    expect(webm.streams[0]).toMatchObject({ codec_name: 'vp9', width: 108, height: 192 });
    expect((await ffprobeJson(service.storage.resolveOutput(r.exports!.mov))).streams[0]).toMatchObject({ codec_name: 'prores' });
    expect(f.outcome.result).toMatchObject({ output: `${full.jobId}.enhanced.mp4`, width: 192, height: 192 });
    expect(f.outcome.result.preview).toBeUndefined();
    // The exports are outputs of the job: the sweeper removes them with its video.
    const swept = (await service.storage.sweepOutputs(Date.now() + (config.storage.keepOutputsHours + 1) * 3600_000)).map((x) => x.rel);
    expect(swept).toEqual(expect.arrayContaining([r.output, r.exports!.webm, r.exports!.mov]));
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
    const d = await sink.delivered(jobId);
    await sleep(1000);
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
  it('submit --wait follows the job on a running service and prints the result line with a link; a repeat answers from it', async () => {
    const port = await freePort();
    // Instant repeats on (1 GB of results), in the service and in the submitting command alike.
    const web = { DANCELIFT_HTTP_PORT: String(port), PUBLIC_BASE_URL: `http://127.0.0.1:${port}`, DANCELIFT_CACHE_GB: '1' };
    const server = execa('node', [cli, 'start'], { reject: false, env: childEnv({ DANCELIFT_ROLES: 'worker,web,bots', LOG_LEVEL: 'info', ...web }) });
    cleanups.push(async () => {
      server.kill('SIGKILL');
      await server;
    });
    // What each job went through, in order, as BullMQ's own events tell it.
    const events = openEvents(config, () => service.redisHandle.connection());
    cleanups.push(() => events.close());
    const seen: Array<{ jobId: string; what: string }> = [];
    events.on('active', ({ jobId }) => void seen.push({ jobId, what: 'active' }));
    events.on('progress', ({ jobId, data }) => void seen.push({ jobId, what: `progress:${(data as { stage?: string }).stage}` }));
    events.on('completed', ({ jobId }) => void seen.push({ jobId, what: 'completed' }));
    await events.waitUntilReady();
    const story = async (stderr: string) => {
      const jobId = /queued (j[0-9a-f]+)/.exec(stderr)![1];
      await until(`${jobId} completed event`, () => seen.some((e) => e.jobId === jobId && e.what === 'completed'), 30_000);
      return [...new Set(seen.filter((e) => e.jobId === jobId).map((e) => e.what))];
    };
    const args = [cli, 'submit', small, '--bg', 'sunset', '--upscaler', 'ffmpeg', '--keep-cutout', '--wait', '--json'];
    const submit = await execa('node', args, { reject: false, env: childEnv(web) });
    expect(submit.exitCode, submit.stderr).toBe(0);
    const line = JSON.parse(submit.stdout.trim());
    expect(line).toMatchObject({ input: small, ok: true, width: 192, height: 192 });
    expect(Object.keys(line)).toEqual(['input', 'output', 'ok', 'durationS', 'width', 'height', 'stats', 'link']);
    expect(submit.stderr).toMatch(/queued/);
    const res = await fetch(line.link);
    expect(res.status).toBe(200);
    expect(Number(res.headers.get('content-length'))).toBeGreaterThan(1000);
    expect(await story(submit.stderr)).toEqual(expect.arrayContaining(['active', 'progress:decode', 'progress:done', 'completed']));

    // The same file with the same settings again: the finished result, marked reused, computed by nothing.
    const t0 = performance.now();
    const again = await execa('node', args, { reject: false, env: childEnv(web) });
    console.log(`instant repeat: a second identical submit --wait --json answered in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    expect(again.exitCode, again.stderr).toBe(0);
    const reused = JSON.parse(again.stdout.trim());
    expect(reused).toMatchObject({ input: small, ok: true, output: line.output, width: 192, height: 192, reused: true, stats: line.stats });
    expect(Object.keys(reused)).toEqual(['input', 'output', 'ok', 'durationS', 'width', 'height', 'stats', 'reused', 'link']);
    expect(await story(again.stderr)).toEqual(['active', 'progress:done', 'completed']);

    // Another background: the cut-out the first job kept is composed again (no upscaling, no matting).
    const other = await execa('node', [cli, 'submit', small, '--bg', '#00ff00', '--upscaler', 'ffmpeg', '--keep-cutout', '--wait', '--json'], { reject: false, env: childEnv(web) });
    expect(other.exitCode, other.stderr).toBe(0);
    const recomposed = JSON.parse(other.stdout.trim());
    expect(recomposed).toMatchObject({ ok: true, width: 192, height: 192 });
    expect(recomposed.output).not.toBe(line.output);
    expect(recomposed.reused).toBeUndefined();
    expect(recomposed.stats.stages.map((st: { name: string }) => st.name)).toEqual(['compose']);
    expect(await story(other.stderr)).not.toContain('progress:decode');

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
    }, 90_000);
    await sleep(1500);
    first.kill('SIGKILL');
    await first;
    expect(deliveriesOf(jobId)).toHaveLength(0);

    await startWorkerProcess();
    const d = await sink.delivered(jobId, 120_000);
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
    }, 90_000);
    await sleep(1500);
    first.kill('SIGTERM');
    const ended = await first;
    expect({ exitCode: ended.exitCode, signal: ended.signal }, `${ended.stderr}`).toEqual({ exitCode: 0, signal: undefined });
    expect(String(ended.stderr)).toMatch(/shutting down/);
    const handedBack = (await service.queues.enhance.getJob(jobId))!;
    expect(['waiting', 'prioritized', 'delayed']).toContain(await handedBack.getState());
    expect(handedBack.attemptsMade).toBe(0);
    expect(deliveriesOf(jobId)).toHaveLength(0);

    await startWorkerProcess();
    const d = await sink.delivered(jobId, 120_000);
    expect(d.outcome.ok).toBe(true);
    expect(readdirSync(work('tmp'))).toEqual([]);
  });
});
