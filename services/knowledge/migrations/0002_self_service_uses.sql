-- Self-service (tier 0): the router's automatic answer records a use per article it offered
-- (used_by 'system:self-service'); the customer's NO, another reply or no answer marks those uses
-- declined, so the conversation's later resolution by an agent does not count as the article's help.
ALTER TABLE article_uses ADD COLUMN declined_at timestamptz;
