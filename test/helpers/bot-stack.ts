/**
 * What the Telegram and Discord end-to-end stacks stand on: a service on the real Redis under a
 * queue prefix of its own (so files and runs never see each other's jobs), an in-process enhance
 * worker unless told otherwise, and a teardown that leaves nothing behind in Redis. The fake
 * platform and the bot are each test file's own.
 */
import { copyFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { openService, type Service } from '../../src/service/context.js';
import { startEnhanceWorker, type EnhanceWorker } from '../../src/queue/worker.js';
import { backgroundsDir } from '../../src/backgrounds/select.js';
import { ensureDefaultBackgrounds } from '../../src/backgrounds/library.js';
import type { Config } from '../../src/config/schema.js';
import { clips } from './media.js';
import { makeClip, testConfig } from './fixtures.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A background whose name needs escaping in HTML and in markdown. */
export const HTML_BG = 'rock&roll <live>';

/**
 * The 96x96 clip the bots are sent, and the background library of the data dir every stack of
 * `dir` shares, small (full-size defaults take a minute on 2 cores) and with HTML_BG in it.
 */
export async function botMedia(dir: string): Promise<string> {
  const clip = await makeClip(dir, 'clip.mp4', clips.girl, { seconds: 1, width: 96, height: 96, audio: false });
  const bgDir = backgroundsDir(testConfig(dir));
  await ensureDefaultBackgrounds(bgDir, { size: 96 });
  copyFileSync(path.join(bgDir, 'sunset.png'), path.join(bgDir, `${HTML_BG}.png`));
  return clip;
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

export async function openBotService(
  dir: string,
  opts: { platform: 'telegram' | 'discord'; prefix: string; env: Record<string, string>; worker?: boolean; tweak?: (c: Config) => void },
): Promise<BotService> {
  const prefix = `${opts.prefix}-${randomBytes(4).toString('hex')}`;
  const config = testConfig(dir, {
    REDIS_URL,
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
