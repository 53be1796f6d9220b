"""What a report download says, in JSON (the CSV carries the same columns and rows)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Section = Literal[
    "calls", "hours", "repeat-callers", "call-logs", "transfers", "handovers", "partners", "caller-survey"
]
Format = Literal["json", "csv"]


class ReportTableOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    section: Section
    title: str
    first: date = Field(serialization_alias="from", description="The first day counted (the line's local date)")
    last: date = Field(serialization_alias="to", description="The last day counted, included")
    before_from: date = Field(description="The first day of the period before, of the same length")
    before_to: date
    suppressed: bool = Field(description='True in the commissioner\'s view: counts of 1 to 4 read "<5"')
    columns: list[str]
    rows: list[list[str | float | int | None]]
