/** The bench's table, as terminal text and as BENCHMARKS.md. Pure. */
import type { CpuAccount } from './machine.js';
import type { StageFigure, Summary } from './stats.js';

export interface InputInfo {
  clip: string;
  seconds: number;
  width: number;
  height: number;
  fps: number;
  frames: number;
  outWidth: number;
  outHeight: number;
  audio: boolean;
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryBytes: number;
  os: string;
  node: string;
  /** The Vulkan device realesrgan-ncnn-vulkan picks, with its type. */
  vulkan: string;
  /** What the engines reported in their stats. */
  upscaleDevice: string;
  matteDevice: string;
  onnxUpscaleDevice: string | null;
  /** A real GPU did the upscaling (the overlap target applies only then). */
  gpu: boolean;
}

export interface BenchReport {
  summary: Summary;
  input: InputInfo;
  machine: MachineInfo;
  chunkFrames: number;
  /** Why the onnx upscaler row is missing, when it is. */
  onnxSkipped: string | null;
  quick: boolean;
  /** Other work ran on the machine during the bench. */
  sharedMachine: boolean;
  /** CPU seconds the bench used, and what other processes took meanwhile. */
  cpuAccount: CpuAccount | null;
  date: string;
  benchWallS: number;
  /** The options the bench was given (after `npm run bench --`). */
  argv?: string[];
}

export const WALL_TARGET = 0.7;
export const TEMP_TARGET = 0.1;
/** The issue's bar for the binary's start-up as a share of its calls. */
export const STARTUP_TARGET = 0.1;
export const GPU_OVERLAP_TARGET = 1.5;

export function fmtBytes(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 100 || u === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}

export function fmt(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : 'n/a';
}

