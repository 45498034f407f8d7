/**
 * Following a job on its status message: one poll loop per job (queue place while waiting, stage
 * and percent while running) until it ends; delivery then writes the last word. After a restart
 * the platform's unfinished jobs are picked up again from the queue.
 */
import { backgroundLabel, type Locale } from '../i18n/messages.js';
import { progressSchema, requesterSchema, type JobProgress } from '../queue/jobs.js';
import { queuePosition } from '../queue/queues.js';
import type { FlowDeps } from './flow-deps.js';
import { encodeCallback, type Button } from './menu.js';
import type { Rich } from './rich.js';
import { botTexts } from './texts.js';

export interface TrackedWhere {
  chatId: string;
  messageId: string;
  locale: Locale;
  head: Rich;
}

interface Tracked extends TrackedWhere {
  timer?: NodeJS.Timeout;
  stopped: boolean;
}

/** The button under a running job's status. */
export function jobButtons(jobId: string, locale: Locale): Button[][] {
  return [[{ text: `✖️ ${botTexts(locale).cancelJob}`, data: encodeCallback({ scope: 'job', jobId, action: { kind: 'cancelJob' } }) }]];
}

/** Pure: what a job's state in the queue shows as its progress. */
export function progressOf(state: string, rawProgress: unknown, position: number | undefined): JobProgress {
  if (state === 'active') {
    const p = progressSchema.safeParse(rawProgress);
    return p.success ? p.data : { stage: 'decode', percent: 0, fps: 0, etaS: null };
  }
  return { stage: 'queued', percent: 0, fps: 0, etaS: null, ...(position ? { position } : {}) };
}

export class ProgressTracker {
  private readonly tracked = new Map<string, Tracked>();
  private closed = false;

  constructor(private readonly d: FlowDeps) {}

  /** Follows a job on its status message until it ends (delivery then writes the last word). */
  track(jobId: string, where: TrackedWhere): void {
    if (this.closed || this.tracked.has(jobId)) return;
    const entry: Tracked = { ...where, stopped: false };
    this.tracked.set(jobId, entry);
    const { service, ui, log, opts } = this.d;
    const tick = async () => {
      if (entry.stopped) return;
      try {
        const job = await service.queues.enhance.getJob(jobId);
        const state = job ? await job.getState() : 'unknown';
        if (!job || state === 'completed' || state === 'failed' || state === 'unknown') return this.untrack(jobId);
        const position = state === 'active' ? undefined : await queuePosition(service.queues.enhance, jobId);
        const progress = progressOf(state, job.progress, position);
        if (entry.stopped) return;
        const t = botTexts(entry.locale);
        // Not awaited: a throttled edit must not hold up the next poll.
        ui.edit(entry.chatId, entry.messageId, { text: t.status(progress, entry.head), locale: entry.locale, buttons: jobButtons(jobId, entry.locale) }).catch((err: unknown) =>
          log.warn({ jobId, err }, 'status edit failed'),
        );
      } catch (err) {
        log.warn({ jobId, err }, 'progress poll failed');
      }
      if (!entry.stopped) entry.timer = setTimeout(() => void tick(), opts.pollIntervalMs);
    };
    entry.timer = setTimeout(() => void tick(), opts.pollIntervalMs);
  }

  untrack(jobId: string): void {
    const entry = this.tracked.get(jobId);
    if (!entry) return;
    entry.stopped = true;
    if (entry.timer) clearTimeout(entry.timer);
    this.tracked.delete(jobId);
  }

  isTracking(jobId: string): boolean {
    return this.tracked.has(jobId);
  }

  /** After a restart: follow this platform's jobs that are still waiting or running. */
  async resume(): Promise<void> {
    const jobs = await this.d.service.queues.enhance.getJobs(['waiting', 'active', 'delayed', 'prioritized'], 0, 500);
    for (const job of jobs) {
      const r = requesterSchema.safeParse((job?.data as { requester?: unknown })?.requester);
      if (!job?.id || !r.success || r.data.platform !== this.d.opts.platform || !r.data.messageId) continue;
      const t = botTexts(r.data.locale);
      const data = job.data as { input?: { name?: string }; background?: string };
      const head = t.statusHead({ name: String(data.input?.name ?? ''), background: backgroundLabel(String(data.background ?? ''), r.data.locale) });
      this.track(job.id, { chatId: r.data.chatId, messageId: r.data.messageId, locale: r.data.locale, head });
    }
  }

  close(): void {
    this.closed = true;
    for (const id of [...this.tracked.keys()]) this.untrack(id);
  }
}
