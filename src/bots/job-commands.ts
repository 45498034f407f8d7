/**
 * The commands about jobs: /cancel, /queue (the user's own, or every job for admins), /stats, and
 * the Cancel button under a running job.
 */
import type { Locale } from '../i18n/messages.js';
import { cancelJob, cancelTookEffect } from '../queue/cancel.js';
import { requesterSchema, type JobProgress, type Requester } from '../queue/jobs.js';
import { inFlightJobs } from '../queue/limits.js';
import { queuePosition } from '../queue/queues.js';
import type { Service } from '../service/context.js';
import type { PressResult, Presser } from './chat-ui.js';
import type { FlowDeps } from './flow-deps.js';
import { progressOf } from './progress.js';
import { lines as onLines, type Rich } from './rich.js';
import { botTexts, statusLine } from './texts.js';

/** Whether a job has ended (or is gone). */
export async function jobEnded(service: Service, jobId: string): Promise<boolean> {
  const job = await service.queues.enhance.getJob(jobId);
  if (!job) return true;
  const state = await job.getState();
  return state === 'completed' || state === 'failed' || state === 'unknown';
}

/** The Cancel button: the requester or an admin. */
export async function pressCancel(d: FlowDeps, jobId: string, presser: Presser, locale: Locale): Promise<PressResult> {
  const t = botTexts(locale);
  const job = await d.service.queues.enhance.getJob(jobId);
  if (!job || (await jobEnded(d.service, jobId))) return { text: t.jobEnded };
  const owner = requesterSchema.safeParse((job.data as { requester?: unknown }).requester);
  if (!owner.success || (owner.data.userId !== presser.userId && !(await presser.isAdmin()))) return { text: t.notYourMenu, alert: true };
  const outcome = await cancelJob(d.service.cancel, jobId);
  d.log.info({ jobId, outcome }, 'cancel pressed');
  return { text: outcome === 'finished' || outcome === 'not-found' ? t.jobEnded : t.cancelling };
}

/** /cancel: every job of this user on this platform. */
export async function cancelAll(service: Service, requester: Requester): Promise<string> {
  const t = botTexts(requester.locale);
  const ids = await inFlightJobs(service.redis, service.config.queue.prefix, requester);
  let n = 0;
  for (const id of ids) {
    // "recorded": no live worker holds it, and the next one ends it unrun — cancelled all the same.
    if (cancelTookEffect(await cancelJob(service.cancel, id))) n++;
  }
  return n === 0 ? t.nothingToCancel : t.cancelledJobs(n);
}

/** /queue: the user's jobs with their state and place. */
export async function queueText(service: Service, requester: Requester): Promise<Rich> {
  const t = botTexts(requester.locale);
  const ids = await inFlightJobs(service.redis, service.config.queue.prefix, requester);
  const lines: Rich[] = [];
  for (const id of ids) {
    const job = await service.queues.enhance.getJob(id);
    if (!job) continue;
    const state = await job.getState();
    const name = String((job.data as { input?: { name?: string } }).input?.name ?? id);
    if (state === 'waiting' || state === 'prioritized') lines.push(t.queueLine({ name, state: 'waiting', position: await queuePosition(service.queues.enhance, id) }));
    else if (state === 'active') lines.push(t.queueLine({ name, state: statusLine(progressOf(state, job.progress, undefined), requester.locale) }));
    else if (state !== 'completed' && state !== 'failed') lines.push(t.queueLine({ name, state }));
  }
  return lines.length === 0 ? t.queueEmpty : onLines(...lines);
}

/** /stats: the queues at a glance. */
export async function statsText(service: Service, platform: Requester['platform'], locale: Locale): Promise<string> {
  // Every enhance job carries a BullMQ priority (previews first), so a queued one is 'prioritized'.
  const { prioritized = 0, ...counts } = await service.queues.enhance.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed');
  counts.waiting = (counts.waiting ?? 0) + prioritized;
  const deliveries = await service.queues.deliver(platform).getJobCounts('waiting', 'active', 'delayed', 'failed');
  return botTexts(locale).stats({ ...counts, deliveriesPending: (deliveries.waiting ?? 0) + (deliveries.active ?? 0) + (deliveries.delayed ?? 0), deliveriesFailed: deliveries.failed ?? 0 });
}

/** /queue for a platform's admins: every job waiting or running, in queue order. */
export async function queueOverview(service: Service, locale: Locale): Promise<Rich> {
  const queue = service.queues.enhance;
  const active = (await queue.getJobs(['active'], 0, 50, true)).filter(Boolean);
  const waiting = (await queue.getJobs(['waiting', 'prioritized'], 0, 50, true)).filter(Boolean);
  const line = (job: (typeof active)[number], progress: JobProgress) => {
    const r = requesterSchema.safeParse((job.data as { requester?: unknown }).requester);
    return {
      name: String((job.data as { input?: { name?: string } }).input?.name ?? job.id),
      user: r.success ? `${r.data.platform} ${r.data.userName ?? r.data.userId}` : '?',
      state: statusLine(progress, locale),
    };
  };
  const lines = [...active.map((job) => line(job, progressOf('active', job.progress, undefined))), ...waiting.map((job, i) => line(job, progressOf('waiting', null, i + 1)))];
  return botTexts(locale).queueOverview(lines);
}

