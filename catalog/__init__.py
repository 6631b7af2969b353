"""linkhealth's domain library: catalog files, storage, checking, health.

It never imports Prefect; `flows/` orchestrates it and `reports/` renders what it
stores. The names below are the public surface; everything else may change.
"""

from catalog.errors import (
    CatalogError,
    ConfigError,
    LinkhealthError,
    NotFoundError,
    Problem,
    StoreError,
)
from catalog.model import Batch, Catalog, Hop, Observation, Previous, Resource, Target
from catalog.outcomes import Outcome, Severity
from catalog.settings import CheckSettings, HealthSettings, Settings, load_settings
from catalog.source import load_catalog, load_catalogs, validate_catalog

__all__ = [
    "Batch",
    "Catalog",
    "CatalogError",
    "CheckSettings",
    "ConfigError",
    "HealthSettings",
    "Hop",
    "LinkhealthError",
    "NotFoundError",
    "Observation",
    "Outcome",
    "Previous",
    "Problem",
    "Resource",
    "Settings",
    "Severity",
    "StoreError",
    "Target",
    "load_catalog",
    "load_catalogs",
    "load_settings",
    "validate_catalog",
]
