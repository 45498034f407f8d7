/**
 * `npm run bench`: dancelift's pipeline against the reference workflow it replaces, on the same
 * standard input, engines and settings; then each stage alone. Prints the table, writes
 * BENCHMARKS.md and bench/latest.json. See args.ts for the options.
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { packageRoot } from '../config/load.js';
import { onnxModelsDir } from './onnx.js';
import { chooseTempRoot } from '../pipeline/tempdir.js';
import { analyse } from './analysis.js';
import { BenchArgsError, parseBenchArgs, type BenchOptions } from './args.js';
import { benchConfig, isOnnxUpscaler, RESULT_TAG, type SideResult, type SideSpec } from './common.js';
import { buildInput } from './input.js';
import { cpuModel, startCpuAccount, vulkanInfo } from './machine.js';
import { fmt, renderMarkdown, renderText, type BenchReport } from './report-tables.js';
import { watchSide } from './sample.js';
import { summarise, type RunSample, type SideSample } from './stats.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const benchDir = path.join(packageRoot, 'bench');
/** Generated media and scratch space: ignored by git (bench/tmp/ in .gitignore). */
const cacheDir = path.join(benchDir, 'tmp');

interface Sided extends SideSample {
  fallbackFrom?: string;
}

/** Runs one side in a child process while sampling its temp dirs and process tree. */
async function runSide(spec: SideSpec, watchDirs: string[]): Promise<Sided> {
  const child = execa(process.execPath, [path.join(here, 'side.js'), JSON.stringify(spec)], { reject: false, stdin: 'ignore', all: true });
  const watch = watchSide(child.pid!, watchDirs);
  const r = await child;
  const peaks = await watch.stop();
  const line = String(r.stdout).split('\n').reverse().find((l) => l.startsWith(RESULT_TAG));
  if (r.exitCode !== 0 || !line) throw new Error(`bench ${spec.kind} failed (exit ${r.exitCode}):\n${String(r.all).trim().split('\n').slice(-15).join('\n')}`);
  const res = JSON.parse(line.slice(RESULT_TAG.length)) as SideResult;
  return {
    wallS: res.wallS,
    peakTempBytes: Math.max(peaks.peakTempBytes, res.peakTempBytes),
    peakRssBytes: peaks.peakRssBytes,
    stages: res.stages,
    ...(res.fallbackFrom ? { fallbackFrom: res.fallbackFrom } : {}),
  };
}

