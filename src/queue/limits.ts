import type { Redis } from 'ioredis';
import type { Config } from '../config/schema.js';
import type { Requester } from './jobs.js';
import { ServiceRefusal, formatDuration } from '../errors.js';

/**
 * Limits the producer enforces before it enqueues (open-source BullMQ has no per-user fairness):
 * allowed chats, the queue length cap, jobs in flight per user and jobs per user per UTC day.
 *
 * Flow for one request:
 *   checkLimits(...)        cheap early refusal, before downloading the user's file (reserves nothing)
 *   storage.ensureFree(...) disk
 *   reserveSlot(...)        atomic check + reservation of all three limits (one Lua script): the
 *                           queue's length, the user's jobs in flight, the user's jobs today
 *   queue.add(...)          then enqueued(...); on failure: releaseSlot(...)
 *   releaseSlot(...)        when the job completes, fails for good or is cancelled (idempotent)
 *
 * Keys (all under the queue prefix, so two installations can share a server):
 *   `${prefix}:user:${platform}:${userId}:inflight`          sorted set: jobId → reserved at (ms)
 *   `${prefix}:user:${platform}:${userId}:day:${YYYY-MM-DD}` counter, expires after two days
 */

// The refusals are errors every layer may raise (storage's DISK_FULL): they live in src/errors.ts.
export { REFUSAL_CODES, ServiceRefusal, formatDuration, isServiceRefusal, type RefusalCode } from '../errors.js';

/** How long a full queue asks people to wait. */
export const QUEUE_FULL_RETRY_S = 60;
/** Day counters outlive their day a little, whatever the server's clock does. */
const DAY_KEY_TTL_S = 2 * 24 * 3600;
/** An in-flight set untouched this long belongs to nobody any more (its jobs were lost, not released). */
const INFLIGHT_KEY_TTL_S = 7 * 24 * 3600;

export function userKey(prefix: string, requester: Pick<Requester, 'platform' | 'userId'>): string {
  return `${prefix}:user:${requester.platform}:${requester.userId}`;
}
export function inFlightKey(prefix: string, requester: Pick<Requester, 'platform' | 'userId'>): string {
  return `${userKey(prefix, requester)}:inflight`;
}
/** The UTC day of `now` as YYYY-MM-DD. */
export function utcDay(now: number): string {
  return new Date(now).toISOString().slice(0, 10);
}
export function dayKey(prefix: string, requester: Pick<Requester, 'platform' | 'userId'>, now: number): string {
  return `${userKey(prefix, requester)}:day:${utcDay(now)}`;
}
/** Seconds from `now` to the next UTC midnight (at least 1). */
export function secondsUntilUtcMidnight(now: number): number {
  const d = new Date(now);
  const midnight = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
  return Math.max(1, Math.ceil((midnight - now) / 1000));
}

// --- refusals ----------------------------------------------------------------------------------

function chatNotAllowed(requester: Requester): ServiceRefusal {
  const chatId = requester.guildId ?? requester.chatId;
  return new ServiceRefusal('CHAT_NOT_ALLOWED', 'This chat is not allowed to use dancelift; ask its administrator.', { chatId });
}

function queueFull(limit: number, waiting: number): ServiceRefusal {
  return new ServiceRefusal(
    'QUEUE_FULL',
    `The queue is full (${waiting} videos waiting, the limit is ${limit}); please try again in about a minute.`,
    { limit, waiting },
    QUEUE_FULL_RETRY_S,
  );
}

function userBusy(limit: number, inFlight: number): ServiceRefusal {
  return new ServiceRefusal(
    'USER_BUSY',
    `You already have ${inFlight} video${inFlight === 1 ? '' : 's'} in progress (the limit is ${limit}); send the next one when one of them is done.`,
    { limit, inFlight },
  );
}

function dailyLimit(limit: number, today: number, now: number): ServiceRefusal {
  const retry = secondsUntilUtcMidnight(now);
  return new ServiceRefusal(
    'USER_DAILY_LIMIT',
    `You have reached today's limit of ${limit} video${limit === 1 ? '' : 's'}; try again in ${formatDuration(retry)} (after midnight UTC).`,
    { limit, today },
    retry,
  );
}

// --- checks ------------------------------------------------------------------------------------

/**
 * Whether the chat (or Discord server) may use the service: `limits.allowedChats` empty = all.
 * Entries match the chat id or guild id, bare ("-1001234") or with the platform ("telegram:-1001234").
 * The local CLI is never refused by it.
 */
export function chatAllowed(config: Config, requester: Requester): boolean {
  const allowed = config.limits.allowedChats;
  if (allowed.length === 0 || requester.platform === 'cli') return true;
  const ids = [requester.chatId, requester.guildId].filter((x): x is string => typeof x === 'string' && x !== '');
  return ids.some((id) => allowed.includes(id) || allowed.includes(`${requester.platform}:${id}`));
}

