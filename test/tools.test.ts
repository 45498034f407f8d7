import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import {
  ffmpegPath,
  ffprobePath,
  findExecutable,
  findRealesrgan,
  findRvmModel,
  locateRealesrgan,
  parseVulkaninfoSummary,
  pickVulkanDevice,
  vulkanDevices,
} from '../src/machine/tools.js';
import { tempDir } from './helpers/media.js';

const MODEL = 'realesr-animevideov3';

function baseConfig(patch: (c: Config) => void = () => undefined): Config {
  const c = structuredClone(loadConfig({ env: {} }));
  c.upscale.realesrgan.binary = '';
  c.upscale.realesrgan.modelsDir = '';
  c.matte.rvm.model = '';
  patch(c);
  return c;
}

function writeExe(file: string, mode = 0o755): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, '#!/bin/sh\necho fake\n');
  chmodSync(file, mode);
  return file;
}

function writeModels(dir: string, scales = [2, 3, 4]): string {
  mkdirSync(dir, { recursive: true });
  for (const s of scales) for (const ext of ['param', 'bin']) writeFileSync(path.join(dir, `${MODEL}-x${s}.${ext}`), 'x');
  return dir;
}

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir('dancelift-tools-');
});
afterEach(() => tmp.remove());

describe('findExecutable / ffmpegPath', () => {
  it('finds executables on the given PATH only, and only when executable', () => {
    const bin = path.join(tmp.dir, 'bin');
    writeExe(path.join(bin, 'good'));
    writeExe(path.join(bin, 'noexec'), 0o644);
    const env = { PATH: bin };
    expect(findExecutable('good', env)).toBe(path.join(bin, 'good'));
    expect(findExecutable('noexec', env)).toBeNull();
    expect(findExecutable('absent', env)).toBeNull();
  });

  it('FFMPEG_PATH wins, a bare name is returned for PATH, null when absent', () => {
    const custom = writeExe(path.join(tmp.dir, 'my-ffmpeg'));
    expect(ffmpegPath({ FFMPEG_PATH: custom, PATH: '' })).toBe(custom);
    expect(ffmpegPath({ FFMPEG_PATH: path.join(tmp.dir, 'nope'), PATH: process.env.PATH })).toBeNull();
    expect(ffmpegPath({ PATH: process.env.PATH })).toBe('ffmpeg');
    expect(ffprobePath({ PATH: process.env.PATH })).toBe('ffprobe');
    expect(ffmpegPath({ PATH: path.join(tmp.dir, 'empty') })).toBeNull();
  });
});

