"""What /api/capacity answers."""

from __future__ import annotations

from pydantic import BaseModel, Field


class WindowOut(BaseModel):
    start: str
    end: str
    weeks: int
    zone: str


class TargetsOut(BaseModel):
    average_speed_of_answer_seconds: float
    answer_within_seconds: float
    service_level: float
    abandonment: float


class PredictedOut(BaseModel):
    listeners: int
    service_level: float
    abandonment: float
    average_speed_of_answer_seconds: float | None = Field(description="None: too few listeners ever to catch up")


class HourOut(BaseModel):
    day: str
    hour: int = Field(description="Hour of the day in the line's time (Europe/London)")
    calls_per_hour: float
    handle_seconds: float | None = Field(description="Mean handle plus wrap-up")
    patience_seconds: float | None = Field(description="Mean time a waiting caller holds on before giving up")
    abandoned_share: float | None
    needed: int = Field(description="Listeners on the line needed for every target (Erlang A)")
    needed_erlang_c: int = Field(description="The same by Erlang C (nobody gives up): the cross-check")
    rota: int = Field(description="Listeners to rota once shrinkage is allowed for")
    available: float = Field(description="Listeners who were on the line, on average over the weeks")
    added: int
    gap: float = Field(description="Available plus added minus needed: negative is under-staffed")
    predicted: PredictedOut | None


class WeekOut(BaseModel):
    calls_per_week: float
    service_level: float | None
    abandonment: float | None
    hours_under: int
    hours_over: int


class RerouteOut(BaseModel):
    from_service: str
    need: str
    per_week: float
    to: list[str]


class WhatIfOut(BaseModel):
    add_listeners: int
    add_days: list[str]
    add_from: int
    add_to: int
    pause: list[int]
    week: WeekOut
    rerouted: list[RerouteOut]


class ServiceLoadOut(BaseModel):
    service_id: int
    name: str
    status: str
    needs: list[str]
    capacity: int | None
    arriving_per_week: float
    accepted_per_week: float
    completed_per_week: float
    open_now: int
    open_by_week: list[int] = Field(description="Tickets open at the end of each week of the window")
    paused: bool
    expected_wait_days: float | None = Field(description="Little's law: open tickets over arrivals per day")
    places: int | None = Field(description="Places for warm transfers now, as the partner said")
    waiting_list: str | None = Field(description="The partner's waiting-list band")
    beyond_capacity: bool
    beyond_capacity_because: list[str] = Field(description="Why, in words: the queue's figures or the partner's")


class UnservedNeedOut(BaseModel):
    need: str
    label: str
    services: int
    hours: list[str]


class LocalityWaitOut(BaseModel):
    locality: str
    tickets: int
    mean_wait_days: float


class PinchPointsOut(BaseModel):
    unserved_needs: list[UnservedNeedOut]
    longest_waiting_localities: list[LocalityWaitOut]
    beyond_capacity: list[str]


class CapacityOut(BaseModel):
    window: WindowOut
    targets: TargetsOut
    shrinkage: float
    handle_seconds: float | None
    patience_seconds: float | None
    hours: list[HourOut]
    week: WeekOut
    what_if: WhatIfOut
    services: list[ServiceLoadOut]
    pinch_points: PinchPointsOut
