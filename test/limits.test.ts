import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import type { Requester } from '../src/queue/jobs.js';
import {
  checkLimits,
  dayKey,
  inFlightJobs,
  inFlightKey,
  pruneInFlight,
  releaseSlot,
  reserveSlot,
  secondsUntilUtcMidnight,
  ServiceRefusal,
  userUsage,
} from '../src/queue/limits.js';

/** The machine's Redis on 6379 (REDIS_URL to use another), a prefix of our own, removed afterwards. */
const url = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const prefix = `dltest-limits-${randomBytes(4).toString('hex')}`;
let redis: Redis;

beforeAll(async () => {
  redis = new Redis(url, { maxRetriesPerRequest: null });
  await redis.ping();
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

function config(limits: Partial<Config['limits']> = {}): Config {
  const c = structuredClone(loadConfig({ env: {} }));
  c.limits = { perUserInFlight: 2, perUserPerDay: 20, maxQueueLength: 50, allowedChats: [], ...limits };
  return c;
}

let n = 0;
function user(patch: Partial<Requester> = {}): Requester {
  n += 1;
  return { platform: 'telegram', chatId: `chat-${n}`, userId: `user-${n}`, locale: 'en', ...patch };
}

async function refusal(p: Promise<unknown>): Promise<ServiceRefusal> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ServiceRefusal);
  return err as ServiceRefusal;
}

const idle = { waiting: 0 };

describe('checkLimits', () => {
  it('lets anyone in when the allow list is empty', async () => {
    await expect(checkLimits(redis, prefix, config(), user(), idle)).resolves.toBeUndefined();
  });

  it('allows listed chats and Discord servers only (bare or platform-qualified), never refuses the CLI', async () => {
    const c = config({ allowedChats: ['-100123', 'discord:555'] });
    await expect(checkLimits(redis, prefix, c, user({ chatId: '-100123' }), idle)).resolves.toBeUndefined();
    await expect(checkLimits(redis, prefix, c, user({ platform: 'discord', chatId: 'chan-1', guildId: '555' }), idle)).resolves.toBeUndefined();
    await expect(checkLimits(redis, prefix, c, user({ platform: 'cli', chatId: 'myhost' }), idle)).resolves.toBeUndefined();

    const r = await refusal(checkLimits(redis, prefix, c, user({ chatId: '-100999' }), idle));
    expect(r).toMatchObject({ code: 'CHAT_NOT_ALLOWED', params: { chatId: '-100999' } });
    expect(r.retryAfterS).toBeUndefined();
    expect(r.message).toMatch(/not allowed/);
    // "discord:555" does not let a Telegram chat called 555 in.
    await refusal(checkLimits(redis, prefix, c, user({ chatId: '555' }), idle));
    await refusal(checkLimits(redis, prefix, c, user({ platform: 'discord', chatId: 'chan-2', guildId: '556' }), idle));
  });

  it('refuses when the queue is full, asking to retry in about a minute', async () => {
    const c = config({ maxQueueLength: 3 });
    await expect(checkLimits(redis, prefix, c, user(), { waiting: 2 })).resolves.toBeUndefined();
    const r = await refusal(checkLimits(redis, prefix, c, user(), { waiting: 3 }));
    expect(r).toMatchObject({ code: 'QUEUE_FULL', retryAfterS: 60, params: { limit: 3, waiting: 3, retryAfterS: 60 } });
    expect(r.message).toMatch(/queue is full .*about a minute/);
  });
});

