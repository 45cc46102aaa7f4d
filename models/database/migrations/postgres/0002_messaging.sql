-- Messaging: the seller's read state, kept on the conversation, and idempotent sending.

-- Messages the buyer sent that the seller has not read, kept exact by every write that changes
-- it, in the same transaction (models.Store.SendMessage, MarkConversationRead): the inbox's
-- unread filter and the badge read it through an index instead of counting messages.
ALTER TABLE conversations
    ADD COLUMN seller_unread_count integer NOT NULL DEFAULT 0 CHECK (seller_unread_count >= 0);
UPDATE conversations AS c
SET seller_unread_count = (SELECT count(*) FROM messages AS m
                           WHERE m.conversation_id = c.id AND m.sender_id <> c.seller_id AND NOT m.is_read);
-- The inbox order, for the conversations with unread messages only.
CREATE INDEX conversations_unread_inbox_idx ON conversations (seller_id, updated_at DESC, id DESC)
    WHERE seller_unread_count > 0;

-- The client's key of a sent message: a retry with the same key finds the message it wrote.
ALTER TABLE messages
    ADD COLUMN client_mutation_id text CHECK (char_length(client_mutation_id) BETWEEN 1 AND 64);
CREATE UNIQUE INDEX messages_client_mutation_id_idx ON messages (sender_id, client_mutation_id)
    WHERE client_mutation_id IS NOT NULL;
