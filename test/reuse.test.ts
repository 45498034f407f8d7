import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { enhanceOptionsSchema, type EnhanceOptions, type JobResult } from '../src/queue/jobs.js';
import { deduplicationId, hashFile, jobPriority, PRIORITY, reuseKeys } from '../src/queue/reuse.js';
import { createResultCache, evictions, resultFiles } from '../src/queue/result-cache.js';
import { createStorage, type Storage } from '../src/storage/storage.js';

const config = loadConfig({ env: {} });
const SHA = 'a'.repeat(64);
const keysOf = (options: Partial<EnhanceOptions>, background = 'sunset', sha = SHA) => reuseKeys(config, { background, options: enhanceOptionsSchema.parse(options) }, sha);

describe('reuse keys', () => {
  it('know settings by their effect: a flag equal to the configured default is the same request', () => {
    expect(keysOf({ scale: config.upscale.scale, upscaler: config.upscale.engine, aspect: config.reframe.aspect })).toEqual(keysOf({}));
    expect(keysOf({ scale: 1 }).result).not.toBe(keysOf({}).result);
    expect(keysOf({ aspect: '9:16' }).result).not.toBe(keysOf({}).result);
    expect(keysOf({}, 'sunset', 'b'.repeat(64)).result).not.toBe(keysOf({}).result);
  });

  it('another background, a preview or an export change the result but not the cut-out', () => {
    for (const other of [keysOf({}, 'studio'), keysOf({ preview: 3 }), keysOf({ exportAlpha: true }), keysOf({ keepCutout: true })]) {
      expect(other.result).not.toBe(keysOf({}).result);
      expect(other.cutout).toBe(keysOf({}).cutout);
    }
    // ...while what the cut-out is made with does change it.
    expect(keysOf({ mattingModel: 'resnet50' }).cutout).not.toBe(keysOf({}).cutout);
    expect(keysOf({ shadow: true }).cutout).not.toBe(keysOf({}).cutout);
  });

  it('deduplicate per person and chat, and put previews and cached repeats first', () => {
    const me = { platform: 'telegram' as const, chatId: 'c1', userId: 'u1' };
    expect(deduplicationId('k', me)).toBe(deduplicationId('k', { ...me }));
    expect(deduplicationId('k', { ...me, userId: 'u2' })).not.toBe(deduplicationId('k', me));
    expect(deduplicationId('k', { ...me, chatId: 'c2' })).not.toBe(deduplicationId('k', me));
    expect(jobPriority({ preview: 5 }, false)).toBe(PRIORITY.quick);
    expect(jobPriority({}, true)).toBe(PRIORITY.quick);
    expect(jobPriority({}, false)).toBe(PRIORITY.full);
    expect(PRIORITY.quick).toBeLessThan(PRIORITY.full); // BullMQ runs lower numbers first
  });
});

describe('evictions', () => {
  const e = (key: string, at: number, bytes: number) => ({ key, at, bytes });
  it('takes the oldest first until the rest fit, and never the newest', () => {
    expect(evictions([e('c', 3, 10), e('a', 1, 10), e('b', 2, 10)], 25)).toEqual(['a']);
    expect(evictions([e('c', 3, 10), e('a', 1, 10), e('b', 2, 10)], 10)).toEqual(['a', 'b']);
    expect(evictions([e('c', 3, 100)], 10)).toEqual([]);
    expect(evictions([e('a', 1, 10), e('b', 2, 10)], 100)).toEqual([]);
  });
});

const url = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const prefix = `dltest-cache-${randomBytes(4).toString('hex')}`;
let redis: Redis;
let tmp: string;
let storage: Storage;

beforeAll(async () => {
  redis = new Redis(url, { maxRetriesPerRequest: null });
  await redis.ping();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dl-cache-'));
  storage = createStorage({ dataDir: tmp, storage: { keepOutputsHours: 72, minFreeMb: 0 } });
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
  rmSync(tmp, { recursive: true, force: true });
});

/** A finished job's files (1000 bytes of video, 500 of cut-out) and its result. */
function finished(jobId: string): JobResult {
  const video = storage.outputPathFor(jobId, 'enhanced', 'mp4');
  const cutout = storage.outputPathFor(jobId, 'cutout', 'mkv');
  writeFileSync(video.abs, Buffer.alloc(1000));
  writeFileSync(cutout.abs, Buffer.alloc(500));
  const stats = { stages: [], totalS: 9, realtimeFactor: 3, peakTempBytes: 0, queueWaitS: 0, retries: [] };
  return { output: video.rel, cutout: cutout.rel, bytes: 1000, durationS: 3, width: 192, height: 192, hasAudio: false, stats };
}

describe('the result cache (real Redis, real files)', () => {
  it('returns a result while its files are there; a gone file is a miss that drops the entry', async () => {
    const cache = createResultCache(redis, `${prefix}-a`, 1, storage);
    const r = finished('ja1');
    expect(resultFiles(r)).toEqual(['ja1.enhanced.mp4', 'ja1.cutout.mkv']);
    expect(await cache.find('k1')).toBeNull();
    await cache.remember('k1', 'ja1', r);
    expect(await cache.find('k1')).toEqual({ ...r, fromJob: 'ja1' });
    rmSync(storage.resolveOutput(r.cutout!));
    expect(await cache.find('k1')).toBeNull();
    expect(await redis.hexists(`${prefix}-a:cache:results`, 'k1')).toBe(0);

    await cache.rememberCutout('c1', 'ja1', r.cutout!);
    expect(await cache.findCutout('c1')).toBeNull(); // its file is gone
    const again = finished('ja2');
    await cache.rememberCutout('c2', 'ja2', again.cutout!);
    expect(await cache.findCutout('c2')).toEqual({ jobId: 'ja2', cutout: again.cutout });
  });

  it('beyond cacheGb evicts the oldest results first, with their files', async () => {
    // 1.5 kB per job; room for two.
    const cache = createResultCache(redis, `${prefix}-b`, 3200 / 1024 ** 3, storage);
    for (const id of ['jb1', 'jb2', 'jb3']) {
      await cache.remember(`k-${id}`, id, finished(id));
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await cache.find('k-jb1')).toBeNull();
    expect(await storage.outputBytes('jb1.enhanced.mp4')).toBeNull();
    expect(await storage.outputBytes('jb1.cutout.mkv')).toBeNull();
    expect(await cache.find('k-jb2')).not.toBeNull();
    expect(await cache.find('k-jb3')).not.toBeNull();
  });

  it('cacheGb 0 is no cache', async () => {
    const cache = createResultCache(redis, `${prefix}-c`, 0, storage);
    await cache.remember('k', 'jc1', finished('jc1'));
    expect(await cache.find('k')).toBeNull();
    expect(await storage.outputBytes('jc1.enhanced.mp4')).toBe(1000);
  });
});

describe('hashFile', () => {
  it('is the sha256 of the bytes, read as a stream', async () => {
    const file = path.join(tmp, 'x.bin');
    const bytes = randomBytes(300_000);
    writeFileSync(file, bytes);
    expect(await hashFile(file)).toBe(createHash('sha256').update(bytes).digest('hex'));
  });
});
