/**
 * Pure functions that turn run results into the CLI's output: the timing table, the progress line
 * redrawn on a terminal, the one-JSON-line-per-input of `--json`, and the summary of a folder run.
 * No I/O here, so every format is unit-tested as text.
 */
import type { Progress, RunStats, StageName } from '../pipeline/types.js';
import { errorMessage, oneLine, TEXTS, type Locale } from '../i18n/messages.js';

const STAGE_ORDER: readonly StageName[] = ['decode', 'upscale', 'matte', 'compose'];

// ----- small helpers -----------------------------------------------------------------------------

/** Rounds to `digits` decimals; NaN/Infinity (and missing numbers) become null, which JSON can carry. */
export function roundTo(n: number | null | undefined, digits: number): number | null {
  if (typeof n !== 'number' || !Number.isFinite(n)) return null;
  const f = 10 ** digits;
  const r = Math.round(n * f) / f;
  return Object.is(r, -0) ? 0 : r;
}

/** 1536 → "1.5 KiB" */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** Columns a string takes on a terminal: CJK and full-width characters take two. */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    w +=
      (c >= 0x1100 && c <= 0x115f) ||
      (c >= 0x2e80 && c <= 0xa4cf) ||
      (c >= 0xac00 && c <= 0xd7a3) ||
      (c >= 0xf900 && c <= 0xfaff) ||
      (c >= 0xfe30 && c <= 0xfe4f) ||
      (c >= 0xff00 && c <= 0xff60) ||
      (c >= 0xffe0 && c <= 0xffe6)
        ? 2
        : 1;
  }
  return w;
}

function padEnd(s: string, width: number): string {
  return s + ' '.repeat(Math.max(0, width - displayWidth(s)));
}

function padStart(s: string, width: number): string {
  return ' '.repeat(Math.max(0, width - displayWidth(s))) + s;
}

/** Cuts a string to at most `width` terminal columns. */
function clip(s: string, width: number): string {
  if (displayWidth(s) <= width) return s;
  let out = '';
  for (const ch of s) {
    if (displayWidth(out + ch) > width - 1) break;
    out += ch;
  }
  return `${out}…`;
}

function fixed(n: number | null | undefined, digits: number): string {
  return typeof n === 'number' && Number.isFinite(n) ? n.toFixed(digits) : '-';
}

/** processing time / video duration, from the stats when they have it. */
function realtimeFactorOf(stats: RunStats, durationS: number): number | null {
  if (Number.isFinite(stats.realtimeFactor) && stats.realtimeFactor > 0) return stats.realtimeFactor;
  return durationS > 0 && Number.isFinite(stats.totalS) ? stats.totalS / durationS : null;
}

/** "0.42x realtime" */
export function formatRealtime(factor: number | null, locale: Locale = 'en'): string {
  if (factor === null || !Number.isFinite(factor)) return locale === 'zh' ? '实时倍数未知' : 'realtime factor unknown';
  return TEXTS[locale].realtime({ factor: factor >= 10 ? factor.toFixed(1) : factor.toFixed(2) });
}

// ----- timing table ------------------------------------------------------------------------------

export interface TimingTableInput {
  stats: RunStats;
  /** The input video's duration in seconds. */
  durationS: number;
  /** Output frame size. */
  width: number;
  height: number;
  output: string;
  /** `--export alpha`: the transparent files. */
  exports?: { webm: string; mov: string };
  /** `--preview`: which stretch of the video it is. */
  preview?: PreviewStretch;
  /** An instant repeat: the finished result of the same input with the same settings, not computed again. */
  reused?: boolean;
}

export interface PreviewStretch {
  startS: number;
  seconds: number;
  /** Time spent choosing the stretch and cutting it out (absent when not known). */
  selectS?: number;
}

/**
 * The table printed after a run:
 *
 *   stage    seconds     fps  share  engine                      device
 *   decode      0.81  118.23    7 %  ffmpeg                      cpu
 *   …
 *   total      10.95 s for a 24.50 s video: 0.45x realtime (…)
 *   output   out.mp4 (1440x2560)
 */
