// Bundles the browser client (web/app.ts and the engine it shares with the server) into web/dist with esbuild.
import { build } from 'esbuild';
import { existsSync, mkdirSync, copyFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = join(dirname(fileURLToPath(import.meta.url)), '..', 'web');
mkdirSync(join(web, 'dist'), { recursive: true });
if (existsSync(join(web, 'app.ts'))) {
  await build({
    entryPoints: [join(web, 'app.ts')],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    outfile: join(web, 'dist', 'app.js'),
    logLevel: 'warning',
  });
}
for (const file of ['index.html', 'style.css']) {
  if (existsSync(join(web, file))) copyFileSync(join(web, file), join(web, 'dist', file));
}