export interface UserUsage {
  inFlight: number;
  today: number;
}

/** A user's jobs in flight and jobs counted today. */
export async function userUsage(redis: Redis, prefix: string, requester: Requester, now = Date.now()): Promise<UserUsage> {
  const [inFlight, today] = await Promise.all([redis.zcard(inFlightKey(prefix, requester)), redis.get(dayKey(prefix, requester, now))]);
  return { inFlight, today: Number(today ?? 0) };
}

/**
 * Every limit, read-only (reserves nothing): throws a ServiceRefusal. Run it before the expensive part
 * of a request (downloading the file); `reserveSlot` checks the per-user limits again, atomically.
 * `queueCounts.waiting`: the enhance queue's waiting jobs (waiting, paused and prioritized: every job carries a priority).
 */
export async function checkLimits(
  redis: Redis,
  prefix: string,
  config: Config,
  requester: Requester,
  queueCounts: { waiting: number },
  now = Date.now(),
): Promise<void> {
  if (!chatAllowed(config, requester)) throw chatNotAllowed(requester);
  const { maxQueueLength, perUserInFlight, perUserPerDay } = config.limits;
  if (queueCounts.waiting >= maxQueueLength) throw queueFull(maxQueueLength, queueCounts.waiting);
  const usage = await userUsage(redis, prefix, requester, now);
  // The daily limit first: "come back tomorrow" is the more useful answer when both apply.
  if (usage.today >= perUserPerDay) throw dailyLimit(perUserPerDay, usage.today, now);
  if (usage.inFlight >= perUserInFlight) throw userBusy(perUserInFlight, usage.inFlight);
}

/**
 * The enhance queue as the reservation script sees it: BullMQ's own keys for its waiting jobs (the
 * `wait` and `paused` lists, the `prioritized` set), the prefix of its job hashes, and a sorted set of
 * our own holding the jobs reserved but not yet added (id → reserved at, ms).
 */
export interface QueueRef {
  wait: string;
  paused: string;
  prioritized: string;
  /** `${prefix}:enhance:`: a job's hash is this plus its id. */
  jobKeyPrefix: string;
  pending: string;
}

/** The QueueRef of a BullMQ queue (its `keys` and `toKey`). */
export function queueRef(queue: { keys: Record<string, string>; toKey(type: string): string }): QueueRef {
  return {
    wait: queue.keys.wait,
    paused: queue.keys.paused,
    prioritized: queue.keys.prioritized,
    jobKeyPrefix: queue.toKey(''),
    pending: queue.toKey('dancelift-reserved'),
  };
}

/** A reservation whose job never appeared in the queue (its producer died) stops counting after this. */
const PENDING_STALE_MS = 5 * 60 * 1000;

/**
 * Every limit of a submit, checked and taken in one script, so that a burst of parallel submits
 * cannot all see the same free room (reading the queue's length beside the script let 16 of 50 in
 * under a limit of 10).
 * KEYS: in-flight set, day counter, wait list, paused list, prioritized set, pending set.
 * ARGV: jobId, max in flight, max per day, now (ms), day TTL, set TTL, max queue length (-1: none),
 *       job key prefix, pending stale ms.
 * Returns {status, inFlight, today, waiting}: 1 reserved, 0 already reserved (nothing counted twice),
 * -1 busy, -2 daily limit, -3 queue full. `waiting` counts the queue's waiting jobs plus the
 * reservations whose job is not in the queue yet. Reading job hashes by a key not in KEYS is fine
 * on a standalone server, which is what BullMQ's scripts assume too (one hash tag per queue).
 */
const RESERVE_SCRIPT = `
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return {0, redis.call('ZCARD', KEYS[1]), tonumber(redis.call('GET', KEYS[2]) or '0'), 0}
end
local now = tonumber(ARGV[4])
local inflight = redis.call('ZCARD', KEYS[1])
local today = tonumber(redis.call('GET', KEYS[2]) or '0')
local maxQueue = tonumber(ARGV[7])
local waiting = 0
if maxQueue >= 0 then
  local pending = redis.call('ZRANGE', KEYS[6], 0, -1, 'WITHSCORES')
  for i = 1, #pending, 2 do
    local id = pending[i]
    if tonumber(pending[i + 1]) < now - tonumber(ARGV[9]) or redis.call('EXISTS', ARGV[8] .. id) == 1 then
      redis.call('ZREM', KEYS[6], id)
    else
      waiting = waiting + 1
    end
  end
  waiting = waiting + redis.call('LLEN', KEYS[3]) + redis.call('LLEN', KEYS[4]) + redis.call('ZCARD', KEYS[5])
  if waiting >= maxQueue then return {-3, inflight, today, waiting} end
end
if today >= tonumber(ARGV[3]) then return {-2, inflight, today, waiting} end
if inflight >= tonumber(ARGV[2]) then return {-1, inflight, today, waiting} end
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[6])
today = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[5])
if maxQueue >= 0 then
  redis.call('ZADD', KEYS[6], now, ARGV[1])
  waiting = waiting + 1
end
return {1, inflight + 1, today, waiting}
`;

