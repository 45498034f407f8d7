import { z } from 'zod';
import type { MatterEntry } from '../registry.js';

/** config matte.command */
export const commandSettings = z.object({ template: z.string().min(1) }).strict();

/** `command`: an external matting program, run per chunk from a command template. */
export const commandMatter: MatterEntry = {
  name: 'command',
  kind: 'matte',
  settings: commandSettings,
  async create({ config }) {
    const { useTensorrtCache } = await import('../ort/providers.js');
    useTensorrtCache(config.dataDir);
    const { createCommandMatte } = await import('../matte-command.js');
    return createCommandMatte({ template: config.matte.command.template });
  },
};

/** `--matting none`: no cut-out; the compose step keeps the original background. */
export const noMatter: MatterEntry = {
  name: 'none',
  kind: 'matte',
  create: async () => (await import('../passthrough.js')).createNoMatte(),
};