describe('findRealesrgan', () => {
  // root/tools/realesrgan, a configured copy elsewhere, and one on PATH: each complete with models.
  function layout() {
    const root = path.join(tmp.dir, 'checkout');
    const toolsBin = writeExe(path.join(root, 'tools', 'realesrgan', 'realesrgan-ncnn-vulkan'));
    writeModels(path.join(root, 'tools', 'realesrgan', 'models'));
    const cfgBin = writeExe(path.join(tmp.dir, 'configured', 'realesrgan-ncnn-vulkan'));
    writeModels(path.join(tmp.dir, 'configured', 'models'));
    const pathDir = path.join(tmp.dir, 'pathbin');
    const pathBin = writeExe(path.join(pathDir, 'realesrgan-ncnn-vulkan'));
    writeModels(path.join(pathDir, 'models'));
    return { root, toolsBin, cfgBin, pathBin, env: { PATH: pathDir } };
  }

  it('config beats tools/ beats PATH', () => {
    const l = layout();
    const configured = findRealesrgan(baseConfig((c) => (c.upscale.realesrgan.binary = l.cfgBin)), l.env, l.root);
    expect(configured).toEqual({ binary: l.cfgBin, modelsDir: path.join(path.dirname(l.cfgBin), 'models'), source: 'config' });

    const tools = findRealesrgan(baseConfig(), l.env, l.root);
    expect(tools?.source).toBe('tools/');
    expect(tools?.binary).toBe(l.toolsBin);

    const noTools = findRealesrgan(baseConfig(), l.env, path.join(tmp.dir, 'elsewhere'));
    expect(noTools?.source).toBe('PATH');
    expect(noTools?.binary).toBe(l.pathBin);
    expect(noTools?.modelsDir).toBe(path.join(path.dirname(l.pathBin), 'models'));
  });

  it('a configured binary that does not exist is not silently replaced by another copy', () => {
    const l = layout();
    const c = baseConfig((c) => (c.upscale.realesrgan.binary = path.join(tmp.dir, 'typo', 'realesrgan-ncnn-vulkan')));
    const loc = locateRealesrgan(c, l.env, l.root);
    expect(loc.found).toBeNull();
    expect(loc.tried[0]).toMatchObject({ source: 'config', problem: 'no such file' });
  });

  it('a bare configured name is looked up on PATH', () => {
    const l = layout();
    const found = findRealesrgan(baseConfig((c) => (c.upscale.realesrgan.binary = 'realesrgan-ncnn-vulkan')), l.env, l.root);
    expect(found).toMatchObject({ binary: l.pathBin, source: 'config' });
  });

  it('missing models mean not found; modelsDir from config is used instead of the folder beside the binary', () => {
    const root = path.join(tmp.dir, 'checkout');
    writeExe(path.join(root, 'tools', 'realesrgan', 'realesrgan-ncnn-vulkan'));
    // Only x3/x4: the x2 model (the default scale) is missing.
    writeModels(path.join(root, 'tools', 'realesrgan', 'models'), [3, 4]);
    const env = { PATH: path.join(tmp.dir, 'none') };
    const loc = locateRealesrgan(baseConfig(), env, root);
    expect(loc.found).toBeNull();
    expect(loc.tried[0].problem).toContain(`${MODEL}-x2.param`);

    const elsewhere = writeModels(path.join(tmp.dir, 'models-elsewhere'));
    const found = findRealesrgan(baseConfig((c) => (c.upscale.realesrgan.modelsDir = elsewhere)), env, root);
    expect(found?.modelsDir).toBe(elsewhere);
  });

  it('tools/ with incomplete models falls through to a complete copy on PATH', () => {
    const l = layout();
    writeExe(path.join(tmp.dir, 'broken', 'tools', 'realesrgan', 'realesrgan-ncnn-vulkan'));
    const found = findRealesrgan(baseConfig(), l.env, path.join(tmp.dir, 'broken'));
    expect(found?.source).toBe('PATH');
  });

  it('a binary without the execute bit is not found', () => {
    const root = path.join(tmp.dir, 'checkout');
    writeExe(path.join(root, 'tools', 'realesrgan', 'realesrgan-ncnn-vulkan'), 0o644);
    writeModels(path.join(root, 'tools', 'realesrgan', 'models'));
    const loc = locateRealesrgan(baseConfig(), { PATH: '' }, root);
    expect(loc.found).toBeNull();
    expect(loc.tried[0].problem).toBe('not executable');
  });

  it('needs the configured scale’s model as well as x2', () => {
    const root = path.join(tmp.dir, 'checkout');
    writeExe(path.join(root, 'tools', 'realesrgan', 'realesrgan-ncnn-vulkan'));
    writeModels(path.join(root, 'tools', 'realesrgan', 'models'), [2]);
    expect(findRealesrgan(baseConfig((c) => (c.upscale.scale = 2)), { PATH: '' }, root)).not.toBeNull();
    expect(findRealesrgan(baseConfig((c) => (c.upscale.scale = 4)), { PATH: '' }, root)).toBeNull();
  });
});

