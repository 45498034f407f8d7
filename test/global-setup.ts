import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';

/**
 * Before any test: build the CLI (the CLI tests run the built dancelift, as a user would), and make
 * sure a Redis server answers. The machine's own on 6379 when there is one; otherwise a throw-away
 * redis-server on a free port, so `npm test` needs no Redis set up beforehand. Tests read its address
 * from REDIS_URL.
 */
export default async function setup(): Promise<() => Promise<void>> {
  // tsc emits even when a file has type errors; `npm test` runs scripts/setup first, whose build
  // fails on them, so here a type error elsewhere in the tree only warns instead of failing every test.
  const build = await execa('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'inherit', reject: false });
  if (build.exitCode !== 0) console.warn('global-setup: tsc reported type errors (the emitted JS is used anyway)');
  if (process.env.REDIS_URL) return async () => {};
  const { pingRedis } = await import('../src/redis/probe.js');
  const { startEmbeddedRedis } = await import('../src/redis/embedded.js');
  if ((await pingRedis('redis://127.0.0.1:6379')) === null) {
    process.env.REDIS_URL = 'redis://127.0.0.1:6379';
    return async () => {};
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dancelift-test-redis-'));
  const redis = await startEmbeddedRedis({ dir });
  process.env.REDIS_URL = redis.url;
  console.log(`no Redis on 127.0.0.1:6379: started one for the tests at ${redis.url}`);
  return async () => {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
