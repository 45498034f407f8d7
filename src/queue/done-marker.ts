import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { resultSchema, type JobResult } from './jobs.js';

/**
 * A job's output is complete when a done-marker sits beside it: `<output>.done.json`, written by
 * rename (atomic on one file system) after the pipeline returned, naming the job, the output's size
 * and the result. A job that runs again after its output was written (its lock lost in a Redis outage,
 * its worker killed before BullMQ recorded it done) finds the marker and finishes without computing
 * again. A marker whose output is missing or of another size is ignored.
 */
const markerSchema = z.object({ jobId: z.string(), bytes: z.number().int().nonnegative(), result: resultSchema });

export const doneMarkerPath = (outputAbs: string): string => `${outputAbs}.done.json`;

export async function writeDoneMarker(outputAbs: string, jobId: string, result: JobResult): Promise<void> {
  const target = doneMarkerPath(outputAbs);
  const tmp = `${target}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, JSON.stringify({ jobId, bytes: result.bytes, result }));
    await rename(tmp, target);
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * The recorded result when the marker belongs to `jobId`, its output is there at its size and every
 * file of `alsoNeeded` (a kept cut-out) exists; else null.
 */
export async function readDoneMarker(outputAbs: string, jobId: string, alsoNeeded: string[] = []): Promise<JobResult | null> {
  let raw: string;
  try {
    raw = await readFile(doneMarkerPath(outputAbs), 'utf8');
  } catch {
    return null;
  }
  let parsed;
  try {
    parsed = markerSchema.safeParse(JSON.parse(raw));
  } catch {
    return null;
  }
  if (!parsed.success || parsed.data.jobId !== jobId) return null;
  try {
    if ((await stat(outputAbs)).size !== parsed.data.bytes) return null;
    for (const f of alsoNeeded) await stat(f);
  } catch {
    return null;
  }
  return parsed.data.result;
}
