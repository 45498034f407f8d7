import { describe, expect, it } from 'vitest';
import {
  backgroundLabel,
  ERROR_CODES,
  errorMessage,
  formatDuration,
  localeFrom,
  LOCALES,
  stageLabel,
  TEXTS,
} from '../src/i18n/messages.js';
import { PipelineError, type ErrorCode } from '../src/errors.js';
import { DEFAULT_BACKGROUNDS } from '../src/backgrounds/library.js';

/** Representative params for each code, as the pipeline raises them. */
const samples: Record<ErrorCode, Record<string, string | number>> = {
  INPUT_MISSING: { file: '/srv/storage/abc.mp4' },
  NOT_A_VIDEO: { file: '/srv/storage/abc.mp4' },
  CORRUPT: { file: '/srv/storage/abc.mp4', detail: 'moov atom not found' },
  NO_FRAMES: { file: '/srv/storage/abc.mp4' },
  TOO_LONG: { file: '/srv/storage/abc.mp4', durationS: 725, maxS: 600 },
  TOO_LARGE: { file: '/srv/storage/abc.mp4', width: 7680, height: 4320, max: '4096x2160' },
  UNSUPPORTED: { file: '/srv/storage/abc.mp4', format: 'HLS/M3U playlist' },
  BACKGROUND_MISSING: { name: 'beach', available: 'neon, night, studio' },
  TOOL_MISSING: { tool: 'realesrgan-ncnn-vulkan', fix: 'npm run setup' },
  MODEL_MISSING: { fix: 'dancelift provision' },
  TOOL_FAILED: { tool: 'ffmpeg', detail: 'Conversion failed!\nsecond line' },
  GPU_OUT_OF_MEMORY: {},
  CANCELLED: {},
  GENERATOR_FAILED: { reason: 'timeout', url: 'http://127.0.0.1:7860', seconds: 300 },
};

describe('localeFrom', () => {
  it.each([
    ['zh', 'zh'],
    ['zh-CN', 'zh'],
    ['zh-TW', 'zh'],
    ['zh_CN.UTF-8', 'zh'],
    ['ZH-hans', 'zh'],
    ['zh_TW.Big5@stroke', 'zh'],
    ['zh-CN,zh;q=0.9,en;q=0.8', 'zh'],
    ['zh_CN:en_US', 'zh'],
    ['en_US.UTF-8', 'en'],
    ['C.UTF-8', 'en'],
    ['fr-FR', 'en'],
    ['zu', 'en'],
    ['', 'en'],
    [undefined, 'en'],
  ] as const)('%s → %s', (tag, want) => {
    expect(localeFrom(tag)).toBe(want);
  });
});

