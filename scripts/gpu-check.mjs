// `npm run gpu-check`: runs dist/gpu-check.js (bench/gpu-check.ts); builds nothing.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

const script = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'gpu-check.js');
if (!existsSync(script)) {
  process.stderr.write(`gpu-check: ${script} is missing: run npm run build first (gpu-check builds nothing).\n`);
  process.exit(1);
}
const r = spawnSync(process.execPath, [script, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
