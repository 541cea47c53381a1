// Bundles the browser client (web/app.ts and the engine it shares with the server) into web/dist with esbuild.
// Each file is written beside its place and renamed into it, so a node starting meanwhile (specs run in parallel,
// and some build the page) reads either the old file or the new one, never half of one.
import { build } from 'esbuild';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = join(dirname(fileURLToPath(import.meta.url)), '..', 'web');
const dist = join(web, 'dist');
mkdirSync(dist, { recursive: true });

function place(name, contents) {
  const aside = join(dist, `.${name}.${process.pid}`);
  writeFileSync(aside, contents);
  renameSync(aside, join(dist, name));
}

if (existsSync(join(web, 'app.ts'))) {
  const { outputFiles } = await build({
    entryPoints: [join(web, 'app.ts')],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    outfile: join(dist, 'app.js'),
    logLevel: 'warning',
    write: false,
  });
  for (const file of outputFiles) place(basename(file.path), file.contents);
}
for (const file of ['index.html', 'style.css']) {
  if (existsSync(join(web, file))) place(file, readFileSync(join(web, file)));
}
