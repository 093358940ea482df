"""Static reference data (products, names, places, texts) loaded into DuckDB as small tables."""

from __future__ import annotations

import duckdb

from .sqlkit import SLOTS, picker, quantize, sql_list

# product_id, sku, title, category, price, popularity weight
PRODUCTS: tuple[tuple[str, str, str, str, str, float], ...] = (
    ("P-100", "COF-1KG", "House Blend 1kg", "coffee", "44.50", 10),
    ("P-101", "COF-250", "House Blend 250g", "coffee", "12.90", 14),
    ("P-102", "COF-ETH", "Ethiopia Yirgacheffe 250g", "coffee", "16.50", 8),
    ("P-103", "COF-COL", "Colombia Huila 250g", "coffee", "14.90", 7),
    ("P-104", "COF-DEC", "Swiss Water Decaf 250g", "coffee", "13.50", 3),
    ("P-105", "COF-ESP", "Espresso Roast 1kg", "coffee", "46.00", 6),
    ("P-200", "FLT-100", "Paper Filters x100", "filters", "12.00", 6),
    ("P-201", "FLT-200", "Paper Filters x200", "filters", "21.00", 3),
    ("P-202", "FLT-MTL", "Reusable Metal Filter", "filters", "24.00", 2),
    ("P-300", "TEA-SEN", "Sencha 100g", "tea", "11.50", 4),
    ("P-301", "TEA-EGR", "Earl Grey 100g", "tea", "9.90", 4),
    ("P-302", "TEA-CHA", "Masala Chai 100g", "tea", "10.50", 3),
    ("P-400", "EQP-DRP", "Pour-over Dripper", "equipment", "29.00", 3),
    ("P-401", "EQP-GRD", "Burr Grinder", "equipment", "149.00", 1.5),
    ("P-402", "EQP-KTL", "Gooseneck Kettle", "equipment", "79.00", 1.5),
    ("P-403", "EQP-ESP", "Home Espresso Machine", "equipment", "449.00", 0.5),
    ("P-500", "ACC-MUG", "Ceramic Mug", "accessories", "18.00", 4),
    ("P-501", "ACC-TMB", "Travel Tumbler", "accessories", "28.00", 3),
    ("P-502", "ACC-SCL", "Brewing Scale", "accessories", "39.00", 2),
    ("P-503", "ACC-GFT", "Gift Card", "accessories", "50.00", 1.5),
)
CATEGORIES = ("coffee", "filters", "tea", "equipment", "accessories")
# How likely a customer's favourite category is each one (coffee shop: mostly coffee people).
CATEGORY_PREFERENCE = (0.55, 0.08, 0.2, 0.07, 0.1)

FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "James", "Isabella", "Lucas", "Mia",
    "Mateo", "Amelia", "Benjamin", "Harper", "Henry", "Evelyn", "Leo", "Luna", "Jack", "Ella", "Daniel",
    "Aria", "Samuel", "Chloe", "David", "Zoe", "Joseph", "Nora", "Carter", "Lily", "Owen", "Hannah",
    "Wyatt", "Grace", "Julian", "Layla", "Gabriel", "Riley", "Isaac", "Priya", "Arjun", "Mei", "Hiroshi",
    "Fatima", "Omar", "Sofia", "Diego", "Chiara", "Lars", "Ingrid", "Kwame", "Amara", "Yusuf", "Leila",
    "Tomasz", "Aniela", "Chen", "Hana", "Mateus",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson",
    "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis",
    "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill",
    "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter",
    "Roberts", "Kim", "Patel", "Singh", "Nakamura", "Novak", "Kowalski", "Rossi", "Muller", "Okafor",
    "Haddad", "Larsen", "Silva", "Costa", "Ivanova", "Yilmaz", "Cohen", "Murphy", "OBrien", "Fischer",
    "Dubois",
)
# city, province_code, country_code, zip, weight
CITIES: tuple[tuple[str, str, str, str, float], ...] = (
    ("New York", "NY", "US", "10001", 10), ("Los Angeles", "CA", "US", "90012", 8),
    ("Chicago", "IL", "US", "60601", 6), ("Houston", "TX", "US", "77002", 4),
    ("Austin", "TX", "US", "78701", 5), ("Seattle", "WA", "US", "98101", 5),
    ("Portland", "OR", "US", "97205", 5), ("Denver", "CO", "US", "80202", 4),
    ("Boston", "MA", "US", "02108", 4), ("San Francisco", "CA", "US", "94103", 5),
    ("Atlanta", "GA", "US", "30303", 3), ("Miami", "FL", "US", "33130", 3),
    ("Minneapolis", "MN", "US", "55401", 2), ("Philadelphia", "PA", "US", "19103", 3),
    ("Nashville", "TN", "US", "37203", 2), ("Toronto", "ON", "CA", "M5H 2N2", 3),
    ("Vancouver", "BC", "CA", "V6B 1A1", 2), ("Montreal", "QC", "CA", "H2Y 1C6", 2),
)
# store_id, hours offset of local time from UTC, weight
STORES: tuple[tuple[str, int, float], ...] = (
    ("popup-austin", -6, 3), ("popup-denver", -7, 2), ("market-portland", -8, 3), ("kiosk-nyc", -5, 4),
)
CAMPAIGN_SUBJECTS = (
    "New arrivals from Ethiopia", "Brew better at home", "Our roaster's picks", "Weekend brew guide",
    "Tea time: new blends", "Gear up: grinders & kettles", "Last chance: seasonal roast",
    "Free shipping this week", "Meet the farmers", "Your cold brew playbook", "Gift ideas for coffee lovers",
    "Fresh roast Friday",
)  # weekly rotation; Black Friday / Cyber Monday sends have their own subjects
REVIEW_TEXTS: dict[int, tuple[tuple[str, str], ...]] = {
    5: (("Perfect every morning", "Rich, balanced, exactly what I wanted."),
        ("Best coffee I've had", "Fresh roast, fast shipping, will buy again."),
        ("Love it", "Great quality and lovely packaging.")),
    4: (("Very good", "Tasty, a little pricey but worth it."),
        ("Solid choice", "Does the job well, arrived on time.")),
    3: (("It's okay", "Fine, but not as fresh as I hoped."),
        ("Average", "Nothing special, nothing wrong.")),
    2: (("Disappointed", "Stale taste and the bag was dented."),
        ("Took too long", "Arrived days after the promised date.")),
    1: (("Arrived broken", "The package was damaged and it arrived late."),
        ("Never again", "Late delivery and poor quality. Asked for a refund.")),
}
USER_AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/124.0 Mobile Safari/537.36",
    "ShopApp/3.2.1 (iOS 17.4; iPhone15,2)",
)
# utm source, medium, landing path weight: where web sessions come from
TRAFFIC = (
    (None, None, 40), ("google", "cpc", 18), ("instagram", "social", 12), ("newsletter", "email", 12),
    ("facebook", "social", 6), ("tiktok", "social", 5), ("partner-blog", "referral", 4),
    ("friend", "referral", 3),
)


