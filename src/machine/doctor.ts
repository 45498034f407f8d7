/**
 * `dancelift doctor`: what this machine has, what the configured engines need, and the command
 * that fixes each gap. Everything is tried for real (programs run, providers create a session),
 * because "installed" and "works here" differ most on GPU machines.
 */
import { createRequire } from 'node:module';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { z } from 'zod';
import type { Config } from '../config/schema.js';
import { packageRoot } from '../paths.js';
import {
  findExecutable,
  installHint,
  locateFfmpeg,
  locateFfprobe,
  locateRealesrgan,
  locateRvmModel,
  pickVulkanDevice,
  isCpuVulkanDevice,
  realesrganFileName,
  vulkanDeviceList,
  type Attempt,
  type Located,
  type Found,
} from './tools.js';
import { locateRealesrganOnnx, realesrganOnnxDir } from './onnx-upscale-models.js';
import { RVM_VARIANTS, rvmFileName } from './rvm-variants.js';
import { rvmReleaseFile } from './provision/rvm.js';
import { gpuChecks, gpuFacts } from './doctor-gpu.js';
import { ProtoWriter } from './provision/onnx-proto.js';
import { FFMPEG, FFPROBE } from '../ffmpeg-names.js';

export interface Check {
  name: string;
  ok: boolean;
  /** Needed by the engines the config selects; a failing required check makes doctor fail. */
  required: boolean;
  detail: string;
  /** The command (or setting) that fixes a failing check. */
  fix?: string;
}

export interface DoctorResult {
  checks: Check[];
  ok: boolean;
}

/**
 * What one engine's doctor checks get. machine/ knows no engines: the engine registry
 * (src/pipeline/engines/registry.ts) is handed in by the caller (src/cli/engines.ts).
 */
export interface EngineDoctorContext {
  config: Config;
  env: NodeJS.ProcessEnv;
  root: string;
  /** The config selects this engine: its failing checks fail doctor. */
  required: boolean;
  /** onnxruntime-node's entry point, null when it is not installed. */
  ort: string | null;
  /** An onnxruntime provider tried on a tiny model in a child process; once per doctor run. */
  probeProvider(provider: string): Promise<ProbeResult>;
}

/** An engine as doctor sees it (a registry entry fits). */
export interface DoctorEngine {
  name: string;
  kind: 'upscale' | 'matte';
  doctor?: (ctx: EngineDoctorContext) => Promise<Check[]>;
}

export interface DoctorOptions {
  env?: NodeJS.ProcessEnv;
  /** Checkout root holding tools/ (tests point it elsewhere). */
  root?: string;
  /** The engines whose own checks run (the registry's); none = the machine's checks only. */
  engines?: readonly DoctorEngine[];
}

const PROBED_PROVIDERS = ['cuda', 'webgpu', 'cpu'] as const;

function firstLine(s: string): string {
  return s.split('\n').map((l) => l.trim()).find(Boolean) ?? '';
}

/** onnxruntime's messages start with a source path and an assertion; the reason is at the end. */
export function shortError(message: string): string {
  const line = firstLine(message);
  const reason = /(Failed to [^\n]*)$/.exec(line)?.[1] ?? line.replace(/^\S*onnxruntime\S*:\d+\s+/, '');
  return reason.length > 160 ? `${reason.slice(0, 157)}...` : reason;
}

function triedText(tried: Attempt[]): string {
  return tried.map((t) => `${t.source} ${t.path}: ${t.problem}`).join('; ');
}

