-- Messaging: the seller's read state, kept on the conversation, and idempotent sending. The
-- same meaning as PostgreSQL's 0002_messaging.sql.

-- Messages the buyer sent that the seller has not read, kept exact by every write that changes
-- it, in the same transaction (models.Store.SendMessage, MarkConversationRead).
ALTER TABLE conversations
    ADD COLUMN seller_unread_count INTEGER NOT NULL DEFAULT 0 CHECK (seller_unread_count >= 0);
UPDATE conversations
SET seller_unread_count = (SELECT count(*) FROM messages AS m
                           WHERE m.conversation_id = conversations.id
                             AND m.sender_id <> conversations.seller_id AND NOT m.is_read);
CREATE INDEX conversations_unread_inbox_idx ON conversations (seller_id, updated_at DESC, id DESC)
    WHERE seller_unread_count > 0;

ALTER TABLE messages
    ADD COLUMN client_mutation_id TEXT CHECK (length(client_mutation_id) BETWEEN 1 AND 64);
CREATE UNIQUE INDEX messages_client_mutation_id_idx ON messages (sender_id, client_mutation_id)
    WHERE client_mutation_id IS NOT NULL;
