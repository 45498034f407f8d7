import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { findRedisServer, freePort } from '../../src/redis/embedded.js';
import { pingRedis } from '../../src/redis/probe.js';
import { sleep } from './wait.js';

/**
 * A redis-server of the test's own, on its own port and directory, append-only with every write
 * fsync'd (so a SIGKILL loses nothing a client was told was written), for tests that kill Redis and
 * start it again. Never the shared one on 6379.
 */
export interface OwnRedis {
  port: number;
  url: string;
  dir: string;
  /** The running server's pid (null while it is down). */
  readonly pid: number | null;
  /** Starts it (again, on the same port and directory) and waits until it answers PING. */
  start(): Promise<void>;
  /** SIGKILL, and waits until it has exited. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export async function ownRedis(dir: string): Promise<OwnRedis> {
  const bin = findRedisServer();
  if (!bin) throw new Error('redis-server is not installed (apt-get install -y redis-server)');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  const exited = (c: ChildProcess) => new Promise<void>((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve())));
  const self: OwnRedis = {
    port,
    url,
    dir,
    get pid() {
      return child?.pid ?? null;
    },
    async start() {
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--maxmemory-policy', 'noeviction'];
      child = spawn(bin, args, { stdio: 'ignore' });
      // Generous: on a loaded machine a fresh server may take a while to answer.
      const deadline = Date.now() + 60_000;
      while ((await pingRedis(url, 500)) !== null) {
        if (Date.now() > deadline) throw new Error(`own redis-server on ${port} did not answer`);
        await sleep(50);
      }
    },
    async kill() {
      const c = child;
      if (!c) return;
      c.kill('SIGKILL');
      await exited(c);
      child = null;
    },
    async stop() {
      const c = child;
      if (!c) return;
      c.kill('SIGTERM');
      await exited(c);
      child = null;
    },
  };
  await self.start();
  return self;
}
