/**
 * Pure: what the chat bots say, in English and Simplified Chinese. Every text here is HTML for
 * Telegram's `parse_mode: "HTML"`: anything that came from a user or a file (a file name, a
 * background name, an error detail) goes through escapeHtml, which is all Telegram's HTML needs
 * (&, <, > — quotes only matter inside attributes, and we escape them there too).
 * Errors and refusals are worded by src/i18n/messages.ts, shared with the CLI.
 */
import { backgroundLabel, errorMessage, TEXTS, type Locale } from '../i18n/messages.js';
import type { JobProgress, JobResult } from '../queue/jobs.js';

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A user's name for a file, made safe to show: one line, at most `max` characters. */
export function shortName(name: string, max = 60): string {
  const one = name.replace(/\s+/g, ' ').trim() || 'video';
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

const num = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : '–');

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
  alphaLink(link: string): string;
  cancelJob: string;
  anotherBackground: string;
  recomposeMenu(p: { name: string; background: string | null }): string;
  bgUsage: string;
  bgBadName: string;
  bgGenerating: string;
  bgExists(name: string): string;
  bgAdded(name: string): string;
  bgRemoved(name: string): string;
  ownerOnly: string;
  stats(p: Record<string, number>): string;
  /** The gallery's caption: the backgrounds numbered as in the picture. */
  gallery(labels: string[]): string;
  /** The same, sent just above a menu. */
  menuGallery(labels: string[]): string;
  cutoutGone: string;
  settings(p: { auto: boolean }): string;
  settingsAdminsOnly: string;
  settingsGroupsOnly: string;
  help(p: { maxDurationS: number; downloadLimitMb: number | null; uploadLimitMb: number; perDay: number }): string;
  menu(p: { name: string; durationS: number; width: number; height: number; background: string | null; upscaleOnly: boolean }): string;
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
  queueLine(p: { name: string; state: string; position?: number }): string;
  langSet: string;
  langPrompt: string;
  status(p: JobProgress | null, head: string): string;
  statusHead(p: { name: string; background: string }): string;
  delivered: string;
  /**
   * The link is written out, not hidden behind an <a> tag: Telegram drops links it does not accept
   * (a host without a dot, such as the default http://localhost:8080), and then the user would see
   * no link at all; as text it is at least visible and copyable.
   */
  tooBigToUpload(p: { sizeMb: number; limitMb: number; link: string; hours: number }): string;
  failed(reason: string): string;
  /** The link button under a delivered video (Discord). */
  downloadOriginal: string;
  /** Discord: an attachment over the download limit, refused before downloading. */
  attachmentTooBig(p: { sizeMb: number; limitMb: number }): string;
  attachmentDownloadFailed: string;
  noVideoInMessage: string;
  manageServerOnly: string;
  /** /queue (Discord admins): every job waiting or running. */
  queueOverview(lines: Array<{ name: string; user: string; state: string }>): string;
  commands: Record<'start' | 'help' | 'enhance' | 'bg' | 'cancel' | 'queue' | 'lang' | 'settings', string>;
}

