/**
 * The chat bots' flow, platform-neutral: a request is checked (limits before the download, ffprobe
 * after it), answered with the background menu, enqueued on Start, followed on one status message
 * and finally delivered. The platform adapter (src/bots/telegram/) only turns its updates into
 * calls here and implements ChatUi; it never talks to the queue itself.
 *
 * Menu sessions live in Redis (the user's downloaded file stays on this machine's disk), so a
 * restarted bot still understands the buttons of its menus; presses on one session are serialised
 * in-process so that a double-tapped Start submits once.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import type { Logger } from 'pino';
import { z } from 'zod';
import { type BackgroundEntry, backgroundsDir, listBackgrounds, probeBackgroundFile } from '../backgrounds/library.js';
import { backgroundLabel, localeFrom, type Locale } from '../i18n/messages.js';
import { probeVideo } from '../media/probe.js';
import { cancelJob, cancelTookEffect } from '../queue/cancel.js';
import { localeSchema, progressSchema, requesterSchema, type DeliverJobData, type JobProgress, type JobResult, type Requester } from '../queue/jobs.js';
import { checkLimits, inFlightJobs, pruneInFlight } from '../queue/limits.js';
import { submitEnhance } from '../queue/producer.js';
import { queuePosition } from '../queue/queues.js';
import type { Service } from '../service/context.js';
import { recompose } from '../pipeline/recompose.js';
import { RVM_VARIANTS } from '../machine/rvm-variants.js';
import { makeLink, publicBaseUrl } from '../web/links.js';
import { prepareDeliveryFor } from '../media/fit.js';
import type { BotLibrary } from './library-warmup.js';
import {
  applyMenuAction,
  encodeCallback,
  initialMenuState,
  menuKeyboard,
  menuReady,
  type Button,
  type Callback,
  type MenuBackground,
} from './menu.js';
import { botTexts, escapeHtml, reasonText, statsCaption, statusLine } from './texts.js';

export interface UiMessage {
  /** HTML (Telegram parse_mode HTML). */
  html: string;
  /** Inline buttons; an empty array removes them. */
  buttons?: Button[][];
  /** A result's timing, for platforms that show it apart from the text (Discord: an embed). */
  stats?: StatsInfo;
  /** A link button (Discord); platforms without one rely on the link written in `html`. */
  link?: { text: string; url: string };
}

/** What a stats caption is made of, for platforms that lay it out themselves. */
export interface StatsInfo {
  name: string;
  background: string;
  result: JobResult;
  locale: Locale;
  /** The line saying how it was delivered: as is, fitted to the limit, or link only. */
  delivery?: string;
}

export interface VideoMessage {
  file: string;
  fileName: string;
  width: number;
  height: number;
  durationS: number;
  thumbnail?: string;
  caption: string;
  replyTo?: string;
  buttons?: Button[][];
  stats?: StatsInfo;
  /** The signed download link of the full-quality file (Discord shows it as a button). */
  link?: string;
}

/** Thrown by ChatUi.sendVideo when the platform refuses the file for its size. */
export class UploadTooLargeError extends Error {}

/** What the flow needs from a chat platform. Edits are throttled and de-duplicated by the adapter. */
export interface ChatUi {
  /** `private`: a refusal meant for the requester only, where the platform can (Discord: ephemeral). */
  send(chatId: string, msg: UiMessage, opts?: { replyTo?: string; private?: boolean }): Promise<string>;
  /** Resolves once this text (or a newer one for the same message) is shown. */
  edit(chatId: string, messageId: string, msg: UiMessage): Promise<void>;
  sendVideo(chatId: string, video: VideoMessage): Promise<void>;
  sendPhoto(chatId: string, photo: { file: string; caption: string; replyTo?: string }): Promise<void>;
}

export interface FlowOptions {
  platform: Requester['platform'];
  ui: ChatUi;
  /** Larger outputs are sent as a link. */
  uploadLimitBytes: number;
  /** Where the limit depends on the place (Discord: the interaction's attachment_size_limit). */
  uploadLimitFor?: (requester: Requester) => number;
  /**
   * Over the limit, a link message that carries the stats and buttons (Discord's embed and link
   * button) instead of the link text followed by a smaller preview.
   */
  linkWithStats?: boolean;
  pollIntervalMs: number;
  menuPageSize: number;
  /** Where downloads wait for their menu: on the data dir's disk, so a job imports them by rename. */
  incomingDir: string;
  /** The background library, warmed up once at start-up (see library-warmup.ts). */
  library: BotLibrary;
  log: Logger;
}

/** Choices made with the request itself (Discord's command options). */
export interface MenuPreset {
  background?: string;
  scale?: 1 | 2 | 4;
  keepCutout?: boolean;
  /** Submit at once when a background is given: no menu. */
  start?: boolean;
}

