import { defineConfig } from 'vitest/config';
import tsconfigPaths from 'vite-tsconfig-paths';

export default defineConfig({
  plugins: [tsconfigPaths()],
  test: {
    globals: true,
    root: './',
    include: ['**/*.e2e-spec.ts'],
    // The embedded database's first start on a machine runs initdb and the migrations (seconds);
    // later starts load the cached snapshot.
    hookTimeout: 60_000,
  },
});
