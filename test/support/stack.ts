/**
 * The whole pipeline in one process for end-to-end tests and the fuzz run: the four ingest services
 * (each with its generic adapter route), the router and history on one world. Every service is the
 * real one (startIngestService / start), on port 0.
 */
import { startIngestService } from '@omni/ingest';
import * as chatCfg from '@omni/ingest-chat/src/config';
import { start as startChat } from '@omni/ingest-chat/src/start';
import * as emailCfg from '@omni/ingest-email/src/config';
import { start as startEmail } from '@omni/ingest-email/src/start';
import * as phoneCfg from '@omni/ingest-phone/src/config';
import { start as startPhone } from '@omni/ingest-phone/src/start';
import * as socialCfg from '@omni/ingest-social/src/config';
import { start as startSocial } from '@omni/ingest-social/src/start';
import * as routerCfg from '@omni/router/src/config';
import { start as startRouter } from '@omni/router/src/start';
import * as historyCfg from '@omni/history/src/config';
import { start as startHistory } from '@omni/history/src/start';
import type { FastifyInstance } from 'fastify';
import { testLogger, type TestWorld } from './infra';

export const ADAPTER_KEY = 'k-hostile';
export type Kind = 'chat' | 'email' | 'phone' | 'social';

export interface Stack {
  ingest: Record<Kind, { url: string; app: FastifyInstance }>;
  router: { url: string; app: FastifyInstance };
  history: { url: string; app: FastifyInstance };
  close: () => Promise<void>;
}

export async function startStack(world: TestWorld, opts: { kinds?: Kind[]; env?: Record<string, string> } = {}): Promise<Stack> {
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    const env = (extra: Record<string, string> = {}) => world.env({ ADAPTER_API_KEYS: `fuzz:${ADAPTER_KEY}`, ...opts.env, ...extra });
    const ingest = {} as Stack['ingest'];
    const kinds = opts.kinds ?? ['chat', 'email', 'phone', 'social'];
    for (const kind of kinds) {
      const s =
        kind === 'chat'
          ? await startIngestService('chat', chatCfg.readConfig(env({ CHAT_WS_GROUP_ID: world.groupId('chat-ws'), CHAT_WAIT_GROUP_ID: world.groupId('chat-waits'), DELIVERY_GROUP_ID: world.groupId('chat-delivery') })), testLogger, startChat)
          : kind === 'email'
            ? await startIngestService('email', emailCfg.readConfig(env({ DELIVERY_GROUP_ID: world.groupId('email-delivery') })), testLogger, startEmail)
            : kind === 'phone'
              ? await startIngestService(
                  'phone',
                  phoneCfg.readConfig(env({ TWILIO_AUTH_TOKEN: 'fuzz-token', TWILIO_PUBLIC_URL: 'https://example.test', DELIVERY_GROUP_ID: world.groupId('phone-delivery') })),
                  testLogger,
                  startPhone,
                )
              : await startIngestService('social', socialCfg.readConfig(env({ DELIVERY_GROUP_ID: world.groupId('social-delivery') })), testLogger, startSocial);
      closers.push(s.close);
      ingest[kind] = { url: s.url, app: s.app };
    }
    const r = await startRouter(routerCfg.readConfig(env({ ROUTER_GROUP_ID: world.groupId('router') })), testLogger);
    closers.push(r.close);
    // history reads this router's business hours (business-time KPIs)
    const h = await startHistory(historyCfg.readConfig(env({ HISTORY_GROUP_ID: world.groupId('history'), ROUTER_URL: r.url })), testLogger);
    closers.push(h.close);
    return { ingest, router: { url: r.url, app: r.app }, history: { url: h.url, app: h.app }, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** How many times an event is on the history timeline (read from history's table). */
export async function timelineCount(world: TestWorld, eventId: string): Promise<number> {
  const { rows } = await world.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM history.timeline WHERE event_id = $1::text', [eventId]);
  return rows[0]!.n;
}

/** Posts JSON (or a raw string) to a route with the adapter key; returns status and parsed body. */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': ADAPTER_KEY, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON: the assertion on the body will say so */
  }
  return { status: res.status, body: parsed };
}
