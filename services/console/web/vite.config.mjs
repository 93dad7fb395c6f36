// The console's web app. Every emitted file also gets .br and .gz siblings, so the console server
// (@fastify/static preCompressed) serves compressed bytes without compressing on each request.
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig } from 'vite';

function precompress() {
  return {
    name: 'omni-precompress',
    apply: 'build',
    // after the files are written: vite still rewrites chunks (preload markers) in its own late hooks
    writeBundle(opts, bundle) {
      for (const name of Object.keys(bundle)) {
        if (!/\.(js|css|html|svg|json)$/.test(name)) continue;
        const file = join(opts.dir, name);
        const src = readFileSync(file);
        if (src.length < 512) continue;
        writeFileSync(`${file}.br`, brotliCompressSync(src, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
        writeFileSync(`${file}.gz`, gzipSync(src, { level: 9 }));
      }
    },
  };
}

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  plugins: [precompress()],
  build: { target: 'es2022', sourcemap: false, reportCompressedSize: false, modulePreload: { polyfill: false } },
});