async function ffCheck(name: typeof FFMPEG | typeof FFPROBE, located: Located<Found>, envVar: string, env: NodeJS.ProcessEnv): Promise<Check> {
  const fix = located.tried[0]?.source === envVar ? `correct ${envVar} or unset it (then: ${installHint(FFMPEG)})` : installHint(FFMPEG);
  if (!located.found) return { name, ok: false, required: true, detail: `not found (${triedText(located.tried)})`, fix };
  const r = await execa(located.found.path, ['-hide_banner', '-version'], { env, reject: false, timeout: 15_000 });
  const version = firstLine(r.stdout).replace(/\s+Copyright.*$/, '');
  if (r.exitCode !== 0 || !version) {
    return { name, ok: false, required: true, detail: `${located.found.path} does not run: ${shortError(r.stderr || String(r.exitCode))}`, fix };
  }
  return { name, ok: true, required: true, detail: `${version} (${located.found.source === 'PATH' ? 'on PATH' : located.found.source})` };
}

export function realesrganCheck({ config, env, root, required }: EngineDoctorContext): Check {
  const name = 'realesrgan-ncnn-vulkan';
  const loc = locateRealesrgan(config, env, root);
  if (loc.found) {
    const model = `${config.upscale.realesrgan.model}-x${Math.max(2, config.upscale.scale)}`;
    return { name, ok: true, required, detail: `${loc.found.binary} (${loc.found.source}); model ${model} in ${loc.found.modelsDir}` };
  }
  const fix = config.upscale.realesrgan.binary
    ? `correct upscale.realesrgan.binary / DANCELIFT_REALESRGAN=/path/to/${realesrganFileName()}, or clear it and run: npm run setup`
    : 'npm run setup';
  return { name, ok: false, required, detail: `not found (${triedText(loc.tried)})`, fix };
}

/** File checks only: the converted models are proved by a real inference when the engine starts. */
export function realesrganOnnxCheck({ config, root, required }: EngineDoctorContext): Check {
  const name = 'realesrgan onnx';
  const scales = [2, 3, 4].map((s) => ({ s, loc: locateRealesrganOnnx(config, s, root) }));
  const have = scales.filter((x) => x.loc.found);
  const wanted = Math.max(2, config.upscale.scale);
  const dir = realesrganOnnxDir(config, root);
  if (have.some((x) => x.s === wanted)) {
    return { name, ok: true, required, detail: `x${have.map((x) => x.s).join(', x')} in ${dir} (for --upscaler onnx)` };
  }
  return { name, ok: false, required, detail: `no x${wanted} model in ${dir} (--upscaler onnx falls back to realesrgan-ncnn-vulkan)`, fix: 'npm run setup   (converts the ncnn models)' };
}

export async function vulkanCheck({ config, env, required: usesVulkan }: EngineDoctorContext): Promise<Check> {
  const name = 'Vulkan device';
  if (!findExecutable('vulkaninfo', env)) {
    return { name, ok: false, required: false, detail: 'vulkaninfo is not installed: cannot list devices', fix: installHint('vulkan-tools') };
  }
  const devices = await vulkanDeviceList(env);
  const gpu = config.upscale.realesrgan.gpu;
  if (devices.length === 0) {
    return {
      name,
      ok: false,
      required: usesVulkan,
      detail: 'no Vulkan device (no driver installed?)',
      fix: `install the GPU's Vulkan driver, or for the slow CPU driver: ${installHint('mesa-vulkan-drivers libvulkan1')}`,
    };
  }
  const picked = pickVulkanDevice(devices, gpu);
  const all = devices.map((d) => `${d.index}: ${d.name}`).join(', ');
  if (!picked) {
    return { name, ok: false, required: usesVulkan, detail: `upscale.realesrgan.gpu=${gpu} is not among ${all}`, fix: `set upscale.realesrgan.gpu to one of ${devices.map((d) => d.index).join(', ')} (or empty)` };
  }
  const cpuNote = isCpuVulkanDevice(picked) ? ' — a CPU driver: works, but far too slow for real videos; the ONNX copy of the model runs instead (upscale.realesrgan.onCpuDriver decides)' : '';
  const others = devices.length > 1 ? ` (of ${all})` : '';
  return { name, ok: true, required: usesVulkan, detail: `${picked.index}: ${picked.name}${cpuNote}${others}` };
}

