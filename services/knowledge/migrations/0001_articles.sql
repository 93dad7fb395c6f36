-- Knowledge base: articles (any language) with versions, full-text search per language, accent- and
-- typo-tolerant. unaccent() is STABLE (its dictionary could change), so it cannot be used in an
-- index or generated column directly: f_unaccent pins the dictionary and is declared IMMUTABLE.
CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public;
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

CREATE FUNCTION f_unaccent(text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$;

-- One text-search configuration per language whose word mapping runs unaccent before the
-- language's stemmer: the index (built on f_unaccent'ed text) and ts_headline on the original text
-- (accents kept in the snippet) then agree on every lexeme.
DO $$
DECLARE
  l text;
BEGIN
  FOREACH l IN ARRAY ARRAY['simple', 'spanish', 'english', 'portuguese', 'french', 'german', 'italian', 'dutch',
                           'swedish', 'danish', 'norwegian', 'finnish', 'russian', 'turkish', 'hungarian', 'romanian'] LOOP
    EXECUTE format('CREATE TEXT SEARCH CONFIGURATION %I (COPY = pg_catalog.%I)', l || '_unaccent', l);
    EXECUTE format('ALTER TEXT SEARCH CONFIGURATION %I ALTER MAPPING FOR hword, hword_part, word WITH public.unaccent, %s',
                   l || '_unaccent', CASE WHEN l = 'simple' THEN 'pg_catalog.simple' ELSE 'pg_catalog.' || l || '_stem' END);
  END LOOP;
END $$;

-- The configuration of an article's language ("es", "es-MX" → spanish); languages PostgreSQL has
-- no stemmer for fall back to simple (no stemming, no stop words).
CREATE FUNCTION ts_config_for(lang text) RETURNS regconfig
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT (CASE lower(split_part(coalesce(lang, ''), '-', 1))
    WHEN 'es' THEN 'knowledge.spanish_unaccent' WHEN 'en' THEN 'knowledge.english_unaccent'
    WHEN 'pt' THEN 'knowledge.portuguese_unaccent' WHEN 'fr' THEN 'knowledge.french_unaccent'
    WHEN 'de' THEN 'knowledge.german_unaccent' WHEN 'it' THEN 'knowledge.italian_unaccent'
    WHEN 'nl' THEN 'knowledge.dutch_unaccent' WHEN 'sv' THEN 'knowledge.swedish_unaccent'
    WHEN 'da' THEN 'knowledge.danish_unaccent' WHEN 'no' THEN 'knowledge.norwegian_unaccent'
    WHEN 'nb' THEN 'knowledge.norwegian_unaccent' WHEN 'fi' THEN 'knowledge.finnish_unaccent'
    WHEN 'ru' THEN 'knowledge.russian_unaccent' WHEN 'tr' THEN 'knowledge.turkish_unaccent'
    WHEN 'hu' THEN 'knowledge.hungarian_unaccent' WHEN 'ro' THEN 'knowledge.romanian_unaccent'
    ELSE 'knowledge.simple_unaccent' END)::regconfig $$;

-- OR of tsqueries (for "any of these words" queries built from a customer's message)
CREATE AGGREGATE tsquery_or_agg(tsquery) (SFUNC = tsquery_or, STYPE = tsquery);

-- "Any of the words of this text", each stemmed in the language's configuration (stop words drop
-- out); NULL when no word is left (matches nothing).
CREATE FUNCTION any_words_query(cfg regconfig, txt text) RETURNS tsquery
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT knowledge.tsquery_or_agg(q)
        FROM (SELECT plainto_tsquery(cfg, w) AS q
              FROM regexp_split_to_table(knowledge.f_unaccent(coalesce(txt, '')), '[^[:alnum:]]+') AS w
              WHERE length(w) >= 2 LIMIT 64) x
        WHERE numnode(q) > 0 $$;

-- array_to_string is only STABLE (generic element output); tags are text, so this is immutable
CREATE FUNCTION tags_text(text[]) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  AS $$ SELECT array_to_string($1, ' ') $$;

CREATE TABLE articles (
  id text PRIMARY KEY,
  -- translations of one article share a group (the id of the first one)
  translation_group text NOT NULL,
  language text NOT NULL,
  title text NOT NULL,
  body text NOT NULL,
  category text,
  tags text[] NOT NULL DEFAULT '{}',
  tier int CHECK (tier BETWEEN 0 AND 5),
  status text NOT NULL CHECK (status IN ('draft', 'published')),
  version int NOT NULL,
  source_conversation_id text,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_by text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  published_by text,
  published_at timestamptz,
  tsv tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector(ts_config_for(language), f_unaccent(title)), 'A') ||
    setweight(to_tsvector(ts_config_for(language), f_unaccent(tags_text(tags))), 'B') ||
    setweight(to_tsvector(ts_config_for(language), f_unaccent(body)), 'C')
  ) STORED,
  -- what typo tolerance compares query words with (trigram word similarity)
  fuzzy text GENERATED ALWAYS AS (lower(f_unaccent(title || ' ' || tags_text(tags)))) STORED,
  UNIQUE (translation_group, language)
);
CREATE INDEX articles_tsv ON articles USING gin (tsv);
CREATE INDEX articles_fuzzy ON articles USING gin (fuzzy public.gin_trgm_ops);
CREATE INDEX articles_category ON articles (category, status, language);
CREATE INDEX articles_updated ON articles (updated_at DESC, id DESC);

CREATE TABLE article_versions (
  article_id text NOT NULL REFERENCES articles (id),
  version int NOT NULL,
  title text NOT NULL,
  body text NOT NULL,
  category text,
  tags text[] NOT NULL,
  tier int,
  status text NOT NULL,
  author text NOT NULL,
  authored_at timestamptz NOT NULL DEFAULT now(),
  note text,
  PRIMARY KEY (article_id, version)
);

-- An article an agent used in a conversation (one row per article and conversation).
CREATE TABLE article_uses (
  article_id text NOT NULL REFERENCES articles (id),
  conversation_id text NOT NULL,
  used_by text NOT NULL,
  used_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (article_id, conversation_id)
);
CREATE INDEX article_uses_conversation ON article_uses (conversation_id);

-- What the knowledge service learns from omni.conversations.v1: enough to say whether a conversation
-- was resolved without escalation after an article was used, and volumes per category.
CREATE TABLE conversations (
  id text PRIMARY KEY,
  category text,
  language text,
  channel text NOT NULL,
  status text NOT NULL,
  opened_at timestamptz,
  resolved_at timestamptz,
  escalations int NOT NULL DEFAULT 0,
  last_escalated_at timestamptz,
  updated_at timestamptz NOT NULL
);
CREATE INDEX conversations_category ON conversations (category, opened_at);

-- ids of the events already applied: redelivery after a crash applies nothing twice
CREATE TABLE processed_events (
  event_id text PRIMARY KEY,
  processed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE canned_replies (
  id text PRIMARY KEY,
  scope text NOT NULL CHECK (scope IN ('personal', 'team')),
  -- personal: the agent's id; team: the team's name ("" = everyone)
  owner text NOT NULL,
  shortcut text NOT NULL,
  language text NOT NULL,
  title text NOT NULL,
  body text NOT NULL,
  created_by text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (scope, owner, shortcut, language)
);
CREATE INDEX canned_replies_shortcut ON canned_replies (shortcut text_pattern_ops);
