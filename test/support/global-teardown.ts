export default async function globalTeardown(): Promise<void> {
  for (const c of globalThis.__omniContainers ?? []) await c.stop();
}