export function formatTimingTable(input: TimingTableInput): string {
  const { stats, durationS } = input;
  const total = stats.totalS;
  const header = ['stage', 'seconds', 'fps', 'share¹', 'engine', 'device'];
  const notes: string[] = [];
  const rows = stats.stages.map((s) => {
    let engine = s.engine || '-';
    if (s.fallbackFrom) {
      notes.push(`${s.name} fell back: ${oneLine(s.fallbackFrom)}`);
      engine += ` ²`;
    }
    const share = total > 0 && Number.isFinite(s.seconds) ? `${Math.round((s.seconds / total) * 100)} %` : '-';
    return [s.name, fixed(s.seconds, 2), fixed(s.fps, 2), share, engine, s.device || '-'];
  });
  const widths = header.map((h, i) => Math.max(displayWidth(h), ...rows.map((r) => displayWidth(r[i]))));
  const numeric = new Set([1, 2, 3]);
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : numeric.has(i) ? padStart(c, widths[i]) : padEnd(c, widths[i])))
      .join('  ')
      .trimEnd();
  const label = (s: string) => padEnd(s, Math.max(widths[0], 'peak temp'.length));

  const factor = realtimeFactorOf(stats, durationS);
  const out: string[] = [];
  out.push(line(header));
  out.push(...rows.map(line));
  out.push('-'.repeat(Math.min(100, widths.reduce((a, b) => a + b + 2, 0))));
  out.push(
    `${label('total')}  ${fixed(total, 2)} s for a ${fixed(durationS, 2)} s video: ${formatRealtime(factor)}` +
      ` (processing time / video duration; below 1x is faster than real time)`,
  );
  out.push(`${label('output')}  ${input.output} (${input.width}x${input.height})`);
  if (input.preview) {
    const p = input.preview;
    const chosen = p.selectS !== undefined ? ` (chosen and cut in ${fixed(p.selectS, 2)} s)` : '';
    out.push(`${label('preview')}  ${fixed(p.seconds, 2)} s from ${fixed(p.startS, 2)} s, the most active part${chosen}`);
  }
  if (input.reused) out.push(`${label('reused')}  the result of an earlier identical request (same video, same settings): not computed again; the times above are that run's`);
  if (input.exports) out.push(`${label('alpha')}  ${input.exports.webm} (VP9 with alpha), ${input.exports.mov} (ProRes 4444)`);
  if (Number.isFinite(stats.peakTempBytes) && stats.peakTempBytes > 0) out.push(`${label('peak temp')}  ${formatBytes(stats.peakTempBytes)}`);
  out.push('¹ The stages run at the same time on successive chunks, so the shares can add up to more than 100 %.');
  for (const n of notes) out.push(`² ${n}`);
  return out.join('\n');
}

// ----- progress line -----------------------------------------------------------------------------

function bar(done: number, total: number, width: number): string {
  const frac = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const full = Math.round(frac * width);
  return '█'.repeat(full) + '░'.repeat(width - full);
}

/**
 * One line for a terminal redraw, e.g.
 * `decode ██████ 100/100  upscale ███░░░ 40/100 12.3 fps  matte █░░░░░ 12/100 8.1 fps`.
 * Fits in `width` columns (default 80; one column is kept free so the terminal never wraps).
 */
export function formatProgressLine(states: Progress[], width = 80): string {
  const cols = Math.max(20, Math.floor(Number.isFinite(width) && width > 0 ? width : 80)) - 1;
  const sorted = [...states].sort((a, b) => STAGE_ORDER.indexOf(a.stage) - STAGE_ORDER.indexOf(b.stage));
  if (sorted.length === 0) return '';
  type FpsMode = 'all' | 'running' | 'none';
  const showFps = (p: Progress, mode: FpsMode) =>
    p.fps > 0 && Number.isFinite(p.fps) && (mode === 'all' || (mode === 'running' && (p.total <= 0 || p.done < p.total)));
  const render = (mode: FpsMode, barWidth: number) =>
    sorted
      .map((p) => {
        const count = p.total > 0 ? `${Math.min(p.done, p.total)}/${p.total}` : `${p.done}`;
        const fps = showFps(p, mode) ? ` ${p.fps.toFixed(p.fps >= 10 ? 0 : 1)} fps` : '';
        return barWidth > 0 ? `${p.stage} ${bar(p.done, p.total, barWidth)} ${count}${fps}` : `${p.stage} ${count}${fps}`;
      })
      .join('  ');
  // Widest bars that fit; fps figures of finished stages go first, then all fps, before bars shrink below 3.
  for (const mode of ['all', 'running', 'none'] as const) {
    const textWidth = displayWidth(render(mode, 0)) + sorted.length; // +1 per stage: the space after the bar
    const barWidth = Math.min(20, Math.floor((cols - textWidth) / sorted.length));
    if (barWidth >= 3) return render(mode, barWidth);
  }
  return clip(render('running', 0), cols);
}

// ----- JSON result line --------------------------------------------------------------------------

