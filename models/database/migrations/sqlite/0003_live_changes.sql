-- The SQLite twin of postgres/0003_live_changes.sql: the live updates' outbox. It exists so that
-- both dialects have the same schema, and stays empty: on SQLite the one process announces its
-- changes in-process after each commit (models.Announcing.Local), with no notifier.
CREATE TABLE live_changes (
    id              INTEGER  PRIMARY KEY,
    conversation_id INTEGER  NOT NULL,
    seller_id       INTEGER  NOT NULL,
    message_id      INTEGER  NOT NULL DEFAULT 0, -- 0: a read receipt
    created_at      DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
