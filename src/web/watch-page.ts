import { formatDuration, TEXTS, type Locale } from '../i18n/messages.js';
import type { VideoFacts } from '../queue/watch-meta.js';

/**
 * The HTML the web role answers a link with: the watch page, and the pages that say why a link
 * does not work. Pure functions of their inputs. Everything is inline (style, a few lines of
 * script) so the page works on a LAN with no internet; nothing is fetched from a third party.
 */

/** The user's language from Accept-Language: the first of zh / en by preference; en otherwise. */
export function pickLocale(acceptLanguage: string | undefined): Locale {
  if (!acceptLanguage) return 'en';
  const ranked = acceptLanguage
    .split(',')
    .map((part, i) => {
      const [tag, ...params] = part.trim().toLowerCase().split(';');
      const q = params.map((p) => /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(p)?.[1]).find(Boolean);
      return { tag: tag.trim(), q: q === undefined ? 1 : Number(q), i };
    })
    .filter((x) => x.tag && Number.isFinite(x.q) && x.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i);
  for (const { tag } of ranked) {
    if (tag === 'zh' || tag.startsWith('zh-')) return 'zh';
    if (tag === 'en' || tag.startsWith('en-')) return 'en';
  }
  return 'en';
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const PAGE_TEXTS = {
  en: {
    duration: 'Duration',
    resolution: 'Resolution',
    size: 'Size',
    expires: 'Link expires',
    download: 'Download the original',
    stats: 'How it was made',
    total: 'Total',
    realtime: 'realtime',
    queueWait: 'Waited in the queue',
    background: 'Background',
    noVideo: 'Your browser cannot play this video; use the download button.',
    expiredTitle: 'This link has expired',
    expiredBody: (p: { hours: number; keepHours: number }) =>
      `Download links last ${p.hours} h and finished videos are kept for ${p.keepHours} h. To get the video again, send it to the bot once more: in Telegram send the video to the bot, in Discord use /enhance.`,
    expiredAt: 'Expired',
    forbiddenTitle: 'This link is not valid',
    forbiddenBody: 'The link was changed or cut short. Copy the whole link from the chat message again.',
    notFoundTitle: 'Video not found',
    notFoundBody: 'There is no such video here any more. Finished videos are removed after a while; send the video to the bot again to get a new one.',
  },
  zh: {
    duration: '时长',
    resolution: '分辨率',
    size: '大小',
    expires: '链接有效期至',
    download: '下载原始文件',
    stats: '处理统计',
    total: '总计',
    realtime: '实时',
    queueWait: '排队等待',
    background: '背景',
    noVideo: '浏览器无法播放此视频，请使用下载按钮。',
    expiredTitle: '此链接已过期',
    expiredBody: (p: { hours: number; keepHours: number }) =>
      `下载链接有效 ${p.hours} 小时，处理好的视频保留 ${p.keepHours} 小时。如需再次获取，请把视频重新发给机器人：在 Telegram 中直接发送视频，在 Discord 中使用 /enhance。`,
    expiredAt: '过期时间',
    forbiddenTitle: '此链接无效',
    forbiddenBody: '链接被改动或不完整。请从聊天消息中重新复制完整的链接。',
    notFoundTitle: '找不到视频',
    notFoundBody: '这里已没有这个视频。处理好的视频会在一段时间后删除；请把视频重新发给机器人以获取新的结果。',
  },
} as const;

const STYLE = `
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","PingFang SC","Microsoft YaHei",sans-serif;background:#111;color:#eee}
main{max-width:720px;margin:0 auto;padding:0 0 24px}
video{display:block;width:100%;max-height:80vh;background:#000}
.info{padding:12px 16px}
h1{font-size:1.1rem;margin:4px 0 8px;word-break:break-word}
dl{display:grid;grid-template-columns:auto 1fr;gap:2px 12px;margin:0 0 14px}
dt{color:#aaa}dd{margin:0}
.btn{display:block;text-align:center;padding:12px;border-radius:8px;background:#2d7ff9;color:#fff;text-decoration:none;font-weight:600}
details{margin-top:16px;color:#ccc}summary{cursor:pointer}
table{width:100%;border-collapse:collapse;margin-top:8px;font-size:.85rem}td{padding:2px 8px 2px 0;vertical-align:top}
td:nth-child(2),td:nth-child(3){white-space:nowrap}td:last-child{overflow-wrap:anywhere}
.msg{padding:32px 20px}.msg h1{font-size:1.3rem}
`;

/** Inline, so no script host is needed: shows the expiry in the viewer's own time zone. */
const LOCAL_TIME_SCRIPT = `document.querySelectorAll('time[data-local]').forEach(function(t){var d=new Date(t.dateTime);if(!isNaN(d))t.textContent=d.toLocaleString(document.documentElement.lang,{dateStyle:'medium',timeStyle:'short'});});`;

/** What the page is allowed to load: its own files, nothing else. */
export const PAGE_CSP = "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function shell(locale: Locale, title: string, head: string, body: string): string {
  return `<!doctype html>
<html lang="${locale === 'zh' ? 'zh-CN' : 'en'}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex,nofollow">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
${head}<style>${STYLE}</style>
</head>
<body>
${body}
<script>${LOCAL_TIME_SCRIPT}</script>
</body>
</html>
`;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const num = (n: number, digits: number) => (Math.round(n * 10 ** digits) / 10 ** digits).toString();
const utc = (ms: number) => `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

export interface WatchUrls {
  /** Relative to the page (they work whatever host name the viewer used). */
  video: string;
  download: string;
  poster: string;
  /** Absolute (PUBLIC_BASE_URL): what link-preview crawlers fetch. */
  absVideo: string;
  absPoster: string;
}

export interface WatchView {
  locale: Locale;
  facts: VideoFacts;
  expiresAtMs: number;
  urls: WatchUrls;
  /** The file's media type, e.g. video/mp4. */
  type: string;
}

function statsTable(view: WatchView): string {
  const { facts, locale } = view;
  const stats = facts.stats;
  if (!stats) return '';
  const t = PAGE_TEXTS[locale];
  const stageName = (n: string) => (TEXTS[locale].stages as Record<string, string>)[n] ?? n;
  const rows = stats.stages.map(
    (s) =>
      `<tr><td>${escapeHtml(stageName(s.name))}</td><td>${num(s.seconds, 1)} s</td><td>${num(s.fps, 1)} fps</td><td>${escapeHtml(`${s.engine} / ${s.device}`)}${s.fallbackFrom ? ` (${escapeHtml(s.fallbackFrom)} →)` : ''}</td></tr>`,
  );
  rows.push(`<tr><td>${t.total}</td><td>${num(stats.totalS, 1)} s</td><td colspan="2">${num(stats.realtimeFactor, 2)}x ${t.realtime}</td></tr>`);
  rows.push(`<tr><td>${t.queueWait}</td><td colspan="3">${escapeHtml(formatDuration(stats.queueWaitS, locale))}</td></tr>`);
  for (const r of stats.retries) rows.push(`<tr><td colspan="4">${escapeHtml(r)}</td></tr>`);
  return `<details open><summary>${t.stats}</summary><table>${rows.join('')}</table></details>`;
}

/** The watch page: player, facts, download button, stats, and the tags chat apps build a card from. */
export function renderWatchPage(view: WatchView): string {
  const { facts, locale, urls } = view;
  const t = PAGE_TEXTS[locale];
  const res = facts.width && facts.height ? `${facts.width}×${facts.height}` : '';
  const summary = [res, facts.durationS ? formatDuration(facts.durationS, locale) : '', mb(facts.bytes)].filter(Boolean).join(' · ');
  const iso = new Date(view.expiresAtMs).toISOString();
  const og = [
    ['og:type', 'video.other'],
    ['og:title', facts.downloadName],
    ['og:description', summary],
    ['og:image', urls.absPoster],
    ['og:image:alt', facts.downloadName],
    ['og:video', urls.absVideo],
    ...(urls.absVideo.startsWith('https:') ? [['og:video:secure_url', urls.absVideo]] : []),
    ['og:video:type', view.type],
    ...(facts.width ? [['og:video:width', String(facts.width)], ['og:video:height', String(facts.height)]] : []),
  ]
    .map(([k, v]) => `<meta property="${k}" content="${escapeHtml(v)}">`)
    .join('\n');
  const twitter = [
    ['twitter:card', 'summary_large_image'],
    ['twitter:title', facts.downloadName],
    ['twitter:description', summary],
    ['twitter:image', urls.absPoster],
  ]
    .map(([k, v]) => `<meta name="${k}" content="${escapeHtml(v)}">`)
    .join('\n');
  const rows = [
    [t.duration, facts.durationS ? formatDuration(facts.durationS, locale) : '–'],
    [t.resolution, res || '–'],
    [t.size, mb(facts.bytes)],
    ...(facts.background ? [[t.background, facts.background]] : []),
  ]
    .map(([k, v]) => `<dt>${k}</dt><dd>${escapeHtml(v)}</dd>`)
    .join('');
  const body = `<main>
<video id="player" controls playsinline preload="metadata" poster="${escapeHtml(urls.poster)}"${facts.width ? ` width="${facts.width}" height="${facts.height}"` : ''}>
<source src="${escapeHtml(urls.video)}" type="${escapeHtml(view.type)}">
${escapeHtml(t.noVideo)}
</video>
<div class="info">
<h1>${escapeHtml(facts.downloadName)}</h1>
<dl>${rows}<dt>${t.expires}</dt><dd><time datetime="${iso}" data-local>${utc(view.expiresAtMs)}</time></dd></dl>
<a class="btn" id="download" href="${escapeHtml(urls.download)}" download="${escapeHtml(facts.downloadName)}">⬇ ${t.download} (${mb(facts.bytes)})</a>
${statsTable(view)}
</div>
</main>`;
  return shell(locale, facts.downloadName, `${og}\n${twitter}\n`, body);
}

export type LinkProblem = 'expired' | 'forbidden' | 'not-found';

/** The page for a link that does not lead to a video: expired (410), forged (403), unknown (404). */
export function renderProblemPage(problem: LinkProblem, locale: Locale, p: { hours: number; keepHours: number; expiredAtMs?: number }): string {
  const t = PAGE_TEXTS[locale];
  const [title, text] =
    problem === 'expired' ? [t.expiredTitle, t.expiredBody(p)] : problem === 'forbidden' ? [t.forbiddenTitle, t.forbiddenBody] : [t.notFoundTitle, t.notFoundBody];
  const when =
    problem === 'expired' && p.expiredAtMs !== undefined
      ? `<p>${t.expiredAt}: <time datetime="${new Date(p.expiredAtMs).toISOString()}" data-local>${utc(p.expiredAtMs)}</time></p>`
      : '';
  return shell(locale, title, '', `<main class="msg"><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p>${when}</main>`);
}
