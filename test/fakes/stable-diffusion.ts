/**
 * Local fakes of the two Stable Diffusion servers people run on their own GPU, for tests. They
 * speak the real wire formats; the pictures are real PNGs drawn by ffmpeg (a gradient seeded by
 * the prompt, at the requested size), not fixed bytes.
 *
 * AUTOMATIC1111 / Forge (`webui --api`):
 * - `POST /sdapi/v1/txt2img`, JSON body of StableDiffusionTxt2ImgProcessingAPI fields (prompt,
 *   negative_prompt, width, height, steps, cfg_scale, sampler_name, seed, batch_size, n_iter...).
 *   A field of the wrong type answers 422 `{ detail: [{ loc: ["body", field], msg, type }] }` like
 *   FastAPI; an unknown sampler 404 `{ detail: "Sampler not found" }`.
 * - 200 `{ images: [base64 PNG], parameters: {the request}, info: "<JSON string>" }`.
 * - Any other path 404 `{ detail: "Not Found" }` (what a web UI started without --api answers).
 *
 * ComfyUI:
 * - `POST /prompt` `{ prompt: { id: { class_type, inputs } }, client_id? }` → 200
 *   `{ prompt_id, number, node_errors: {} }`. Validation like ComfyUI's: unknown class_type,
 *   missing required input, a link to a missing node, no output node, a checkpoint not in its list
 *   → 400 `{ error: { type, message, details, extra_info }, node_errors }`.
 * - `GET /history/{id}`: `{}` until the prompt has "run" (after `runMs`), then
 *   `{ id: { prompt, outputs: { "9": { images: [{ filename, subfolder, type }] } }, status: { status_str, completed, messages } } }`.
 * - `GET /view?filename&subfolder&type`: the image bytes (image/png), 404 when unknown.
 *
 * Behaviours (set at start or later with `behave`): ok, hang (accept the connection and never
 * answer / never finish), bad-image (bytes that are not a picture), fail (a 500 / an execution error).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomUUID } from 'node:crypto';
import { execa } from 'execa';

export type Behaviour = 'ok' | 'hang' | 'bad-image' | 'fail';

/**
 * A real PNG whose colours follow the prompt. A grid over the gradient gives it edges: some seeds'
 * gradients are nearly flat at small sizes, and a pan over a flat picture cannot be seen (the loop test).
 */
export async function renderPng(width: number, height: number, seedText: string): Promise<Buffer> {
  const seed = createHash('sha256').update(seedText).digest().readUInt32BE(0) % 100000;
  const { stdout } = await execa(
    'ffmpeg',
    ['-v', 'error', '-nostdin', '-f', 'lavfi', '-i', `gradients=s=${width}x${height}:n=3:seed=${seed},drawgrid=w=iw/4:h=ih/4:t=2:c=white@0.7,format=rgb24`, '-frames:v', '1', '-c:v', 'png', '-f', 'image2pipe', 'pipe:1'],
    { encoding: 'buffer' },
  );
  return Buffer.from(stdout);
}

const NOT_A_PICTURE = Buffer.from('<html><body>502 Bad Gateway</body></html>\n');

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export interface FakeServer {
  url: string;
  /** Every request as received: method, path, parsed JSON body (if any). */
  requests: Array<{ method: string; path: string; body?: unknown }>;
  behave(b: Behaviour): void;
  close(): Promise<void>;
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse, body: string) => Promise<void>, state: { requests: FakeServer['requests'] }): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      let parsed: unknown;
      try {
        parsed = body ? JSON.parse(body) : undefined;
      } catch {
        parsed = body;
      }
      state.requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', ...(parsed === undefined ? {} : { body: parsed }) });
      await handler(req, res, body);
    })().catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, { error: 'fake', detail: String(err) });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ----- AUTOMATIC1111 -----------------------------------------------------------------------------

const A1111_SAMPLERS = ['Euler a', 'Euler', 'LMS', 'Heun', 'DPM2', 'DPM++ 2M', 'DPM++ 2M Karras', 'DPM++ SDE', 'DDIM', 'UniPC'];
const A1111_TYPES: Record<string, 'string' | 'integer' | 'number' | 'boolean'> = {
  prompt: 'string', negative_prompt: 'string', sampler_name: 'string', width: 'integer', height: 'integer', steps: 'integer',
  cfg_scale: 'number', seed: 'integer', batch_size: 'integer', n_iter: 'integer', send_images: 'boolean', save_images: 'boolean',
};

