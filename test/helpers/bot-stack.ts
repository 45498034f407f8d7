/**
 * What the Telegram and Discord end-to-end stacks stand on: a service on the real Redis under a
 * queue prefix of its own (so files and runs never see each other's jobs), an empty data dir of
 * its own (the bots make the background library at start-up, as on a fresh install), an
 * in-process enhance worker unless told otherwise, and a teardown that leaves nothing behind in
 * Redis. The fake platform and the bot are each test file's own.
 */
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { DEFAULTS_LOCK } from '../../src/backgrounds/library.js';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { openService, type Service } from '../../src/service/context.js';
import { startEnhanceWorker, type EnhanceWorker } from '../../src/queue/worker.js';
import { backgroundsDir } from '../../src/backgrounds/library.js';
import type { Config } from '../../src/config/schema.js';
import { execa } from 'execa';
import { clips } from './media.js';
import { makeClip, testConfig } from './fixtures.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A background whose name needs escaping in HTML and in markdown. */
export const HTML_BG = 'rock&roll <live>';

/** The 96x96 clip the bots are sent, and a picture (`picture.png` beside it: a PNG that is no video). */
export async function botMedia(dir: string): Promise<{ clip: string; picture: string }> {
  const clip = await makeClip(dir, 'clip.mp4', clips.girl, { seconds: 1, width: 96, height: 96, audio: false });
  const picture = path.join(dir, 'picture.png');
  await execa('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=orange:s=64x64', '-frames:v', '1', picture]);
  return { clip, picture };
}

export interface BotService {
  service: Service;
  config: Config;
  worker?: EnhanceWorker;
  /** A worker for a stack opened without one; the teardown closes it. */
  startWorker(): EnhanceWorker;
  /** Closes the worker and the service and removes the stack's queues and keys (the bot first). */
  close(): Promise<void>;
}

/**
 * Puts `file` into the stack's library as `name` — as a user dropping a file into the folder,
 * after the service started (so the data dir was empty at start).
 */
export function addLibraryFile(config: Config, file: string, name: string): void {
  const dir = backgroundsDir(config);
  mkdirSync(dir, { recursive: true });
  copyFileSync(file, path.join(dir, `${name}${path.extname(file)}`));
}

/**
 * Holds the library folder's lock, as another process making the defaults would (a CLI submit):
 * a bots role started now waits on it, so nothing of the library exists until `release()`.
 * Call it from `beforeBot` (the data dir exists, the bot does not yet).
 */
export function holdLibraryLock(config: Config): { release(): void } {
  mkdirSync(backgroundsDir(config), { recursive: true });
  const lock = path.join(backgroundsDir(config), DEFAULTS_LOCK);
  writeFileSync(lock, String(process.pid));
  return { release: () => rmSync(lock) };
}

/** The files in the stack's library folder (hidden ones included: the lock, the manifest). */
export function libraryFiles(config: Config): string[] {
  try {
    return readdirSync(backgroundsDir(config));
  } catch {
    return [];
  }
}

export async function openBotService(
  dir: string,
  opts: { platform: 'telegram' | 'discord'; prefix: string; env: Record<string, string>; worker?: boolean; tweak?: (c: Config) => void },
): Promise<BotService> {
  const prefix = `${opts.prefix}-${randomBytes(4).toString('hex')}`;
  // A data dir of its own, empty: the stack starts where a new user starts.
  const stackDir = path.join(dir, `stack-${prefix}`);
  mkdirSync(stackDir, { recursive: true });
  const config = testConfig(stackDir, {
    REDIS_URL,
    // Small defaults: full-size ones take ~9 s on 2 cores; the code path is the same.
    DANCELIFT_BACKGROUNDS_SIZE: '96',
    DANCELIFT_QUEUE_PREFIX: prefix,
    DANCELIFT_UPSCALER: 'ffmpeg',
    DANCELIFT_MAX_SHORT_SIDE: '256',
    DANCELIFT_BACKOFF_MS: '200',
    ...opts.env,
  });
  config.storage.minFreeMb = 0;
  opts.tweak?.(config);
  const service = await openService(config, { startEmbedded: false });
  const base: BotService = {
    service,
    config,
    worker: opts.worker === false ? undefined : startEnhanceWorker(service.worker),
    startWorker() {
      base.worker = startEnhanceWorker(service.worker);
      return base.worker;
    },
    async close() {
      await base.worker?.close();
      await service.queues.enhance.obliterate({ force: true }).catch(() => {});
      await service.queues.deliver(opts.platform).obliterate({ force: true }).catch(() => {});
      const keys = await service.redis.keys(`${prefix}:*`);
      if (keys.length > 0) await service.redis.del(...keys);
      await service.close();
    },
  };
  return base;
}