// ---- onnxruntime, probed in child processes: a provider whose native library aborts must not take doctor down with it.

/** An ONNX model computing y = Relu(x + x) on a float[1,4], written with the project's protobuf writer (no model file needed). */
export function tinyOnnxModel(): Buffer {
  const FLOAT = 1;
  // ValueInfo { name, type: TypeProto { tensor_type { elem_type: FLOAT, shape [1, 4] } } }
  const valueInfo = (name: string) => {
    const shape = new ProtoWriter();
    for (const v of [1, 4]) shape.message(1, new ProtoWriter().int(1, v));
    const tensorType = new ProtoWriter().int(1, FLOAT).message(2, shape);
    return new ProtoWriter().string(1, name).message(2, new ProtoWriter().message(1, tensorType));
  };
  const node = (inputs: string[], output: string, op: string) => {
    const w = new ProtoWriter();
    for (const i of inputs) w.string(1, i);
    return w.string(2, output).string(3, `${op}_0`).string(4, op);
  };
  const graph = new ProtoWriter()
    .message(1, node(['x', 'x'], 's', 'Add'))
    .message(1, node(['s'], 'y', 'Relu'))
    .string(2, 'doctor')
    .message(11, valueInfo('x'))
    .message(12, valueInfo('y'));
  const model = new ProtoWriter().int(1, 8).string(2, 'dancelift-doctor').message(7, graph).message(8, new ProtoWriter().int(2, 13));
  return Buffer.from(model.finish());
}

/** The compiled child beside this file; from the TypeScript sources (tests), the built copy in dist/. */
function probeChildScript(): string {
  const sibling = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ort-probe-child.js');
  return existsSync(sibling) ? sibling : path.join(packageRoot, 'dist', 'machine', 'ort-probe-child.js');
}

const probeResult = z.object({
  ok: z.boolean(),
  error: z.string().optional(),
  ms: z.number().optional(),
  inputs: z.array(z.string()).optional(),
  outputs: z.array(z.string()).optional(),
});
export type ProbeResult = z.infer<typeof probeResult>;

function ortEntry(): string | null {
  try {
    return createRequire(import.meta.url).resolve('onnxruntime-node');
  } catch {
    return null;
  }
}

