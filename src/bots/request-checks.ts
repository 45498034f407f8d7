/**
 * The checks a request passes, cheapest first: the chat, the queue and the user's limits before
 * anything is downloaded; ffprobe after (it decides what the file is, never its name). Also where
 * downloads wait and how long.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { inputLimits, probeVideo, type VideoInfo } from '../media/probe.js';
import { checkLimits, pruneInFlight } from '../queue/limits.js';
import type { Requester } from '../queue/jobs.js';
import type { Service } from '../service/context.js';

const INCOMING_MAX_AGE_MS = 6 * 3600 * 1000;

/** Cheap refusals before downloading anything (allowed chats, full queue, the user's limits). */
export async function precheck(service: Service, requester: Requester): Promise<void> {
  await pruneInFlight(service.redis, service.config.queue.prefix, requester, async (id) => {
    const job = await service.queues.enhance.getJob(id);
    if (!job) return false;
    const state = await job.getState();
    return state !== 'completed' && state !== 'failed';
  });
  await checkLimits(service.redis, service.config.queue.prefix, service.config, requester, { waiting: await service.queues.enhance.getJobCountByTypes('waiting', 'prioritized') });
}

/** The downloaded file is a video within the limits, or this throws the reason. */
export function checkVideo(service: Service, file: string): Promise<VideoInfo> {
  return probeVideo(file, inputLimits(service.config.pipeline));
}

/** Pure: a fresh name for a download, keeping only a short, plain extension of the user's name. */
export function incomingName(name: string, now = Date.now()): string {
  const ext = (/\.[A-Za-z0-9]{1,8}$/.exec(name)?.[0] ?? '.bin').toLowerCase();
  return `${now}-${randomBytes(6).toString('hex')}${ext}`;
}

/** A temp file for a download, inside `dir`. */
export async function incomingPath(dir: string, name: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  return path.join(dir, incomingName(name));
}

/** Removes the plain files in `dir` older than `maxAgeMs` (downloads whose menu was abandoned). */
export async function sweepOld(dir: string, now = Date.now(), maxAgeMs = INCOMING_MAX_AGE_MS): Promise<void> {
  const files = await readdir(dir).catch(() => [] as string[]);
  for (const f of files) {
    const p = path.join(dir, f);
    const st = await stat(p).catch(() => null);
    if (st?.isFile() && now - st.mtimeMs > maxAgeMs) await rm(p, { force: true });
  }
}
