import type { Config } from '../config/schema.js';
import { generateBackground, type GenerateResult } from '../backgrounds/generate.js';
import { errorMessage, type Locale } from '../i18n/messages.js';
import type { GenerateFlags } from './args.js';

/** Pure: the line printed after a generation (the JSON one is the result itself). */
export function formatGenerated(r: GenerateResult): string {
  const line = (b: GenerateResult['image']) => `added ${b.name.padEnd(16)} ${b.kind.padEnd(6)} ${b.width}x${b.height}  ${b.path}`;
  return [line(r.image), ...(r.loop ? [line(r.loop)] : []), `from ${r.generator.kind} at ${r.generator.url} in ${r.seconds.toFixed(1)} s`].join('\n');
}

/** `dancelift backgrounds generate "PROMPT" --name NAME`; Ctrl-C cancels (the server's job runs on). */
export async function runGenerate(prompt: string, flags: GenerateFlags, config: Config, locale: Locale): Promise<number> {
  const ac = new AbortController();
  const onSignal = () => ac.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  try {
    const result = await generateBackground({ prompt, name: flags.name, config, kind: flags.kind, url: flags.url, loopS: flags.loopS, signal: ac.signal });
    process.stdout.write(flags.json ? `${JSON.stringify({ ok: true, ...result })}\n` : `${formatGenerated(result)}\n`);
    return 0;
  } catch (err) {
    const message = errorMessage(err, locale);
    if (flags.json) process.stdout.write(`${JSON.stringify({ ok: false, error: message })}\n`);
    else process.stderr.write(`✘ ${message}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
  }
}
