/**
 * Every text a user sees, in English and Simplified Chinese, in one table (TEXTS) so that the CLI
 * and the chat bots word things the same way. Texts are functions of their parameters: a
 * translator sees the whole sentence, and TypeScript checks that both languages have every entry.
 *
 * Error texts never contain file paths: the CLI prints the input's name beside them, and a chat
 * user must not see the server's storage paths.
 */
import { ERROR_CODES, type ErrorCode } from '../errors.js';

export { ERROR_CODES };
import type { StageName } from '../pipeline/types.js';
import { REFUSAL_CODES, type RefusalCode } from '../errors.js';
import { JOB_FAILURE_CODES, type JobFailureCode } from '../queue/jobs.js';
import type { CancelOutcome } from '../queue/cancel.js';

/** Final job failures the queue decides; DISK_FULL shares the refusal's text. */
type QueueFailureCode = Exclude<JobFailureCode, RefusalCode>;

export { LOCALES, type Locale } from '../locale.js';
import type { Locale } from '../locale.js';

/** Values a text may use; a missing one is left out of the sentence, never printed as "undefined". */
export type Params = Record<string, string | number | undefined | null>;


type Text = (p: Params) => string;

export interface Texts {
  errors: Record<ErrorCode, Text>;
  /** The service's refusals (limits, full queue, full disk), with when to try again. */
  refusals: Record<RefusalCode, Text>;
  /** Jobs the queue ends for good itself (bad job data, a refused input path). */
  jobFailures: Record<QueueFailureCode, Text>;
  /** What `dancelift cancel` did to a job. */
  cancel: Record<CancelOutcome, string>;
  /** An error we have no code for. */
  genericError: Text;
  stages: Record<StageName, string>;
  summary: {
    /** "3 done, 1 failed" */
    counts: Text;
    /** "3 done" */
    allDone: Text;
  };
  /** Labels of the generated default backgrounds (src/backgrounds/library.ts), for menus. */
  backgrounds: Record<string, string>;
  /** e.g. "0.42x realtime" */
  realtime: Text;
}

// ----- small helpers used by the texts -----------------------------------------------------------

function has(v: unknown): boolean {
  return v !== undefined && v !== null && String(v).trim() !== '';
}

function str(v: unknown): string {
  return has(v) ? oneLine(String(v)) : '';
}

/** Whole seconds as "45 s" / "12 min 5 s" (en) or "45 秒" / "12 分 5 秒" (zh). */
export function formatDuration(seconds: unknown, locale: Locale): string {
  const n = Number(seconds);
  if (!Number.isFinite(n)) return str(seconds);
  const total = Math.round(n);
  const m = Math.floor(total / 60);
  const s = total % 60;
  if (locale === 'zh') return m > 0 ? (s > 0 ? `${m} 分 ${s} 秒` : `${m} 分钟`) : `${s} 秒`;
  return m > 0 ? (s > 0 ? `${m} min ${s} s` : `${m} min`) : `${s} s`;
}

function size(w: unknown, h: unknown): string {
  return has(w) && has(h) ? `${w}×${h}` : '';
}

/** "4096x2160" → "4096×2160" */
function dims(v: unknown): string {
  return str(v).replace(/(\d)x(\d)/g, '$1×$2');
}

/** ": try again in 5 min" when the refusal says when. */
function retry(p: Params, locale: Locale): string {
  if (!has(p.retryAfterS)) return '';
  return locale === 'zh' ? `，请 ${formatDuration(p.retryAfterS, 'zh')} 后再试` : `: try again in ${formatDuration(p.retryAfterS, 'en')}`;
}

