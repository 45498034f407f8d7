import { execa } from 'execa';

/** The CLI tests run the built dancelift, as a user would: build it once before any test. */
export default async function setup(): Promise<void> {
  await execa('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
}
