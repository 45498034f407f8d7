/**
 * Pure: the small pieces every bot text is made of — short names, numbers, the status line and the
 * gallery caption. No wording of whole messages here (texts-en.ts, texts-zh.ts), and no platform's
 * markup (rich.ts).
 */
import type { Locale } from '../i18n/messages.js';
import type { JobProgress } from '../queue/jobs.js';
import { plainText, type Rich } from './rich.js';

/** A user's name for a file, made safe to show: one line, at most `max` characters. */
export function shortName(name: string, max = 60): string {
  const one = name.replace(/\s+/g, ' ').trim() || 'video';
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

export const num = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : '–');

/** Telegram's caption limit (visible characters, markup not counted). */
export const CAPTION_MAX = 1024;

/** Numbered labels, cut to fit a caption. */
export function galleryCaption(head: string, labels: string[], tail: string): string {
  const lines: string[] = [];
  let used = head.length + tail.length + 2;
  for (const [i, label] of labels.entries()) {
    const line = `${i + 1}. ${shortName(label, 40)}`;
    if (used + line.length + 1 > CAPTION_MAX - 10) {
      lines.push('…');
      break;
    }
    lines.push(line);
    used += line.length + 1;
  }
  return [head, ...lines, tail].join('\n');
}

/** One line of status: "⏳ queued (position 3)", "🔍 upscaling 41 % · 18 fps", "✂️ matting", "🎞 encoding". */
export function statusLine(p: JobProgress | null, locale: Locale): string {
  const zhs = locale === 'zh';
  if (!p || p.stage === 'queued') {
    const pos = p?.position;
    return zhs ? `⏳ 排队中${pos ? `（第 ${pos} 位）` : ''}` : `⏳ queued${pos ? ` (position ${pos})` : ''}`;
  }
  const pct = p.percent > 0 ? ` ${Math.floor(p.percent)} %` : '';
  const fps = p.fps > 0 ? ` · ${p.fps >= 10 ? Math.round(p.fps) : p.fps.toFixed(1)} fps` : '';
  const eta = p.etaS !== null && p.etaS > 0 ? (zhs ? ` · 约 ${Math.ceil(p.etaS)} 秒` : ` · ~${Math.ceil(p.etaS)} s left`) : '';
  switch (p.stage) {
    case 'decode':
      return zhs ? '⚙️ 准备中' : '⚙️ preparing';
    case 'upscale':
      return (zhs ? `🔍 超分放大${pct}` : `🔍 upscaling${pct}`) + fps + eta;
    case 'matte':
      return (zhs ? `✂️ 抠像${pct}` : `✂️ matting${pct}`) + fps + eta;
    case 'compose':
      return (zhs ? `🎞 编码${pct}` : `🎞 encoding${pct}`) + fps + eta;
    case 'done':
      return zhs ? '📤 正在发送…' : '📤 sending…';
  }
}

/** Visible length of a text as a platform counts it for a caption (markup not counted). */
export function visibleLength(text: Rich): number {
  return plainText(text).length;
}
