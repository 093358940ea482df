"""Sample-data generator: a realistic, dirty, deterministic landing zone (see README.md)."""

from .config import TIERS, DirtRates, Tier
from .generator import generate
from .personas import PERSONAS
from .summary import EntitySummary, GeneratorSummary

__all__ = ["PERSONAS", "TIERS", "DirtRates", "EntitySummary", "GeneratorSummary", "Tier", "generate"]