const sessionSchema = z.object({
  id: z.string(),
  requester: requesterSchema,
  menuMessageId: z.string(),
  file: z.string(),
  name: z.string(),
  info: z.object({ durationS: z.number(), width: z.number(), height: z.number() }),
  backgrounds: z.array(z.string()),
  state: z.object({
    page: z.number().int(),
    background: z.number().int().nullable(),
    scale: z.union([z.literal(1), z.literal(2), z.literal(4)]),
    upscaleOnly: z.boolean(),
    keepCutout: z.boolean(),
    // Sessions saved before these options existed read as "not chosen".
    model: z.enum(['general', 'anime']).nullable().default(null),
    mattingModel: z.enum(RVM_VARIANTS).nullable().default(null),
  }),
  jobId: z.string().optional(),
  closed: z.boolean().default(false),
  /** "recompose": Another background for a finished job's kept cut-out (relative to outputs/). */
  mode: z.enum(['enhance', 'recompose']).default('enhance'),
  cutout: z.string().optional(),
  /** Set once a recompose has started (it runs here, not in the queue). */
  recomposing: z.boolean().default(false),
});

/** What "Another background" needs of a delivered job, kept as long as its outputs. */
const cutoutRecordSchema = z.object({ cutout: z.string(), name: z.string(), requester: requesterSchema });
type Session = z.infer<typeof sessionSchema>;

/** A menu nobody touched for this long is forgotten and its download removed. */
const SESSION_TTL_S = 24 * 3600;
const INCOMING_MAX_AGE_MS = 6 * 3600 * 1000;

export interface PressResult {
  /** A short answer to the press (a toast), or an alert when `alert`. */
  text?: string;
  alert?: boolean;
}

export interface Presser {
  userId: string;
  /** Asked only when the presser is not the requester (it costs an API call). */
  isAdmin(): Promise<boolean>;
}

interface Tracked {
  chatId: string;
  messageId: string;
  locale: Locale;
  head: string;
  timer?: NodeJS.Timeout;
  stopped: boolean;
}

export class BotFlow {
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly tracked = new Map<string, Tracked>();
  private closed = false;

  constructor(
    private readonly service: Service,
    private readonly opts: FlowOptions,
  ) {}

  private get prefix(): string {
    return `${this.service.config.queue.prefix}:bot:${this.opts.platform}`;
  }
  private sessionKey(id: string): string {
    return `${this.prefix}:menu:${id}`;
  }

  // --- languages ----------------------------------------------------------------------------

  /** The user's chosen language, else the one their client reports. */
  async localeOf(userId: string, clientLanguage?: string): Promise<Locale> {
    const saved = await this.service.redis.get(`${this.prefix}:lang:${userId}`);
    const parsed = localeSchema.safeParse(saved);
    return parsed.success ? parsed.data : localeFrom(clientLanguage);
  }
  async setLocale(userId: string, locale: Locale): Promise<void> {
    await this.service.redis.set(`${this.prefix}:lang:${userId}`, locale);
  }

  // --- a request ----------------------------------------------------------------------------

  /** Cheap refusals before downloading anything (allowed chats, full queue, the user's limits). */
  async precheck(requester: Requester): Promise<void> {
    const { service } = this;
    await pruneInFlight(service.redis, service.config.queue.prefix, requester, async (id) => {
      const job = await service.queues.enhance.getJob(id);
      if (!job) return false;
      const state = await job.getState();
      return state !== 'completed' && state !== 'failed';
    });
    await checkLimits(service.redis, service.config.queue.prefix, service.config, requester, { waiting: await service.queues.enhance.getWaitingCount() });
  }

  /** A temp file for a download, inside incomingDir. */
  async incomingPath(name: string): Promise<string> {
    await mkdir(this.opts.incomingDir, { recursive: true });
    const ext = (/\.[A-Za-z0-9]{1,8}$/.exec(name)?.[0] ?? '.bin').toLowerCase();
    return path.join(this.opts.incomingDir, `${Date.now()}-${randomBytes(6).toString('hex')}${ext}`);
  }

