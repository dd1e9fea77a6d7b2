import { dropDatabase } from '../utils/test-database';
import { stopTestServer } from './postgres-server';

export default async function globalTeardown(): Promise<void> {
  if (process.env.FDL_TEST_TEMPLATE) await dropDatabase(process.env.FDL_TEST_TEMPLATE).catch(() => undefined);
  await stopTestServer();
  await (globalThis as { stopCitusCluster?: () => Promise<void> }).stopCitusCluster?.();
}
