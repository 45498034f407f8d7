/**
 * ComfyUI: `POST /prompt` queues a workflow in the API format ({ node id: { class_type, inputs } },
 * links as [node id, output index]); `GET /history/{prompt_id}` is `{}` until it has run, then
 * lists each output node's images; `GET /view?filename&subfolder&type` returns one.
 * ComfyUI has no "txt2img" call: the workflow below is its default text-to-image graph.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { GeneratorSettings } from './generate.js';
import { checkDeadline, generatorError, pause, requestBytes, requestJson, type GeneratorHttp } from './generator-http.js';

/** AUTOMATIC1111 sampler names → ComfyUI's KSampler sampler_name + scheduler. */
const SAMPLERS: Record<string, [string, string]> = {
  'euler a': ['euler_ancestral', 'normal'],
  euler: ['euler', 'normal'],
  heun: ['heun', 'normal'],
  lms: ['lms', 'normal'],
  ddim: ['ddim', 'ddim_uniform'],
  unipc: ['uni_pc', 'normal'],
  'dpm++ 2m': ['dpmpp_2m', 'normal'],
  'dpm++ 2m karras': ['dpmpp_2m', 'karras'],
  'dpm++ sde': ['dpmpp_sde', 'normal'],
  'dpm++ sde karras': ['dpmpp_sde', 'karras'],
  'dpm++ 2m sde karras': ['dpmpp_2m_sde', 'karras'],
};

/** Pure: "Euler a" → ["euler_ancestral", "normal"]; a name ComfyUI already uses passes through. */
export function comfySampler(name: string): [string, string] {
  return SAMPLERS[name.trim().toLowerCase()] ?? [name.trim(), 'normal'];
}

export type ComfyWorkflow = Record<string, { class_type: string; inputs: Record<string, unknown> }>;

/** Pure: ComfyUI's default text-to-image graph with our prompt, size and sampler. */
export function comfyWorkflow(prompt: string, g: GeneratorSettings, seed: number): ComfyWorkflow {
  const [sampler, scheduler] = comfySampler(g.sampler);
  return {
    '3': {
      class_type: 'KSampler',
      inputs: { seed, steps: g.steps, cfg: g.cfgScale, sampler_name: sampler, scheduler, denoise: 1, model: ['4', 0], positive: ['6', 0], negative: ['7', 0], latent_image: ['5', 0] },
    },
    '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: g.checkpoint } },
    '5': { class_type: 'EmptyLatentImage', inputs: { width: g.width, height: g.height, batch_size: 1 } },
    '6': { class_type: 'CLIPTextEncode', inputs: { text: prompt, clip: ['4', 1] } },
    '7': { class_type: 'CLIPTextEncode', inputs: { text: g.negativePrompt, clip: ['4', 1] } },
    '8': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['4', 2] } },
    '9': { class_type: 'SaveImage', inputs: { filename_prefix: 'dancelift', images: ['8', 0] } },
  };
}

const queuedSchema = z.object({ prompt_id: z.string().min(1), number: z.number().optional(), node_errors: z.unknown().optional() });
const imageRefSchema = z.object({ filename: z.string().min(1), subfolder: z.string().default(''), type: z.string().default('output') });
const entrySchema = z.object({
  outputs: z.record(z.object({ images: z.array(imageRefSchema).optional() }).passthrough()).default({}),
  status: z
    .object({ status_str: z.string().optional(), completed: z.boolean().optional(), messages: z.array(z.tuple([z.string(), z.unknown()])).optional() })
    .optional(),
});

/** Pure: the exception message of a failed run, from its status messages. */
export function comfyExecutionError(messages: Array<[string, unknown]> | undefined): string {
  const hit = messages?.find(([event]) => event === 'execution_error')?.[1] as { exception_message?: unknown; node_type?: unknown } | undefined;
  if (!hit) return 'the workflow failed';
  return [hit.node_type, hit.exception_message].filter((x) => typeof x === 'string' && x).join(': ') || 'the workflow failed';
}

/** How often the history is asked; a picture takes seconds, so this costs nothing noticeable. */
const POLL_MS = 500;

export async function txt2imgComfy(http: GeneratorHttp, prompt: string, g: GeneratorSettings): Promise<Buffer> {
  const workflow = comfyWorkflow(prompt, g, randomInt(0, 2 ** 31));
  const queued = queuedSchema.safeParse(await requestJson(http, '/prompt', { prompt: workflow, client_id: randomUUID() }));
  if (!queued.success) throw generatorError('bad-image', `${http.base}/prompt: no prompt_id`, { url: http.base, detail: 'the answer to /prompt has no prompt_id' });
  const id = queued.data.prompt_id;
  for (;;) {
    checkDeadline(http);
    const history = (await requestJson(http, `/history/${encodeURIComponent(id)}`)) as Record<string, unknown>;
    const raw = history?.[id];
    if (raw !== undefined) {
      const entry = entrySchema.safeParse(raw);
      if (!entry.success) throw generatorError('bad-image', `${http.base}: unreadable history`, { url: http.base, detail: 'unreadable /history answer' });
      if (entry.data.status?.status_str === 'error') {
        const detail = comfyExecutionError(entry.data.status.messages);
        throw generatorError('refused', `${http.base}: ${detail}`, { url: http.base, detail });
      }
      const image = Object.values(entry.data.outputs).flatMap((o) => o.images ?? []).find((i) => i.type === 'output');
      if (image) {
        const q = new URLSearchParams({ filename: image.filename, subfolder: image.subfolder, type: image.type });
        return requestBytes(http, `/view?${q}`);
      }
      if (entry.data.status?.completed) throw generatorError('bad-image', `${http.base}: finished without an image`, { url: http.base, detail: 'the workflow finished without saving an image' });
    }
    await pause(http, POLL_MS);
  }
}
