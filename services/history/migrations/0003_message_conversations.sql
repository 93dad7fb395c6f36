-- Which conversation each inbound message belongs to (inbound envelopes do not carry it; the
-- router's opened/message events name the message, with the tier the conversation was at). Filled when a conversation is projected, read
-- to show the conversation on inbound timeline items and to filter a timeline by conversation.
CREATE TABLE message_conversations (
  message_id text PRIMARY KEY,
  conversation_id text NOT NULL,
  tier int
);
CREATE INDEX message_conversations_conversation ON message_conversations (conversation_id);
