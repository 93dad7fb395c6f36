/** The placeholders a canned reply may use, and what fills each. */
export const PLACEHOLDERS = ['customer_name', 'agent_name', 'conversation_id', 'article_link'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

/**
 * Fills {customer_name}, {agent_name}, {conversation_id}, {article_link} in one pass (a value that
 * itself contains "{agent_name}" is not expanded again). A placeholder without a value stays as
 * written and is listed in `missing`, so the agent sees what still needs filling.
 */
export function fillPlaceholders(body: string, values: Partial<Record<Placeholder, string>>): { text: string; missing: Placeholder[] } {
  const missing = new Set<Placeholder>();
  const text = body.replace(/\{(customer_name|agent_name|conversation_id|article_link)\}/g, (whole, name: Placeholder) => {
    const v = values[name];
    if (v === undefined || v === '') {
      missing.add(name);
      return whole;
    }
    return v;
  });
  return { text, missing: [...missing] };
}