def _values(rows: tuple[tuple, ...]) -> str:
    """Render Python tuples as a SQL VALUES list (static, trusted data only)."""
    return ", ".join("(" + sql_list(r)[1:-1] + ")" for r in rows)


def _table(con: duckdb.DuckDBPyConnection, name: str, cols: str, rows: tuple[tuple, ...]) -> None:
    """A small reference table with a 0-based `idx` in the order given."""
    con.execute(f"""
        CREATE OR REPLACE TABLE {name} AS
        SELECT (row_number() OVER () - 1)::INTEGER AS idx, * FROM (VALUES {_values(rows)}) t({cols})
    """)


def load(con: duckdb.DuckDBPyConnection) -> None:
    """Create the reference tables (each with `idx`) and the weighted picker macros over them."""
    _table(con, "ref_products", "product_id, sku, title, category, price_s, w", PRODUCTS)
    con.execute(f"""
        CREATE OR REPLACE TABLE ref_products AS
        SELECT idx, product_id, sku, title, category, price_s::DECIMAL(18, 2) AS price, w,
               list_position({sql_list(CATEGORIES)}, category) - 1 AS cat_idx
        FROM ref_products
    """)
    picker(con, "pick_product", [p[5] for p in PRODUCTS])
    # Product within a category: a lookup table per category, picked by the category's index.
    per_cat = []
    for cat in CATEGORIES:
        idxs = [i for i, p in enumerate(PRODUCTS) if p[3] == cat]
        per_cat.append([idxs[j] for j in quantize([PRODUCTS[i][5] for i in idxs])])
    con.execute(
        f"CREATE OR REPLACE MACRO pick_product_in(c, u) AS "
        f"{per_cat!r}[c + 1][floor(u * {SLOTS})::INTEGER + 1]"
    )
    picker(con, "pick_category", CATEGORY_PREFERENCE)
    _table(con, "ref_cities", "city, province_code, country_code, zip, w", CITIES)
    picker(con, "pick_city", [c[4] for c in CITIES])
    _table(con, "ref_stores", "store_id, utc_offset, w", STORES)
    picker(con, "pick_store", [s[2] for s in STORES])
    _table(con, "ref_traffic", "utm_source, utm_medium, w", TRAFFIC)
    picker(con, "pick_traffic", [t[2] for t in TRAFFIC])
    for macro, values in (("first_name_at", FIRST_NAMES), ("last_name_at", LAST_NAMES),
                          ("user_agent_at", USER_AGENTS)):
        con.execute(f"CREATE OR REPLACE MACRO {macro}(u) AS "
                    f"{sql_list(values)}[floor(u * {len(values)})::INTEGER + 1]")
    n = len(CAMPAIGN_SUBJECTS)
    con.execute(f"CREATE OR REPLACE MACRO subject_at(i) AS {sql_list(CAMPAIGN_SUBJECTS)}[(i % {n})::INTEGER + 1]")
    rows = tuple((r, i, t, b) for r, lst in REVIEW_TEXTS.items() for i, (t, b) in enumerate(lst))
    con.execute(f"""
        CREATE OR REPLACE TABLE ref_review_texts AS
        SELECT * FROM (VALUES {_values(rows)}) t(rating, idx, title, body)
    """)
    con.execute("""
        CREATE OR REPLACE TABLE ref_review_text_count AS
        SELECT rating, count(*) AS n FROM ref_review_texts GROUP BY rating
    """)