/** Columns padded to their widest cell; numbers (right-aligned columns) line up on the right. */
export function textTable(head: string[], rows: string[][], right: boolean[]): string {
  const all = [head, ...rows];
  const widths = head.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => r.map((cell, c) => (right[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function mdTable(head: string[], rows: string[][], right: boolean[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `| ${head.map(esc).join(' | ')} |`,
    `| ${right.map((r) => (r ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

const STAGE_LABEL: Record<string, string> = {
  decode: 'decode+normalise',
  upscale: 'upscale',
  'upscale-onnx': 'upscale (onnx engine, beside)',
  matte: 'matte',
  'matte-mobilenetv3': 'matte (RVM mobilenetv3, beside)',
  'matte-resnet50': 'matte (RVM resnet50, beside)',
  compose: 'compose+encode',
  extract: '1. extract PNGs (ffmpeg)',
  realesrgan: '2. realesrgan-ncnn-vulkan on the folder',
  encode: '3. re-encode to H.264 (ffmpeg)',
  'matte-file': '4. matte to alpha video (RVM)',
  overlay: '5. overlay + audio + encode (ffmpeg)',
};

const label = (name: string) => STAGE_LABEL[name] ?? name;

function stageRows(stages: StageFigure[], withEngine: boolean): string[][] {
  return stages.map((s) => [label(s.name), fmt(s.seconds), fmt(s.fps, s.fps < 10 ? 2 : 1), ...(withEngine ? [`${s.engine} on ${s.device}`] : [])]);
}

/** Verdict of a "≤ target" ratio. */
export function verdict(value: number, target: number, atMost = true): string {
  if (!Number.isFinite(value)) return 'n/a';
  return (atMost ? value <= target : value >= target) ? 'met' : 'MISSED';
}

type Table = { title: string; head: string[]; rows: string[][]; right: boolean[] };

/** The tables both renderings share, so the terminal and BENCHMARKS.md never disagree. */
export function reportTables(r: BenchReport): Table[] {
  const s = r.summary;
  const sideCols = ['dancelift (pipelined)', ...(s.onnx ? ['dancelift, onnx upscaler'] : []), 'reference workflow'];
  const sides = [s.dancelift, ...(s.onnx ? [s.onnx] : []), s.reference];
  const row = (name: string, f: (x: (typeof sides)[number]) => string) => [name, ...sides.map(f)];
  const growth = s.short ? s.dancelift.peakTempBytes / s.short.peakTempBytes : Number.NaN;
  return [
    {
      title: 'Each stage alone (dancelift engines, whole clip, one stage at a time)',
      head: ['stage', 'seconds', 'fps', 'engine'],
      right: [false, true, true, false],
      rows: [...stageRows(s.alone, true), ['sum of the four stages alone', fmt(s.aloneSumS), fmt(s.frames / s.aloneSumS, 1), '']],
    },
    {
      title: 'dancelift pipeline, per stage (busy time inside the overlapped run)',
      head: ['stage', 'seconds', 'fps', 'engine'],
      right: [false, true, true, false],
      rows: stageRows(s.dancelift.stages, true),
    },
    {
      title: 'Reference workflow, step by step (each waits for the previous)',
      head: ['step', 'seconds', 'fps'],
      right: [false, true, true],
      rows: stageRows(s.reference.stages, false),
    },
    {
      title: 'Totals',
      head: ['', ...sideCols],
      right: [false, ...sideCols.map(() => true)],
      rows: [
        row('wall time (s)', (x) => fmt(x.wallS)),
        row('realtime factor (wall / video length)', (x) => fmt(x.realtimeFactor)),
        row('peak temp disk', (x) => fmtBytes(x.peakTempBytes)),
        row('peak memory (RSS, process tree)', (x) => fmtBytes(x.peakRssBytes)),
      ],
    },
    {
      title: 'Ratios and targets',
      head: ['figure', 'value', 'target', 'verdict'],
      right: [false, true, false, false],
      rows: [
        ['wall time dancelift / reference (same engines)', fmt(s.wallRatio), `≤ ${WALL_TARGET}`, verdict(s.wallRatio, WALL_TARGET)],
        ...(s.onnxWallRatio !== null ? [['wall time dancelift (onnx upscaler) / reference', fmt(s.onnxWallRatio), `≤ ${WALL_TARGET}`, verdict(s.onnxWallRatio, WALL_TARGET)]] : []),
        ['peak temp disk dancelift / reference', fmt(s.tempDiskRatio, 3), `≤ ${TEMP_TARGET}`, verdict(s.tempDiskRatio, TEMP_TARGET)],
        [
          s.short ? `dancelift peak temp, ${s.short.durationS} s vs ${s.durationS} s clip` : 'dancelift peak temp growth',
          s.short ? `${fmtBytes(s.short.peakTempBytes)} → ${fmtBytes(s.dancelift.peakTempBytes)} (x${fmt(growth)})` : 'not measured',
          'no growth (≤ x1.5)',
          // Below one chunk, temp space is meant to follow the frame count: nothing to judge.
          !s.short ? 'n/a' : s.short.frames < r.chunkFrames ? `n/a (${s.short.frames} frames < 1 chunk)` : verdict(growth, 1.5),
        ],
        ...(s.ncnnStartupShare !== null && s.ncnnStartupShare !== undefined
          ? [['realesrgan-ncnn-vulkan start-up / its calls (pipeline)', fmt(s.ncnnStartupShare, 3), `≤ ${STARTUP_TARGET}`, verdict(s.ncnnStartupShare, STARTUP_TARGET)]]
          : []),
        ['overlap efficiency (sum of stages alone / pipelined wall)', fmt(s.overlapEfficiency), `reported; ≥ ${GPU_OVERLAP_TARGET} on a GPU`, !r.machine.gpu ? 'reported (no GPU)' : verdict(s.overlapEfficiency, GPU_OVERLAP_TARGET, false)],
      ],
    },
  ];
}

export function headerLines(r: BenchReport): string[] {
  const i = r.input;
  const m = r.machine;
  return [
    `input: ${i.clip} looped to ${i.seconds} s, ${i.width}x${i.height} at ${i.fps} fps, ${i.frames} frames${i.audio ? ', with audio' : ''} → ${i.outWidth}x${i.outHeight} (x2)`,
    `runs: ${r.summary.runs} of each (figures are medians)${r.summary.short ? `; growth check: ${r.summary.short.runs} runs of a ${r.summary.short.durationS} s clip` : ''}; chunk: ${r.chunkFrames} frames${r.quick ? '; --quick' : ''}`,
    `machine: ${m.cpu}, ${m.cores} cores, ${fmtBytes(m.memoryBytes)} RAM, ${m.os}, Node ${m.node}`,
    ...(r.cpuAccount ? [`CPU time during the bench: ${fmt(r.cpuAccount.benchCpuS, 0)} CPU-s by the bench, ${fmt(r.cpuAccount.otherCpuS, 0)} CPU-s by other processes${r.sharedMachine ? ' (the machine was shared: timings are noisy)' : ''}`] : []),
    `Vulkan device: ${m.vulkan}; realesrgan ran on: ${m.upscaleDevice}`,
    `execution provider: matte ${m.matteDevice}${m.onnxUpscaleDevice ? `; onnx upscaler ${m.onnxUpscaleDevice}` : ''}`,
    ...(r.onnxSkipped ? [`onnx upscaler: skipped (${r.onnxSkipped})`] : []),
  ];
}

export function renderText(r: BenchReport): string {
  const parts = [headerLines(r).join('\n')];
  for (const t of reportTables(r)) parts.push(`${t.title}\n${textTable(t.head, t.rows, t.right)}`);
  parts.push(`bench took ${fmt(r.benchWallS / 60, 1)} min`);
  return parts.join('\n\n');
}

/** BENCHMARKS.md: the same tables, plus what the figures mean (`analysis`, written by the caller). */
export function renderMarkdown(r: BenchReport, analysis: string[]): string {
  const out = [
    '# Benchmarks',
    '',
    `Generated by \`npm run bench${r.argv?.length ? ` -- ${r.argv.join(' ')}` : r.quick ? ' -- --quick --write' : ''}\` on ${r.date}, in ${fmt(r.benchWallS / 60, 1)} min (bench/latest.json holds the same figures). Rerun it to refresh this page.`,
    '',
    ...headerLines(r).map((l) => `- ${l}`),
    '',
  ];
  for (const t of reportTables(r)) out.push(`## ${t.title}`, '', mdTable(t.head, t.rows, t.right), '');
  if (analysis.length) out.push('## What the figures say', '', ...analysis, '');
  if (!r.machine.gpu) out.push(...NO_GPU_SECTION);
  return out.join('\n');
}

/**
 * Said on every CPU-only page: these figures cannot be set against the reference workflow's
 * published RTX 3060 times, and a GPU run has its own command line.
 */
export const NO_GPU_SECTION = [
  '## On a GPU',
  '',
  'Not measured yet: no GPU machine has been lent to this project so far (the session that prepared the GPU check, issue 16, was not lent one), ' +
    'and the run above had no GPU. The reference workflow\'s published figures on an RTX 3060 are, for a 5-minute video, ' +
    'upscale 4–5 min, matting 2 min, compose 1 min (7–8 min in all); our goal there is ≤ 2.5 min (realtime factor ≤ 0.5). ' +
    'CPU figures say nothing about where dancelift stands against them.',
  '',
  '`npm run gpu-check` is the prepared measurement (under 8 minutes on an NVIDIA machine; `npm run gpu-pack` packs it for a machine ' +
    'without Node.js). It writes bench/gpu-check.json with, side by side: the GPU and driver (nvidia-smi), the Vulkan devices and ffmpeg\'s ' +
    'NVIDIA encoders; realesrgan-ncnn-vulkan x2 on 960x540 frames (start-up seconds from its time to first output, frames per second); ' +
    'the ONNX upscaler on each onnxruntime provider that loads (tensorrt, cuda, webgpu, cpu), fp32 and fp16; RVM at 1920x1080 on each provider ' +
    '(and whether its recurrent states stayed on the GPU); h264_nvenc against libx264 at 1080p; and a 10-second 540p → 1080p `enhance` ' +
    'end to end with its realtime factor and overlap efficiency. Without a GPU it runs the same parts at tiny sizes (`gpu: null`). ' +
    'A card other than a 3060 gives per-stage fps and ratios; turning them into 3060 estimates needs a stated method ' +
    '(e.g. scaling each stage by the cards\' published FP16/FP32 throughput ratio), never a bare number.',
  '',
  'For a full bench on a GPU host: `npm run bench -- --size 540x960 --fps 24` (540p in, 1080p out).',
  '',
];