type ReserveCommand = (...args: Array<string | number>) => Promise<[number, number, number, number]>;
const defined = new WeakSet<Redis>();

function reserveCommand(redis: Redis): ReserveCommand {
  if (!defined.has(redis)) {
    // defineCommand sends EVALSHA and falls back to EVAL once per server (script cache).
    redis.defineCommand('danceliftReserve', { numberOfKeys: 6, lua: RESERVE_SCRIPT });
    defined.add(redis);
  }
  const cmd = (redis as unknown as { danceliftReserve: ReserveCommand }).danceliftReserve;
  return cmd.bind(redis);
}

export interface Reservation {
  /** False when this job already held a slot (a repeated call counts nothing). */
  reserved: boolean;
  inFlight: number;
  today: number;
}

/**
 * Atomically checks the limits and takes a slot for `jobId`: adds it to the user's in-flight set,
 * counts it for today (UTC) and, given the queue, checks `maxQueueLength` against the waiting jobs
 * plus the reservations not yet enqueued and holds a place among them until `enqueued` (or
 * `releaseSlot`). Two simultaneous requests cannot both take the last slot or the last place.
 * Calling it again for the same job is harmless. Throws QUEUE_FULL, USER_DAILY_LIMIT or USER_BUSY.
 */
export async function reserveSlot(
  redis: Redis,
  prefix: string,
  config: Config,
  requester: Requester,
  jobId: string,
  now = Date.now(),
  queue?: QueueRef,
): Promise<Reservation> {
  const { perUserInFlight, perUserPerDay, maxQueueLength } = config.limits;
  // Without a queue the three queue keys are placeholders the script does not read.
  const none = `${prefix}:no-queue`;
  const [status, inFlight, today, waiting] = await reserveCommand(redis)(
    inFlightKey(prefix, requester),
    dayKey(prefix, requester, now),
    queue?.wait ?? none,
    queue?.paused ?? none,
    queue?.prioritized ?? none,
    queue?.pending ?? none,
    jobId,
    perUserInFlight,
    perUserPerDay,
    now,
    DAY_KEY_TTL_S,
    INFLIGHT_KEY_TTL_S,
    queue ? maxQueueLength : -1,
    queue?.jobKeyPrefix ?? none,
    PENDING_STALE_MS,
  );
  if (status === -3) throw queueFull(maxQueueLength, waiting);
  if (status === -2) throw dailyLimit(perUserPerDay, today, now);
  if (status === -1) throw userBusy(perUserInFlight, inFlight);
  return { reserved: status === 1, inFlight, today };
}

/** The job is in the queue now: its place counts through BullMQ's own lists from here on. */
export async function enqueued(redis: Redis, queue: QueueRef, jobId: string): Promise<void> {
  await redis.zrem(queue.pending, jobId);
}

/**
 * Frees the job's slot (the day's count stays). Idempotent: call it whenever a job completes, fails for
 * good or is cancelled. Returns whether the job held a slot.
 */
export async function releaseSlot(
  redis: Redis,
  prefix: string,
  requester: Pick<Requester, 'platform' | 'userId'>,
  jobId: string,
  queue?: QueueRef,
): Promise<boolean> {
  if (queue) await redis.zrem(queue.pending, jobId);
  return (await redis.zrem(inFlightKey(prefix, requester), jobId)) > 0;
}

/** The jobs holding the user's slots, oldest first. */
export async function inFlightJobs(redis: Redis, prefix: string, requester: Pick<Requester, 'platform' | 'userId'>): Promise<string[]> {
  return redis.zrange(inFlightKey(prefix, requester), 0, -1);
}

/**
 * Frees the slots of jobs that no longer exist (removed from the queue by hand, or lost), so that a
 * user is not refused forever. `exists` asks the queue (e.g. `async (id) => (await queue.getJob(id)) != null`
 * and not finished). Returns the ids it freed. Worth calling before a USER_BUSY refusal is sent.
 */
export async function pruneInFlight(
  redis: Redis,
  prefix: string,
  requester: Pick<Requester, 'platform' | 'userId'>,
  exists: (jobId: string) => Promise<boolean>,
): Promise<string[]> {
  const freed: string[] = [];
  for (const id of await inFlightJobs(redis, prefix, requester)) {
    if (!(await exists(id)) && (await releaseSlot(redis, prefix, requester, id))) freed.push(id);
  }
  return freed;
}
