/**
 * A request's menu: a checked video gets the background menu (with the gallery picture above it),
 * its buttons change the session, Start submits. "Another background" opens a menu of backgrounds
 * only, for a delivered job's kept input.
 */
import { randomBytes } from 'node:crypto';
import { rm, stat } from 'node:fs/promises';
import { travelling, withFile } from '../media/probe.js';
import { backgroundLabel, type Locale } from '../i18n/messages.js';
import type { Requester } from '../queue/jobs.js';
import type { MenuPreset, PressResult, Presser, UiMessage } from './chat-ui.js';
import type { FlowDeps } from './flow-deps.js';
import { pressCancel, jobEnded } from './job-commands.js';
import { sendMenuGallery } from './library-admin.js';
import { applyMenuAction, initialMenuState, menuJobOptions, menuKeyboard, menuReady, type Callback, type MenuBackground } from './menu.js';
import type { ProgressTracker } from './progress.js';
import { checkVideo } from './request-checks.js';
import type { Session } from './sessions.js';
import { keptFor, renderAll, submitTracked } from './submit.js';
import { lines } from './rich.js';
import { botTexts, reasonText, statusLine } from './texts.js';

export class MenuFlow {
  constructor(
    private readonly d: FlowDeps,
    private readonly tracker: ProgressTracker,
  ) {}

  /**
   * The downloaded file is checked (ffprobe decides what it is); bad input gets one message and
   * nothing is kept. A video gets the menu, as a reply to the user's message.
   */
  async offerMenu(req: { requester: Requester; file: string; name: string; replyTo?: string; preset?: MenuPreset }): Promise<void> {
    const { requester } = req;
    const { locale } = requester;
    const { ui, opts, service } = this.d;
    const t = botTexts(locale);
    const log = this.d.log.child({ chatId: requester.chatId, userId: requester.userId });
    let info;
    try {
      info = await checkVideo(service, req.file);
    } catch (err) {
      await rm(req.file, { force: true });
      log.info({ err: (err as Error).message }, 'input refused');
      await ui.send(requester.chatId, { text: t.failed(reasonText(err, locale)), locale }, { replyTo: req.replyTo, private: true });
      return;
    }
    // Made at start-up; a request that came sooner waits for that run here, after its acknowledgement.
    const library = await opts.library.list();
    const names = library.map((b) => b.name);
    const def = names.findIndex((n) => n.toLowerCase() === service.config.backgrounds.default.toLowerCase());
    const session: Session = {
      id: randomBytes(5).toString('hex'),
      requester,
      menuMessageId: '',
      file: req.file,
      name: req.name,
      info: { durationS: info.durationS, width: info.width, height: info.height },
      probe: travelling(info),
      backgrounds: names,
      state: initialMenuState(def >= 0 ? def : names.length > 0 ? 0 : null, opts.menuPageSize),
      closed: false,
      mode: 'enhance',
    };
    const preset = req.preset;
    if (preset) {
      const picked = preset.background === undefined ? -1 : names.findIndex((n) => n.toLowerCase() === preset.background!.toLowerCase());
      if (picked >= 0) session.state = { ...session.state, background: picked, page: Math.floor(picked / opts.menuPageSize) };
      if (preset.scale !== undefined) session.state.scale = preset.scale;
      if (preset.keepCutout !== undefined) session.state.keepCutout = preset.keepCutout;
      if (preset.model !== undefined) session.state.model = preset.model;
      if (preset.mattingModel === 'mobilenetv3' || preset.mattingModel === 'resnet50') session.state.mattingModel = preset.mattingModel;
      // Everything was chosen with the command: no menu, straight to the queue.
      if (picked >= 0 && preset.start) {
        const text = lines(t.statusHead({ name: req.name, background: backgroundLabel(names[picked], locale) }), statusLine(null, locale));
        session.menuMessageId = await ui.send(requester.chatId, { text, locale }, { replyTo: req.replyTo });
        await this.d.store.saveSession(session);
        log.info({ session: session.id, name: req.name }, 'submitting without a menu');
        await this.d.store.serialise(session.id, () => this.start(session));
        return;
      }
    }
    await sendMenuGallery(ui, opts.library, requester.chatId, library, locale, req.replyTo, log);
    session.menuMessageId = await ui.send(requester.chatId, this.menuMessage(session), { replyTo: req.replyTo });
    await this.d.store.saveSession(session);
    log.info({ session: session.id, name: req.name }, 'menu offered');
  }

  private menuMessage(s: Session): UiMessage {
    const { locale } = s.requester;
    const t = botTexts(locale);
    const bgs: MenuBackground[] = s.backgrounds.map((name) => ({ name, label: backgroundLabel(name, locale) }));
    const bg = s.state.background !== null ? s.backgrounds[s.state.background] : undefined;
    const background = bg === undefined ? null : backgroundLabel(bg, locale);
    const { config } = this.d.service;
    if (s.mode === 'recompose') {
      return { text: t.recomposeMenu({ name: s.name, background }), locale, buttons: menuKeyboard(s.id, s.state, bgs, locale, this.d.opts.menuPageSize, false) };
    }
    return {
      text: t.menu({ name: s.name, ...s.info, background, upscaleOnly: s.state.upscaleOnly }),
      locale,
      buttons: menuKeyboard(s.id, s.state, bgs, locale, this.d.opts.menuPageSize, true, {
        model: config.upscale.model,
        mattingModel: config.matte.rvm.variant,
        aspect: config.reframe.aspect,
      }),
    };
  }

