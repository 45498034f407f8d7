/** The bots' texts in English (see texts.ts for what each one is). */
import type { BotTexts } from './texts.js';
import { bold, lines, rich, url } from './rich.js';
import { galleryCaption, num, shortName, statusLine } from './text-format.js';

export const en: BotTexts = {
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
  alphaLink: (link) => rich('Transparent cut-out (WebM): ', url(link)),
  cancelJob: 'Cancel',
  anotherBackground: 'Another background',
  recomposeMenu: (p) =>
    lines(
      rich('🎨 ', bold(shortName(p.name)), ': the same dancer on another background.'),
      rich('Background: ', bold(p.background ?? '—')),
      'Pick one, then press Start.',
    ),
  bgUsage: '/bg shows the backgrounds. Owners: reply to a picture or video with /bg add NAME; /bg remove NAME; /bg generate PROMPT.',
  bgBadName: 'A background name is 1-40 letters, digits, spaces, _ or -.',
  bgGenerating: '🎨 generating the background…',
  bgExists: (name) => `There is already a background called ${name}.`,
  bgAdded: (name) => rich('✅ Background ', bold(name), ' added.'),
  bgRemoved: (name) => rich('Background ', bold(name), ' removed.'),
  ownerOnly: 'Only the owners of this bot can do that.',
  stats: (p) =>
    `Queue: ${p.waiting ?? 0} waiting, ${p.active ?? 0} running, ${p.delayed ?? 0} retrying\nKept: ${p.completed ?? 0} done, ${p.failed ?? 0} failed\nDeliveries: ${p.deliveriesPending ?? 0} pending, ${p.deliveriesFailed ?? 0} failed`,
  gallery: (labels) => galleryCaption('Backgrounds (left to right, top to bottom):', labels, 'Send a video to use one.'),
  menuGallery: (labels) => galleryCaption('Backgrounds (left to right, top to bottom):', labels, 'Pick one in the menu below.'),
  cutoutGone: 'The cut-out of this video is no longer kept: send the video again.',
  settings: (p) =>
    rich('Settings of this group:\n• auto-enhance every video: ', bold(p.auto ? 'on' : 'off'), '\nChange it with /settings auto on or /settings auto off (admins only).'),
  settingsAdminsOnly: 'Only the admins of this group can change its settings.',
  settingsGroupsOnly: 'Settings are for groups. Here every video you send is enhanced.',
  help: (p) =>
    lines(
      rich(bold('dancelift'), ' makes dance videos sharp and puts the dancer on a clean background.'),
      '',
      rich('Send me a video (as a video or as a file). Pick a background from the menu, then ', bold('Start'), '. You get the finished video with its timing.'),
      'In groups: caption the video with /enhance, or reply /enhance to a video.',
      '',
      `Limits: videos up to ${Math.round(p.maxDurationS / 60)} min${p.downloadLimitMb !== null ? ` and ${p.downloadLimitMb} MB` : ''}; ${p.perDay} videos a day. Results over ${p.uploadLimitMb} MB come as a download link.`,
      '',
      '/queue your videos · /cancel stop them · /lang 中文 / English',
    ),
  menu: (p) =>
    lines(
      rich('🎬 ', bold(shortName(p.name)), ` · ${p.width}×${p.height} · ${num(p.durationS, 1)} s`),
      p.upscaleOnly ? 'Upscale only (no new background).' : rich('Background: ', bold(p.background ?? '—')),
      'Pick a background and options, then press Start.',
    ),
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
  queueLine: (p) => rich('• ', bold(shortName(p.name, 40)), `: ${p.state === 'waiting' && p.position ? `queued (position ${p.position})` : p.state}`),
  langSet: 'Language: English.',
  langPrompt: 'Choose a language: /lang en or /lang zh (中文).',
  statusHead: (p) => rich('🎬 ', bold(shortName(p.name)), ` → ${p.background}`),
  status: (p, head) => lines(head, statusLine(p, 'en')),
  delivered: '✅ Done.',
  tooBigToUpload: (p) =>
    rich(`✅ Done. The video is ${num(p.sizeMb, 1)} MB, more than the ${p.limitMb} MB a bot may upload here. Download it (the link works for ${p.hours} h):\n`, url(p.link)),
  failed: (reason) => rich('❌ ', reason),
  downloadOriginal: 'Download original quality',
  attachmentTooBig: (p) => `This video is ${num(p.sizeMb, 1)} MB; the bot takes videos up to ${p.limitMb} MB. Send a shorter or smaller one.`,
  attachmentDownloadFailed: 'I could not download this attachment. Please try again.',
  noVideoInMessage: 'That message has no video attachment.',
  manageServerOnly: 'Only members with the Manage Server permission can do that.',
  queueOverview: (rows) =>
    rows.length === 0
      ? 'The queue is empty.'
      : lines(...rows.map((l, i) => rich(`${i + 1}. `, bold(shortName(l.name, 40)), ` · ${l.user} · ${l.state}`))),
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
