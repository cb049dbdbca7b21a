"""The analytics API's options, which its OpenAPI document lists: how providers are ordered, the
export formats and their media types, the recommendations' default window.

Apart from the reports so that the service declares its routes without importing the SQL behind
them (that loads with the first analytics request).
"""

from enum import StrEnum

DEFAULT_RECOMMENDATION_HOURS = 168


class ProviderOrder(StrEnum):
    """How the provider list is sorted (descending, except `name`)."""

    REQUESTS = "requests"
    SUCCESS_RATE = "success_rate"
    COST = "cost"
    P95 = "p95"
    QUALITY = "quality"
    NAME = "name"


class ExportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    NDJSON = "ndjson"


MEDIA_TYPES = {
    ExportFormat.JSON: "application/json",
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.NDJSON: "application/x-ndjson",
}
