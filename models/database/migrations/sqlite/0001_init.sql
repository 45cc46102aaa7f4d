-- The SQLite twin of postgres/0001_init.sql: the same tables, keys, constraints and indexes.
-- Timestamps are DATETIME text written by the driver in one UTC format, whose lexicographic
-- order is chronological, so comparisons and indexes behave as in PostgreSQL. Ratings are
-- text: SQLite has no exact decimal type.
CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    display_name   TEXT     NOT NULL CHECK (display_name <> ''),
    avatar_url     TEXT,
    city_id        INTEGER,
    rating         TEXT     NOT NULL DEFAULT '0.00' CHECK (rating GLOB '[0-5].[0-9][0-9]' AND CAST(rating AS REAL) <= 5),
    reviews_count  INTEGER  NOT NULL DEFAULT 0 CHECK (reviews_count >= 0),
    products_count INTEGER  NOT NULL DEFAULT 0 CHECK (products_count >= 0),
    created_at     DATETIME NOT NULL
);

CREATE TABLE sessions (
    id_hash    BLOB     PRIMARY KEY CHECK (length(id_hash) = 32),
    user_id    INTEGER  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at DATETIME NOT NULL,
    expires_at DATETIME NOT NULL,
    CHECK (expires_at > created_at)
) WITHOUT ROWID;
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

CREATE TABLE products (
    id               INTEGER PRIMARY KEY,
    seller_id        INTEGER  NOT NULL REFERENCES users (id),
    title            TEXT     NOT NULL CHECK (title <> ''),
    price            INTEGER  NOT NULL CHECK (price >= 0),
    steering         TEXT CHECK (steering IN ('left', 'right')),
    city_id          INTEGER  NOT NULL,
    region_id        INTEGER  NOT NULL,
    district_id      INTEGER,
    metro_station_id INTEGER,
    metro_distance_m INTEGER CHECK (metro_distance_m >= 0),
    address_id       TEXT,
    published_at     DATETIME,
    created_at       DATETIME NOT NULL,
    CHECK (metro_distance_m IS NULL OR metro_station_id IS NOT NULL),
    UNIQUE (id, seller_id)
);
CREATE INDEX products_seller_id_idx ON products (seller_id);

CREATE TABLE product_images (
    id             INTEGER PRIMARY KEY,
    product_id     INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    thumbnail_webp TEXT    NOT NULL,
    thumbnail_jpeg TEXT    NOT NULL,
    medium_webp    TEXT    NOT NULL,
    medium_jpeg    TEXT    NOT NULL,
    large_webp     TEXT    NOT NULL,
    large_jpeg     TEXT    NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('processing', 'ready', 'rejected')),
    is_primary     BOOLEAN NOT NULL DEFAULT false,
    sort_order     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX product_images_product_order_idx ON product_images (product_id, sort_order, id);
CREATE UNIQUE INDEX product_images_one_primary_idx ON product_images (product_id) WHERE is_primary;

CREATE TABLE conversations (
    id         INTEGER PRIMARY KEY,
    product_id INTEGER  NOT NULL,
    seller_id  INTEGER  NOT NULL,
    created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL,
    FOREIGN KEY (product_id, seller_id) REFERENCES products (id, seller_id),
    CHECK (updated_at >= created_at)
);
CREATE INDEX conversations_inbox_idx ON conversations (seller_id, updated_at DESC, id DESC);
CREATE INDEX conversations_product_id_idx ON conversations (product_id);

CREATE TABLE conversation_participants (
    conversation_id INTEGER  NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         INTEGER  NOT NULL REFERENCES users (id),
    joined_at       DATETIME NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
) WITHOUT ROWID;
CREATE INDEX conversation_participants_user_id_idx ON conversation_participants (user_id, conversation_id);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER  NOT NULL,
    sender_id       INTEGER  NOT NULL,
    text            TEXT,
    image_url       TEXT,
    is_read         BOOLEAN  NOT NULL DEFAULT false,
    is_delivered    BOOLEAN  NOT NULL DEFAULT false,
    created_at      DATETIME NOT NULL,
    FOREIGN KEY (conversation_id, sender_id)
        REFERENCES conversation_participants (conversation_id, user_id) ON DELETE CASCADE,
    CHECK (text IS NOT NULL OR image_url IS NOT NULL)
);
CREATE INDEX messages_conversation_recent_idx ON messages (conversation_id, created_at DESC, id DESC);
CREATE INDEX messages_unread_idx ON messages (conversation_id, sender_id) WHERE NOT is_read;
