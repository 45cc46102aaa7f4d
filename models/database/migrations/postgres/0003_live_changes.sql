-- Live updates' outbox: each write that changes a conversation records its change here, in its
-- own transaction (models.Store, Announcing.Outbox), and one notifier per instance
-- (live.Notifier) deletes the rows and announces them with NOTIFY, in id order, in the same
-- transaction as the delete. So a change is announced if and only if it was committed, and
-- none is lost when an instance dies between its commit and the announcement: another
-- instance's notifier announces it within a second. The writes themselves never NOTIFY, which
-- would serialize their commits on PostgreSQL's lock of notifying transactions.
--
-- Ids only, like the notifications (models.Change). Rows live for milliseconds, so no foreign
-- keys: they would only cost the writes and the deletes.
CREATE TABLE live_changes (
    id              bigserial   PRIMARY KEY,
    conversation_id bigint      NOT NULL,
    seller_id       bigint      NOT NULL,
    message_id      bigint      NOT NULL DEFAULT 0, -- 0: a read receipt
    created_at      timestamptz NOT NULL DEFAULT now()
);