const en: BotTexts = {
  start: 'Start',
  cancel: 'Cancel',
  optionUpscaleOnly: 'upscale only',
  optionKeepCutout: 'keep cut-out',
  optionModelGeneral: 'real footage',
  optionModelAnime: 'anime',
  optionMattingFast: 'faster',
  optionMattingFine: 'fine hair',
  optionTransparent: 'transparent cut-out',
  optionAspectSource: 'as filmed',
  optionPreviewFirst: (n) => `preview ${n} s first`,
  renderAll: 'Render all',
  alphaLink: (link) => `Transparent cut-out (WebM): ${escapeHtml(link)}`,
  cancelJob: 'Cancel',
  anotherBackground: 'Another background',
  recomposeMenu: (p) =>
    `🎨 <b>${escapeHtml(shortName(p.name))}</b>: the same dancer on another background.\nBackground: <b>${p.background === null ? '—' : escapeHtml(p.background)}</b>\nPick one, then press Start.`,
  bgUsage: '/bg shows the backgrounds. Owners: reply to a picture or video with /bg add NAME; /bg remove NAME; /bg generate PROMPT.',
  bgBadName: 'A background name is 1-40 letters, digits, spaces, _ or -.',
  bgGenerating: '🎨 generating the background…',
  bgExists: (name) => `There is already a background called ${escapeHtml(name)}.`,
  bgAdded: (name) => `✅ Background <b>${escapeHtml(name)}</b> added.`,
  bgRemoved: (name) => `Background <b>${escapeHtml(name)}</b> removed.`,
  ownerOnly: 'Only the owners of this bot can do that.',
  stats: (p) =>
    `Queue: ${p.waiting ?? 0} waiting, ${p.active ?? 0} running, ${p.delayed ?? 0} retrying\nKept: ${p.completed ?? 0} done, ${p.failed ?? 0} failed\nDeliveries: ${p.deliveriesPending ?? 0} pending, ${p.deliveriesFailed ?? 0} failed`,
  gallery: (labels) => galleryCaption('Backgrounds (left to right, top to bottom):', labels, 'Send a video to use one.'),
  menuGallery: (labels) => galleryCaption('Backgrounds (left to right, top to bottom):', labels, 'Pick one in the menu below.'),
  cutoutGone: 'The cut-out of this video is no longer kept: send the video again.',
  settings: (p) =>
    `Settings of this group:\n• auto-enhance every video: <b>${p.auto ? 'on' : 'off'}</b>\nChange it with /settings auto on or /settings auto off (admins only).`,
  settingsAdminsOnly: 'Only the admins of this group can change its settings.',
  settingsGroupsOnly: 'Settings are for groups. Here every video you send is enhanced.',
  help: (p) =>
    [
      '<b>dancelift</b> makes dance videos sharp and puts the dancer on a clean background.',
      '',
      'Send me a video (as a video or as a file). Pick a background from the menu, then <b>Start</b>. You get the finished video with its timing.',
      'In groups: caption the video with /enhance, or reply /enhance to a video.',
      '',
      `Limits: videos up to ${Math.round(p.maxDurationS / 60)} min${p.downloadLimitMb !== null ? ` and ${p.downloadLimitMb} MB` : ''}; ${p.perDay} videos a day. Results over ${p.uploadLimitMb} MB come as a download link.`,
      '',
      '/queue your videos · /cancel stop them · /lang 中文 / English',
    ].join('\n'),
  menu: (p) =>
    [
      `🎬 <b>${escapeHtml(shortName(p.name))}</b> · ${p.width}×${p.height} · ${num(p.durationS, 1)} s`,
      p.upscaleOnly ? 'Upscale only (no new background).' : `Background: <b>${p.background === null ? '—' : escapeHtml(p.background)}</b>`,
      'Pick a background and options, then press Start.',
    ].join('\n'),
  pickBackgroundFirst: 'Pick a background first.',
  notYourMenu: 'Only the person who sent this video or a chat admin can use this menu.',
  jobEnded: 'This job has ended.',
  menuExpired: 'This menu has expired: send the video again.',
  menuCancelled: 'Cancelled.',
  alreadyStarted: 'Already started.',
  cancelling: 'Cancelling…',
  nothingToCancel: 'You have no videos queued or in progress.',
  cancelledJobs: (n) => `Cancelling ${n} video${n === 1 ? '' : 's'}.`,
  downloading: '⬇️ Downloading your video…',
  tooBigToDownload: (p) =>
    `This video is ${num(p.sizeMb, 1)} MB: bots on Telegram's cloud Bot API can only download files up to ${p.limitMb} MB. Send a shorter or smaller video — or the bot's owner can run a self-hosted Bot API server (telegram-bot-api --local), which lifts this limit.`,
  downloadFailed: 'I could not download this file from Telegram. Please send it again.',
  groupHint: 'Reply /enhance to a video, or send a video with the caption /enhance.',
  queueEmpty: 'You have no videos queued or in progress.',
  queueLine: (p) => `• <b>${escapeHtml(shortName(p.name, 40))}</b>: ${p.state === 'waiting' && p.position ? `queued (position ${p.position})` : escapeHtml(p.state)}`,
  langSet: 'Language: English.',
  langPrompt: 'Choose a language: /lang en or /lang zh (中文).',
  statusHead: (p) => `🎬 <b>${escapeHtml(shortName(p.name))}</b> → ${escapeHtml(p.background)}`,
  status: (p, head) => `${head}\n${statusLine(p, 'en')}`,
  delivered: '✅ Done.',
  tooBigToUpload: (p) =>
    `✅ Done. The video is ${num(p.sizeMb, 1)} MB, more than the ${p.limitMb} MB a bot may upload here. Download it (the link works for ${p.hours} h):\n${escapeHtml(p.link)}`,
  failed: (reason) => `❌ ${escapeHtml(reason)}`,
  downloadOriginal: 'Download original quality',
  attachmentTooBig: (p) => `This video is ${num(p.sizeMb, 1)} MB; the bot takes videos up to ${p.limitMb} MB. Send a shorter or smaller one.`,
  attachmentDownloadFailed: 'I could not download this attachment. Please try again.',
  noVideoInMessage: 'That message has no video attachment.',
  manageServerOnly: 'Only members with the Manage Server permission can do that.',
  queueOverview: (lines) =>
    lines.length === 0
      ? 'The queue is empty.'
      : lines.map((l, i) => `${i + 1}. <b>${escapeHtml(shortName(l.name, 40))}</b> · ${escapeHtml(l.user)} · ${escapeHtml(l.state)}`).join('\n'),
  commands: {
    start: 'What this bot does',
    help: 'How to use it, limits',
    enhance: 'Enhance the video you reply to',
    bg: 'See the backgrounds',
    cancel: 'Cancel your videos',
    queue: 'Your videos in the queue',
    lang: '中文 / English',
    settings: 'Group settings (admins)',
  },
};