describe('per-user limits', () => {
  it('counts jobs in flight, refuses beyond the limit and frees slots on release', async () => {
    const c = config({ perUserInFlight: 2 });
    const u = user();
    expect(await reserveSlot(redis, prefix, c, u, 'a')).toEqual({ reserved: true, inFlight: 1, today: 1 });
    // Reserving the same job again counts nothing.
    expect(await reserveSlot(redis, prefix, c, u, 'a')).toEqual({ reserved: false, inFlight: 1, today: 1 });
    await reserveSlot(redis, prefix, c, u, 'b');
    expect(await inFlightJobs(redis, prefix, u)).toEqual(['a', 'b']);

    const busy = await refusal(reserveSlot(redis, prefix, c, u, 'c'));
    expect(busy).toMatchObject({ code: 'USER_BUSY', params: { limit: 2, inFlight: 2 } });
    expect(busy.message).toMatch(/already have 2 videos in progress/);
    expect((await refusal(checkLimits(redis, prefix, c, u, idle))).code).toBe('USER_BUSY');
    // Another user is not affected.
    await expect(checkLimits(redis, prefix, c, user(), idle)).resolves.toBeUndefined();

    expect(await releaseSlot(redis, prefix, u, 'a')).toBe(true);
    expect(await releaseSlot(redis, prefix, u, 'a')).toBe(false);
    await expect(checkLimits(redis, prefix, c, u, idle)).resolves.toBeUndefined();
    expect(await reserveSlot(redis, prefix, c, u, 'c')).toMatchObject({ reserved: true, inFlight: 2, today: 3 });
    expect(await userUsage(redis, prefix, u)).toEqual({ inFlight: 2, today: 3 });
  });

  it('prunes slots of jobs that no longer exist', async () => {
    const c = config();
    const u = user();
    await reserveSlot(redis, prefix, c, u, 'gone');
    await reserveSlot(redis, prefix, c, u, 'alive');
    expect(await pruneInFlight(redis, prefix, u, async (id) => id === 'alive')).toEqual(['gone']);
    expect(await inFlightJobs(redis, prefix, u)).toEqual(['alive']);
  });

  it('enforces the daily limit per UTC day, with retryAfterS until midnight UTC', async () => {
    const c = config({ perUserPerDay: 3, perUserInFlight: 10 });
    const u = user();
    const now = Date.UTC(2026, 2, 14, 21, 30, 0); // 21:30 UTC: 2 h 30 min to midnight
    for (const id of ['d1', 'd2', 'd3']) {
      await reserveSlot(redis, prefix, c, u, id, now);
      await releaseSlot(redis, prefix, u, id); // finished: the day's count stays
    }
    const r = await refusal(reserveSlot(redis, prefix, c, u, 'd4', now));
    expect(r).toMatchObject({ code: 'USER_DAILY_LIMIT', retryAfterS: 9000, params: { limit: 3, today: 3, retryAfterS: 9000 } });
    expect(r.message).toMatch(/today's limit of 3 videos; try again in 2 h 30 min/);
    expect(await refusal(checkLimits(redis, prefix, c, u, idle, now + 1000))).toMatchObject({ code: 'USER_DAILY_LIMIT', retryAfterS: 8999 });

    // The counter lives about two days; the next UTC day starts from zero.
    const ttl = await redis.ttl(dayKey(prefix, u, now));
    expect(ttl).toBeGreaterThan(47 * 3600);
    expect(ttl).toBeLessThanOrEqual(48 * 3600);
    const tomorrow = Date.UTC(2026, 2, 15, 0, 0, 1);
    await expect(checkLimits(redis, prefix, c, u, idle, tomorrow)).resolves.toBeUndefined();
    expect(await reserveSlot(redis, prefix, c, u, 'd4', tomorrow)).toMatchObject({ reserved: true, today: 1 });
  });

  it('computes seconds until UTC midnight', () => {
    expect(secondsUntilUtcMidnight(Date.UTC(2026, 0, 1, 0, 0, 0))).toBe(86400);
    expect(secondsUntilUtcMidnight(Date.UTC(2026, 0, 1, 23, 59, 59, 500))).toBe(1);
    expect(secondsUntilUtcMidnight(Date.UTC(2026, 11, 31, 12, 0, 0))).toBe(43200);
  });

  it('lets exactly 2 of 10 simultaneous reservations through with a limit of 2 (atomic check + reserve)', async () => {
    const c = config({ perUserInFlight: 2, perUserPerDay: 100 });
    const u = user();
    // Ten separate connections, as ten bot handlers or producers would have.
    const conns = Array.from({ length: 10 }, () => new Redis(url, { maxRetriesPerRequest: null }));
    try {
      await Promise.all(conns.map((r) => r.ping()));
      const results = await Promise.allSettled(conns.map((r, i) => reserveSlot(r, prefix, c, u, `job-${i}`)));
      const ok = results.filter((x) => x.status === 'fulfilled');
      const refused = results.filter((x): x is PromiseRejectedResult => x.status === 'rejected');
      expect(ok).toHaveLength(2);
      expect(refused).toHaveLength(8);
      for (const x of refused) expect(x.reason).toMatchObject({ code: 'USER_BUSY' });
      expect(await redis.zcard(inFlightKey(prefix, u))).toBe(2);
      expect(await userUsage(redis, prefix, u)).toEqual({ inFlight: 2, today: 2 });

      // The same for the daily limit.
      const d = config({ perUserInFlight: 100, perUserPerDay: 2 });
      const v = user();
      const daily = await Promise.allSettled(conns.map((r, i) => reserveSlot(r, prefix, d, v, `day-${i}`)));
      expect(daily.filter((x) => x.status === 'fulfilled')).toHaveLength(2);
      expect((await userUsage(redis, prefix, v)).today).toBe(2);
    } finally {
      await Promise.all(conns.map((r) => r.quit()));
    }
  });

  it('keeps its keys under `${prefix}:user:${platform}:${userId}:`', async () => {
    const u = user({ platform: 'discord', userId: '42' });
    await reserveSlot(redis, prefix, config(), u, 'k1', Date.UTC(2026, 5, 1, 12));
    expect((await redis.keys(`${prefix}:user:discord:42:*`)).sort()).toEqual([
      `${prefix}:user:discord:42:day:2026-06-01`,
      `${prefix}:user:discord:42:inflight`,
    ]);
  });
});
