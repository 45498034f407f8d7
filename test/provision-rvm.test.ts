/**
 * Both RVM variants' download-and-verify path against a local HTTP server standing in for RVM's
 * GitHub release. The ResNet-50 file itself cannot be had here, so the server serves a real RVM
 * network (the shared MobileNetV3 ONNX) under the resnet50 name, with a test-only pin equal to that
 * file's sha256; the wrong-checksum case keeps the real published resnet50 pin from default.yaml.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { createMatter } from '../src/pipeline/engines/index.js';
import { rvmFileName } from '../src/machine/rvm-variants.js';
import { findRvmModel, toolsRvmModelPath } from '../src/machine/tools.js';
import { formatProvision } from '../src/machine/provision/index.js';
import { provision } from '../src/cli/engines.js';
import type { ProvisionReport } from '../src/machine/provision/index.js';

/** The RVM step: its place among the steps follows the engine registry's order. */
const rvmStep = (r: ProvisionReport) => r.steps.find((s) => s.name.startsWith('RVM '))!;
import { ensureRvmModel, rvmReleaseFile } from '../src/machine/provision/rvm.js';
import { rejection } from './helpers/assert.js';
import { rvmModel, tempDir } from './helpers/media.js';

const realModel = readFileSync(rvmModel);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const RESNET = rvmFileName('resnet50');
const MOBILE = rvmFileName('mobilenetv3');
/** The published pin (default.yaml), which the served stand-in file cannot match. */
const PUBLISHED_RESNET_SHA = loadConfig({ env: {} }).provision.rvm.sha256[RESNET];

let server: Server;
let base = '';
let hits: string[] = [];
/** Files the fake release serves; a name in `cut` gets half its bytes, then the connection dies. */
const files = new Map<string, Buffer>();
const cut = new Set<string>();

beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    const name = (req.url ?? '').replace(/^\/release\//, '');
    const body = files.get(name);
    if (!body) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    if (cut.has(name)) {
      res.write(body.subarray(0, body.length >> 1), () => res.socket?.destroy());
      return;
    }
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/release/`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

let tmp: ReturnType<typeof tempDir>;
let root: string;
beforeEach(() => {
  tmp = tempDir('dancelift-rvm-provision-');
  // A temp checkout: no ../shared/models beside it, so no RVM copy is found there.
  root = path.join(tmp.dir, 'checkout');
  files.clear();
  cut.clear();
  hits = [];
});
afterEach(() => tmp.remove());

const logs: string[] = [];
const log = (m: string) => logs.push(m);
const noNetwork: typeof fetch = async () => {
  throw new Error('getaddrinfo ENOTFOUND github.com');
};
const failingPack = async () => {
  throw new Error('npm must not be used here');
};

/** Default config, release at the local server; `resnetPin`: the sha256 the resnet50 file must have. */
function rvmConfig(resnetPin = sha256(realModel)): Config {
  const c = structuredClone(loadConfig({ env: {} }));
  c.dataDir = path.join(tmp.dir, 'data');
  c.upscale.engine = 'none';
  // Keep the realesrgan step quiet: pretend the user pointed at their own (missing) copy.
  c.upscale.realesrgan.binary = path.join(root, 'none');
  c.matte.rvm.model = '';
  c.matte.rvm.providers = ['cpu'];
  c.provision.rvm.releaseUrl = base;
  c.provision.rvm.sha256 = { ...c.provision.rvm.sha256, [RESNET]: resnetPin, [MOBILE]: sha256(realModel) };
  return c;
}

/** Every file under tools/ and the data dir: nothing partial may be left there. */
function leftovers(): string[] {
  const dirs = [path.join(root, 'tools'), path.join(tmp.dir, 'data')];
  return dirs.flatMap((d) => (existsSync(d) ? readdirSync(d, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name) : []));
}

describe('RVM release files', () => {
  it('default.yaml pins both variants and their fp16 files, each a sha256', () => {
    const pins = loadConfig({ env: {} }).provision.rvm.sha256;
    for (const f of ['rvm_mobilenetv3_fp32.onnx', 'rvm_resnet50_fp32.onnx', 'rvm_mobilenetv3_fp16.onnx', 'rvm_resnet50_fp16.onnx']) {
      expect(pins[f], f).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(new Set(Object.values(pins)).size).toBe(4);
    expect(rvmReleaseFile(loadConfig({ env: {} }), 'resnet50').url).toBe(
      'https://github.com/PeterL1n/RobustVideoMatting/releases/download/v1.0.0/rvm_resnet50_fp32.onnx',
    );
  });
});

describe('provision --matting-model resnet50', () => {
  it('downloads the right file into tools/models, verified, then leaves it alone offline', async () => {
    files.set(RESNET, realModel);
    const config = rvmConfig();
    const report = await provision(config, { log, root, env: { PATH: '' }, npmPack: failingPack }, { mattingModel: 'resnet50' });
    expect(rvmStep(report)).toMatchObject({ name: 'RVM resnet50', status: 'installed', required: true });
    expect(readFileSync(toolsRvmModelPath(root, 'resnet50')).equals(realModel)).toBe(true);
    expect(hits).toEqual([`/release/${RESNET}`]);
    // Only the variant asked for: the default one was not fetched.
    expect(existsSync(toolsRvmModelPath(root, 'mobilenetv3'))).toBe(false);
    expect(leftovers()).toEqual([RESNET]);

    const again = await provision(config, { log, root, env: { PATH: '' }, npmPack: failingPack, fetchImpl: noNetwork }, { mattingModel: 'resnet50' });
    expect(rvmStep(again).status).toBe('present');
    expect(findRvmModel(config, root, 'resnet50')).toEqual({ path: toolsRvmModelPath(root, 'resnet50'), source: 'tools/' });
  });

  it('refuses a file whose checksum is not the pinned one, and installs nothing', async () => {
    files.set(RESNET, realModel);
    const report = await provision(rvmConfig(PUBLISHED_RESNET_SHA), { log, root, env: { PATH: '' }, npmPack: failingPack }, { mattingModel: 'resnet50' });
    const step = rvmStep(report);
    expect(step.status).toBe('failed');
    expect(step.detail).toContain(`checksum mismatch`);
    expect(step.detail).toContain(`expected sha256 ${PUBLISHED_RESNET_SHA}, got ${sha256(realModel)}`);
    expect(report.ok).toBe(false);
    expect(leftovers()).toEqual([]);
  });

  it('an interrupted download leaves nothing behind and says it broke off', async () => {
    files.set(RESNET, realModel);
    cut.add(RESNET);
    const report = await provision(rvmConfig(), { log, root, env: { PATH: '' }, npmPack: failingPack }, { mattingModel: 'resnet50' });
    expect(rvmStep(report).status).toBe('failed');
    expect(rvmStep(report).detail).toMatch(/download of .*rvm_resnet50_fp32.onnx broke off after \d+ bytes/);
    expect(leftovers()).toEqual([]);
  });

  it('offline with no copy: names the file, its sha256, the URL and where to put it', async () => {
    const config = rvmConfig(PUBLISHED_RESNET_SHA);
    const report = await provision(config, { log, root, env: { PATH: '' }, npmPack: failingPack, fetchImpl: noNetwork }, { mattingModel: 'resnet50' });
    const step = rvmStep(report);
    expect(step.status).toBe('failed');
    expect(step.fix).toContain(`download ${RESNET} (sha256 ${PUBLISHED_RESNET_SHA})`);
    expect(step.fix).toContain(`${base}${RESNET}`);
    expect(step.fix).toContain(toolsRvmModelPath(root, 'resnet50'));
    expect(step.fix).toContain('DANCELIFT_RVM_MODEL');
    expect(formatProvision(report)).toContain(`fix: download ${RESNET}`);
    expect(report.ok).toBe(false);
    expect(leftovers()).toEqual([]);
  });

  it('never downloads a file that has no pinned sha256', async () => {
    files.set(RESNET, realModel);
    const report = await provision(rvmConfig(''), { log, root, env: { PATH: '' }, npmPack: failingPack }, { mattingModel: 'resnet50' });
    expect(rvmStep(report).status).toBe('failed');
    expect(rvmStep(report).detail).toContain(`no checksum for ${RESNET}`);
    expect(hits).toEqual([]);
  });

  it('setup (no --matting-model) fetches the configured default only; the other variant is not required', async () => {
    files.set(MOBILE, realModel);
    const config = rvmConfig();
    const report = await provision(config, { log, root, env: { PATH: '' }, npmPack: failingPack });
    expect(rvmStep(report)).toMatchObject({ name: 'RVM mobilenetv3', status: 'installed', required: true });
    expect(hits).toEqual([`/release/${MOBILE}`]);
    config.matte.rvm.variant = 'resnet50';
    const other = await provision(config, { log, root, env: { PATH: '' }, npmPack: failingPack, fetchImpl: noNetwork });
    expect(rvmStep(other)).toMatchObject({ name: 'RVM resnet50', status: 'failed', required: true });
  });
});

describe('first use of a variant', () => {
  it('fetches a missing variant when a job asks for it, and the stats say which network ran', async () => {
    files.set(RESNET, realModel);
    const config = rvmConfig();
    const matter = await createMatter(config, 'rvm', log, { variant: 'resnet50', root });
    try {
      expect(readFileSync(toolsRvmModelPath(root, 'resnet50')).equals(realModel)).toBe(true);
      // The stand-in is MobileNetV3 under the resnet50 name: the engine reads that off its states.
      expect(matter.info().engine).toBe('rvm mobilenetv3 (onnxruntime-node)');
      expect(matter.info().fallbackFrom).toContain(`asked for RVM resnet50, but ${RESNET} is mobilenetv3`);
    } finally {
      await matter.close();
    }
    // Once there, a second job uses it without the network.
    hits = [];
    const again = await ensureRvmModel(config, 'resnet50', { root, fetchImpl: noNetwork });
    expect(again.path).toBe(toolsRvmModelPath(root, 'resnet50'));
    expect(hits).toEqual([]);
  });

  it('offline: MODEL_MISSING naming the file, its sha256 and where to put it; nothing left behind', async () => {
    const config = rvmConfig(PUBLISHED_RESNET_SHA);
    const err = await rejection(ensureRvmModel(config, 'resnet50', { root, fetchImpl: noNetwork }));
    expect(err.code).toBe('MODEL_MISSING');
    expect(err.params.model).toBe(RESNET);
    expect(err.params.sha256).toBe(PUBLISHED_RESNET_SHA);
    expect(String(err.params.fix)).toContain(toolsRvmModelPath(root, 'resnet50'));
    expect(err.message).toContain('ENOTFOUND');
    expect(leftovers()).toEqual([]);
  });
});
