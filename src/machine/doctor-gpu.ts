/**
 * doctor's GPU-host checks: the NVIDIA driver, its Vulkan ICD, NVENC, CUDA/cuDNN and TensorRT for
 * onnxruntime, each with what is wrong and the fix. Optional: without them dancelift runs on the
 * CPU, slowly, and says so. gpuChecks is pure over the facts gathered by gpuFacts.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { execa } from 'execa';
import { ffmpegNvencEncoders, probeNvenc } from './nvenc.js';
import { nvidiaGpus, type NvidiaGpu } from './nvidia.js';
import { isCpuVulkanDevice, vulkanDeviceList, type VulkanDevice } from './tools.js';
import type { Check } from './doctor.js';

export interface GpuFacts {
  gpus: NvidiaGpu[] | null;
  vulkan: VulkanDevice[];
  /** null: ffmpeg missing. */
  nvencEncoders: string[] | null;
  nvencProbe: { ok: boolean; detail: string } | null;
  /** Shared libraries the dynamic linker knows (ldconfig -p), by file name. */
  libs: string[];
  /** onnxruntime-node's provider libraries beside its binding. */
  ortProviderLibs: string[];
}

const has = (libs: string[], re: RegExp) => libs.some((l) => re.test(l));

export function gpuChecks(f: GpuFacts, dataDir: string): Check[] {
  const gpu = f.gpus?.[0];
  const checks: Check[] = [];
  checks.push(
    gpu
      ? { name: 'NVIDIA driver', ok: true, required: false, detail: `${gpu.name}, driver ${gpu.driver}, ${(gpu.memoryFreeMiB / 1024).toFixed(1)} of ${(gpu.memoryTotalMiB / 1024).toFixed(1)} GiB free` }
      : {
        name: 'NVIDIA driver', ok: false, required: false,
        detail: 'no NVIDIA GPU driver (nvidia-smi missing or it cannot reach the driver): everything runs on the CPU, minutes per second of video',
        fix: 'Debian: enable non-free, `sudo apt-get install nvidia-driver nvidia-smi`, reboot; Ubuntu: `sudo ubuntu-drivers install`; in Docker: the NVIDIA Container Toolkit and `--gpus all`',
      },
  );
  const nvVulkan = f.vulkan.find((d) => !isCpuVulkanDevice(d) && /nvidia/i.test(d.name));
  checks.push(
    nvVulkan
      ? { name: 'NVIDIA Vulkan ICD', ok: true, required: false, detail: `Vulkan sees ${nvVulkan.name}: realesrgan-ncnn-vulkan and WebGPU run on it` }
      : {
        name: 'NVIDIA Vulkan ICD', ok: false, required: false,
        detail: f.vulkan.length ? `Vulkan sees only ${f.vulkan.map((d) => d.name).join(', ')}: the upscaler would run on the CPU` : 'no Vulkan device (no loader, no ICD or no vulkaninfo)',
        fix: 'Debian: `sudo apt-get install libvulkan1 vulkan-tools nvidia-vulkan-icd`; Ubuntu: the driver\'s `libnvidia-gl-<version>`; check /usr/share/vulkan/icd.d/nvidia_icd.json; in Docker: NVIDIA_DRIVER_CAPABILITIES=all',
      },
  );
  if (f.nvencEncoders === null) {
    checks.push({ name: 'NVENC', ok: false, required: false, detail: 'ffmpeg missing: cannot check h264_nvenc', fix: 'sudo apt-get install ffmpeg' });
  } else if (!f.nvencEncoders.includes('h264_nvenc')) {
    checks.push({ name: 'NVENC', ok: false, required: false, detail: 'this ffmpeg has no h264_nvenc encoder: encoding stays on libx264 (CPU)', fix: "Debian's and Ubuntu's ffmpeg packages include h264_nvenc: `sudo apt-get install ffmpeg`, or set FFMPEG_PATH to a build with --enable-nvenc" });
  } else if (!gpu) {
    checks.push({ name: 'NVENC', ok: false, required: false, detail: 'ffmpeg has h264_nvenc but there is no NVIDIA GPU to run it', fix: 'see NVIDIA driver above' });
  } else if (f.nvencProbe && !f.nvencProbe.ok) {
    checks.push({ name: 'NVENC', ok: false, required: false, detail: `h264_nvenc failed a test encode: ${f.nvencProbe.detail}`, fix: "the driver's encode library: Debian `sudo apt-get install libnvidia-encode1`, Ubuntu `libnvidia-encode-<version>`; in Docker NVIDIA_DRIVER_CAPABILITIES must include video" });
  } else {
    checks.push({ name: 'NVENC', ok: true, required: false, detail: 'h264_nvenc works: encode.codec auto uses it' });
  }
  const cudaEp = f.ortProviderLibs.includes('libonnxruntime_providers_cuda.so');
  const cudart = has(f.libs, /^libcudart\.so\.12/);
  const cudnn = has(f.libs, /^libcudnn\.so\.9/);
  checks.push(
    cudaEp && cudart && cudnn
      ? { name: 'CUDA/cuDNN', ok: true, required: false, detail: 'onnxruntime CUDA provider with CUDA 12 and cuDNN 9 libraries' }
      : {
        name: 'CUDA/cuDNN', ok: false, required: false,
        detail: [!cudaEp && 'onnxruntime-node was installed without its CUDA provider', !cudart && 'no CUDA 12 runtime (libcudart.so.12)', !cudnn && 'no cuDNN 9 (libcudnn.so.9)'].filter(Boolean).join('; '),
        fix: 'on a host with internet: `ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci`; CUDA 12 runtime and cuDNN 9 from NVIDIA\'s repository (`sudo apt-get install cuda-runtime-12-x libcudnn9-cuda-12`); or use the webgpu provider, which needs only the Vulkan ICD',
      },
  );
  const trtEp = f.ortProviderLibs.includes('libonnxruntime_providers_tensorrt.so');
  const nvinfer = has(f.libs, /^libnvinfer\.so\.10/);
  checks.push(
    trtEp && nvinfer
      ? { name: 'TensorRT', ok: true, required: false, detail: `TensorRT 10 provider; engines cached in ${path.join(dataDir, 'tensorrt-cache')}` }
      : {
        name: 'TensorRT', ok: false, required: false,
        detail: [!trtEp && 'onnxruntime-node has no TensorRT provider library', !nvinfer && 'no TensorRT 10 (libnvinfer.so.10)'].filter(Boolean).join('; ') + ': the CUDA or WebGPU provider is used instead',
        fix: "TensorRT 10 from NVIDIA's repository (`sudo apt-get install libnvinfer10 libnvinfer-plugin10 libnvonnxparsers10`) and an onnxruntime-node with its TensorRT provider (libonnxruntime_providers_tensorrt.so beside onnxruntime_binding.node)",
      },
  );
  return checks;
}

function ortBinDir(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch);
}

export async function gpuFacts(): Promise<GpuFacts> {
  const [gpus, vulkan, nvencEncoders, ld] = await Promise.all([
    nvidiaGpus(),
    vulkanDeviceList().catch(() => []),
    ffmpegNvencEncoders(),
    execa('ldconfig', ['-p'], { reject: false }).catch(() => ({ stdout: '' })),
  ]);
  const libs = [...String(ld.stdout).matchAll(/^\s*(\S+\.so\S*)\s/gm)].map((m) => m[1]);
  const dir = ortBinDir();
  const ortProviderLibs = ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_tensorrt.so'].filter((f) => existsSync(path.join(dir, f)));
  const nvencProbe = gpus && nvencEncoders?.includes('h264_nvenc') ? await probeNvenc() : null;
  return { gpus, vulkan, nvencEncoders, nvencProbe, libs, ortProviderLibs };
}