  /**
   * The downloaded file is checked (ffprobe decides what it is); bad input gets one message and
   * nothing is kept. A video gets the menu, as a reply to the user's message.
   */
  async offerMenu(req: { requester: Requester; file: string; name: string; replyTo?: string; preset?: MenuPreset }): Promise<void> {
    const { requester } = req;
    const t = botTexts(requester.locale);
    const log = this.opts.log.child({ chatId: requester.chatId, userId: requester.userId });
    let info;
    try {
      info = await probeVideo(req.file, { maxDurationS: this.service.config.pipeline.maxDurationS, maxLongSide: 4096, maxShortSide: 2160 });
    } catch (err) {
      await rm(req.file, { force: true });
      log.info({ err: (err as Error).message }, 'input refused');
      await this.opts.ui.send(requester.chatId, { html: t.failed(reasonText(err, requester.locale)) }, { replyTo: req.replyTo, private: true });
      return;
    }
    // Made at start-up; a request that came sooner waits for that run here, after its acknowledgement.
    const library = await this.opts.library.list();
    const names = library.map((b) => b.name);
    const def = names.findIndex((n) => n.toLowerCase() === this.service.config.backgrounds.default.toLowerCase());
    const id = randomBytes(5).toString('hex');
    const session: Session = {
      id,
      requester,
      menuMessageId: '',
      file: req.file,
      name: req.name,
      info: { durationS: info.durationS, width: info.width, height: info.height },
      backgrounds: names,
      state: initialMenuState(def >= 0 ? def : names.length > 0 ? 0 : null, this.opts.menuPageSize),
      closed: false,
      mode: 'enhance',
      recomposing: false,
    };
    const preset = req.preset;
    if (preset) {
      const picked = preset.background === undefined ? -1 : names.findIndex((n) => n.toLowerCase() === preset.background!.toLowerCase());
      if (picked >= 0) session.state = { ...session.state, background: picked, page: Math.floor(picked / this.opts.menuPageSize) };
      if (preset.scale !== undefined) session.state.scale = preset.scale;
      if (preset.keepCutout !== undefined) session.state.keepCutout = preset.keepCutout;
      // Everything was chosen with the command: no menu, straight to the queue.
      if (picked >= 0 && preset.start) {
        session.menuMessageId = await this.opts.ui.send(requester.chatId, { html: `${t.statusHead({ name: req.name, background: backgroundLabel(names[picked], requester.locale) })}\n${statusLine(null, requester.locale)}` }, { replyTo: req.replyTo });
        await this.saveSession(session);
        log.info({ session: id, name: req.name }, 'submitting without a menu');
        await this.serialise(id, () => this.start(session));
        return;
      }
    }
    await this.sendMenuGallery(requester.chatId, library, requester.locale, req.replyTo, log);
    session.menuMessageId = await this.opts.ui.send(requester.chatId, this.menuMessage(session), { replyTo: req.replyTo });
    await this.saveSession(session);
    log.info({ session: id, name: req.name }, 'menu offered');
  }

  private menuBackgrounds(s: Session): MenuBackground[] {
    return s.backgrounds.map((name) => ({ name, label: backgroundLabel(name, s.requester.locale) }));
  }

  private menuMessage(s: Session): UiMessage {
    const t = botTexts(s.requester.locale);
    const bg = s.state.background !== null ? s.backgrounds[s.state.background] : undefined;
    if (s.mode === 'recompose') {
      return {
        html: t.recomposeMenu({ name: s.name, background: bg === undefined ? null : backgroundLabel(bg, s.requester.locale) }),
        buttons: menuKeyboard(s.id, s.state, this.menuBackgrounds(s), s.requester.locale, this.opts.menuPageSize, false),
      };
    }
    return {
      html: t.menu({
        name: s.name,
        ...s.info,
        background: bg === undefined ? null : backgroundLabel(bg, s.requester.locale),
        upscaleOnly: s.state.upscaleOnly,
      }),
      buttons: menuKeyboard(s.id, s.state, this.menuBackgrounds(s), s.requester.locale, this.opts.menuPageSize, true, {
        model: this.service.config.upscale.model,
        mattingModel: this.service.config.matte.rvm.variant,
      }),
    };
  }

  private async saveSession(s: Session): Promise<void> {
    await this.service.redis.set(this.sessionKey(s.id), JSON.stringify(s), 'EX', SESSION_TTL_S);
  }
  private async loadSession(id: string): Promise<Session | null> {
    const raw = await this.service.redis.get(this.sessionKey(id));
    if (!raw) return null;
    const parsed = sessionSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  }

