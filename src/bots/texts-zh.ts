/** The bots' texts in Simplified Chinese (see texts.ts for what each one is). */
import type { BotTexts } from './texts.js';
import { bold, lines, rich, url } from './rich.js';
import { galleryCaption, num, shortName, statusLine } from './text-format.js';

export const zh: BotTexts = {
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
  alphaLink: (link) => rich('透明抠像（WebM）：', url(link)),
  cancelJob: '取消',
  anotherBackground: '换个背景',
  recomposeMenu: (p) =>
    lines(rich('🎨 ', bold(shortName(p.name)), '：同一位舞者换到另一个背景。'), rich('背景：', bold(p.background ?? '—')), '选好后点“开始”。'),
  bgUsage: '/bg 查看背景。所有者：用 /bg add 名称 回复图片或视频以添加；/bg remove 名称 删除；/bg generate 描述 生成。',
  bgBadName: '背景名称为 1-40 个字母、数字、空格、_ 或 -。',
  bgGenerating: '🎨 正在生成背景…',
  bgExists: (name) => `已有名为 ${name} 的背景。`,
  bgAdded: (name) => rich('✅ 已添加背景 ', bold(name), '。'),
  bgRemoved: (name) => rich('已删除背景 ', bold(name), '。'),
  ownerOnly: '只有机器人的所有者可以这样做。',
  stats: (p) =>
    `队列：${p.waiting ?? 0} 个等待，${p.active ?? 0} 个处理中，${p.delayed ?? 0} 个重试中\n保留：${p.done ?? p.completed ?? 0} 个完成，${p.failed ?? 0} 个失败\n投递：${p.deliveriesPending ?? 0} 个待发，${p.deliveriesFailed ?? 0} 个失败`,
  gallery: (labels) => galleryCaption('背景（从左到右、从上到下）：', labels, '发送视频即可选用。'),
  menuGallery: (labels) => galleryCaption('背景（从左到右、从上到下）：', labels, '请在下方菜单中选择。'),
  cutoutGone: '这个视频的抠像已不再保留：请重新发送视频。',
  settings: (p) =>
    rich('本群设置：\n• 自动处理每个视频：', bold(p.auto ? '开' : '关'), '\n用 /settings auto on 或 /settings auto off 修改（仅管理员）。'),
  settingsAdminsOnly: '只有本群管理员可以修改设置。',
  settingsGroupsOnly: '设置仅用于群组。在这里，你发送的每个视频都会被处理。',
  help: (p) =>
    lines(
      rich(bold('dancelift'), ' 让舞蹈视频更清晰，并把舞者放到干净的背景上。'),
      '',
      rich('发送视频（视频或文件均可），在菜单中选择背景，再点', bold('开始'), '。完成后会收到视频和耗时统计。'),
      '在群组中：给视频配上说明 /enhance，或用 /enhance 回复一个视频。',
      '',
      `限制：视频最长 ${Math.round(p.maxDurationS / 60)} 分钟${p.downloadLimitMb !== null ? `、最大 ${p.downloadLimitMb} MB` : ''}；每天 ${p.perDay} 个。超过 ${p.uploadLimitMb} MB 的结果以下载链接发送。`,
      '',
      '/queue 我的视频 · /cancel 取消 · /lang 中文 / English',
    ),
  menu: (p) =>
    lines(
      rich('🎬 ', bold(shortName(p.name)), ` · ${p.width}×${p.height} · ${num(p.durationS, 1)} 秒`),
      p.upscaleOnly ? '仅放大（不换背景）。' : rich('背景：', bold(p.background ?? '—')),
      '选择背景和选项，然后点“开始”。',
    ),
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
  queueLine: (p) => rich('• ', bold(shortName(p.name, 40)), `：${p.state === 'waiting' && p.position ? `排队中（第 ${p.position} 位）` : p.state}`),
  langSet: '语言：中文。',
  langPrompt: '选择语言：/lang zh（中文）或 /lang en（English）。',
  statusHead: (p) => rich('🎬 ', bold(shortName(p.name)), ` → ${p.background}`),
  status: (p, head) => lines(head, statusLine(p, 'zh')),
  delivered: '✅ 完成。',
  tooBigToUpload: (p) =>
    rich(`✅ 完成。视频有 ${num(p.sizeMb, 1)} MB，超过机器人在此可上传的 ${p.limitMb} MB。下载链接（${p.hours} 小时内有效）：\n`, url(p.link)),
  failed: (reason) => rich('❌ ', reason),
  downloadOriginal: '下载原画质',
  attachmentTooBig: (p) => `这个视频有 ${num(p.sizeMb, 1)} MB；机器人只接受不超过 ${p.limitMb} MB 的视频。请发送更短或更小的视频。`,
  attachmentDownloadFailed: '无法下载这个附件，请重试。',
  noVideoInMessage: '这条消息没有视频附件。',
  manageServerOnly: '只有拥有“管理服务器”权限的成员可以这样做。',
  queueOverview: (rows) =>
    rows.length === 0
      ? '队列是空的。'
      : lines(...rows.map((l, i) => rich(`${i + 1}. `, bold(shortName(l.name, 40)), ` · ${l.user} · ${l.state}`))),
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
