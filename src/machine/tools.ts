/**
 * Where the external programs and models live. Lookups are synchronous file checks so that the
 * pipeline, `doctor` and provisioning all agree on one answer; only vulkanDevices() runs a program.
 *
 * An explicitly configured path is authoritative: when it is wrong we report "not found" rather
 * than quietly using another copy, so a typo in config never goes unnoticed.
 */
import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import type { PipelineSettings } from '../config/schema.js';
import { packageRoot } from '../paths.js';
import { PipelineError } from '../errors.js';
import { rvmFileName, type RvmVariant } from './rvm-variants.js';
import { freshFp16 } from './fp16-models.js';
import { FFMPEG, FFPROBE } from '../ffmpeg-names.js';

export interface Found {
  path: string;
  /** Where it came from: 'config', 'tools/', 'PATH', 'data dir', '../shared/models', 'FFMPEG_PATH'... */
  source: string;
}

export interface RealesrganFound {
  binary: string;
  modelsDir: string;
  source: string;
}

/** One place looked at, and why it was not used (for doctor and provisioning messages). */
export interface Attempt {
  source: string;
  path: string;
  problem: string;
}

export interface Located<T> {
  found: T | null;
  tried: Attempt[];
}

export const REALESRGAN_NAME = 'realesrgan-ncnn-vulkan';
/** The default variant's file (see rvm-variants.ts for both). */
export const RVM_MODEL_FILE = rvmFileName('mobilenetv3');
export const SHARED_RVM_MODEL_FILE = 'rvm_mobilenetv3_from_tfjs.onnx';

/** The binary's file name on this platform. */
export function realesrganFileName(platform: NodeJS.Platform = process.platform): string {
  return platform === 'win32' ? `${REALESRGAN_NAME}.exe` : REALESRGAN_NAME;
}

/** tools/realesrgan: where provisioning installs the upscaler. */
export function toolsRealesrganDir(root = packageRoot): string {
  return path.join(root, 'tools', 'realesrgan');
}

