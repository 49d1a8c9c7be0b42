import { defineConfig } from 'vite';

// The page lives in www/, the wasm core is built into pkg/ by scripts/build.sh, the output goes to dist/.
export default defineConfig({
  root: 'www',
  base: './',
  build: {
    outDir: '../dist',
    emptyOutDir: true,
    target: 'es2022',
    // Keep the module preload polyfill out: it would be the only inline script, and the page runs under a
    // strict Content-Security-Policy (script-src 'self').
    modulePreload: { polyfill: false },
  },
  worker: { format: 'es' },
  server: { host: '127.0.0.1', fs: { allow: ['..'] } },
});