describe('findRvmModel', () => {
  it('config, then tools/models, then the data dir, then ../shared/models', () => {
    const root = path.join(tmp.dir, 'checkout');
    const dataDir = path.join(tmp.dir, 'data');
    const put = (p: string) => {
      mkdirSync(path.dirname(p), { recursive: true });
      writeFileSync(p, 'onnx');
      return p;
    };
    const shared = put(path.join(tmp.dir, 'shared', 'models', 'rvm_mobilenetv3_from_tfjs.onnx'));
    const cfg = (model = '') => baseConfig((c) => {
      c.dataDir = dataDir;
      c.matte.rvm.model = model;
    });
    expect(findRvmModel(cfg(), root)).toEqual({ path: shared, source: '../shared/models' });
    const inData = put(path.join(dataDir, 'models', 'rvm_mobilenetv3_fp32.onnx'));
    expect(findRvmModel(cfg(), root)).toEqual({ path: inData, source: 'data dir' });
    const inTools = put(path.join(root, 'tools', 'models', 'rvm_mobilenetv3_fp32.onnx'));
    expect(findRvmModel(cfg(), root)).toEqual({ path: inTools, source: 'tools/' });
    const mine = put(path.join(tmp.dir, 'mine.onnx'));
    expect(findRvmModel(cfg(mine), root)).toEqual({ path: mine, source: 'config' });
    // A configured path that does not exist is reported, not papered over with another file.
    expect(findRvmModel(cfg(path.join(tmp.dir, 'typo.onnx')), root)).toBeNull();

    // ResNet-50 has its own file; the shared MobileNetV3 never stands in for it.
    expect(findRvmModel(cfg(), root, 'resnet50')).toBeNull();
    const resnet = put(path.join(dataDir, 'models', 'rvm_resnet50_fp32.onnx'));
    expect(findRvmModel(cfg(), root, 'resnet50')).toEqual({ path: resnet, source: 'data dir' });
    expect(findRvmModel(baseConfig((c) => ((c.dataDir = dataDir), (c.matte.rvm.model = ''), (c.matte.rvm.variant = 'resnet50'))), root)?.path).toBe(resnet);
    // A configured path wins whatever the variant.
    expect(findRvmModel(cfg(mine), root, 'resnet50')).toEqual({ path: mine, source: 'config' });
  });

  it('finds the shared test model from the real checkout', () => {
    const found = findRvmModel(baseConfig((c) => (c.dataDir = tmp.dir)));
    // tools/models may hold a provisioned official model; otherwise ../shared/models is used.
    expect(found).not.toBeNull();
    expect(['tools/', '../shared/models']).toContain(found?.source);
  });
});

describe('Vulkan devices', () => {
  const summary = `
Devices:
========
GPU0:
	apiVersion         = 1.3.230
	deviceType         = PHYSICAL_DEVICE_TYPE_CPU
	deviceName         = llvmpipe (LLVM 15.0.6, 256 bits)
	driverName         = llvmpipe
GPU1:
	apiVersion         = 1.3.277
	deviceType         = PHYSICAL_DEVICE_TYPE_DISCRETE_GPU
	deviceName         = NVIDIA GeForce RTX 3060
`;

  it('parses vulkaninfo --summary and picks the device ncnn would use', () => {
    const devices = parseVulkaninfoSummary(summary);
    expect(devices).toEqual([
      { index: 0, name: 'llvmpipe (LLVM 15.0.6, 256 bits)', type: 'PHYSICAL_DEVICE_TYPE_CPU' },
      { index: 1, name: 'NVIDIA GeForce RTX 3060', type: 'PHYSICAL_DEVICE_TYPE_DISCRETE_GPU' },
    ]);
    expect(pickVulkanDevice(devices)?.name).toBe('NVIDIA GeForce RTX 3060');
    expect(pickVulkanDevice(devices, '0')?.name).toContain('llvmpipe');
    expect(pickVulkanDevice(devices, '5')).toBeNull();
    expect(pickVulkanDevice([])).toBeNull();
  });

  it('lists this machine’s devices (empty when vulkaninfo is absent)', async () => {
    const names = await vulkanDevices();
    if (findExecutable('vulkaninfo')) expect(names.length).toBeGreaterThan(0);
    else expect(names).toEqual([]);
  });
});
