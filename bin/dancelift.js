#!/usr/bin/env node
// Thin launcher so `npx dancelift` works from a built checkout (npm run build, or scripts/setup).
import('../dist/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
    console.error('dancelift is not built yet: run `npm run setup` (or `npm run build`) first.');
    process.exit(1);
  }
  throw err;
});
