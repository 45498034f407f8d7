/**
 * `dancelift enhance --matting-model` end to end, from an empty data dir: the real CLI, real ffmpeg,
 * real RVM in onnxruntime. No ResNet-50 file exists on this machine and its release cannot be
 * reached (the test points the release at a closed local port, so the result does not depend on
 * this machine's network).
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { toolsRvmModelPath } from '../src/machine/tools.js';
import { clips, repoRoot, rvmModel, tempDir } from './helpers/media.js';

const tmp = tempDir('dancelift-cli-mm-');
const work = (...p: string[]) => path.join(tmp.dir, ...p);
const cli = path.join(repoRoot, 'bin', 'dancelift.js');
const RESNET_SHA = loadConfig({ env: {} }).provision.rvm.sha256['rvm_resnet50_fp32.onnx'];
const toolsResnet = toolsRvmModelPath(repoRoot, 'resnet50');

function run(args: string[], env: Record<string, string> = {}) {
  return execa('node', [cli, ...args], {
    cwd: tmp.dir,
    reject: false,
    env: {
      DANCELIFT_CONFIG: work('offline.yaml'),
      DANCELIFT_DATA_DIR: work('data'),
      DANCELIFT_TEMP_DIR: work('tmp'),
      DANCELIFT_RVM_MODEL: '',
      DANCELIFT_ORT_PROVIDERS: 'cpu',
      DANCELIFT_MAX_SHORT_SIDE: '96',
      LANG: 'en_US.UTF-8',
      ...env,
    },
  });
}

const filesUnder = (dir: string) => (existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String) : []);

beforeAll(async () => {
  // A port that was just free: nothing listens there, as for a machine without network.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  writeFileSync(work('offline.yaml'), `provision:\n  rvm:\n    releaseUrl: http://127.0.0.1:${port}/v1.0.0/\n`);
});
afterAll(() => tmp.remove());

describe('dancelift enhance --matting-model', () => {
  it('resnet50 with no copy and no network: one clear line naming the file, its sha256 and where to put it; nothing left behind', async () => {
    expect(existsSync(toolsResnet), `${toolsResnet} exists: this test needs a machine without the ResNet-50 file`).toBe(false);
    const toolsModelsBefore = filesUnder(path.dirname(toolsResnet));
    const r = await run(['enhance', clips.girl, '--upscaler', 'ffmpeg', '--matting-model', 'resnet50', '--out', work('out')]);
    expect(r.exitCode).toBe(1);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('✘'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('The model rvm_resnet50_fp32.onnx is missing (the download failed:');
    expect(errors[0]).toContain(`sha256 ${RESNET_SHA}`);
    expect(errors[0]).toContain(`put it at ${toolsResnet} or ${work('data', 'models', 'rvm_resnet50_fp32.onnx')}`);
    expect(errors[0]).toContain('DANCELIFT_RVM_MODEL');
    // No output, no partial output, no temp run dir, no half-downloaded model.
    expect(filesUnder(work('out'))).toEqual([]);
    expect(filesUnder(work('tmp'))).toEqual([]);
    expect(filesUnder(path.dirname(toolsResnet))).toEqual(toolsModelsBefore);
    expect(filesUnder(work('data', 'models'))).toEqual([]);
  }, 120_000);

  it('with a file given by DANCELIFT_RVM_MODEL it runs, and the stats name the variant that ran', async () => {
    const r = await run(['enhance', clips.girl, '--upscaler', 'ffmpeg', '--matting-model', 'mobilenetv3', '--bg', '#00ff00', '--json', '--out', work('mn')], {
      DANCELIFT_RVM_MODEL: rvmModel,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    const matte = JSON.parse(r.stdout.trim()).stats.stages.find((s: { name: string }) => s.name === 'matte');
    // The engine, then what wraps it (edge cleaning, on by default).
    expect(matte.engine).toMatch(/^rvm mobilenetv3 \(onnxruntime-node\)( \+ edges \w+)?$/);
    expect(matte.device).toContain('rvm_mobilenetv3_from_tfjs.onnx');
    expect(matte.fallbackFrom).toBeUndefined();
  }, 180_000);

  it('asked for resnet50 but DANCELIFT_RVM_MODEL holds MobileNetV3: it runs that file and the stats say so', async () => {
    const r = await run(['enhance', clips.girl, '--upscaler', 'ffmpeg', '--matting-model', 'resnet50', '--bg', 'white', '--out', work('mixed')], {
      DANCELIFT_RVM_MODEL: rvmModel,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/matte .* rvm mobilenetv3 \(onnxruntime-node\)( \+ edges \w+)? ²/);
    expect(r.stdout).toContain('matte fell back: asked for RVM resnet50, but rvm_mobilenetv3_from_tfjs.onnx is mobilenetv3');
  }, 180_000);
});
