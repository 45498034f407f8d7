import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { isCpuVulkanDevice, vulkanDeviceList } from '../tools.js';

/**
 * Cheap reasons not to try a provider at all. Trying CUDA without its library, or WebGPU on a
 * machine whose only Vulkan device is a CPU driver, costs seconds and sprays native error lines on
 * the user's terminal; both are known in advance. null = worth a try.
 */
export async function providerPrecheck(provider: string): Promise<string | null> {
  if (provider === 'cuda' && process.platform === 'linux') {
    const lib = path.join(onnxruntimeBinDir(), 'libonnxruntime_providers_cuda.so');
    if (!existsSync(lib)) return 'CUDA provider not installed (reinstall onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12 on a GPU host)';
  }
  if (provider === 'webgpu' && process.platform === 'linux') {
    const devices = await vulkanDeviceList().catch(() => []);
    if (devices.length > 0 && devices.every(isCpuVulkanDevice)) {
      return `no GPU Vulkan device (only ${devices.map((d) => d.name).join(', ')})`;
    }
  }
  return null;
}

function onnxruntimeBinDir(): string {
  const require = createRequire(import.meta.url);
  const pkg = path.dirname(require.resolve('onnxruntime-node/package.json'));
  return path.join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
}
