// The console's web app. Every emitted file also gets .br and .gz siblings, so the console server
// (@fastify/static preCompressed) serves compressed bytes without compressing on each request.
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { defineConfig } from 'vite';

function precompress() {
  return {
    name: 'omni-precompress',
    apply: 'build',
    generateBundle(_opts, bundle) {
      for (const [name, out] of Object.entries(bundle)) {
        if (!/\.(js|css|html|svg|json)$/.test(name)) continue;
        const src = Buffer.from(out.type === 'chunk' ? out.code : out.source);
        if (src.length < 512) continue;
        this.emitFile({ type: 'asset', fileName: `${name}.br`, source: brotliCompressSync(src, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }) });
        this.emitFile({ type: 'asset', fileName: `${name}.gz`, source: gzipSync(src, { level: 9 }) });
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
