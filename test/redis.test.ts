import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { freePort, readPortFile, startEmbeddedRedis, type EmbeddedRedis } from '../src/redis/embedded.js';
import { connectRedis } from '../src/redis/redis.js';

/** Log lines captured as text. */
function captureLog(): { log: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const log = pino({ level: 'debug', base: undefined }, { write: (s: string) => void lines.push(s) });
  return { log, lines };
}

function configFor(dataDir: string, patch: (c: Config) => void = () => undefined): Config {
  const c = structuredClone(loadConfig({ env: {} }));
  c.dataDir = dataDir;
  c.redis.url = '';
  c.redis.embedded = true;
  patch(c);
  return c;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let tmp: string;
const cleanups: Array<() => Promise<unknown> | unknown> = [];

beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dl-redis-'));
});
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function embedded(dir: string, port?: number): Promise<EmbeddedRedis> {
  const e = await startEmbeddedRedis({ dir, port, log: captureLog().log });
  cleanups.push(() => e.stop());
  return e;
}

describe('embedded redis-server', () => {
  it('keeps queued BullMQ jobs across a SHUTDOWN and restart (append-only), with noeviction and a port file', async () => {
    const dir = path.join(tmp, 'persist', 'redis');
    const port = await freePort();
    const first = await embedded(dir, port);
    expect(first.port).toBe(port);
    expect(readPortFile(dir)).toBe(port);
    expect(readFileSync(path.join(dir, 'redis.pid'), 'utf8').trim()).toBe(String(first.pid));

    const conn = new Redis(first.url, { maxRetriesPerRequest: null });
    expect(await conn.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    expect(await conn.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    expect(await conn.config('GET', 'bind')).toEqual(['bind', '127.0.0.1']);
    const queue = new Queue('persist-test', { connection: conn, prefix: 'dltest' });
    const job = await queue.add('enhance', { hello: 'world' }, { jobId: 'job-1' });
    expect(job.id).toBe('job-1');
    await queue.close();
    await conn.quit();

    await first.stop();
    expect(alive(first.pid)).toBe(false);
    expect(readPortFile(dir)).toBeNull();
    expect(existsSync(path.join(dir, 'appendonlydir'))).toBe(true);

    const second = await embedded(dir, port);
    expect(second.pid).not.toBe(first.pid);
    const conn2 = new Redis(second.url, { maxRetriesPerRequest: null });
    const queue2 = new Queue('persist-test', { connection: conn2, prefix: 'dltest' });
    const again = await queue2.getJob('job-1');
    expect(again?.data).toEqual({ hello: 'world' });
    expect(await queue2.getWaitingCount()).toBe(1);
    await queue2.close();
    await conn2.quit();
  });

  it('refuses to start a second server on a data dir whose server still runs', async () => {
    const dir = path.join(tmp, 'twice', 'redis');
    const e = await embedded(dir, await freePort());
    await expect(startEmbeddedRedis({ dir, port: await freePort(), log: captureLog().log })).rejects.toThrow(
      new RegExp(`already runs .*port ${e.port}`),
    );
  });
});

describe('connectRedis', () => {
  it('fails clearly when REDIS_URL points nowhere', async () => {
    const port = await freePort();
    const config = configFor(path.join(tmp, 'nowhere'), (c) => {
      c.redis.url = `redis://:s3cret@127.0.0.1:${port}/0`;
    });
    const err = await connectRedis(config, { log: captureLog().log }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(new RegExp(`^cannot reach Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}/0 \\(REDIS_URL`));
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
    expect((err as Error).message).not.toContain('s3cret');
  });

  it('uses REDIS_URL when it answers, and restores noeviction there', async () => {
    const server = await embedded(path.join(tmp, 'url', 'srv'), await freePort());
    const admin = new Redis(server.url);
    cleanups.push(() => admin.quit());
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
    const { log, lines } = captureLog();
    const handle = await connectRedis(configFor(path.join(tmp, 'url', 'data'), (c) => (c.redis.url = server.url)), { log });
    cleanups.push(() => handle.close());
    expect(handle).toMatchObject({ url: server.url, source: 'url', embedded: null });
    expect(await admin.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    expect(lines.join('')).toMatch(/had maxmemory-policy allkeys-lru; set it to noeviction/);

    const conn = handle.connection();
    expect(conn.options.maxRetriesPerRequest).toBeNull();
    expect(await conn.ping()).toBe('PONG');
    await handle.close();
    expect(conn.status).toBe('end');
  });

  it('reuses a live embedded server found through <dataDir>/redis/port (before 6379), without stopping it', async () => {
    const dataDir = path.join(tmp, 'reuse');
    const server = await embedded(path.join(dataDir, 'redis'), await freePort());
    const handle = await connectRedis(configFor(dataDir), { log: captureLog().log });
    // The owner (this process) is alive: the server is not ours to stop.
    expect(handle).toMatchObject({ url: server.url, source: 'port-file', embedded: null });
    const conn = handle.connection();
    expect(await conn.ping()).toBe('PONG');
    await handle.close();
    expect(alive(server.pid)).toBe(true);
  });

  it('ignores a stale port file whose port now belongs to another server', async () => {
    const dataDir = path.join(tmp, 'stale');
    const stranger = await embedded(path.join(tmp, 'stranger'), await freePort());
    const dir = path.join(dataDir, 'redis');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'port'), `${stranger.port}\n`);
    writeFileSync(path.join(dir, 'redis.pid'), '999999\n');
    const defaultPort = await freePort();
    const handle = await connectRedis(configFor(dataDir), { log: captureLog().log, defaultPort });
    cleanups.push(() => handle.close());
    // Not the stranger: nothing answered on the default port, so it started its own there.
    expect(handle.source).toBe('embedded');
    expect(handle.url).toBe(`redis://127.0.0.1:${defaultPort}`);
  });

  it('starts its own server when nothing answers, and stops it on close', async () => {
    const dataDir = path.join(tmp, 'own');
    const defaultPort = await freePort();
    const handle = await connectRedis(configFor(dataDir), { log: captureLog().log, defaultPort });
    cleanups.push(() => handle.close());
    expect(handle.source).toBe('embedded');
    expect(handle.embedded).toMatchObject({ port: defaultPort, dir: path.join(dataDir, 'redis') });
    expect(readPortFile(path.join(dataDir, 'redis'))).toBe(defaultPort);

    // A second process (submit, a worker) finds it through the port file and leaves it running.
    const other = await connectRedis(configFor(dataDir), { log: captureLog().log, defaultPort: await freePort(), startEmbedded: false });
    expect(other).toMatchObject({ url: handle.url, source: 'port-file', embedded: null });
    await other.close();

    const pid = handle.embedded!.pid;
    expect(alive(pid)).toBe(true);
    await handle.close();
    expect(alive(pid)).toBe(false);
    expect(readPortFile(path.join(dataDir, 'redis'))).toBeNull();
  });

  it('starts one server only when two processes connect at once', async () => {
    const dataDir = path.join(tmp, 'race');
    const defaultPort = await freePort();
    const both = await Promise.all([0, 1].map(() => connectRedis(configFor(dataDir), { log: captureLog().log, defaultPort })));
    for (const h of both) cleanups.push(() => h.close());
    expect(both.map((h) => h.source).sort()).toEqual(['embedded', 'port-file']);
    expect(both[0].url).toBe(both[1].url);
    expect(existsSync(path.join(dataDir, 'redis', 'start.lock'))).toBe(false);
  });

  it('adopts the embedded server of a dancelift that died without stopping it', async () => {
    const dataDir = path.join(tmp, 'orphan');
    const dir = path.join(dataDir, 'redis');
    const server = await startEmbeddedRedis({ dir, port: await freePort(), log: captureLog().log });
    cleanups.push(() => server.stop());
    // Its owner is gone: a pid that has just exited.
    const dead = spawnSync(process.execPath, ['-e', 'process.pid'], { encoding: 'utf8' }).pid!;
    writeFileSync(path.join(dir, 'owner'), `${dead}\n`);
    const handle = await connectRedis(configFor(dataDir), { log: captureLog().log, defaultPort: await freePort() });
    expect(handle).toMatchObject({ url: server.url, source: 'embedded' });
    expect(handle.embedded?.pid).toBe(server.pid);
    await handle.close();
    expect(alive(server.pid)).toBe(false);
  });

  it('says what to do when there is no Redis and it may not start one', async () => {
    const config = configFor(path.join(tmp, 'none'), (c) => (c.redis.embedded = false));
    const err = await connectRedis(config, { log: captureLog().log, defaultPort: await freePort() }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/^no Redis to use: .*redis\.embedded is off/);
    expect((err as Error).message).toContain('REDIS_URL');
    expect((err as Error).message).toMatch(/apt-get install -y redis-server/);

    const missing = await connectRedis(configFor(path.join(tmp, 'none2')), {
      log: captureLog().log,
      defaultPort: await freePort(),
      startEmbedded: false,
    }).catch((e: Error) => e);
    expect((missing as Error).message).toMatch(/no dancelift service is running/);
  });
});
