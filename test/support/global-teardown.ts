/** Stops what global-setup.ts started (containers, the local broker, the embedded PostgreSQL). */
export default async function globalTeardown(): Promise<void> {
  const started = globalThis.__omniContainers ?? [];
  globalThis.__omniContainers = [];
  for (const s of started.reverse()) await s.stop();
}
