import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const api = process.env.LIVECART_API ?? 'http://127.0.0.1:3000';

// `npm run build:web` writes web/dist, which the server (src/app.ts) serves at `/`.
// `npx vite --config web/vite.config.ts` serves the app with hot reload and proxies the API
// to a running `npm run dev` (LIVECART_API overrides the address).
export default defineConfig({
  root,
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('./dist', import.meta.url)),
    emptyOutDir: true,
  },
  server: {
    proxy: {
      '/api': api,
      '/docs': api,
      '/openapi.json': api,
    },
  },
});