/** The failures of `backgrounds generate`, one sentence per params.reason. */
function generatorText(p: Params, locale: Locale): string {
  const at = has(p.url) ? str(p.url) : '';
  const detail = has(p.detail) ? str(p.detail) : '';
  const name = str(p.name);
  if (locale === 'zh') {
    switch (p.reason) {
      case 'not-configured': return '尚未配置图像生成服务：请在 config/local.yaml 中设置 backgrounds.generator.url（以及 kind：automatic1111 或 comfyui）。';
      case 'unreachable': return `图像生成服务${at ? ` ${at}` : ''} 无法连接。请确认它正在运行（AUTOMATIC1111/Forge 需加 --api 启动，或 ComfyUI）。${detail ? `（${detail}）` : ''}`;
      case 'timeout': return `图像生成服务${at ? ` ${at}` : ''} 在 ${has(p.seconds) ? formatDuration(p.seconds, 'zh') : '限定时间'} 内没有完成。可在 backgrounds.generator.timeoutS 中调大时限。`;
      case 'bad-image': return `图像生成服务返回的不是可用的图片${detail ? `：${detail}` : ''}。`;
      case 'bad-name': return `名称“${name}”不可用：请使用 1–40 个字母、数字、空格、_ 或 -。`;
      case 'name-taken': return `背景库中已有名为“${name}”的背景，请换一个名称。`;
      default: return `图像生成服务拒绝了请求${detail ? `：${detail}` : '。'}`;
    }
  }
  switch (p.reason) {
    case 'not-configured': return 'No image generator is set up: set backgrounds.generator.url (and kind: automatic1111 or comfyui) in config/local.yaml.';
    case 'unreachable': return `The image generator${at ? ` at ${at}` : ''} does not answer. Is it running (AUTOMATIC1111/Forge started with --api, or ComfyUI)?${detail ? ` (${detail})` : ''}`;
    case 'timeout': return `The image generator${at ? ` at ${at}` : ''} did not finish within ${has(p.seconds) ? formatDuration(p.seconds, 'en') : 'the time limit'}. Raise backgrounds.generator.timeoutS if it is just slow.`;
    case 'bad-image': return `The image generator did not send back a usable picture${detail ? `: ${detail}` : '.'}`;
    case 'bad-name': return `The name "${name}" cannot be used: use 1-40 letters, digits, spaces, _ or -.`;
    case 'name-taken': return `The library already has a background called "${name}": choose another name.`;
    default: return `The image generator refused the request${detail ? `: ${detail}` : '.'}`;
  }
}

// ----- the table ---------------------------------------------------------------------------------

