import { mintAccessToken } from '@omni/auth';
import { AppError } from '@omni/service';
import type { Transcript } from './domain/draft-from-transcript';

export interface HistoryClient {
  transcript(conversationId: string): Promise<Transcript | undefined>;
}

/**
 * Reads transcripts from history with a short-lived service token (scope conversations:read) signed
 * with the shared JWT_SECRET. 404 → undefined; history down or slow → 503 to our caller, who retries.
 */
export function historyClient(baseUrl: string, jwtSecret: string, timeoutMs: number): HistoryClient {
  return {
    async transcript(conversationId) {
      const token = mintAccessToken(jwtSecret, { sub: 'knowledge', role: 'service', scopes: ['conversations:read'] }, 60);
      let res: Response;
      try {
        res = await fetch(`${baseUrl.replace(/\/$/, '')}/v1/conversations/${encodeURIComponent(conversationId)}`, {
          headers: { authorization: `Bearer ${token}` },
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        throw new AppError('UNAVAILABLE', `history unavailable: ${(err as Error).message}`, undefined, 5);
      }
      if (res.status === 404 || res.status === 400) return undefined;
      if (!res.ok) throw new AppError('UNAVAILABLE', `history answered ${res.status}`, undefined, 5);
      return (await res.json()) as Transcript;
    },
  };
}
