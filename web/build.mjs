// Bundles the demo page and the test harness into dist/.
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';

mkdirSync('dist', { recursive: true });
await esbuild.build({
  entryPoints: { app: 'src/app.js', harness: 'src/harness.js' },
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['chrome100'],
  outdir: 'dist',
  minify: true,
  sourcemap: true,
  define: { 'process.env.NODE_ENV': '"production"', global: 'window' },
  logLevel: 'warning'
});
for (const f of ['index.html', 'harness.html', 'style.css']) copyFileSync(`src/${f}`, `dist/${f}`);
console.log('web/dist built');
