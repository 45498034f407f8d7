import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    // Real ffmpeg, the Vulkan upscaler on a CPU driver and onnxruntime: slow, and they share 2 cores.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    fileParallelism: false,
    include: ['test/**/*.test.ts'],
    // The service logs every job at info; tests only want warnings and errors.
    env: { LOG_LEVEL: 'warn' },
  },
});
