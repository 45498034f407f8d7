/**
 * Pure: what the chat bots say, in English and Simplified Chinese. Texts with formatting are Rich
 * (rich.ts): platform-neutral spans that each platform renders and escapes itself (Telegram HTML,
 * Discord markdown), so anything that came from a user or a file (a file name, a background name,
 * an error detail) is a plain span here and never escaped by hand. Button labels and command
 * descriptions are plain strings. The wording is in texts-en.ts and texts-zh.ts, the small pieces
 * in text-format.ts. Errors and refusals are worded by src/i18n/messages.ts, shared with the CLI.
 */
import { backgroundLabel, errorMessage, TEXTS, type Locale } from '../i18n/messages.js';
import type { JobProgress, JobResult } from '../queue/jobs.js';
import { bold, lines, rich, type Rich } from './rich.js';
import { num, shortName } from './text-format.js';
import { en } from './texts-en.js';
import { zh } from './texts-zh.js';

export { CAPTION_MAX, shortName, statusLine, visibleLength } from './text-format.js';
export type { Rich } from './rich.js';

export interface BotTexts {
  start: string;
  cancel: string;
  optionUpscaleOnly: string;
  optionKeepCutout: string;
  /** Upscaler models (issue 13) and matting networks (issue 18), as the menu names them. */
  optionModelGeneral: string;
  optionModelAnime: string;
  optionMattingFast: string;
  optionMattingFine: string;
  /** Issue 17's menu entries: transparent cut-out, the source's shape, preview first. */
  optionTransparent: string;
  optionAspectSource: string;
  optionPreviewFirst(seconds: number): string;
  /** Under a delivered preview: the whole video with the same choices. */
  renderAll: string;
  /** The transparent WebM's link under a delivered result. */
  alphaLink(link: string): Rich;
  cancelJob: string;
  anotherBackground: string;
  recomposeMenu(p: { name: string; background: string | null }): Rich;
  bgUsage: string;
  bgBadName: string;
  bgGenerating: string;
  bgExists(name: string): string;
  bgAdded(name: string): Rich;
  bgRemoved(name: string): Rich;
  ownerOnly: string;
  stats(p: Record<string, number>): string;
  /** The gallery's caption: the backgrounds numbered as in the picture. */
  gallery(labels: string[]): string;
  /** The same, sent just above a menu. */
  menuGallery(labels: string[]): string;
  cutoutGone: string;
  settings(p: { auto: boolean }): Rich;
  settingsAdminsOnly: string;
  settingsGroupsOnly: string;
  help(p: { maxDurationS: number; downloadLimitMb: number | null; uploadLimitMb: number; perDay: number }): Rich;
  menu(p: { name: string; durationS: number; width: number; height: number; background: string | null; upscaleOnly: boolean }): Rich;
  pickBackgroundFirst: string;
  notYourMenu: string;
  jobEnded: string;
  menuExpired: string;
  menuCancelled: string;
  alreadyStarted: string;
  cancelling: string;
  nothingToCancel: string;
  cancelledJobs(n: number): string;
  downloading: string;
  tooBigToDownload(p: { sizeMb: number; limitMb: number }): string;
  downloadFailed: string;
  groupHint: string;
  queueEmpty: string;
  queueLine(p: { name: string; state: string; position?: number }): Rich;
  langSet: string;
  langPrompt: string;
  status(p: JobProgress | null, head: Rich): Rich;
  statusHead(p: { name: string; background: string }): Rich;
  delivered: string;
  /**
   * The link is written out (a `url` span), not hidden behind a word: Telegram drops links it does
   * not accept (a host without a dot, such as the default http://localhost:8080), and then the user
   * would see no link at all; as text it is at least visible and copyable.
   */
  tooBigToUpload(p: { sizeMb: number; limitMb: number; link: string; hours: number }): Rich;
  failed(reason: string): Rich;
  /** The link button under a delivered video (Discord). */
  downloadOriginal: string;
  /** Discord: an attachment over the download limit, refused before downloading. */
  attachmentTooBig(p: { sizeMb: number; limitMb: number }): string;
  attachmentDownloadFailed: string;
  noVideoInMessage: string;
  manageServerOnly: string;
  /** /queue (Discord admins): every job waiting or running. */
  queueOverview(lines: Array<{ name: string; user: string; state: string }>): Rich;
  commands: Record<'start' | 'help' | 'enhance' | 'bg' | 'cancel' | 'queue' | 'lang' | 'settings', string>;
}

export function botTexts(locale: Locale): BotTexts {
  return locale === 'zh' ? zh : en;
}
function device(d: string): string {
  return d.replace(/\s*\([^)]*\)\s*$/, '').trim();
}

/**
 * The caption of a delivered video: the name and background, then one line per stage (seconds and
 * fps), the total with the realtime factor, and the devices. Short enough for a caption.
 */
export function statsCaption(p: { name: string; background: string; result: JobResult; locale: Locale; delivery?: string; alphaLink?: string }): Rich {
  const { result, locale } = p;
  const zhs = locale === 'zh';
  const stages = result.stats.stages;
  const label = (n: string) => (TEXTS[locale].stages as Record<string, string>)[n] ?? n;
  const out: Rich[] = [
    rich('✅ ', bold(shortName(p.name, 48)), ` → ${shortName(backgroundLabel(p.background, locale), 40)}`),
    `${result.width}×${result.height} · ${num(result.durationS, 1)} ${zhs ? '秒' : 's'}`,
    ...stages.map((s) => `${label(s.name)}: ${num(s.seconds, 2)} s · ${num(s.fps, 1)} fps${s.fallbackFrom ? ' *' : ''}`),
    zhs
      ? `总计 ${num(result.stats.totalS, 2)} 秒 · ${num(result.stats.realtimeFactor, 2)}x 实时`
      : `total ${num(result.stats.totalS, 2)} s · ${num(result.stats.realtimeFactor, 2)}x realtime`,
    `${zhs ? '设备' : 'device'}: ${[...new Set(stages.filter((s) => s.name === 'upscale' || s.name === 'matte').map((s) => `${s.engine} / ${device(s.device)}`))].join(', ').slice(0, 200)}`,
  ];
  if (result.stats.retries.length > 0) out.push(result.stats.retries.join('; ').slice(0, 200));
  if (p.delivery) out.push(p.delivery);
  if (p.alphaLink) out.push(botTexts(locale).alphaLink(p.alphaLink));
  return lines(...out);
}

/** A failure or refusal in the user's language (errors from the queue come back as { code, params }). */
export function reasonText(err: unknown, locale: Locale): string {
  return errorMessage(err, locale);
}