const zh: BotTexts = {
  start: '开始',
  cancel: '取消',
  optionUpscaleOnly: '仅放大',
  optionKeepCutout: '保留抠像',
  optionModelGeneral: '实拍',
  optionModelAnime: '动漫',
  optionMattingFast: '更快',
  optionMattingFine: '发丝精细',
  optionTransparent: '透明抠像',
  optionAspectSource: '原始比例',
  optionPreviewFirst: (n) => `先预览 ${n} 秒`,
  renderAll: '处理全片',
  alphaLink: (link) => `透明抠像（WebM）：${escapeHtml(link)}`,
  cancelJob: '取消',
  anotherBackground: '换个背景',
  recomposeMenu: (p) =>
    `🎨 <b>${escapeHtml(shortName(p.name))}</b>：同一位舞者换到另一个背景。\n背景：<b>${p.background === null ? '—' : escapeHtml(p.background)}</b>\n选好后点“开始”。`,
  bgUsage: '/bg 查看背景。所有者：用 /bg add 名称 回复图片或视频以添加；/bg remove 名称 删除；/bg generate 描述 生成。',
  bgBadName: '背景名称为 1-40 个字母、数字、空格、_ 或 -。',
  bgGenerating: '🎨 正在生成背景…',
  bgExists: (name) => `已有名为 ${escapeHtml(name)} 的背景。`,
  bgAdded: (name) => `✅ 已添加背景 <b>${escapeHtml(name)}</b>。`,
  bgRemoved: (name) => `已删除背景 <b>${escapeHtml(name)}</b>。`,
  ownerOnly: '只有机器人的所有者可以这样做。',
  stats: (p) =>
    `队列：${p.waiting ?? 0} 个等待，${p.active ?? 0} 个处理中，${p.delayed ?? 0} 个重试中\n保留：${p.done ?? p.completed ?? 0} 个完成，${p.failed ?? 0} 个失败\n投递：${p.deliveriesPending ?? 0} 个待发，${p.deliveriesFailed ?? 0} 个失败`,
  gallery: (labels) => galleryCaption('背景（从左到右、从上到下）：', labels, '发送视频即可选用。'),
  menuGallery: (labels) => galleryCaption('背景（从左到右、从上到下）：', labels, '请在下方菜单中选择。'),
  cutoutGone: '这个视频的抠像已不再保留：请重新发送视频。',
  settings: (p) =>
    `本群设置：\n• 自动处理每个视频：<b>${p.auto ? '开' : '关'}</b>\n用 /settings auto on 或 /settings auto off 修改（仅管理员）。`,
  settingsAdminsOnly: '只有本群管理员可以修改设置。',
  settingsGroupsOnly: '设置仅用于群组。在这里，你发送的每个视频都会被处理。',
  help: (p) =>
    [
      '<b>dancelift</b> 让舞蹈视频更清晰，并把舞者放到干净的背景上。',
      '',
      '发送视频（视频或文件均可），在菜单中选择背景，再点<b>开始</b>。完成后会收到视频和耗时统计。',
      '在群组中：给视频配上说明 /enhance，或用 /enhance 回复一个视频。',
      '',
      `限制：视频最长 ${Math.round(p.maxDurationS / 60)} 分钟${p.downloadLimitMb !== null ? `、最大 ${p.downloadLimitMb} MB` : ''}；每天 ${p.perDay} 个。超过 ${p.uploadLimitMb} MB 的结果以下载链接发送。`,
      '',
      '/queue 我的视频 · /cancel 取消 · /lang 中文 / English',
    ].join('\n'),
  menu: (p) =>
    [
      `🎬 <b>${escapeHtml(shortName(p.name))}</b> · ${p.width}×${p.height} · ${num(p.durationS, 1)} 秒`,
      p.upscaleOnly ? '仅放大（不换背景）。' : `背景：<b>${p.background === null ? '—' : escapeHtml(p.background)}</b>`,
      '选择背景和选项，然后点“开始”。',
    ].join('\n'),
  pickBackgroundFirst: '请先选择背景。',
  notYourMenu: '只有发送这个视频的人或群管理员可以使用此菜单。',
  jobEnded: '此任务已结束。',
  menuExpired: '此菜单已过期：请重新发送视频。',
  menuCancelled: '已取消。',
  alreadyStarted: '已经开始了。',
  cancelling: '正在取消…',
  nothingToCancel: '你没有排队或处理中的视频。',
  cancelledJobs: (n) => `正在取消 ${n} 个视频。`,
  downloading: '⬇️ 正在下载你的视频…',
  tooBigToDownload: (p) =>
    `这个视频有 ${num(p.sizeMb, 1)} MB：使用 Telegram 官方云端 Bot API 的机器人只能下载不超过 ${p.limitMb} MB 的文件。请发送更短或更小的视频——或者由机器人的所有者自建 Bot API 服务器（telegram-bot-api --local），即可解除此限制。`,
  downloadFailed: '无法从 Telegram 下载此文件，请重新发送。',
  groupHint: '用 /enhance 回复一个视频，或发送带说明 /enhance 的视频。',
  queueEmpty: '你没有排队或处理中的视频。',
  queueLine: (p) => `• <b>${escapeHtml(shortName(p.name, 40))}</b>：${p.state === 'waiting' && p.position ? `排队中（第 ${p.position} 位）` : escapeHtml(p.state)}`,
  langSet: '语言：中文。',
  langPrompt: '选择语言：/lang zh（中文）或 /lang en（English）。',
  statusHead: (p) => `🎬 <b>${escapeHtml(shortName(p.name))}</b> → ${escapeHtml(p.background)}`,
  status: (p, head) => `${head}\n${statusLine(p, 'zh')}`,
  delivered: '✅ 完成。',
  tooBigToUpload: (p) =>
    `✅ 完成。视频有 ${num(p.sizeMb, 1)} MB，超过机器人在此可上传的 ${p.limitMb} MB。下载链接（${p.hours} 小时内有效）：\n${escapeHtml(p.link)}`,
  failed: (reason) => `❌ ${escapeHtml(reason)}`,
  downloadOriginal: '下载原画质',
  attachmentTooBig: (p) => `这个视频有 ${num(p.sizeMb, 1)} MB；机器人只接受不超过 ${p.limitMb} MB 的视频。请发送更短或更小的视频。`,
  attachmentDownloadFailed: '无法下载这个附件，请重试。',
  noVideoInMessage: '这条消息没有视频附件。',
  manageServerOnly: '只有拥有“管理服务器”权限的成员可以这样做。',
  queueOverview: (lines) =>
    lines.length === 0
      ? '队列是空的。'
      : lines.map((l, i) => `${i + 1}. <b>${escapeHtml(shortName(l.name, 40))}</b> · ${escapeHtml(l.user)} · ${escapeHtml(l.state)}`).join('\n'),
  commands: {
    start: '机器人介绍',
    help: '用法与限制',
    enhance: '处理你回复的视频',
    bg: '查看背景',
    cancel: '取消你的视频',
    queue: '我的排队视频',
    lang: '中文 / English',
    settings: '群组设置（管理员）',
  },
};

