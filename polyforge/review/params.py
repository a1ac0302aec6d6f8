"""The review app's parameter types: numbers bounded to what the database's integer columns hold, so that a
hostile or mistyped value is a clear 422 instead of an overflow deep in SQL, and JSON numbers that are numbers
(a boolean is not a score)."""

from typing import Annotated

from annotated_types import Interval
from pydantic import AfterValidator, Field

MAX_DB_INT = 2**31 - 1  # PostgreSQL's integer, which every id and count column is

# In a path, a query string or a form: text that must read as a whole number in range.
RowId = Annotated[int, Interval(ge=1, le=MAX_DB_INT)]
# In a JSON body: a JSON integer in range (neither true nor "12").
JsonRowId = Annotated[int, Field(strict=True, ge=1, le=MAX_DB_INT)]
JsonCount = Annotated[int, Field(strict=True, ge=1, le=MAX_DB_INT)]


def whole_number(text: str, low: int, high: int) -> int | None:
    """`text` as a whole number from `low` to `high`, or None: ASCII digits only (`²` and `١٢` pass `isdigit()`),
    and no longer than the bound needs (a 5,000-digit string is not parsed)."""
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > len(str(high)):
        return None
    number = int(text)
    return number if low <= number <= high else None


def _storable(text: str) -> str:
    if "\x00" in text:
        raise ValueError("contains a NUL character, which the database cannot store: send text without it")
    return text


# Any text a request carries into a query or a row.
Text = Annotated[str, AfterValidator(_storable)]
# A name-like filter (a language, a flag reason): short.
ShortText = Annotated[str, AfterValidator(_storable), Field(max_length=200)]