  /** A button press: permission first (requester or chat admin), then the menu or the job. */
  async press(cb: Callback, presser: Presser, locale: Locale): Promise<PressResult> {
    if (cb.scope === 'job') {
      if (cb.action.kind === 'again') return this.offerRecompose(cb.jobId, presser, locale);
      if (cb.action.kind === 'renderAll') return renderAll(this.d, this.tracker, cb.jobId, presser, locale);
      return pressCancel(this.d, cb.jobId, presser, locale);
    }
    const { store, ui } = this.d;
    return store.serialise(cb.session, async () => {
      const s = await store.loadSession(cb.session);
      if (!s) return { text: botTexts(locale).menuExpired, alert: true };
      const t = botTexts(s.requester.locale);
      if (presser.userId !== s.requester.userId && !(await presser.isAdmin())) return { text: botTexts(locale).notYourMenu, alert: true };
      if (s.jobId) return { text: (await jobEnded(this.d.service, s.jobId)) ? t.jobEnded : t.alreadyStarted };
      if (s.closed) return { text: t.menuExpired };
      const action = cb.action;
      if (action.kind === 'noop') return {};
      if (action.kind === 'close') {
        s.closed = true;
        await store.saveSession(s);
        if (s.file) await rm(s.file, { force: true });
        await ui.edit(s.requester.chatId, s.menuMessageId, { text: t.menuCancelled, locale: s.requester.locale, buttons: [] });
        return { text: t.menuCancelled };
      }
      if (action.kind === 'start') return this.start(s);
      // "Another background" has no options: only the background changes.
      if (s.mode === 'recompose' && action.kind !== 'bg' && action.kind !== 'page') return {};
      const next = applyMenuAction(s.state, action, s.backgrounds.length, this.d.opts.menuPageSize);
      if (JSON.stringify(next) === JSON.stringify(s.state)) return {};
      s.state = next;
      await store.saveSession(s);
      // Not awaited: the press is answered at once, the edit follows the message's throttle.
      ui.edit(s.requester.chatId, s.menuMessageId, this.menuMessage(s)).catch((err: unknown) => this.d.log.warn({ err }, 'menu edit failed'));
      return {};
    });
  }

  private async start(s: Session): Promise<PressResult> {
    const { locale } = s.requester;
    const t = botTexts(locale);
    const { store, ui, service } = this.d;
    if (!menuReady(s.state, s.backgrounds.length)) return { text: t.pickBackgroundFirst, alert: true };
    const kept = s.mode === 'recompose' && s.from ? await store.loadKept(s.from) : null;
    const file = kept ? kept.keptInput : s.file;
    if (!(await stat(file).then(() => true, () => false))) {
      // The download was swept (the menu waited for hours): the user must send it again.
      s.closed = true;
      await store.saveSession(s);
      const gone = s.mode === 'recompose' ? t.cutoutGone : t.menuExpired;
      await ui.edit(s.requester.chatId, s.menuMessageId, { text: gone, locale, buttons: [] });
      return { text: gone, alert: true };
    }
    const background = s.state.upscaleOnly || s.state.background === null ? service.config.backgrounds.default : s.backgrounds[s.state.background];
    const head = t.statusHead({ name: s.name, background: s.state.upscaleOnly ? t.optionUpscaleOnly : backgroundLabel(background, locale) });
    // Another background: the first job's choices and its kept cut-out, only the background is new.
    const options = kept ? { ...kept.options, keepCutout: true } : menuJobOptions(s.state);
    try {
      s.jobId = await submitTracked(this.d, this.tracker, { file, move: !kept, name: s.name, requester: { ...s.requester, messageId: s.menuMessageId }, background, options, head, ...(!kept && s.probe ? { probe: withFile(s.probe, file) } : {}) });
      await store.saveSession(s);
      return {};
    } catch (err) {
      // Refused (limits, disk) or bad input found late: say why; a download is not kept.
      s.closed = true;
      await store.saveSession(s);
      if (!kept) await rm(s.file, { force: true });
      this.d.log.info({ session: s.id, err: (err as Error).message }, 'submit refused');
      const reason = reasonText(err, locale);
      await ui.edit(s.requester.chatId, s.menuMessageId, { text: t.failed(reason), locale, buttons: [] });
      return { text: reason.slice(0, 190), alert: true };
    }
  }

  /** "Another background" under a delivered video: a menu of backgrounds for its kept input. */
  private async offerRecompose(jobId: string, presser: Presser, locale: Locale): Promise<PressResult> {
    const record = await keptFor(this.d, jobId, presser, locale);
    if (!('keptInput' in record)) return record;
    const names = (await this.d.opts.library.list()).map((b) => b.name);
    const session: Session = {
      id: randomBytes(5).toString('hex'),
      requester: { ...record.requester, messageId: undefined },
      menuMessageId: '',
      file: '',
      name: record.name,
      info: { durationS: 0, width: 0, height: 0 },
      backgrounds: names,
      state: initialMenuState(null, this.d.opts.menuPageSize),
      closed: false,
      mode: 'recompose',
      from: jobId,
    };
    session.menuMessageId = await this.d.ui.send(record.requester.chatId, this.menuMessage(session));
    await this.d.store.saveSession(session);
    return {};
  }
}
