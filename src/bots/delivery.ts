/**
 * Delivering one outcome (called by the platform's delivery worker; a throw means "retry later"):
 * the video as it is, a copy fitted to this place's upload limit, or the signed link alone; then
 * the status message's last word. The video is sent at most once: a marker in Redis records it,
 * so a retry after a failed final edit does not send it again.
 */
import { rm } from 'node:fs/promises';
import { backgroundLabel, type Locale } from '../i18n/messages.js';
import { prepareDeliveryFor } from '../media/fit.js';
import { makeThumbnail } from '../media/thumbnail.js';
import type { DeliverJobData } from '../queue/jobs.js';
import { makeLink, publicBaseUrl } from '../web/links.js';
import { UploadTooLargeError, type StatsInfo } from './chat-ui.js';
import type { FlowDeps } from './flow-deps.js';
import { encodeCallback, type Button } from './menu.js';
import { link as linkTo, lines, rich, type Rich } from './rich.js';
import { botTexts, reasonText, statsCaption } from './texts.js';

/** "dance.mov" → "dance.enhanced.mp4" (a name for the user's download, never a path here). */
export function outputName(inputName: string): string {
  const base = inputName.replace(/[\\/]/g, '_').replace(/\.[^.]{1,8}$/, '') || 'video';
  return `${base.slice(0, 80)}.enhanced.mp4`;
}

/**
 * Pure: the buttons under a delivered result whose input the bot kept: "Another background" for
 * a kept cut-out, "Render all" for a preview.
 */
export function resultButtons(jobId: string, locale: Locale, has: { cutout: boolean; preview: boolean }): Button[][] {
  const t = botTexts(locale);
  const row: Button[] = [];
  if (has.preview) row.push({ text: `▶️ ${t.renderAll}`, data: encodeCallback({ scope: 'job', jobId, action: { kind: 'renderAll' } }) });
  if (has.cutout) row.push({ text: `🎨 ${t.anotherBackground}`, data: encodeCallback({ scope: 'job', jobId, action: { kind: 'again' } }) });
  return row.length > 0 ? [row] : [];
}

const round = (n: number) => Math.round(n * 10) / 10;

export async function deliver(d: FlowDeps, data: DeliverJobData): Promise<void> {
  const { requester } = data;
  const { locale } = requester;
  const { service, ui, opts } = d;
  const t = botTexts(locale);
  const log = d.log.child({ jobId: data.jobId });
  const head = t.statusHead({ name: data.inputName, background: backgroundLabel(data.background, locale) });
  const final = async (text: Rich) => {
    if (requester.messageId) {
      // A status message the user deleted (or too old to edit): say it in a new message instead.
      const edited = await ui.edit(requester.chatId, requester.messageId, { text, locale, buttons: [] }).then(
        () => true,
        (err: unknown) => (log.warn({ err }, 'final status edit failed: sending a new message'), false),
      );
      if (edited) return;
    }
    await ui.send(requester.chatId, { text, locale });
  };
  if (!data.outcome.ok) {
    log.info({ code: data.outcome.error.code }, 'delivering failure');
    await final(lines(head, t.failed(reasonText(data.outcome.error, locale))));
    return;
  }
  const { result, link } = data.outcome;
  if (!(await d.store.wasSent(data.jobId))) {
    const file = service.storage.resolveOutput(result.output);
    const sizeMb = result.bytes / 1024 / 1024;
    const uploadLimit = opts.uploadLimitFor?.(requester) ?? opts.uploadLimitBytes;
    const ttlS = Math.round(service.config.web.linkTtlHours * 3600);
    const alphaLink = result.exports ? makeLink(publicBaseUrl(service.config), result.exports.webm, ttlS, service.secret) : undefined;
    const stats: StatsInfo = { name: data.inputName, background: data.background, result, locale, ...(alphaLink ? { alphaLink } : {}) };
    const linkText = t.tooBigToUpload({ sizeMb, limitMb: round(uploadLimit / 1024 / 1024), link, hours: service.config.web.linkTtlHours });
    // The record was written when the job was submitted; without it there is no input to start from.
    const kept = Boolean(await d.store.loadKept(data.jobId));
    const buttons = resultButtons(data.jobId, locale, { cutout: kept && Boolean(result.cutout), preview: kept && Boolean(result.preview) });
    const again = buttons.length > 0 ? { buttons } : {};
    const linkOnly = async () => {
      if (opts.linkWithStats) {
        await ui.send(requester.chatId, { text: linkText, locale, stats, link: { text: t.downloadOriginal, url: link }, ...again }, { replyTo: requester.messageId });
        return;
      }
      const text = lines(linkText, ...(stats.delivery ? [stats.delivery] : []), ...(alphaLink ? [t.alphaLink(alphaLink)] : []));
      await ui.send(requester.chatId, { text, locale, ...again }, { replyTo: requester.messageId });
    };
    // As it is, a copy re-encoded to fit this place's limit, or the link alone (src/media/fit.ts).
    const prepared = await prepareDeliveryFor(service.config, file, uploadLimit, { onFitError: (err) => log.warn({ err }, 'fitting to the upload limit failed: link only') });
    try {
      stats.delivery = prepared.line(locale);
      if (!prepared.file) {
        log.info({ bytes: result.bytes, uploadLimit }, 'too big to upload: sending the link');
        await linkOnly();
      } else {
        const fitted = prepared.outcome.kind === 'fitted';
        const thumbnail = await makeThumbnail(prepared.file).catch(() => undefined);
        try {
          await ui.sendVideo(requester.chatId, {
            stats,
            link,
            locale,
            ...again,
            file: prepared.file,
            fileName: outputName(data.inputName),
            width: prepared.width,
            height: prepared.height,
            durationS: prepared.durationS,
            thumbnail,
            caption: fitted ? lines(statsCaption(stats), rich(linkTo(t.downloadOriginal, link))) : statsCaption(stats),
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
    await d.store.markSent(data.jobId);
    log.info('delivered');
  }
  await final(lines(head, t.delivered));
}