async function runProbe(job: { ort: string; provider?: string; tiny?: string; model?: string }, env: NodeJS.ProcessEnv): Promise<ProbeResult> {
  const r = await execa(process.execPath, [probeChildScript(), JSON.stringify(job)], { env, reject: false, timeout: 90_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('@@probe@@'));
  if (!line) {
    const how = r.timedOut ? 'timed out' : r.signal ? `crashed (${r.signal})` : `exited ${r.exitCode}`;
    return { ok: false, error: `probe ${how}: ${shortError(r.stderr)}` };
  }
  return probeResult.parse(JSON.parse(line.slice('@@probe@@'.length)));
}

const providerFix: Record<string, string> = {
  cuda: 'ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci   (needs internet, an NVIDIA driver, CUDA 12 and cuDNN 9)',
  webgpu: 'needs a GPU driver with Vulkan (Linux), D3D12 (Windows) or Metal (macOS); Dawn refuses CPU drivers',
  cpu: 'npm ci   (reinstalls onnxruntime-node)',
};

const RVM_INPUTS = ['src', 'r1i', 'r2i', 'r3i', 'r4i', 'downsample_ratio'];

/** onnxruntime itself and its providers, whatever engine uses them. */
async function onnxruntimeChecks(config: Config, ort: string | null, probeProvider: (p: string) => Promise<ProbeResult>): Promise<Check[]> {
  if (!ort) return [{ name: 'onnxruntime', ok: false, required: false, detail: 'onnxruntime-node is not installed', fix: 'npm ci' }];
  const providers = [...new Set<string>([...PROBED_PROVIDERS, ...config.matte.rvm.providers])];
  const probes = await Promise.all(providers.map(probeProvider));
  return providers.map((p, i) => {
    const r = probes[i];
    return r.ok
      ? { name: `onnxruntime ${p}`, ok: true, required: false, detail: `works (${r.ms ?? '?'} ms to create and run a session)` }
      : { name: `onnxruntime ${p}`, ok: false, required: false, detail: `not usable here: ${shortError(r.error ?? '')}`, fix: providerFix[p] };
  });
}

/** The RVM engine's checks: its model loads and is RVM's, which variants are here, and the provider it will run on. */
export async function rvmChecks({ config, env, root, required: rvmRequired, ort, probeProvider }: EngineDoctorContext): Promise<Check[]> {
  const loc = locateRvmModel(config, root);
  const file = rvmFileName(config.matte.rvm.variant);
  const modelFix = config.matte.rvm.model
    ? `correct matte.rvm.model / DANCELIFT_RVM_MODEL=/path/to/${file}, or clear it and run: npm run setup`
    : `npm run setup   (or DANCELIFT_RVM_MODEL=/path/to/${file})`;

  if (!ort) {
    return [
      loc.found
        ? { name: 'RVM model', ok: false, required: rvmRequired, detail: `${loc.found.path} (${loc.found.source}), not loadable without onnxruntime`, fix: 'npm ci' }
        : { name: 'RVM model', ok: false, required: rvmRequired, detail: `not found (${triedText(loc.tried)})`, fix: modelFix },
    ];
  }

  const order = config.matte.rvm.providers;
  const [modelProbe, ...probes] = await Promise.all([loc.found ? runProbe({ ort, model: loc.found.path }, env) : Promise.resolve(null), ...order.map(probeProvider)]);

  const checks: Check[] = [];
  if (!loc.found) {
    checks.push({ name: 'RVM model', ok: false, required: rvmRequired, detail: `not found (${triedText(loc.tried)})`, fix: modelFix });
  } else if (!modelProbe?.ok) {
    checks.push({ name: 'RVM model', ok: false, required: rvmRequired, detail: `${loc.found.path} (${loc.found.source}) does not load: ${shortError(modelProbe?.error ?? '')}`, fix: modelFix });
  } else {
    const missing = RVM_INPUTS.filter((i) => !modelProbe.inputs?.includes(i));
    const mb = (statSync(loc.found.path).size / 1e6).toFixed(1);
    checks.push(
      missing.length === 0
        ? { name: 'RVM model', ok: true, required: rvmRequired, detail: `${loc.found.path} (${loc.found.source}, ${mb} MB, loads on cpu)` }
        : { name: 'RVM model', ok: false, required: rvmRequired, detail: `${loc.found.path} is not an RVM model: no input ${missing.join(', ')}`, fix: modelFix },
    );
  }

  checks.push(...rvmVariantChecks(config, root));

  // What the matte stage will really use: the first configured provider that works.
  const chosen = order.find((_, i) => probes[i]?.ok);
  const cpuWorks = (await probeProvider('cpu')).ok;
  checks.push(
    chosen
      ? { name: 'matting provider', ok: true, required: rvmRequired, detail: `RVM will run on onnxruntime ${chosen} (order: ${order.join(' → ')})` }
      : {
          name: 'matting provider',
          ok: false,
          required: rvmRequired,
          detail: `none of ${order.join(', ')} works here`,
          fix: cpuWorks ? 'add cpu to matte.rvm.providers (DANCELIFT_ORT_PROVIDERS=cuda,webgpu,cpu)' : 'npm ci',
        },
  );
  return checks;
}

/**
 * Which RVM networks a job can ask for without a download. Never required: a missing one is fetched
 * on first use; the default's own check ('RVM model') is the one that must pass.
 */
function rvmVariantChecks(config: Config, root: string): Check[] {
  if (config.matte.rvm.model) {
    return [{ name: 'RVM variants', ok: true, required: false, detail: `matte.rvm.model is set: every job uses that file, whatever --matting-model says` }];
  }
  return RVM_VARIANTS.map((variant): Check => {
    const name = `RVM ${variant}${variant === config.matte.rvm.variant ? ' (default)' : ''}`;
    const found = locateRvmModel(config, root, variant).found;
    if (found) return { name, ok: true, required: false, detail: `present: ${found.path} (${found.source})` };
    const { file, sha256 } = rvmReleaseFile(config, variant);
    return {
      name,
      ok: false,
      required: false,
      detail: `${file} not here${sha256 ? ` (sha256 ${sha256})` : ''}; a job asking for it downloads it first`,
      fix: `dancelift provision --matting-model ${variant}`,
    };
  });
}

async function redisCheck(env: NodeJS.ProcessEnv): Promise<Check> {
  const name = 'redis-server';
  const bin = findExecutable('redis-server', env);
  if (!bin) return { name, ok: false, required: false, detail: 'not installed (needed by the job queue and the bots)', fix: installHint('redis-server') };
  const r = await execa(bin, ['--version'], { reject: false, timeout: 10_000 });
  const version = /v=(\S+)/.exec(r.stdout)?.[1];
  return version
    ? { name, ok: true, required: false, detail: `${version} (${bin})` }
    : { name, ok: false, required: false, detail: `${bin} does not run: ${shortError(r.stderr)}`, fix: installHint('redis-server') };
}

export async function doctor(config: Config, opts: DoctorOptions = {}): Promise<DoctorResult> {
  const env = opts.env ?? process.env;
  const root = opts.root ?? packageRoot;
  const ort = ortEntry();
  const tiny = tinyOnnxModel().toString('base64');
  // Shared by onnxruntime's own checks and the engines': each provider is tried once.
  const probed = new Map<string, Promise<ProbeResult>>();
  const probeProvider = (provider: string): Promise<ProbeResult> => {
    if (!ort) return Promise.resolve({ ok: false, error: 'onnxruntime-node is not installed' });
    let p = probed.get(provider);
    if (!p) probed.set(provider, (p = runProbe({ ort, provider, tiny }, env)));
    return p;
  };
  const selected = (e: DoctorEngine) => (e.kind === 'upscale' ? config.upscale.engine : config.matte.engine) === e.name;
  const [ffmpeg, ffprobe, engineChecks, onnx, redis, gpu] = await Promise.all([
    ffCheck(FFMPEG, locateFfmpeg(env), 'FFMPEG_PATH', env),
    ffCheck(FFPROBE, locateFfprobe(env), 'FFPROBE_PATH', env),
    Promise.all((opts.engines ?? []).map((e) => e.doctor?.({ config, env, root, required: selected(e), ort, probeProvider }) ?? [])),
    onnxruntimeChecks(config, ort, probeProvider),
    redisCheck(env),
    gpuFacts(),
  ]);
  const checks = [ffmpeg, ffprobe, ...engineChecks.flat(), ...onnx, redis, ...gpuChecks(gpu, config.dataDir)];
  return { checks, ok: checks.every((c) => c.ok || !c.required) };
}

/** Pure: an aligned table, one check per line, fixes underneath the failures. */
export function formatDoctor(result: DoctorResult): string {
  const width = Math.max(...result.checks.map((c) => c.name.length));
  const lines: string[] = [];
  for (const c of result.checks) {
    const tag = !c.ok && !c.required ? ' (optional)' : '';
    lines.push(`${c.ok ? '✔' : '✘'} ${c.name.padEnd(width)}  ${c.detail}${tag}`);
    if (!c.ok && c.fix) lines.push(`  ${' '.repeat(width)}  fix: ${c.fix}`);
  }
  const failed = result.checks.filter((c) => !c.ok && c.required);
  lines.push('');
  lines.push(
    failed.length === 0
      ? 'All required tools and models are in place.'
      : `${failed.length} required check${failed.length > 1 ? 's' : ''} failed: ${failed.map((c) => c.name).join(', ')}`,
  );
  return lines.join('\n');
}
