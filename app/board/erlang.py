"""Erlang C moved to ``app.capacity.erlang`` (with Erlang A beside it); kept here so work written
against the old path still imports."""

from app.capacity.erlang import Staffing, assess, listeners_needed, probability_of_waiting

__all__ = ["Staffing", "assess", "listeners_needed", "probability_of_waiting"]