function say(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

async function bench(opts: BenchOptions): Promise<void> {
  const t0 = performance.now();
  const cpu = startCpuAccount();
  const dataDir = path.join(cacheDir, 'data');
  const clip = path.resolve(packageRoot, opts.clip);
  const inputSpec = { clip, width: opts.width, height: opts.height, fps: opts.fps };
  const input = await buildInput({ ...inputSpec, seconds: opts.seconds }, path.join(cacheDir, 'inputs'));
  const shortInput = await buildInput({ ...inputSpec, seconds: opts.shortSeconds }, path.join(cacheDir, 'inputs'));

  const probeConfig = benchConfig({ dataDir, tempDir: 'auto' });
  const scale = probeConfig.upscale.scale;
  // dancelift's temp dirs where it would put them itself (RAM when there is room), but in a folder of
  // the bench's own, so that sampling sees this run's files only.
  const dlRoot = await chooseTempRoot(probeConfig.pipeline.tempDir, probeConfig.pipeline.chunkFrames * opts.width * opts.height * scale * scale * 8);
  const dlTemp = path.join(dlRoot, `dancelift-bench-${process.pid}`);
  const refWork = path.join(cacheDir, 'reference-work');
  const outDir = path.join(cacheDir, 'out');
  await mkdir(outDir, { recursive: true });

  const onnxDir = onnxModelsDir(probeConfig);
  const onnxModels = existsSync(onnxDir) ? readdirSync(onnxDir).filter((f) => f.endsWith('.onnx')) : [];
  let onnxSkipped: string | null = onnxModels.length ? null : `no ${path.relative(packageRoot, onnxDir)}/*.onnx: the onnx engine's models are not installed (npm run setup)`;

  const spec = (kind: SideSpec['kind'], file: string, extra: Partial<SideSpec> = {}): SideSpec => ({
    kind, input: file, output: path.join(outDir, `${kind}.mp4`), tempDir: dlTemp, dataDir, upscaler: 'realesrgan', withOnnx: onnxSkipped === null, background: 'studio', ...extra,
  });
  const fresh = async (dir: string) => {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
  };
  const timed = async (label: string, s: SideSpec, dir: string) => {
    await fresh(dir);
    const r = await runSide(s, [dir]);
    await rm(dir, { recursive: true, force: true });
    say(`${label}: ${fmt(r.wallS)} s`);
    return r;
  };

  const runs: RunSample[] = [];
  const shortRuns: SideSample[] = [];
  try {
    for (let i = 1; i <= opts.runs; i++) {
      say(`run ${i}/${opts.runs} (${opts.seconds} s clip)`);
      const pipeline = await timed('  dancelift pipeline', spec('pipeline', input), dlTemp);
      let onnxPipeline: SideSample | undefined;
      if (onnxSkipped === null) {
        const o = await timed('  dancelift pipeline, onnx upscaler', spec('pipeline', input, { upscaler: 'onnx', output: path.join(outDir, 'pipeline-onnx.mp4') }), dlTemp);
        if (!isOnnxUpscaler(o.stages[1]?.engine ?? '')) onnxSkipped = `the onnx upscaler did not run: ${o.fallbackFrom ?? 'another engine took over'}`;
        else onnxPipeline = o;
      }
      const reference = await timed('  reference workflow', spec('reference', input, { tempDir: refWork }), refWork);
      const alone = await timed('  stages alone', spec('stages', input, { withOnnx: onnxSkipped === null }), dlTemp);
      runs.push({ pipeline, ...(onnxPipeline ? { onnxPipeline } : {}), alone: alone.stages, reference });
    }
    for (let i = 1; i <= opts.runs; i++) {
      shortRuns.push(await timed(`temp growth check ${i}/${opts.runs}: dancelift pipeline, ${opts.shortSeconds} s clip`, spec('pipeline', shortInput), dlTemp));
    }
  } finally {
    await rm(dlTemp, { recursive: true, force: true });
    await rm(refWork, { recursive: true, force: true });
  }

  const frames = runs[0].pipeline.stages[0].frames;
  const summary = summarise(runs, opts.seconds, frames, shortRuns, opts.shortSeconds);
  if (onnxSkipped !== null && summary.onnx) summary.onnx = null;
  const device = (stages: SideSample['stages'], name: string) => stages.find((s) => s.name === name)?.device ?? 'n/a';
  const account = cpu();
  const report: BenchReport = {
    summary,
    input: { clip: path.relative(packageRoot, clip), seconds: opts.seconds, width: opts.width, height: opts.height, fps: opts.fps, frames, outWidth: opts.width * scale, outHeight: opts.height * scale, audio: true },
    machine: {
      cpu: cpuModel(),
      cores: os.availableParallelism(),
      memoryBytes: os.totalmem(),
      os: `${os.type()} ${os.release()}`,
      node: process.versions.node,
      ...(await vulkanInfo(probeConfig)),
      upscaleDevice: device(runs[0].pipeline.stages, 'upscale'),
      matteDevice: device(runs[0].pipeline.stages, 'matte'),
      onnxUpscaleDevice: runs[0].onnxPipeline ? device(runs[0].onnxPipeline.stages, 'upscale') : null,
    },
    chunkFrames: probeConfig.pipeline.chunkFrames,
    onnxSkipped,
    quick: opts.quick,
    sharedMachine: account ? account.otherCpuS > 0.1 * account.benchCpuS : false,
    cpuAccount: account,
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    benchWallS: (performance.now() - t0) / 1000,
    argv: process.argv.slice(2),
  };
  process.stdout.write(`\n${renderText(report)}\n`);

  const json = {
    wallRatio: summary.wallRatio,
    tempDiskRatio: summary.tempDiskRatio,
    overlapEfficiency: summary.overlapEfficiency,
    runs: summary.runs,
    onnxWallRatio: summary.onnxWallRatio,
    ncnnStartupShare: summary.ncnnStartupShare,
    ...report,
    raw: { runs, short: shortRuns },
  };
  const official = !opts.quick || opts.write;
  const jsonFile = path.join(benchDir, official ? 'latest.json' : 'latest-quick.json');
  await writeFile(jsonFile, `${JSON.stringify(json, null, 2)}\n`);
  if (official) await writeFile(path.join(packageRoot, 'BENCHMARKS.md'), renderMarkdown(report, analyse(report)));
  say(`wrote ${path.relative(packageRoot, jsonFile)}${official ? ' and BENCHMARKS.md' : ' (a --quick run leaves BENCHMARKS.md and bench/latest.json alone; add --write to replace them)'}`);
}

/** BENCHMARKS.md again from a bench's JSON, e.g. after a change to how the figures are explained. */
async function rerender(file: string): Promise<void> {
  const json = JSON.parse(await readFile(file, 'utf8')) as BenchReport & { raw?: { runs: RunSample[]; short: SideSample[] } };
  const { raw, ...report } = json;
  // From the raw runs, so that figures added to the summary since that bench show too.
  if (raw) {
    const onnx = report.summary.onnx;
    report.summary = summarise(raw.runs, report.summary.durationS, report.summary.frames, raw.short, report.summary.short?.durationS ?? 0);
    if (!onnx) report.summary.onnx = null;
  }
  process.stdout.write(`${renderText(report)}\n`);
  await writeFile(path.join(packageRoot, 'BENCHMARKS.md'), renderMarkdown(report, analyse(report)));
  say(`rewrote BENCHMARKS.md from ${file}`);
}

let opts: BenchOptions;
try {
  opts = parseBenchArgs(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof BenchArgsError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(2);
}
(opts.render ? rerender(opts.render) : bench(opts)).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