describe('errorMessage', () => {
  it('has a text in every locale for every ErrorCode, on one line, without file paths', () => {
    for (const code of ERROR_CODES) {
      for (const locale of LOCALES) {
        expect(typeof TEXTS[locale].errors[code], `${locale} ${code}`).toBe('function');
        const text = errorMessage(new PipelineError(code, `internal ${code}`, samples[code]), locale);
        expect(text.length, `${locale} ${code}`).toBeGreaterThan(2);
        expect(text).not.toMatch(/\n|undefined|null|NaN|\{/);
        expect(text).not.toContain('/srv/storage');
        expect(text).not.toContain(`internal ${code}`);
      }
      // The two languages really differ.
      const p = new PipelineError(code, code, samples[code]);
      expect(errorMessage(p, 'zh')).not.toBe(errorMessage(p, 'en'));
      expect(errorMessage(p, 'zh')).toMatch(/[\u4e00-\u9fff]/);
    }
  });

  it('lists exactly the codes of errors.ts', () => {
    // A new ErrorCode without texts fails to compile (Record<ErrorCode, …>); this guards the list.
    expect(new Set(ERROR_CODES).size).toBe(14);
    expect(Object.keys(TEXTS.en.errors).sort()).toEqual([...ERROR_CODES].sort());
    expect(Object.keys(TEXTS.zh.errors).sort()).toEqual([...ERROR_CODES].sort());
  });

  it('interpolates the figures', () => {
    const long = new PipelineError('TOO_LONG', 'x', { durationS: 725, maxS: 600 });
    expect(errorMessage(long, 'en')).toBe('The video is too long (12 min 5 s): the limit is 10 min.');
    expect(errorMessage(long, 'zh')).toBe('视频太长（12 分 5 秒）：最长 10 分钟。');

    const large = new PipelineError('TOO_LARGE', 'x', { width: 7680, height: 4320, max: '4096x2160' });
    expect(errorMessage(large, 'en')).toContain('7680×4320');
    expect(errorMessage(large, 'en')).toContain('4096×2160');
    expect(errorMessage(large, 'zh')).toContain('7680×4320');

    const bg = new PipelineError('BACKGROUND_MISSING', 'x', { name: 'beach', available: 'neon, night, studio' });
    expect(errorMessage(bg, 'en')).toBe('Background "beach" was not found. Choose one of: neon, night, studio — or a colour such as #00b140.');
    expect(errorMessage(bg, 'zh')).toBe('找不到背景“beach”。可选：neon, night, studio，或颜色（例如 #00b140）。');
    expect(errorMessage(bg, 'zh')).toContain('beach');
    expect(errorMessage(bg, 'zh')).toContain('neon, night, studio');
    const bad = new PipelineError('BACKGROUND_MISSING', 'x', { name: 'x.txt', reason: 'not an image or video file', available: '' });
    expect(errorMessage(bad, 'en')).toBe('Background "x.txt" cannot be used: not an image or video file.');

    const tool = new PipelineError('TOOL_MISSING', 'x', { tool: 'realesrgan-ncnn-vulkan', fix: 'npm run setup' });
    expect(errorMessage(tool, 'en')).toBe('realesrgan-ncnn-vulkan is not installed. Fix: npm run setup');
    expect(errorMessage(tool, 'zh')).toBe('未安装 realesrgan-ncnn-vulkan。修复方法：npm run setup');

    expect(errorMessage(new PipelineError('MODEL_MISSING', 'x', { fix: 'dancelift provision' }), 'en')).toContain('Fix: dancelift provision');
    expect(errorMessage(new PipelineError('UNSUPPORTED', 'x', { format: 'HLS/M3U playlist' }), 'zh')).toContain('HLS/M3U playlist');

    const failed = new PipelineError('TOOL_FAILED', 'x', { tool: 'ffmpeg', detail: 'Conversion failed!\n  at line 2' });
    expect(errorMessage(failed, 'en')).toBe('ffmpeg failed: Conversion failed! at line 2');
  });

  it('words missing params gracefully', () => {
    for (const code of ERROR_CODES) {
      for (const locale of LOCALES) {
        expect(errorMessage(new PipelineError(code, 'x'), locale)).not.toMatch(/undefined|null|NaN|\{/);
      }
    }
  });

  it('understands an error that came back as JSON (code + params)', () => {
    const viaQueue = JSON.parse(JSON.stringify({ code: 'TOO_LONG', params: { durationS: 900, maxS: 600 }, message: 'x' }));
    expect(errorMessage(viaQueue, 'en')).toBe('The video is too long (15 min): the limit is 10 min.');
  });

  it('gives unknown errors a generic line with their message', () => {
    expect(errorMessage(new Error('disk full\nreally'), 'en')).toBe('Error: disk full really');
    expect(errorMessage(new Error('disk full'), 'zh')).toBe('出错了：disk full');
    expect(errorMessage({ code: 'NOPE', message: 'odd' }, 'en')).toBe('Error: odd');
    expect(errorMessage('plain string', 'en')).toBe('Error: plain string');
    expect(errorMessage(undefined, 'en')).toBe('Error: something went wrong.');
  });
});

describe('other texts', () => {
  it('durations', () => {
    expect(formatDuration(45, 'en')).toBe('45 s');
    expect(formatDuration(600, 'en')).toBe('10 min');
    expect(formatDuration(61.4, 'zh')).toBe('1 分 1 秒');
  });

  it('stage and background labels in both languages', () => {
    expect(stageLabel('matte', 'zh')).toBe('抠像');
    expect(stageLabel('upscale', 'en')).toBe('upscale');
    for (const d of DEFAULT_BACKGROUNDS) {
      for (const locale of LOCALES) expect(backgroundLabel(d.name, locale)).not.toBe(d.name);
    }
    expect(backgroundLabel('my-beach', 'zh')).toBe('my-beach');
  });
});

describe('queue failures and cancel outcomes', () => {
  it('words the final failures the queue decides, in both languages, without paths', async () => {
    const { JOB_FAILURE_CODES } = await import('../src/queue/jobs.js');
    for (const locale of LOCALES) {
      for (const code of JOB_FAILURE_CODES) {
        const text = errorMessage({ code, message: 'refusing path "../../etc/passwd"', params: {} }, locale);
        expect(text).not.toMatch(/passwd|^Error:|出错了/);
        expect(text.length).toBeGreaterThan(5);
      }
    }
    expect(errorMessage({ code: 'JOB_DATA_INVALID', params: {} }, 'en')).toMatch(/send the video again/);
    expect(errorMessage({ code: 'DISK_FULL', params: {} }, 'zh')).toMatch(/磁盘空间不足/);
  });

  it('says what cancel did, in both languages', async () => {
    const { cancelOutcomeText } = await import('../src/i18n/messages.js');
    expect(cancelOutcomeText('recorded', 'en')).toMatch(/^cancel recorded: no worker is running it now/);
    expect(cancelOutcomeText('cancelling', 'zh')).toMatch(/正在停止/);
  });
});
