"""The landing-zone contract as data: every source entity, its format, key and typed fields.

One place describes LANDING_ZONE.md for the code: ingestion derives its parsing and validation
from it, the raw views take their column types from it, and the sample-data generator and the
tests use it to know which fields are required and which types a value must have.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Logical types of raw columns and the DuckDB type each is stored as in the Parquet lake.
# JSON columns keep nested values (objects, arrays) as JSON text; staging unpacks them.
DUCKDB_TYPES = {
    "string": "VARCHAR",
    "int": "BIGINT",
    "timestamp": "TIMESTAMPTZ",
    "money": "DECIMAL(18,2)",
    "bool": "BOOLEAN",
    "json": "JSON",
}


@dataclass(frozen=True)
class Field:
    """One top-level field of a landing record."""

    name: str
    type: str = "string"
    required: bool = False

    @property
    def duckdb_type(self) -> str:
        """The DuckDB type the field is stored as in the raw layer."""
        return DUCKDB_TYPES[self.type]


@dataclass(frozen=True)
class Entity:
    """A source entity of the landing zone (`<source>/<entity>/`)."""

    source: str
    entity: str
    format: str  # "jsonl" or "csv"
    key: tuple[str, ...]
    semantics: str  # "upsert" (latest updated_at wins) or "append"
    event_time: str  # the field checked against the file date (clock skew) and used for ordering
    fields: tuple[Field, ...] = field(default_factory=tuple)
    required_source: bool = False

    @property
    def name(self) -> str:
        """`<source>__<entity>`: the asset, lake folder and raw view name."""
        return f"{self.source}__{self.entity}"

    @property
    def required_fields(self) -> tuple[str, ...]:
        """Names of the fields without which a record is quarantined."""
        return tuple(f.name for f in self.fields if f.required)


def _f(spec: str) -> Field:
    """Parse a compact field spec: `name`, `name:type`, a trailing `!` marks it required."""
    required = spec.endswith("!")
    spec = spec.rstrip("!")
    name, _, typ = spec.partition(":")
    return Field(name, typ or "string", required)


def _fields(*specs: str) -> tuple[Field, ...]:
    return tuple(_f(s) for s in specs)


ENTITIES: tuple[Entity, ...] = (
    Entity(
        "shop", "customers", "jsonl", ("id",), "upsert", "updated_at",
        _fields(
            "id:int!", "email", "first_name", "last_name", "phone", "created_at:timestamp!",
            "updated_at:timestamp!", "accepts_marketing:bool", "accepts_marketing_updated_at:timestamp",
            "tags:json", "default_address:json",
        ),
        required_source=True,
    ),
    Entity(
        "shop", "orders", "jsonl", ("id",), "upsert", "updated_at",
        _fields(
            "id:int!", "order_number:int", "customer_id:int", "email", "created_at:timestamp!",
            "updated_at:timestamp!", "cancelled_at:timestamp", "financial_status", "fulfillment_status",
            "source_name", "test:bool", "currency", "subtotal_price:money", "total_discounts:money",
            "total_shipping:money", "total_tax:money", "total_price:money!", "discount_codes:json",
            "landing_site", "line_items:json", "refunds:json", "fulfillments:json",
        ),
        required_source=True,
    ),
    Entity(
        "pos", "transactions", "csv", ("transaction_id", "line_number"), "append", "occurred_at",
        _fields(
            "transaction_id!", "line_number:int!", "store_id", "occurred_at:timestamp!", "customer_email",
            "shop_customer_id:int", "product_id", "sku", "category", "quantity:int!", "unit_price:money!",
            "currency",
        ),
    ),
    Entity(
        "web", "events", "jsonl", ("messageId",), "append", "timestamp",
        _fields(
            "type!", "messageId!", "anonymousId", "userId", "event", "name", "properties:json",
            "traits:json", "context:json", "timestamp:timestamp!", "sentAt:timestamp",
            "receivedAt:timestamp",
        ),
    ),
    Entity(
        "esp", "email_events", "jsonl", ("id",), "append", "timestamp",
        _fields(
            "id!", "metric!", "email", "phone_number", "timestamp:timestamp!", "campaign_id", "flow_id",
            "message_id", "properties:json",
        ),
    ),
    Entity(
        "reviews", "reviews", "jsonl", ("id",), "upsert", "updated_at",
        _fields(
            "id!", "product_id", "customer_id:int", "customer_email", "rating:int!", "title", "body",
            "verified_buyer:bool", "status", "created_at:timestamp!", "updated_at:timestamp!",
        ),
    ),
    Entity(
        "support", "tickets", "jsonl", ("id",), "upsert", "updated_at",
        _fields(
            "id:int!", "requester_email", "channel", "subject", "status", "priority", "order_id:int",
            "satisfaction", "tags:json", "created_at:timestamp!", "updated_at:timestamp!",
            "solved_at:timestamp",
        ),
    ),
    Entity(
        "loyalty", "ledger", "jsonl", ("id",), "append", "occurred_at",
        _fields(
            "id!", "customer_id:int!", "type!", "points:int!", "order_id:int", "occurred_at:timestamp!",
            "expires_at:timestamp", "reason",
        ),
    ),
    Entity(
        "loyalty", "tier_changes", "jsonl", ("id",), "append", "changed_at",
        _fields("id!", "customer_id:int!", "previous_tier", "tier!", "changed_at:timestamp!", "reason"),
    ),
    Entity(
        "subscriptions", "subscriptions", "jsonl", ("id",), "upsert", "updated_at",
        _fields(
            "id!", "customer_id:int", "email", "product_id", "sku", "category", "status!",
            "interval_days:int", "price:money", "created_at:timestamp!", "updated_at:timestamp!",
            "cancelled_at:timestamp", "next_charge_at:timestamp",
        ),
    ),
    Entity(
        "referrals", "referrals", "jsonl", ("id",), "upsert", "updated_at",
        _fields(
            "id!", "referrer_customer_id:int!", "referee_email", "status!", "converted_order_id:int",
            "created_at:timestamp!", "updated_at:timestamp!", "converted_at:timestamp",
        ),
    ),
    Entity(
        "privacy", "deletion_requests", "jsonl", ("id",), "append", "requested_at",
        _fields("id!", "email", "customer_id:int", "requested_at:timestamp!"),
    ),
)

ENTITIES_BY_NAME: dict[str, Entity] = {e.name: e for e in ENTITIES}
ENTITIES_BY_PATH: dict[tuple[str, str], Entity] = {(e.source, e.entity): e for e in ENTITIES}


def get_entity(name: str) -> Entity:
    """Look an entity up by `<source>__<entity>`."""
    return ENTITIES_BY_NAME[name]


# How many days an entity may go without a landing file before its raw asset's `source_delivering` check
# warns. A day without records has no file (LANDING_ZONE.md), so sparse streams get longer allowances.
SILENT_DAYS_DEFAULT = 3
SILENT_DAYS = {"privacy__deletion_requests": 90, "subscriptions__subscriptions": 14, "referrals__referrals": 14}


def max_silent_days(entity: Entity) -> int:
    """Days the entity may deliver nothing before that is worth a warning."""
    return SILENT_DAYS.get(entity.name, SILENT_DAYS_DEFAULT)

