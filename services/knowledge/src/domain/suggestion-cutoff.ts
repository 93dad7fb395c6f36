/**
 * Suggestions keep only the articles that score near the best one: a customer's message matched
 * "any of its words", so an unrelated article that shares one common word ("mi", "no", "order")
 * reaches the list with a score far below the real answer. Ranked as given (language first, then
 * score); a hit below `ratio` × the best score is dropped, wherever it ranked.
 */
export const SUGGESTION_SCORE_RATIO = 0.35;

export function withinBestScore<T extends { score: number }>(hits: readonly T[], ratio = SUGGESTION_SCORE_RATIO): T[] {
  const best = hits.reduce((m, h) => Math.max(m, h.score), 0);
  if (!(best > 0)) return [...hits];
  return hits.filter((h) => h.score >= best * ratio);
}
