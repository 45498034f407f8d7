/**
 * The chat bots' flow, platform-neutral: a request is checked (limits before the download, ffprobe
 * after it), answered with the background menu, enqueued on Start, followed on one status message
 * and finally delivered. The platform adapter (src/bots/telegram/, src/bots/discord/) only turns
 * its updates into calls here and implements ChatUi; it never talks to the queue itself.
 *
 * This class only wires the parts, each a module of its own: sessions.ts (every Redis key),
 * request-checks.ts, menu-flow.ts, submit.ts, progress.ts, delivery.ts, job-commands.ts,
 * library-admin.ts.
 */
import type { Locale } from '../i18n/messages.js';
import type { DeliverJobData, Requester } from '../queue/jobs.js';
import type { Service } from '../service/context.js';
import type { MenuPreset, PressResult, Presser } from './chat-ui.js';
import { deliver } from './delivery.js';
import { keptDirOf, type FlowDeps, type FlowOptions } from './flow-deps.js';
import * as jobs from './job-commands.js';
import * as library from './library-admin.js';
import type { Callback } from './menu.js';
import { MenuFlow } from './menu-flow.js';
import { ProgressTracker } from './progress.js';
import { incomingPath, precheck, sweepOld } from './request-checks.js';
import type { Rich } from './rich.js';
import { BotStore } from './sessions.js';

export type { ChatUi, MenuPreset, PressResult, Presser, StatsInfo, UiMessage, VideoMessage } from './chat-ui.js';
export { UploadTooLargeError } from './chat-ui.js';
export type { FlowOptions } from './flow-deps.js';
export { outputName } from './delivery.js';
export { validBackgroundName } from './library-admin.js';

export class BotFlow {
  private readonly d: FlowDeps;
  private readonly tracker: ProgressTracker;
  private readonly menus: MenuFlow;

  constructor(
    private readonly service: Service,
    private readonly opts: FlowOptions,
  ) {
    this.d = { service, opts, ui: opts.ui, store: new BotStore(service.redis, service.config.queue.prefix, opts.platform), log: opts.log };
    this.tracker = new ProgressTracker(this.d);
    this.menus = new MenuFlow(this.d, this.tracker);
  }

  localeOf(userId: string, clientLanguage?: string): Promise<Locale> {
    return this.d.store.localeOf(userId, clientLanguage);
  }
  setLocale(userId: string, locale: Locale): Promise<void> {
    return this.d.store.setLocale(userId, locale);
  }
  autoEnhance(chatId: string): Promise<boolean> {
    return this.d.store.autoEnhance(chatId);
  }
  setAutoEnhance(chatId: string, on: boolean): Promise<void> {
    return this.d.store.setAutoEnhance(chatId, on);
  }

  precheck(requester: Requester): Promise<void> {
    return precheck(this.service, requester);
  }
  incomingPath(name: string): Promise<string> {
    return incomingPath(this.opts.incomingDir, name);
  }
  offerMenu(req: { requester: Requester; file: string; name: string; replyTo?: string; preset?: MenuPreset }): Promise<void> {
    return this.menus.offerMenu(req);
  }
  press(cb: Callback, presser: Presser, locale: Locale): Promise<PressResult> {
    return this.menus.press(cb, presser, locale);
  }

  async deliver(data: DeliverJobData): Promise<void> {
    this.tracker.untrack(data.jobId);
    await deliver(this.d, data);
  }
  resumeTracking(): Promise<void> {
    return this.tracker.resume();
  }

  cancelAll(requester: Requester): Promise<string> {
    return jobs.cancelAll(this.service, requester);
  }
  queueText(requester: Requester): Promise<Rich> {
    return jobs.queueText(this.service, requester);
  }
  statsText(locale: Locale): Promise<string> {
    return jobs.statsText(this.service, this.opts.platform, locale);
  }
  queueOverview(locale: Locale): Promise<Rich> {
    return jobs.queueOverview(this.service, locale);
  }

  sendGallery(chatId: string, locale: Locale, replyTo?: string): Promise<void> {
    return library.sendGallery(this.opts.ui, this.opts.library, chatId, locale, replyTo);
  }
  addBackground(file: string, name: string, locale: Locale): Promise<Rich> {
    return library.addBackground(this.service.config, file, name, locale);
  }
  removeBackground(name: string, locale: Locale): Promise<Rich> {
    return library.removeBackground(this.service.config, name, locale);
  }
  generateBackground(prompt: string, locale: Locale): Promise<Rich> {
    return library.generateFromChat(this.service.config, prompt, locale);
  }

  /** Removes downloads whose menu was abandoned, and kept inputs older than the outputs they belong to. */
  async sweepIncoming(now = Date.now()): Promise<void> {
    await sweepOld(this.opts.incomingDir, now);
    await sweepOld(keptDirOf(this.opts), now, this.service.config.storage.keepOutputsHours * 3600 * 1000);
  }

  close(): void {
    this.tracker.close();
  }
}