export const TEXTS: Record<Locale, Texts> = {
  en: {
    errors: {
      INPUT_MISSING: () => 'The input file was not found.',
      NOT_A_VIDEO: () => 'This is not a video file. Please send a video (MP4, MOV, MKV or WebM).',
      CORRUPT: () => 'The video is damaged or cannot be decoded.',
      NO_FRAMES: () => 'The video has no frames to process.',
      TOO_LONG: (p) =>
        `The video is too long${has(p.durationS) ? ` (${formatDuration(p.durationS, 'en')})` : ''}: the limit is ${has(p.maxS) ? formatDuration(p.maxS, 'en') : 'the configured maximum'}.`,
      TOO_LARGE: (p) =>
        `The video is too large${size(p.width, p.height) ? ` (${size(p.width, p.height)})` : ''}: the limit is ${has(p.max) ? dims(p.max) : '4K'}.`,
      UNSUPPORTED: (p) => `This format is not supported${has(p.format) ? ` (${str(p.format)})` : ''}.`,
      BACKGROUND_MISSING: (p) =>
        has(p.reason)
          ? `Background "${str(p.name)}" cannot be used: ${str(p.reason).replace(/\.$/, '')}.${has(p.available) ? ` Choose one of: ${str(p.available)}.` : ''}`
          : `Background "${str(p.name)}" was not found. ${has(p.available) ? `Choose one of: ${str(p.available)} — or a colour such as #00b140.` : 'Use a colour such as #00b140.'}`,
      TOOL_MISSING: (p) => `${has(p.tool) ? str(p.tool) : 'A required tool'} is not installed.${has(p.fix) ? ` Fix: ${str(p.fix)}` : ''}`,
      MODEL_MISSING: (p) =>
        `The ${has(p.model) ? `model ${str(p.model)}` : 'matting model'} is missing${has(p.reason) ? ` (${str(p.reason)})` : ''}.${has(p.fix) ? ` Fix: ${str(p.fix)}` : ''}`,
      TOOL_FAILED: (p) => `${has(p.tool) ? str(p.tool) : 'A tool'} failed${has(p.detail) ? `: ${str(p.detail)}` : '.'}`,
      GPU_OUT_OF_MEMORY: () => 'The GPU ran out of memory. Try a smaller scale or tile size, or a shorter video.',
      CANCELLED: () => 'Cancelled.',
      GENERATOR_FAILED: (p) => generatorText(p, 'en'),
    },
    refusals: {
      DISK_FULL: (p) => `The server is out of disk space right now${retry(p, 'en')}.`,
      QUEUE_FULL: (p) => `The queue is full${has(p.limit) ? ` (${p.limit} videos waiting)` : ''}${retry(p, 'en')}.`,
      USER_BUSY: (p) => `You already have ${has(p.limit) ? p.limit : 'the most'} videos queued or in progress: wait until one is done, then send the next.`,
      USER_DAILY_LIMIT: (p) => `You have reached today's limit${has(p.limit) ? ` of ${p.limit} videos` : ''}${retry(p, 'en')}.`,
      CHAT_NOT_ALLOWED: () => 'This chat is not allowed to use this bot. Ask its owner to add it.',
    },
    jobFailures: {
      JOB_DATA_INVALID: () => 'This job could not be read (it was made by another version of dancelift); please send the video again.',
      INPUT_REFUSED: () => 'The uploaded file of this job could not be used; please send the video again.',
    },
    cancel: {
      removed: 'removed from the queue',
      cancelling: 'stopping: the worker running it is aborting it now',
      recorded: 'cancel recorded: no worker is running it now; it ends as cancelled, without running, when a worker takes it up',
      finished: 'already finished',
      'not-found': 'no such job',
    },
    genericError: (p) => `Error: ${has(p.message) ? str(p.message) : 'something went wrong.'}`,
    stages: { decode: 'decode', upscale: 'upscale', matte: 'matte', compose: 'compose' },
    summary: {
      counts: (p) => `${p.done} done, ${p.failed} failed`,
      allDone: (p) => `${p.done} done`,
    },
    backgrounds: {
      studio: 'Studio (soft grey-blue)',
      sunset: 'Sunset (warm gradient)',
      night: 'Night (moving dark blue)',
      neon: 'Neon (moving purple and cyan)',
      white: 'White',
      green: 'Green screen',
    },
    realtime: (p) => `${p.factor}x realtime`,
  },
  zh: {
    errors: {
      INPUT_MISSING: () => '找不到输入文件。',
      NOT_A_VIDEO: () => '这不是视频文件。请发送视频（MP4、MOV、MKV 或 WebM）。',
      CORRUPT: () => '视频已损坏或无法解码。',
      NO_FRAMES: () => '视频中没有可处理的画面。',
      TOO_LONG: (p) =>
        `视频太长${has(p.durationS) ? `（${formatDuration(p.durationS, 'zh')}）` : ''}：最长 ${has(p.maxS) ? formatDuration(p.maxS, 'zh') : '为设定的上限'}。`,
      TOO_LARGE: (p) =>
        `视频分辨率太大${size(p.width, p.height) ? `（${size(p.width, p.height)}）` : ''}：上限为 ${has(p.max) ? dims(p.max) : '4K'}。`,
      UNSUPPORTED: (p) => `不支持此格式${has(p.format) ? `（${str(p.format)}）` : ''}。`,
      BACKGROUND_MISSING: (p) =>
        has(p.reason)
          ? `背景“${str(p.name)}”无法使用：${str(p.reason).replace(/\.$/, '')}。${has(p.available) ? `可选：${str(p.available)}。` : ''}`
          : `找不到背景“${str(p.name)}”。${has(p.available) ? `可选：${str(p.available)}，或颜色（例如 #00b140）。` : '可以使用颜色，例如 #00b140。'}`,
      TOOL_MISSING: (p) => `未安装${has(p.tool) ? ` ${str(p.tool)}` : '所需的工具'}。${has(p.fix) ? `修复方法：${str(p.fix)}` : ''}`,
      MODEL_MISSING: (p) => `缺少${has(p.model) ? `模型 ${str(p.model)}` : '抠像模型'}${has(p.reason) ? `（${str(p.reason)}）` : ''}。${has(p.fix) ? `修复方法：${str(p.fix)}` : ''}`,
      TOOL_FAILED: (p) => `${has(p.tool) ? str(p.tool) : '工具'} 运行失败${has(p.detail) ? `：${str(p.detail)}` : '。'}`,
      GPU_OUT_OF_MEMORY: () => '显卡显存不足。请尝试更小的放大倍数或分块大小，或更短的视频。',
      CANCELLED: () => '已取消。',
      GENERATOR_FAILED: (p) => generatorText(p, 'zh'),
    },
    refusals: {
      DISK_FULL: (p) => `服务器磁盘空间不足${retry(p, 'zh')}。`,
      QUEUE_FULL: (p) => `队列已满${has(p.limit) ? `（${p.limit} 个视频在等待）` : ''}${retry(p, 'zh')}。`,
      USER_BUSY: (p) => `你已有 ${has(p.limit) ? p.limit : '最多'} 个视频在排队或处理中：请等其中一个完成后再发送。`,
      USER_DAILY_LIMIT: (p) => `你已达到今日上限${has(p.limit) ? `（${p.limit} 个视频）` : ''}${retry(p, 'zh')}。`,
      CHAT_NOT_ALLOWED: () => '此聊天不允许使用本机器人，请联系机器人所有者添加。',
    },
    jobFailures: {
      JOB_DATA_INVALID: () => '无法读取此任务（它由另一版本的 dancelift 创建），请重新发送视频。',
      INPUT_REFUSED: () => '此任务上传的文件无法使用，请重新发送视频。',
    },
    cancel: {
      removed: '已从队列中移除',
      cancelling: '正在停止：运行它的 worker 正在中止它',
      recorded: '已记录取消：目前没有 worker 在运行它；当有 worker 接手时，它会直接以“已取消”结束，不再运行',
      finished: '已经结束',
      'not-found': '没有这个任务',
    },
    genericError: (p) => `出错了：${has(p.message) ? str(p.message) : '未知错误。'}`,
    stages: { decode: '解码', upscale: '超分放大', matte: '抠像', compose: '合成编码' },
    summary: {
      counts: (p) => `${p.done} 个完成，${p.failed} 个失败`,
      allDone: (p) => `${p.done} 个完成`,
    },
    backgrounds: {
      studio: '影棚（柔和灰蓝）',
      sunset: '日落（暖色渐变）',
      night: '夜色（流动的深蓝）',
      neon: '霓虹（流动的紫与青）',
      white: '纯白',
      green: '绿幕',
    },
    realtime: (p) => `${p.factor} 倍实时`,
  },
};