export async function startFakeA1111(initial: Behaviour = 'ok'): Promise<FakeServer> {
  let behaviour = initial;
  const state = { requests: [] as FakeServer['requests'] };
  const { url, close } = await listen(async (req, res, raw) => {
    if (req.method !== 'POST' || req.url !== '/sdapi/v1/txt2img') return send(res, 404, { detail: 'Not Found' });
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return send(res, 422, { detail: [{ loc: ['body', 0], msg: 'Expecting value', type: 'value_error.jsondecode' }] });
    }
    const errors = Object.entries(A1111_TYPES).flatMap(([field, type]) => {
      const v = body[field];
      if (v === undefined) return [];
      const ok = type === 'integer' ? Number.isInteger(v) : type === 'number' ? typeof v === 'number' : typeof v === type;
      return ok ? [] : [{ loc: ['body', field], msg: `value is not a valid ${type}`, type: `type_error.${type}` }];
    });
    if (errors.length) return send(res, 422, { detail: errors });
    if (body.sampler_name !== undefined && !A1111_SAMPLERS.includes(body.sampler_name as string)) return send(res, 404, { detail: 'Sampler not found' });
    if (behaviour === 'hang') return; // the connection stays open, unanswered
    if (behaviour === 'fail') return send(res, 500, { error: 'OutOfMemoryError', detail: '', body: '', errors: 'CUDA out of memory. Tried to allocate 2.00 GiB' });
    const width = (body.width as number | undefined) ?? 512;
    const height = (body.height as number | undefined) ?? 512;
    const png = behaviour === 'bad-image' ? NOT_A_PICTURE : await renderPng(width, height, String(body.prompt ?? ''));
    const seed = 1234567;
    send(res, 200, {
      images: [png.toString('base64')],
      parameters: body,
      info: JSON.stringify({ prompt: body.prompt, all_prompts: [body.prompt], seed, all_seeds: [seed], width, height, sampler_name: body.sampler_name ?? 'Euler a' }),
    });
  }, state);
  return { url, requests: state.requests, behave: (b) => (behaviour = b), close };
}

// ----- ComfyUI -----------------------------------------------------------------------------------

/** The nodes of the default text-to-image workflow and their required inputs. */
const COMFY_NODES: Record<string, { required: string[]; output?: boolean }> = {
  CheckpointLoaderSimple: { required: ['ckpt_name'] },
  CLIPTextEncode: { required: ['text', 'clip'] },
  EmptyLatentImage: { required: ['width', 'height', 'batch_size'] },
  KSampler: { required: ['model', 'seed', 'steps', 'cfg', 'sampler_name', 'scheduler', 'positive', 'negative', 'latent_image', 'denoise'] },
  VAEDecode: { required: ['samples', 'vae'] },
  SaveImage: { required: ['images', 'filename_prefix'], output: true },
};
const COMFY_SAMPLERS = ['euler', 'euler_ancestral', 'heun', 'lms', 'ddim', 'uni_pc', 'dpmpp_2m', 'dpmpp_sde', 'dpmpp_2m_sde'];
const COMFY_SCHEDULERS = ['normal', 'karras', 'exponential', 'sgm_uniform', 'simple', 'ddim_uniform'];

export interface FakeComfy extends FakeServer {
  /** Checkpoints the fake "has" (ckpt_name must be one of them). */
  checkpoints: string[];
}

type Workflow = Record<string, { class_type?: unknown; inputs?: Record<string, unknown> }>;

function validateWorkflow(prompt: Workflow, checkpoints: string[]): { error: object; node_errors: object } | null {
  const bad = (type: string, message: string, node_errors: object = {}) => ({ error: { type, message, details: '', extra_info: {} }, node_errors });
  const ids = Object.keys(prompt);
  for (const id of ids) {
    const ct = prompt[id]?.class_type;
    if (typeof ct !== 'string' || !(ct in COMFY_NODES)) {
      return bad('invalid_prompt', `Cannot execute because node ${String(ct)} does not exist.`, {});
    }
  }
  if (!ids.some((id) => COMFY_NODES[prompt[id].class_type as string].output)) return bad('prompt_no_outputs', 'Prompt has no outputs');
  const nodeErrors: Record<string, object> = {};
  for (const id of ids) {
    const node = prompt[id];
    const ct = node.class_type as string;
    const inputs = node.inputs ?? {};
    const errs: object[] = [];
    for (const r of COMFY_NODES[ct].required) {
      const v = inputs[r];
      if (v === undefined) errs.push({ type: 'required_input_missing', message: 'Required input is missing', details: r, extra_info: { input_name: r } });
      else if (Array.isArray(v) && !(typeof v[0] === 'string' && v[0] in prompt && Number.isInteger(v[1]))) {
        errs.push({ type: 'bad_linked_input', message: 'Bad linked input, must be a length-2 list of [string, int]', details: `${r}, ${JSON.stringify(v)}`, extra_info: {} });
      }
    }
    if (ct === 'CheckpointLoaderSimple' && typeof inputs.ckpt_name === 'string' && !checkpoints.includes(inputs.ckpt_name)) {
      errs.push({ type: 'value_not_in_list', message: 'Value not in list', details: `ckpt_name: '${inputs.ckpt_name}' not in ${JSON.stringify(checkpoints)}`, extra_info: {} });
    }
    if (ct === 'KSampler') {
      if (!COMFY_SAMPLERS.includes(inputs.sampler_name as string)) errs.push({ type: 'value_not_in_list', message: 'Value not in list', details: `sampler_name: '${String(inputs.sampler_name)}' not in list`, extra_info: {} });
      if (!COMFY_SCHEDULERS.includes(inputs.scheduler as string)) errs.push({ type: 'value_not_in_list', message: 'Value not in list', details: `scheduler: '${String(inputs.scheduler)}' not in list`, extra_info: {} });
    }
    if (errs.length) nodeErrors[id] = { errors: errs, dependent_outputs: [], class_type: ct };
  }
  return Object.keys(nodeErrors).length ? bad('prompt_outputs_failed_validation', 'Prompt outputs failed validation', nodeErrors) : null;
}

