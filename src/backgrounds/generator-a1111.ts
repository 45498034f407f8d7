/**
 * AUTOMATIC1111 / Forge: `POST /sdapi/v1/txt2img` (the web UI started with --api). The answer
 * carries the pictures as base64 PNGs in `images`, the request echoed in `parameters` and a JSON
 * string in `info`.
 */
import { z } from 'zod';
import type { GeneratorSettings } from './generate.js';
import { generatorError, requestJson, type GeneratorHttp } from './generator-http.js';

/** Pure: the txt2img body (StableDiffusionTxt2ImgProcessingAPI's field names). seed -1 = random. */
export function a1111Request(prompt: string, g: GeneratorSettings): Record<string, unknown> {
  return {
    prompt,
    negative_prompt: g.negativePrompt,
    width: g.width,
    height: g.height,
    steps: g.steps,
    cfg_scale: g.cfgScale,
    sampler_name: g.sampler,
    seed: -1,
    batch_size: 1,
    n_iter: 1,
    send_images: true,
    save_images: false,
  };
}

export const a1111ResponseSchema = z.object({
  images: z.array(z.string()),
  parameters: z.record(z.unknown()).optional(),
  info: z.string().optional(),
});

export async function txt2imgA1111(http: GeneratorHttp, prompt: string, g: GeneratorSettings): Promise<Buffer> {
  const raw = await requestJson(http, '/sdapi/v1/txt2img', a1111Request(prompt, g)).catch((err: unknown) => {
    // A web UI started without --api answers 404 on every /sdapi path.
    const e = err as { params?: { status?: number } };
    if (e.params?.status === 404) {
      throw generatorError('refused', `${http.base}: /sdapi/v1/txt2img not found`, { url: http.base, detail: 'no /sdapi/v1/txt2img here: start the web UI with --api (or check kind: comfyui)' });
    }
    throw err;
  });
  const parsed = a1111ResponseSchema.safeParse(raw);
  if (!parsed.success || parsed.data.images.length === 0) {
    throw generatorError('bad-image', `${http.base}: no images in the answer`, { url: http.base, detail: 'the answer has no images' });
  }
  // Some extensions append their own images (e.g. a ControlNet map); the first is the picture.
  return Buffer.from(parsed.data.images[0].replace(/^data:image\/\w+;base64,/, ''), 'base64');
}