/** Numbered labels, cut to fit a caption. */
function galleryCaption(head: string, labels: string[], tail: string): string {
  const lines: string[] = [];
  let used = head.length + tail.length + 2;
  for (const [i, label] of labels.entries()) {
    const line = `${i + 1}. ${shortName(label, 40)}`;
    if (used + line.length + 1 > CAPTION_MAX - 10) {
      lines.push('…');
      break;
    }
    lines.push(escapeHtml(line));
    used += line.length + 1;
  }
  return [head, ...lines, tail].join('\n');
}

export function botTexts(locale: Locale): BotTexts {
  return locale === 'zh' ? zh : en;
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

/** "ffmpeg lanczos / cpu", device names without the model file in brackets. */
function device(d: string): string {
  return d.replace(/\s*\([^)]*\)\s*$/, '').trim();
}

/** Telegram's caption limit (characters after entity parsing). */
export const CAPTION_MAX = 1024;

/**
 * The caption of a delivered video: the name and background, then one line per stage (seconds and
 * fps), the total with the realtime factor, and the devices. HTML, escaped; short enough for a caption.
 */
export function statsCaption(p: { name: string; background: string; result: JobResult; locale: Locale; delivery?: string; alphaLink?: string }): string {
  const { result, locale } = p;
  const zhs = locale === 'zh';
  const stages = result.stats.stages;
  const label = (n: string) => (TEXTS[locale].stages as Record<string, string>)[n] ?? n;
  const lines = [
    `✅ <b>${escapeHtml(shortName(p.name, 48))}</b> → ${escapeHtml(shortName(backgroundLabel(p.background, locale), 40))}`,
    `${result.width}×${result.height} · ${num(result.durationS, 1)} ${zhs ? '秒' : 's'}`,
    ...stages.map((s) => `${escapeHtml(label(s.name))}: ${num(s.seconds, 2)} s · ${num(s.fps, 1)} fps${s.fallbackFrom ? ' *' : ''}`),
    zhs
      ? `总计 ${num(result.stats.totalS, 2)} 秒 · ${num(result.stats.realtimeFactor, 2)}x 实时`
      : `total ${num(result.stats.totalS, 2)} s · ${num(result.stats.realtimeFactor, 2)}x realtime`,
    `${zhs ? '设备' : 'device'}: ${escapeHtml(
      [...new Set(stages.filter((s) => s.name === 'upscale' || s.name === 'matte').map((s) => `${s.engine} / ${device(s.device)}`))].join(', ').slice(0, 200),
    )}`,
  ];
  if (result.stats.retries.length > 0) lines.push(escapeHtml(result.stats.retries.join('; ').slice(0, 200)));
  if (p.delivery) lines.push(escapeHtml(p.delivery));
  if (p.alphaLink) lines.push(botTexts(locale).alphaLink(p.alphaLink));
  return lines.join('\n');
}

/** A failure or refusal in the user's language (errors from the queue come back as { code, params }). */
export function reasonText(err: unknown, locale: Locale): string {
  return errorMessage(err, locale);
}

/** Visible length of an HTML text as Telegram counts it (tags removed, entities one character). */
export function visibleLength(html: string): number {
  return html.replace(/<[^>]*>/g, '').replace(/&(amp|lt|gt|quot);/g, '_').length;
}