export async function startFakeComfy(initial: Behaviour = 'ok', runMs = 300): Promise<FakeComfy> {
  let behaviour = initial;
  const state = { requests: [] as FakeServer['requests'] };
  const checkpoints = ['v1-5-pruned-emaonly.safetensors', 'sd_xl_base_1.0.safetensors'];
  const history = new Map<string, object>();
  const files = new Map<string, Buffer>();
  let number = 0;
  let counter = 0;
  const { url, close } = await listen(async (req, res, raw) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && u.pathname === '/prompt') {
      let body: { prompt?: Workflow };
      try {
        body = JSON.parse(raw) as { prompt?: Workflow };
      } catch {
        return send(res, 400, { error: { type: 'invalid_prompt', message: 'Invalid JSON', details: '', extra_info: {} }, node_errors: [] });
      }
      if (!body.prompt || typeof body.prompt !== 'object') return send(res, 400, { error: { type: 'no_prompt', message: 'No prompt provided', details: '', extra_info: {} }, node_errors: [] });
      const invalid = validateWorkflow(body.prompt, checkpoints);
      if (invalid) return send(res, 400, invalid);
      const id = randomUUID();
      const workflow = body.prompt;
      send(res, 200, { prompt_id: id, number: number++, node_errors: {} });
      if (behaviour === 'hang') return; // queued forever: /history stays {}
      const b = behaviour;
      setTimeout(() => {
        void (async () => {
          const saveId = Object.keys(workflow).find((k) => workflow[k].class_type === 'SaveImage')!;
          const latentId = Object.keys(workflow).find((k) => workflow[k].class_type === 'EmptyLatentImage')!;
          const textId = Object.keys(workflow).find((k) => workflow[k].class_type === 'CLIPTextEncode')!;
          if (b === 'fail') {
            history.set(id, {
              prompt: [0, id, workflow, {}, [saveId]],
              outputs: {},
              status: { status_str: 'error', completed: false, messages: [['execution_start', { prompt_id: id }], ['execution_error', { prompt_id: id, node_id: '3', node_type: 'KSampler', exception_message: 'CUDA out of memory', exception_type: 'torch.OutOfMemoryError' }]] },
            });
            return;
          }
          const { width, height } = workflow[latentId].inputs as { width: number; height: number };
          const filename = `${String(workflow[saveId].inputs?.filename_prefix ?? 'ComfyUI')}_${String(++counter).padStart(5, '0')}_.png`;
          files.set(filename, b === 'bad-image' ? NOT_A_PICTURE : await renderPng(width, height, String(workflow[textId].inputs?.text ?? '')));
          history.set(id, {
            prompt: [0, id, workflow, {}, [saveId]],
            outputs: { [saveId]: { images: [{ filename, subfolder: '', type: 'output' }] } },
            status: { status_str: 'success', completed: true, messages: [['execution_start', { prompt_id: id }], ['execution_success', { prompt_id: id }]] },
          });
        })();
      }, runMs);
      return;
    }
    const hist = /^\/history\/([^/]+)$/.exec(u.pathname);
    if (req.method === 'GET' && hist) {
      const id = decodeURIComponent(hist[1]);
      const entry = history.get(id);
      return send(res, 200, entry ? { [id]: entry } : {});
    }
    if (req.method === 'GET' && u.pathname === '/view') {
      const file = files.get(u.searchParams.get('filename') ?? '');
      if (!file || (u.searchParams.get('subfolder') ?? '') !== '' || (u.searchParams.get('type') ?? 'output') !== 'output') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': file.length });
      res.end(file);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('404: Not Found');
  }, state);
  return { url, requests: state.requests, checkpoints, behave: (b) => (behaviour = b), close };
}

/** A URL where nothing listens (a port that was just free). */
export async function downUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