// ----- API ---------------------------------------------------------------------------------------

/**
 * A locale tag (BCP 47 "zh-CN", POSIX "zh_CN.UTF-8", an Accept-Language or LANGUAGE list such as
 * "zh-CN,en;q=0.8" or "zh_CN:en") → 'zh' for any Chinese, else 'en'. Reading LANG/LC_ALL is the
 * caller's business.
 */
export function localeFrom(tag?: string | null): Locale {
  const first = (tag ?? '').trim().split(/[,:;\s]/)[0].toLowerCase();
  return /^zh(?:$|[-_.@])/.test(first) ? 'zh' : 'en';
}

/** Whitespace (newlines from a tool's stderr included) folded into one line. */
export function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

function isRefusalCode(v: unknown): v is RefusalCode {
  return typeof v === 'string' && (REFUSAL_CODES as readonly string[]).includes(v);
}

function isJobFailureCode(v: unknown): v is QueueFailureCode {
  return typeof v === 'string' && !isRefusalCode(v) && (JOB_FAILURE_CODES as readonly string[]).includes(v);
}

function isErrorCode(v: unknown): v is ErrorCode {
  return typeof v === 'string' && (ERROR_CODES as readonly string[]).includes(v);
}

/**
 * One line for the user in their language. Understands PipelineError and anything shaped like
 * one ({ code, params }, e.g. an error that came back through the job queue as JSON); other errors
 * get the generic line with their message.
 */
export function errorMessage(err: unknown, locale: Locale): string {
  const texts = TEXTS[locale] ?? TEXTS.en;
  if (typeof err === 'object' && err !== null) {
    const e = err as { code?: unknown; params?: unknown; message?: unknown };
    if (isRefusalCode(e.code)) {
      const params = typeof e.params === 'object' && e.params !== null ? (e.params as Params) : {};
      return oneLine(texts.refusals[e.code](params));
    }
    if (isJobFailureCode(e.code)) return oneLine(texts.jobFailures[e.code]({}));
    if (isErrorCode(e.code)) {
      const params = typeof e.params === 'object' && e.params !== null ? (e.params as Params) : {};
      return oneLine(texts.errors[e.code](params));
    }
    const message = typeof e.message === 'string' ? e.message : String(err);
    return oneLine(texts.genericError({ message }));
  }
  return oneLine(texts.genericError({ message: err === undefined ? '' : String(err) }));
}

/** One line for what `cancel` did to a job. */
export function cancelOutcomeText(outcome: CancelOutcome, locale: Locale): string {
  return TEXTS[locale].cancel[outcome];
}

/** The user-facing name of a pipeline stage. */
export function stageLabel(stage: StageName, locale: Locale): string {
  return TEXTS[locale].stages[stage];
}

/** The menu label of a background: the default's label, else its own name. */
export function backgroundLabel(name: string, locale: Locale): string {
  return TEXTS[locale].backgrounds[name.toLowerCase()] ?? name;
}