/** tools/models/rvm_<variant>_fp32.onnx: where provisioning puts a downloaded RVM model. */
export function toolsRvmModelPath(root = packageRoot, variant: RvmVariant = 'mobilenetv3'): string {
  return path.join(root, 'tools', 'models', rvmFileName(variant));
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

export function isExecutable(p: string): boolean {
  if (!isFile(p)) return false;
  // Windows has no execute bit; existence is what counts there.
  if (process.platform === 'win32') return true;
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Absolute path of `name` on PATH (with PATHEXT on Windows), or null. */
export function findExecutable(name: string, env: NodeJS.ProcessEnv = process.env): string | null {
  if (name.includes('/') || name.includes(path.sep)) return isExecutable(name) ? path.resolve(name) : null;
  const dirs = (env.PATH ?? env.Path ?? '').split(path.delimiter).filter(Boolean);
  const exts = process.platform === 'win32' ? ['', ...(env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';')] : [''];
  for (const dir of dirs) {
    for (const ext of exts) {
      const candidate = path.join(dir, name + ext);
      if (isExecutable(candidate)) return candidate;
    }
  }
  return null;
}

function locateFf(name: typeof FFMPEG | typeof FFPROBE, envVar: string, env: NodeJS.ProcessEnv): Located<Found> {
  const configured = env[envVar];
  if (configured) {
    const resolved = findExecutable(configured, env);
    if (resolved) return { found: { path: resolved, source: envVar }, tried: [] };
    return { found: null, tried: [{ source: envVar, path: configured, problem: 'not an executable file' }] };
  }
  // A bare name is returned so that child processes resolve it the same way a shell would.
  if (findExecutable(name, env)) return { found: { path: name, source: 'PATH' }, tried: [] };
  return { found: null, tried: [{ source: 'PATH', path: name, problem: 'not on PATH' }] };
}

export function locateFfmpeg(env: NodeJS.ProcessEnv = process.env): Located<Found> {
  return locateFf(FFMPEG, 'FFMPEG_PATH', env);
}

export function locateFfprobe(env: NodeJS.ProcessEnv = process.env): Located<Found> {
  return locateFf(FFPROBE, 'FFPROBE_PATH', env);
}

/** FFMPEG_PATH when set (and executable), else the bare name when ffmpeg is on PATH, else null. */
export function ffmpegPath(env: NodeJS.ProcessEnv = process.env): string | null {
  return locateFfmpeg(env).found?.path ?? null;
}

/** FFPROBE_PATH when set (and executable), else the bare name when ffprobe is on PATH, else null. */
export function ffprobePath(env: NodeJS.ProcessEnv = process.env): string | null {
  return locateFfprobe(env).found?.path ?? null;
}

/** Like ffmpegPath(), but a missing ffmpeg becomes the user-facing TOOL_MISSING error. */
export function requireFfmpeg(env: NodeJS.ProcessEnv = process.env): string {
  const p = ffmpegPath(env);
  if (!p) throw new PipelineError('TOOL_MISSING', `ffmpeg not found (fix: ${installHint(FFMPEG)})`, { tool: FFMPEG });
  return p;
}

export function requireFfprobe(env: NodeJS.ProcessEnv = process.env): string {
  const p = ffprobePath(env);
  if (!p) throw new PipelineError('TOOL_MISSING', `ffprobe not found (fix: ${installHint(FFMPEG)})`, { tool: FFPROBE });
  return p;
}

/** The command that installs a system package on this kind of machine. */
export function installHint(pkg: string, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'darwin') return `brew install ${pkg === 'redis-server' ? 'redis' : pkg}`;
  if (platform === 'win32') return `winget install ${pkg}`;
  return `apt-get install -y ${pkg}`;
}

/** Relative config paths are taken from the checkout root, like dataDir. */
function resolveConfigured(p: string, root: string): string {
  return path.resolve(root, p);
}

/** Model files the configured scale needs; x2 always, since it is the default scale. */
export function realesrganModelFiles(model: string, scale: number): string[] {
  const scales = new Set([2, scale >= 2 ? scale : 2]);
  return [...scales].flatMap((s) => [`${model}-x${s}.param`, `${model}-x${s}.bin`]);
}

function missingModels(dir: string, files: string[]): string[] {
  return files.filter((f) => !isFile(path.join(dir, f)));
}

/** Where to look for models next to a binary: beside it, then beside what a symlink points at. */
function modelsBeside(binary: string): string[] {
  const dirs = [path.join(path.dirname(binary), 'models')];
  try {
    const real = path.join(path.dirname(realpathSync(binary)), 'models');
    if (!dirs.includes(real)) dirs.push(real);
  } catch {
    /* dangling link: the binary check has already failed */
  }
  return dirs;
}

export function locateRealesrgan(config: PipelineSettings, env: NodeJS.ProcessEnv = process.env, root = packageRoot): Located<RealesrganFound> {
  const rs = config.upscale.realesrgan;
  const need = realesrganModelFiles(rs.model, config.upscale.scale);
  const tried: Attempt[] = [];

  const check = (binary: string | null, wanted: string, source: string): RealesrganFound | null => {
    if (!binary || !isExecutable(binary)) {
      tried.push({ source, path: wanted, problem: binary && isFile(binary) ? 'not executable' : 'no such file' });
      return null;
    }
    const dirs = rs.modelsDir ? [resolveConfigured(rs.modelsDir, root)] : modelsBeside(binary);
    for (const dir of dirs) {
      const missing = missingModels(dir, need);
      if (missing.length === 0) return { binary, modelsDir: dir, source };
      tried.push({ source, path: dir, problem: `models folder lacks ${missing.join(', ')}` });
    }
    return null;
  };

  if (rs.binary) {
    // A bare name means "this program on PATH".
    const isBare = !rs.binary.includes('/') && !rs.binary.includes(path.sep);
    const binary = isBare ? findExecutable(rs.binary, env) : resolveConfigured(rs.binary, root);
    return { found: check(binary, rs.binary, 'config'), tried };
  }
  const inTools = path.join(toolsRealesrganDir(root), realesrganFileName());
  const fromTools = check(inTools, inTools, 'tools/');
  if (fromTools) return { found: fromTools, tried };
  const onPath = findExecutable(REALESRGAN_NAME, env);
  if (!onPath) {
    tried.push({ source: 'PATH', path: REALESRGAN_NAME, problem: 'not on PATH' });
    return { found: null, tried };
  }
  return { found: check(onPath, onPath, 'PATH'), tried };
}

/**
 * realesrgan-ncnn-vulkan and a models folder holding the configured model: config, then
 * tools/realesrgan, then PATH. Null when none is complete.
 */
export function findRealesrgan(config: PipelineSettings, env: NodeJS.ProcessEnv = process.env, root = packageRoot): RealesrganFound | null {
  return locateRealesrgan(config, env, root).found;
}

/**
 * The RVM model for `variant`: matte.rvm.model when set (whatever the variant: the user chose that
 * file), else the variant's file in tools/models, then <dataDir>/models.
 */
export function locateRvmModel(config: PipelineSettings, root = packageRoot, variant: RvmVariant = config.matte.rvm.variant): Located<Found> {
  const tried: Attempt[] = [];
  if (config.matte.rvm.model) {
    const p = resolveConfigured(config.matte.rvm.model, root);
    if (isFile(p)) return { found: { path: p, source: 'config' }, tried };
    tried.push({ source: 'config', path: p, problem: 'no such file' });
    return { found: null, tried };
  }
  const candidates: Found[] = [
    { path: toolsRvmModelPath(root, variant), source: 'tools/' },
    { path: path.join(config.dataDir, 'models', rvmFileName(variant)), source: 'data dir' },
  ];
  if (variant === 'mobilenetv3') {
    // Test and CI machines cannot download the official file; this is the same network converted from TF.js.
    candidates.push({ path: path.resolve(root, '..', 'shared', 'models', SHARED_RVM_MODEL_FILE), source: '../shared/models' });
  }
  for (const c of candidates) {
    if (isFile(c.path)) return { found: c, tried };
    tried.push({ ...c, problem: 'no such file' });
  }
  return { found: null, tried };
}

/**
 * tools/models/<name>.fp16.onnx: the fp16 copy provisioning makes of the RVM model at `fp32Path`
 * for GPU providers. Always under tools/, whichever folder the fp32 file is in (that one may be
 * read-only, like ../shared/models).
 */
export function toolsRvmFp16Path(fp32Path: string, root = packageRoot): string {
  return path.join(root, 'tools', 'models', `${path.basename(fp32Path, '.onnx')}.fp16.onnx`);
}

/**
 * The fp16 copy of the RVM model at `fp32Path`, when there is one made after that file (an older
 * one belongs to a model that has since been replaced); null otherwise.
 */
export function findRvmFp16(fp32Path: string, root = packageRoot): string | null {
  return freshFp16(toolsRvmFp16Path(fp32Path, root), fp32Path);
}

/** The RVM ONNX model: config, tools/models, <dataDir>/models, then (mobilenetv3) ../shared/models. */
export function findRvmModel(config: PipelineSettings, root = packageRoot, variant: RvmVariant = config.matte.rvm.variant): Found | null {
  return locateRvmModel(config, root, variant).found;
}

export interface VulkanDevice {
  index: number;
  name: string;
  /** e.g. PHYSICAL_DEVICE_TYPE_DISCRETE_GPU, PHYSICAL_DEVICE_TYPE_CPU; '' when not reported. */
  type: string;
}

/** Pure: the devices listed by `vulkaninfo --summary`. */
export function parseVulkaninfoSummary(text: string): VulkanDevice[] {
  const devices: VulkanDevice[] = [];
  // Each device block starts with "GPUn:"; name and type follow within it.
  const blocks = text.split(/^GPU(\d+):\s*$/m);
  for (let i = 1; i + 1 < blocks.length; i += 2) {
    const body = blocks[i + 1];
    const name = /^\s*deviceName\s*=\s*(.+?)\s*$/m.exec(body)?.[1];
    if (!name) continue;
    const type = /^\s*deviceType\s*=\s*(\S+)/m.exec(body)?.[1] ?? '';
    devices.push({ index: Number(blocks[i]), name, type });
  }
  if (devices.length === 0) {
    // Older vulkaninfo builds print no GPUn: headers; fall back to the bare name lines.
    for (const m of text.matchAll(/^\s*deviceName\s*=\s*(.+?)\s*$/gm)) devices.push({ index: devices.length, name: m[1], type: '' });
  }
  return devices;
}

/** All Vulkan devices with their types; [] when vulkaninfo is absent or fails. */
export async function vulkanDeviceList(env: NodeJS.ProcessEnv = process.env): Promise<VulkanDevice[]> {
  if (!findExecutable('vulkaninfo', env)) return [];
  const r = await execa('vulkaninfo', ['--summary'], { env, reject: false, timeout: 30_000 });
  return parseVulkaninfoSummary(r.stdout);
}

/** Names of the Vulkan devices (`vulkaninfo --summary`); [] when vulkaninfo is absent. */
export async function vulkanDevices(): Promise<string[]> {
  return (await vulkanDeviceList()).map((d) => d.name);
}

/** Pure: Mesa's lavapipe/llvmpipe and SwiftShader run Vulkan on the CPU: real, but minutes per frame. */
export function isCpuVulkanDevice(d: VulkanDevice): boolean {
  return /CPU/i.test(d.type) || /llvmpipe|lavapipe|swiftshader/i.test(d.name);
}

/**
 * Pure: the device realesrgan-ncnn-vulkan will pick. `-g N` when configured, else ncnn's default:
 * the first discrete GPU, then the first integrated one, then whatever comes first.
 */
export function pickVulkanDevice(devices: VulkanDevice[], gpu = ''): VulkanDevice | null {
  if (devices.length === 0) return null;
  if (gpu !== '') return devices.find((d) => String(d.index) === gpu) ?? null;
  return (
    devices.find((d) => d.type.includes('DISCRETE')) ??
    devices.find((d) => d.type.includes('INTEGRATED')) ??
    devices[0]
  );
}
