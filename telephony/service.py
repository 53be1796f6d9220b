"""Telephony's public service functions, for the rest of the application.

Everything here takes the caller's ``session`` first and never commits; events listed in
``telephony.events`` are published after the owner of the session commits.
"""

from telephony.callbacks import claim_callback_request, complete_callback_request, list_callback_requests
from telephony.calls import lock_call, publish_queue, queue_snapshot
from telephony.conference import apply_conference_event
from telephony.lifecycle import answer_call, end_call, release_claim
from telephony.presence import change_presence, show_presence
from telephony.provider import (
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    add_participant,
    hang_up_call,
    redirect_call,
    remove_participant,
    send_sms,
    update_participant,
)
from telephony.queue import describe_queue, take_next_caller
from telephony.voice import apply_call_status, hold_caller, receive_incoming_call

__all__ = [
    "ProviderError", "ProviderRejected", "ProviderUnavailable", "add_participant", "answer_call",
    "apply_call_status", "apply_conference_event", "change_presence", "claim_callback_request",
    "complete_callback_request", "describe_queue", "end_call", "hang_up_call", "hold_caller",
    "list_callback_requests", "lock_call", "publish_queue", "queue_snapshot", "receive_incoming_call",
    "redirect_call", "release_claim", "remove_participant", "send_sms", "show_presence", "take_next_caller",
    "update_participant",
]
