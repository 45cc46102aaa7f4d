-- Users are public profiles: buyers and sellers alike.
CREATE TABLE users (
    id             bigserial PRIMARY KEY,
    display_name   text          NOT NULL CHECK (display_name <> ''),
    avatar_url     text,
    city_id        bigint,
    rating         numeric(3, 2) NOT NULL DEFAULT 0 CHECK (rating BETWEEN 0 AND 5),
    reviews_count  integer       NOT NULL DEFAULT 0 CHECK (reviews_count >= 0),
    products_count integer       NOT NULL DEFAULT 0 CHECK (products_count >= 0),
    created_at     timestamptz   NOT NULL DEFAULT now()
);

-- Sessions store a SHA-256 of the cookie value, never the value itself.
CREATE TABLE sessions (
    id_hash    bytea       PRIMARY KEY CHECK (octet_length(id_hash) = 32),
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    CHECK (expires_at > created_at)
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

CREATE TABLE products (
    id               bigserial PRIMARY KEY,
    seller_id        bigint      NOT NULL REFERENCES users (id),
    title            text        NOT NULL CHECK (title <> ''),
    price            bigint      NOT NULL CHECK (price >= 0),
    steering         text CHECK (steering IN ('left', 'right')),
    city_id          bigint      NOT NULL,
    region_id        bigint      NOT NULL,
    district_id      bigint,
    metro_station_id bigint,
    metro_distance_m integer CHECK (metro_distance_m >= 0),
    address_id       text,
    published_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (metro_distance_m IS NULL OR metro_station_id IS NOT NULL),
    -- Target of conversations' composite key, which pins a conversation's seller to its product's.
    UNIQUE (id, seller_id)
);
CREATE INDEX products_seller_id_idx ON products (seller_id);

CREATE TABLE product_images (
    id             bigserial PRIMARY KEY,
    product_id     bigint  NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    thumbnail_webp text    NOT NULL,
    thumbnail_jpeg text    NOT NULL,
    medium_webp    text    NOT NULL,
    medium_jpeg    text    NOT NULL,
    large_webp     text    NOT NULL,
    large_jpeg     text    NOT NULL,
    status         text    NOT NULL CHECK (status IN ('processing', 'ready', 'rejected')),
    is_primary     boolean NOT NULL DEFAULT false,
    sort_order     integer NOT NULL DEFAULT 0
);
-- Serves "images of these products in display order" with no sort step.
CREATE INDEX product_images_product_order_idx ON product_images (product_id, sort_order, id);
-- At most one primary image per product.
CREATE UNIQUE INDEX product_images_one_primary_idx ON product_images (product_id) WHERE is_primary;

-- seller_id duplicates products.seller_id so that a vendor's inbox, newest activity first,
-- is one index range scan; the composite foreign key keeps the copy honest.
CREATE TABLE conversations (
    id         bigserial PRIMARY KEY,
    product_id bigint      NOT NULL,
    seller_id  bigint      NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (product_id, seller_id) REFERENCES products (id, seller_id),
    CHECK (updated_at >= created_at)
);
CREATE INDEX conversations_inbox_idx ON conversations (seller_id, updated_at DESC, id DESC);
CREATE INDEX conversations_product_id_idx ON conversations (product_id);

CREATE TABLE conversation_participants (
    conversation_id bigint      NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         bigint      NOT NULL REFERENCES users (id),
    joined_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX conversation_participants_user_id_idx ON conversation_participants (user_id, conversation_id);

CREATE TABLE messages (
    id              bigserial PRIMARY KEY,
    conversation_id bigint      NOT NULL,
    sender_id       bigint      NOT NULL,
    text            text,
    image_url       text,
    is_read         boolean     NOT NULL DEFAULT false,
    is_delivered    boolean     NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- Only a participant can have written in a conversation.
    FOREIGN KEY (conversation_id, sender_id)
        REFERENCES conversation_participants (conversation_id, user_id) ON DELETE CASCADE,
    CHECK (text IS NOT NULL OR image_url IS NOT NULL)
);
-- The last message of a conversation is the first entry of this index for it.
CREATE INDEX messages_conversation_recent_idx ON messages (conversation_id, created_at DESC, id DESC);
-- Unread counts touch only unread rows.
CREATE INDEX messages_unread_idx ON messages (conversation_id, sender_id) WHERE NOT is_read;
