import { defineConfig } from 'vite';

// Built into dashboard/dist, which the server serves at /.
export default defineConfig({
  root: new URL('.', import.meta.url).pathname,
  base: './',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', reportCompressedSize: true },
  logLevel: 'warn',
});