export interface ResultLineInput {
  input: string;
  output: string | null;
  ok: boolean;
  /** The failure: a message (used as it is) or an error (worded in English). Only shown when !ok. */
  error?: unknown;
  durationS: number | null;
  width: number | null;
  height: number | null;
  stats?: RunStats | null;
  exports?: { webm: string; mov: string };
  preview?: PreviewStretch;
  reused?: boolean;
}

export interface JsonStage {
  name: string;
  seconds: number | null;
  fps: number | null;
  engine: string;
  device: string;
  /** Only when the configured engine could not be used. */
  fallbackFrom?: string;
}

export interface JsonResult {
  input: string;
  output: string | null;
  ok: boolean;
  error?: string;
  durationS: number | null;
  width: number | null;
  height: number | null;
  stats: { stages: JsonStage[]; totalS: number | null; realtimeFactor: number | null } | null;
  /** Only with `--export alpha`. */
  exports?: { webm: string; mov: string };
  /** Only with `--preview`: where it starts in the video and how long it is (seconds, 3 decimals), and the time spent choosing it. */
  preview?: { startS: number | null; seconds: number | null; selectS: number | null };
  /** Only for an instant repeat (`submit`): the finished result of an earlier identical request. */
  reused?: true;
}

function errorText(err: unknown): string {
  if (typeof err === 'string') return oneLine(err) || 'failed';
  if (err === undefined || err === null) return 'failed';
  return errorMessage(err, 'en');
}

/**
 * Exactly one line of JSON for one input, keys in this order: input, output, ok, error (only when
 * it failed), durationS, width, height, stats { stages[{name, seconds, fps, engine, device}],
 * totalS, realtimeFactor }, exports { webm, mov } (only with --export alpha), preview { startS, seconds, selectS } (only with --preview), reused: true (only for an instant repeat). Seconds have 3 decimals, fps 2. A failed input has output and stats null.
 */
export function jsonResultLine(r: ResultLineInput): string {
  const ok = Boolean(r.ok);
  const durationS = roundTo(r.durationS, 3);
  let stats: JsonResult['stats'] = null;
  if (ok && r.stats) {
    const s = r.stats;
    stats = {
      stages: s.stages.map((st) => ({
        name: st.name,
        seconds: roundTo(st.seconds, 3),
        fps: roundTo(st.fps, 2),
        engine: st.engine,
        device: st.device,
        ...(st.fallbackFrom ? { fallbackFrom: oneLine(st.fallbackFrom) } : {}),
      })),
      totalS: roundTo(s.totalS, 3),
      realtimeFactor: roundTo(realtimeFactorOf(s, r.durationS ?? 0), 3),
    };
  }
  const result: JsonResult = {
    input: r.input,
    output: ok ? r.output : null,
    ok,
    ...(ok ? {} : { error: errorText(r.error) }),
    durationS,
    width: typeof r.width === 'number' && Number.isFinite(r.width) ? r.width : null,
    height: typeof r.height === 'number' && Number.isFinite(r.height) ? r.height : null,
    stats,
    ...(ok && r.exports ? { exports: r.exports } : {}),
    ...(ok && r.preview ? { preview: { startS: roundTo(r.preview.startS, 3), seconds: roundTo(r.preview.seconds, 3), selectS: roundTo(r.preview.selectS, 3) } } : {}),
    ...(ok && r.reused ? { reused: true as const } : {}),
  };
  // JSON.stringify escapes U+2028/2029 since ES2019 and never emits raw newlines: one line.
  return JSON.stringify(result);
}

// ----- summary of a folder run -------------------------------------------------------------------

export interface SummaryItem {
  input: string;
  ok: boolean;
  /** A message (used as it is) or an error (worded in `locale`). */
  error?: unknown;
}

/**
 * "3 done, 1 failed:" and one line per failure with its reason; "3 done." when nothing failed.
 */
export function formatSummary(results: SummaryItem[], locale: Locale = 'en'): string {
  const t = TEXTS[locale].summary;
  const failed = results.filter((r) => !r.ok);
  const done = results.length - failed.length;
  if (failed.length === 0) return `${t.allDone({ done })}${locale === 'zh' ? '。' : '.'}`;
  const lines = [`${t.counts({ done, failed: failed.length })}${locale === 'zh' ? '：' : ':'}`];
  for (const f of failed) {
    const reason = typeof f.error === 'string' ? oneLine(f.error) : f.error === undefined ? (locale === 'zh' ? '失败' : 'failed') : errorMessage(f.error, locale);
    lines.push(`  ✘ ${f.input}: ${reason}`);
  }
  return lines.join('\n');
}
