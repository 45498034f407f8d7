/**
 * Putting a request on the queue and following it: the first job from a menu, "Another
 * background" (the same kept input, a new background) and "Render all" after a preview. Where the
 * user may ask for more later (keep cut-out, preview), the bot keeps a copy of the input beside its
 * downloads: the queue removes a job's own input when the job ends. With a kept cut-out of the same
 * input, the worker re-composes instead of running the whole pipeline again (issue 17); either way
 * the bot only submits, it never runs ffmpeg itself.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, link, mkdir, rm, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import type { VideoInfo } from '../media/probe.js';
import type { EnhanceOptions, JobProgress, Requester } from '../queue/jobs.js';
import { submitEnhance } from '../queue/producer.js';
import type { PressResult, Presser } from './chat-ui.js';
import { keptDirOf, type FlowDeps } from './flow-deps.js';
import { jobButtons, type ProgressTracker } from './progress.js';
import type { KeptJob } from './sessions.js';
import { lines, type Rich } from './rich.js';
import { botTexts, reasonText, statusLine } from './texts.js';
import { backgroundLabel, type Locale } from '../i18n/messages.js';

export interface Submission {
  file: string;
  /** A fresh download is moved into the job; a kept input is copied (it may be asked for again). */
  move: boolean;
  name: string;
  /** With messageId: the status message this job edits. */
  requester: Requester & { messageId: string };
  background: string;
  options: Partial<EnhanceOptions>;
  /** The status message's first line. */
  head: Rich;
  /** The bot's probe of `file`, so the producer does not probe it again. */
  probe?: VideoInfo;
}

/** Pure: whether the user may come back to this job's input (Another background, Render all). */
export const keepsInput = (options: Partial<EnhanceOptions>) => Boolean(options.keepCutout || options.preview);

/** A kept copy of a download: a hard link where it can be (no extra space), else a copy. */
async function keepCopy(d: FlowDeps, file: string): Promise<string> {
  const dir = keptDirOf(d.opts);
  await mkdir(dir, { recursive: true });
  const kept = path.join(dir, `${Date.now()}-${randomBytes(6).toString('hex')}${path.extname(file).toLowerCase()}`);
  await link(file, kept).catch(() => copyFile(file, kept));
  return kept;
}

/** Submits, records the kept input, and shows "queued" with a Cancel button. Throws the refusal. */
export async function submitTracked(d: FlowDeps, tracker: ProgressTracker, sub: Submission): Promise<string> {
  const keep = keepsInput(sub.options);
  const keptDir = keptDirOf(d.opts);
  const alreadyKept = path.dirname(sub.file) === keptDir;
  const kept = keep ? (alreadyKept ? sub.file : await keepCopy(d, sub.file)) : undefined;
  // Asked for again: its clock starts anew (the sweeper goes by age).
  if (kept && alreadyKept) await utimes(kept, new Date(), new Date()).catch(() => {});
  let jobId: string;
  let position: number | undefined;
  try {
    ({ jobId, position } = await submitEnhance(d.service.producer, {
      file: sub.file,
      name: sub.name,
      requester: sub.requester,
      background: sub.background,
      options: sub.options,
      move: sub.move,
      allowBackgroundPaths: false,
      probe: sub.probe,
    }));
  } catch (err) {
    if (kept && !alreadyKept) await rm(kept, { force: true });
    throw err;
  }
  if (kept) {
    const record: KeptJob = { keptInput: kept, name: sub.name, requester: sub.requester, background: sub.background, options: sub.options };
    await d.store.saveKept(jobId, record, d.service.config.storage.keepOutputsHours * 3600);
  }
  const { locale, chatId, messageId } = sub.requester;
  d.log.info({ jobId, chatId, options: sub.options }, 'job submitted');
  const progress: JobProgress = { stage: 'queued', percent: 0, fps: 0, etaS: null, ...(position ? { position } : {}) };
  await d.ui.edit(chatId, messageId, { text: botTexts(locale).status(progress, sub.head), locale, buttons: jobButtons(jobId, locale) });
  tracker.track(jobId, { chatId, messageId, locale, head: sub.head });
  return jobId;
}

/** The kept input of a delivered job, if the presser may use it and it is still there. */
export async function keptFor(d: FlowDeps, jobId: string, presser: Presser, locale: Locale): Promise<KeptJob | PressResult> {
  const t = botTexts(locale);
  const record = await d.store.loadKept(jobId);
  if (!record) return { text: t.cutoutGone, alert: true };
  if (record.requester.userId !== presser.userId && !(await presser.isAdmin())) return { text: t.notYourMenu, alert: true };
  if (!(await stat(record.keptInput).then(() => true, () => false))) return { text: t.cutoutGone, alert: true };
  return record;
}

/** "Render all" under a delivered preview: the same input and choices, the whole video, a new status message. */
export async function renderAll(d: FlowDeps, tracker: ProgressTracker, jobId: string, presser: Presser, locale: Locale): Promise<PressResult> {
  const record = await keptFor(d, jobId, presser, locale);
  if (!('keptInput' in record)) return record;
  const rl = record.requester.locale;
  const t = botTexts(rl);
  const head = t.statusHead({ name: record.name, background: backgroundLabel(record.background, rl) });
  const messageId = await d.ui.send(record.requester.chatId, { text: lines(head, statusLine(null, rl)), locale: rl });
  const { preview: _preview, ...options } = record.options;
  try {
    await submitTracked(d, tracker, { file: record.keptInput, move: false, name: record.name, requester: { ...record.requester, messageId }, background: record.background, options, head });
    return {};
  } catch (err) {
    d.log.info({ jobId, err: (err as Error).message }, 'render all refused');
    const reason = reasonText(err, rl);
    await d.ui.edit(record.requester.chatId, messageId, { text: t.failed(reason), locale: rl, buttons: [] });
    return { text: reason.slice(0, 190), alert: true };
  }
}