  private serialise<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => {});
    this.locks.set(key, settled);
    void settled.then(() => {
      if (this.locks.get(key) === settled) this.locks.delete(key);
    });
    return next;
  }

  /** Whether a job has ended (or is gone). */
  private async jobEnded(jobId: string): Promise<boolean> {
    const job = await this.service.queues.enhance.getJob(jobId);
    if (!job) return true;
    const state = await job.getState();
    return state === 'completed' || state === 'failed' || state === 'unknown';
  }

  // --- buttons ------------------------------------------------------------------------------

  /** A button press: permission first (requester or chat admin), then the menu or the job. */
  async press(cb: Callback, presser: Presser, locale: Locale): Promise<PressResult> {
    if (cb.scope === 'job') return this.pressJob(cb.jobId, cb.action.kind, presser, locale);
    return this.serialise(cb.session, async () => {
      const s = await this.loadSession(cb.session);
      if (!s) return { text: botTexts(locale).menuExpired, alert: true };
      const t = botTexts(s.requester.locale);
      if (presser.userId !== s.requester.userId && !(await presser.isAdmin())) return { text: botTexts(locale).notYourMenu, alert: true };
      if (s.jobId) {
        if (await this.jobEnded(s.jobId)) return { text: t.jobEnded };
        return { text: t.alreadyStarted };
      }
      if (s.recomposing) return { text: t.alreadyStarted };
      if (s.closed) return { text: t.menuExpired };
      const action = cb.action;
      if (action.kind === 'noop') return {};
      if (action.kind === 'close') {
        s.closed = true;
        await this.saveSession(s);
        if (s.file) await rm(s.file, { force: true });
        await this.opts.ui.edit(s.requester.chatId, s.menuMessageId, { html: t.menuCancelled, buttons: [] });
        return { text: t.menuCancelled };
      }
      if (action.kind === 'start') return s.mode === 'recompose' ? this.startRecompose(s) : this.start(s);
      // "Another background" has no options: only the background changes.
      if (s.mode === 'recompose' && action.kind !== 'bg' && action.kind !== 'page') return {};
      const next = applyMenuAction(s.state, action, s.backgrounds.length, this.opts.menuPageSize);
      if (JSON.stringify(next) === JSON.stringify(s.state)) return {};
      s.state = next;
      await this.saveSession(s);
      // Not awaited: the press is answered at once, the edit follows the message's throttle.
      this.opts.ui.edit(s.requester.chatId, s.menuMessageId, this.menuMessage(s)).catch((err: unknown) => this.opts.log.warn({ err }, 'menu edit failed'));
      return {};
    });
  }

  private async start(s: Session): Promise<PressResult> {
    const t = botTexts(s.requester.locale);
    if (!menuReady(s.state, s.backgrounds.length)) return { text: t.pickBackgroundFirst, alert: true };
    if (!(await stat(s.file).then(() => true, () => false))) {
      // The download was swept (the menu waited for hours): the user must send it again.
      s.closed = true;
      await this.saveSession(s);
      await this.opts.ui.edit(s.requester.chatId, s.menuMessageId, { html: t.menuExpired, buttons: [] });
      return { text: t.menuExpired, alert: true };
    }
    const background = s.state.upscaleOnly || s.state.background === null ? this.service.config.backgrounds.default : s.backgrounds[s.state.background];
    const requester: Requester = { ...s.requester, messageId: s.menuMessageId };
    const head = t.statusHead({ name: s.name, background: s.state.upscaleOnly ? t.optionUpscaleOnly : backgroundLabel(background, s.requester.locale) });
    try {
      const { jobId, position } = await submitEnhance(this.service.producer, {
        file: s.file,
        name: s.name,
        requester,
        background,
        options: {
          scale: s.state.scale,
          keepCutout: s.state.keepCutout,
          // Only what the user pressed: the rest stays the worker's config.
          ...(s.state.model ? { model: s.state.model } : {}),
          ...(s.state.upscaleOnly ? { matting: 'none' as const } : s.state.mattingModel ? { mattingModel: s.state.mattingModel } : {}),
        },
        move: true,
        allowBackgroundPaths: false,
      });
      s.jobId = jobId;
      await this.saveSession(s);
      this.opts.log.info({ jobId, session: s.id, chatId: s.requester.chatId }, 'job submitted');
      const progress: JobProgress = { stage: 'queued', percent: 0, fps: 0, etaS: null, ...(position ? { position } : {}) };
      await this.opts.ui.edit(s.requester.chatId, s.menuMessageId, { html: t.status(progress, head), buttons: this.jobButtons(jobId, s.requester.locale) });
      this.track(jobId, { chatId: s.requester.chatId, messageId: s.menuMessageId, locale: s.requester.locale, head });
      return {};
    } catch (err) {
      // Refused (limits, disk) or bad input found late: say why; the file is not kept.
      s.closed = true;
      await this.saveSession(s);
      await rm(s.file, { force: true });
      this.opts.log.info({ session: s.id, err: (err as Error).message }, 'submit refused');
      const reason = reasonText(err, s.requester.locale);
      await this.opts.ui.edit(s.requester.chatId, s.menuMessageId, { html: t.failed(reason), buttons: [] });
      return { text: reason.slice(0, 190), alert: true };
    }
  }

  private jobButtons(jobId: string, locale: Locale): Button[][] {
    return [[{ text: `✖️ ${botTexts(locale).cancelJob}`, data: encodeCallback({ scope: 'job', jobId, action: { kind: 'cancelJob' } }) }]];
  }

  private async pressJob(jobId: string, kind: 'cancelJob' | 'again', presser: Presser, locale: Locale): Promise<PressResult> {
    const t = botTexts(locale);
    if (kind === 'again') return this.offerRecompose(jobId, presser, locale);
    const job = await this.service.queues.enhance.getJob(jobId);
    if (!job || (await this.jobEnded(jobId))) return { text: t.jobEnded };
    const owner = requesterSchema.safeParse((job.data as { requester?: unknown }).requester);
    if (!owner.success || (owner.data.userId !== presser.userId && !(await presser.isAdmin()))) return { text: t.notYourMenu, alert: true };
    if (kind !== 'cancelJob') return {};
    const outcome = await cancelJob(this.service.cancel, jobId);
    this.opts.log.info({ jobId, outcome }, 'cancel pressed');
    return { text: outcome === 'finished' || outcome === 'not-found' ? t.jobEnded : t.cancelling };
  }

  // --- commands -----------------------------------------------------------------------------

  /** /cancel: every job of this user on this platform. */
  async cancelAll(requester: Requester): Promise<string> {
    const t = botTexts(requester.locale);
    const ids = await inFlightJobs(this.service.redis, this.service.config.queue.prefix, requester);
    let n = 0;
    for (const id of ids) {
      const outcome = await cancelJob(this.service.cancel, id);
      // "recorded": no live worker holds it, and the next one ends it unrun — cancelled all the same.
      if (cancelTookEffect(outcome)) n++;
    }
    return n === 0 ? t.nothingToCancel : t.cancelledJobs(n);
  }

  /** /queue: the user's jobs with their state and place. */
  async queueText(requester: Requester): Promise<string> {
    const t = botTexts(requester.locale);
    const ids = await inFlightJobs(this.service.redis, this.service.config.queue.prefix, requester);
    const lines: string[] = [];
    for (const id of ids) {
      const job = await this.service.queues.enhance.getJob(id);
      if (!job) continue;
      const state = await job.getState();
      const name = String((job.data as { input?: { name?: string } }).input?.name ?? id);
      if (state === 'waiting' || state === 'prioritized') lines.push(t.queueLine({ name, state: 'waiting', position: await queuePosition(this.service.queues.enhance, id) }));
      else if (state === 'active') {
        const p = progressSchema.safeParse(job.progress);
        lines.push(t.queueLine({ name, state: statusLine(p.success ? p.data : null, requester.locale) }));
      } else if (state !== 'completed' && state !== 'failed') lines.push(t.queueLine({ name, state }));
    }
    return lines.length === 0 ? t.queueEmpty : lines.join('\n');
  }

  // --- progress -----------------------------------------------------------------------------

  /** Follows a job on its status message until it ends (delivery then writes the last word). */
  track(jobId: string, where: Omit<Tracked, 'stopped'>): void {
    if (this.closed || this.tracked.has(jobId)) return;
    const entry: Tracked = { ...where, stopped: false };
    this.tracked.set(jobId, entry);
    const tick = async () => {
      if (entry.stopped) return;
      try {
        const job = await this.service.queues.enhance.getJob(jobId);
        const state = job ? await job.getState() : 'unknown';
        if (!job || state === 'completed' || state === 'failed' || state === 'unknown') return this.untrack(jobId);
        let progress: JobProgress | null = null;
        if (state === 'active') {
          const p = progressSchema.safeParse(job.progress);
          progress = p.success ? p.data : { stage: 'decode', percent: 0, fps: 0, etaS: null };
        } else {
          const position = await queuePosition(this.service.queues.enhance, jobId);
          progress = { stage: 'queued', percent: 0, fps: 0, etaS: null, ...(position ? { position } : {}) };
        }
        if (entry.stopped) return;
        const t = botTexts(entry.locale);
        // Not awaited: a throttled edit must not hold up the next poll.
        this.opts.ui
          .edit(entry.chatId, entry.messageId, { html: t.status(progress, entry.head), buttons: this.jobButtons(jobId, entry.locale) })
          .catch((err: unknown) => this.opts.log.warn({ jobId, err }, 'status edit failed'));
      } catch (err) {
        this.opts.log.warn({ jobId, err }, 'progress poll failed');
      }
      if (!entry.stopped) entry.timer = setTimeout(() => void tick(), this.opts.pollIntervalMs);
    };
    entry.timer = setTimeout(() => void tick(), this.opts.pollIntervalMs);
  }

  private untrack(jobId: string): void {
    const entry = this.tracked.get(jobId);
    if (!entry) return;
    entry.stopped = true;
    if (entry.timer) clearTimeout(entry.timer);
    this.tracked.delete(jobId);
  }

  /** After a restart: follow this platform's jobs that are still waiting or running. */
  async resumeTracking(): Promise<void> {
    const jobs = await this.service.queues.enhance.getJobs(['waiting', 'active', 'delayed', 'prioritized'], 0, 500);
    for (const job of jobs) {
      const r = requesterSchema.safeParse((job?.data as { requester?: unknown })?.requester);
      if (!job?.id || !r.success || r.data.platform !== this.opts.platform || !r.data.messageId) continue;
      const t = botTexts(r.data.locale);
      const data = job.data as { input?: { name?: string }; background?: string };
      const head = t.statusHead({ name: String(data.input?.name ?? ''), background: backgroundLabel(String(data.background ?? ''), r.data.locale) });
      this.track(job.id, { chatId: r.data.chatId, messageId: r.data.messageId, locale: r.data.locale, head });
    }
  }

  // --- delivery -----------------------------------------------------------------------------

  /**
   * Delivers one outcome (called by the platform's delivery worker; a throw means "retry later").
   * The video is sent at most once: a marker in Redis records it, so a retry after a failed final
   * edit does not send it again.
   */
  async deliver(d: DeliverJobData): Promise<void> {
    this.untrack(d.jobId);
    const { requester } = d;
    const t = botTexts(requester.locale);
    const log = this.opts.log.child({ jobId: d.jobId });
    const head = t.statusHead({ name: d.inputName, background: backgroundLabel(d.background, requester.locale) });
    const final = async (html: string) => {
      if (requester.messageId) {
        // A status message the user deleted (or too old to edit): say it in a new message instead.
        const edited = await this.opts.ui.edit(requester.chatId, requester.messageId, { html, buttons: [] }).then(
          () => true,
          (err: unknown) => (log.warn({ err }, 'final status edit failed: sending a new message'), false),
        );
        if (edited) return;
      }
      await this.opts.ui.send(requester.chatId, { html });
    };
    if (!d.outcome.ok) {
      log.info({ code: d.outcome.error.code }, 'delivering failure');
      await final(`${head}\n${t.failed(reasonText(d.outcome.error, requester.locale))}`);
      return;
    }
    const { result, link } = d.outcome;
    const sentKey = `${this.prefix}:sent:${d.jobId}`;
    if (!(await this.service.redis.get(sentKey))) {
      const file = this.service.storage.resolveOutput(result.output);
      const sizeMb = result.bytes / 1024 / 1024;
      const uploadLimit = this.opts.uploadLimitFor?.(requester) ?? this.opts.uploadLimitBytes;
      const stats: StatsInfo = { name: d.inputName, background: d.background, result, locale: requester.locale };
      const linkText = t.tooBigToUpload({ sizeMb, limitMb: round(uploadLimit / 1024 / 1024), link, hours: this.service.config.web.linkTtlHours });
      if (result.cutout) {
        const record = { cutout: result.cutout, name: d.inputName, requester };
        await this.service.redis.set(this.cutoutKey(d.jobId), JSON.stringify(record), 'EX', Math.round(this.service.config.storage.keepOutputsHours * 3600));
      }
      const linkOnly = async () => {
        if (this.opts.linkWithStats) {
          await this.opts.ui.send(
            requester.chatId,
            { html: linkText, stats, link: { text: t.downloadOriginal, url: link }, ...(result.cutout ? { buttons: this.againButtons(d.jobId, requester.locale) } : {}) },
            { replyTo: requester.messageId },
          );
          return;
        }
        await this.opts.ui.send(requester.chatId, { html: stats.delivery ? `${linkText}\n${escapeHtml(stats.delivery)}` : linkText }, { replyTo: requester.messageId });
      };
      // As it is, a copy re-encoded to fit this place's limit, or the link alone (src/media/fit.ts).
      const prepared = await prepareDeliveryFor(this.service.config, file, uploadLimit, { onFitError: (err) => log.warn({ err }, 'fitting to the upload limit failed: link only') });
      try {
        stats.delivery = prepared.line(requester.locale);
        if (!prepared.file) {
          log.info({ bytes: result.bytes, uploadLimit }, 'too big to upload: sending the link');
          await linkOnly();
        } else {
          const fitted = prepared.outcome.kind === 'fitted';
          const thumbnail = await makeThumbnail(prepared.file).catch(() => undefined);
          try {
            await this.opts.ui.sendVideo(requester.chatId, {
              stats,
              link,
              ...(result.cutout ? { buttons: this.againButtons(d.jobId, requester.locale) } : {}),
              file: prepared.file,
              fileName: outputName(d.inputName),
              width: prepared.width,
              height: prepared.height,
              durationS: prepared.durationS,
              thumbnail,
              caption: statsCaption(stats) + (fitted ? `\n<a href="${escapeHtml(link)}">${escapeHtml(t.downloadOriginal)}</a>` : ''),
              replyTo: requester.messageId,
            });
          } catch (err) {
            if (!(err instanceof UploadTooLargeError)) throw err;
            log.info({ outcome: prepared.outcome.kind }, 'upload refused for its size: sending the link');
            stats.delivery = undefined;
            await linkOnly();
          } finally {
            if (thumbnail) await rm(thumbnail, { force: true });
          }
        }
      } finally {
        await prepared.cleanup();
      }
      await this.service.redis.set(sentKey, '1', 'EX', 7 * 24 * 3600);
      log.info('delivered');
    }
    await final(`${head}\n${t.delivered}`);
  }

  private cutoutKey(jobId: string): string {
    return `${this.prefix}:cutout:${jobId}`;
  }

  private againButtons(jobId: string, locale: Locale): Button[][] {
    return [[{ text: `🎨 ${botTexts(locale).anotherBackground}`, data: encodeCallback({ scope: 'job', jobId, action: { kind: 'again' } }) }]];
  }

  /** "Another background" under a delivered video: a menu of backgrounds for its kept cut-out. */
  private async offerRecompose(jobId: string, presser: Presser, locale: Locale): Promise<PressResult> {
    const t = botTexts(locale);
    const raw = await this.service.redis.get(this.cutoutKey(jobId));
    const record = raw ? cutoutRecordSchema.safeParse(JSON.parse(raw)) : null;
    if (!record?.success) return { text: t.cutoutGone, alert: true };
    const { requester } = record.data;
    if (requester.userId !== presser.userId && !(await presser.isAdmin())) return { text: t.notYourMenu, alert: true };
    const exists = await stat(this.service.storage.resolveOutput(record.data.cutout)).then(() => true, () => false);
    if (!exists) return { text: t.cutoutGone, alert: true };
    const names = (await this.opts.library.list()).map((b) => b.name);
    const session: Session = {
      id: randomBytes(5).toString('hex'),
      requester: { ...requester, messageId: undefined },
      menuMessageId: '',
      file: '',
      name: record.data.name,
      info: { durationS: 0, width: 0, height: 0 },
      backgrounds: names,
      state: initialMenuState(null, this.opts.menuPageSize),
      closed: false,
      mode: 'recompose',
      cutout: record.data.cutout,
      recomposing: false,
    };
    session.menuMessageId = await this.opts.ui.send(requester.chatId, this.menuMessage(session));
    await this.saveSession(session);
    return {};
  }

  /**
   * Re-composes the kept cut-out over the new background: one ffmpeg run here (seconds), no
   * upscaling or matting again, so it does not wait in the GPU queue.
   */
  private async startRecompose(s: Session): Promise<PressResult> {
    const t = botTexts(s.requester.locale);
    if (s.state.background === null || !s.cutout) return { text: t.pickBackgroundFirst, alert: true };
    const background = s.backgrounds[s.state.background];
    s.recomposing = true;
    await this.saveSession(s);
    const head = t.statusHead({ name: s.name, background: backgroundLabel(background, s.requester.locale) });
    const chatId = s.requester.chatId;
    void (async () => {
      await this.opts.ui.edit(chatId, s.menuMessageId, { html: `${head}\n${t.recomposing}`, buttons: [] });
      const out = this.service.storage.outputPathFor(`${s.id}-recompose`, 'enhanced', '.mp4');
      try {
        const r = await recompose({ cutout: this.service.storage.resolveOutput(s.cutout!), output: out.abs, background, config: this.service.config });
        const { size } = await stat(out.abs);
        const result: JobResult = {
          output: out.rel,
          // The same cut-out again: "Another background" works on this video too.
          cutout: s.cutout,
          bytes: size,
          durationS: r.durationS,
          width: r.width,
          height: r.height,
          hasAudio: r.hasAudio,
          stats: { ...r.stats, stages: r.stats.stages.map((x) => ({ ...x, frames: x.frames ?? 0 })), queueWaitS: 0, retries: [] },
        };
        const link = makeLink(publicBaseUrl(this.service.config), out.rel, Math.round(this.service.config.web.linkTtlHours * 3600), this.service.secret);
        await this.deliver({ jobId: `${s.id}-recompose`, requester: { ...s.requester, messageId: s.menuMessageId }, inputName: s.name, background, outcome: { ok: true, result, link } });
      } catch (err) {
        this.opts.log.warn({ session: s.id, err }, 'recompose failed');
        await this.opts.ui.edit(chatId, s.menuMessageId, { html: `${head}\n${t.failed(reasonText(err, s.requester.locale))}`, buttons: [] });
      }
    })().catch((err: unknown) => this.opts.log.error({ err }, 'recompose delivery failed'));
    return {};
  }

  /** /bg: one picture of every background, numbered in the caption in menu order. */
  async sendGallery(chatId: string, locale: Locale, replyTo?: string): Promise<void> {
    await this.sendGalleryOf(chatId, await this.opts.library.list(), botTexts(locale).gallery, locale, replyTo);
  }

  private async sendGalleryOf(chatId: string, entries: readonly BackgroundEntry[], caption: (labels: string[]) => string, locale: Locale, replyTo?: string): Promise<void> {
    const file = await this.opts.library.gallery(entries);
    await this.opts.ui.sendPhoto(chatId, { file, caption: caption(entries.map((e) => backgroundLabel(e.name, locale))), replyTo });
  }

  /**
   * The picture above a menu: the buttons carry only names, and a name says little about a
   * picture. A failure here costs the picture, never the menu.
   */
  private async sendMenuGallery(chatId: string, entries: readonly BackgroundEntry[], locale: Locale, replyTo: string | undefined, log: Logger): Promise<void> {
    if (entries.length === 0) return;
    try {
      await this.sendGalleryOf(chatId, entries, botTexts(locale).menuGallery, locale, replyTo);
    } catch (err) {
      log.warn({ err }, 'menu gallery not sent');
    }
  }

  // --- the owner's commands -----------------------------------------------------------------

  /**
   * /bg add NAME: a picture or video becomes a library background. ffprobe decides what it is (the
   * library's own probe, first frame decoded); the name is checked so it cannot be a path.
   */
  async addBackground(file: string, name: string, locale: Locale): Promise<string> {
    const t = botTexts(locale);
    try {
      if (!validBackgroundName(name)) return t.bgBadName;
      const probed = await probeBackgroundFile(file);
      const bgDir = backgroundsDir(this.service.config);
      await mkdir(bgDir, { recursive: true });
      const taken = (await listBackgrounds(bgDir)).some((b) => b.name.toLowerCase() === name.toLowerCase());
      if (taken) return t.bgExists(name);
      const ext = probed.kind === 'image' ? '.img' : '.video';
      await copyFile(file, path.join(bgDir, `${name}${ext}`));
      return t.bgAdded(name);
    } catch (err) {
      return t.failed(reasonText(err, locale));
    } finally {
      await rm(file, { force: true });
    }
  }

  /** /bg remove NAME: the library file of that name goes (a removed default stays removed). */
  async removeBackground(name: string, locale: Locale): Promise<string> {
    const t = botTexts(locale);
    const bgDir = backgroundsDir(this.service.config);
    const hit = (await listBackgrounds(bgDir)).find((b) => b.name.toLowerCase() === name.trim().toLowerCase());
    if (!hit) return t.failed(reasonText({ code: 'BACKGROUND_MISSING', params: { name } }, locale));
    await rm(hit.path, { force: true });
    return t.bgRemoved(hit.name);
  }

  /** /stats: the queues at a glance. */
  async statsText(locale: Locale): Promise<string> {
    // Every enhance job carries a BullMQ priority (previews first), so a queued one is 'prioritized'.
    const { prioritized = 0, ...counts } = await this.service.queues.enhance.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed');
    counts.waiting = (counts.waiting ?? 0) + prioritized;
    const deliveries = await this.service.queues.deliver(this.opts.platform).getJobCounts('waiting', 'active', 'delayed', 'failed');
    return botTexts(locale).stats({ ...counts, deliveriesPending: (deliveries.waiting ?? 0) + (deliveries.active ?? 0) + (deliveries.delayed ?? 0), deliveriesFailed: deliveries.failed ?? 0 });
  }

  /** /queue for a platform's admins: every job waiting or running, in queue order. */
  async queueOverview(locale: Locale): Promise<string> {
    const queue = this.service.queues.enhance;
    const active = (await queue.getJobs(['active'], 0, 50, true)).filter(Boolean);
    const waiting = (await queue.getJobs(['waiting', 'prioritized'], 0, 50, true)).filter(Boolean);
    const line = (job: (typeof active)[number], progress: JobProgress | null) => {
      const r = requesterSchema.safeParse((job.data as { requester?: unknown }).requester);
      return {
        name: String((job.data as { input?: { name?: string } }).input?.name ?? job.id),
        user: r.success ? `${r.data.platform} ${r.data.userName ?? r.data.userId}` : '?',
        state: statusLine(progress, locale),
      };
    };
    const lines = [
      ...active.map((job) => {
        const p = progressSchema.safeParse(job.progress);
        return line(job, p.success ? p.data : { stage: 'decode', percent: 0, fps: 0, etaS: null });
      }),
      ...waiting.map((job, i) => line(job, { stage: 'queued', percent: 0, fps: 0, etaS: null, position: i + 1 })),
    ];
    return botTexts(locale).queueOverview(lines);
  }

  // --- group settings -------------------------------------------------------------------------

  async autoEnhance(chatId: string): Promise<boolean> {
    return (await this.service.redis.get(`${this.prefix}:chat:${chatId}:auto`)) === '1';
  }
  async setAutoEnhance(chatId: string, on: boolean): Promise<void> {
    if (on) await this.service.redis.set(`${this.prefix}:chat:${chatId}:auto`, '1');
    else await this.service.redis.del(`${this.prefix}:chat:${chatId}:auto`);
  }

  /** Removes downloads whose menu was abandoned. */
  async sweepIncoming(now = Date.now()): Promise<void> {
    const files = await readdir(this.opts.incomingDir).catch(() => [] as string[]);
    for (const f of files) {
      const p = path.join(this.opts.incomingDir, f);
      const st = await stat(p).catch(() => null);
      if (st && now - st.mtimeMs > INCOMING_MAX_AGE_MS) await rm(p, { force: true });
    }
  }

  close(): void {
    this.closed = true;
    for (const id of [...this.tracked.keys()]) this.untrack(id);
  }
}

const round = (n: number) => Math.round(n * 10) / 10;

/** A library name: letters (any script), digits, spaces, _ and -, 1-40 characters; never a path. */
export function validBackgroundName(name: string): boolean {
  return /^[\p{L}\p{N}_-][\p{L}\p{N} _-]{0,39}$/u.test(name) && name.trim() === name;
}

/** "dance.mov" → "dance.enhanced.mp4" (a name for the user's download, never a path here). */
export function outputName(inputName: string): string {
  const base = inputName.replace(/[\\/]/g, '_').replace(/\.[^.]{1,8}$/, '') || 'video';
  return `${base.slice(0, 80)}.enhanced.mp4`;
}

/** A 320-px JPEG of the first frame, beside the video; the caller removes it. */
async function makeThumbnail(video: string): Promise<string> {
  const out = `${video}.thumb-${randomBytes(3).toString('hex')}.jpg`;
  await execa('ffmpeg', ['-v', 'error', '-nostdin', '-y', '-i', video, '-frames:v', '1', '-vf', 'scale=320:320:force_original_aspect_ratio=decrease', '-q:v', '5', out], {
    timeout: 20_000,
  });
  return out;
}
