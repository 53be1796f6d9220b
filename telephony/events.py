"""The domain events telephony publishes (after commit, via ``app.core.events.emit``).

Other packages subscribe to these names; the payloads are part of telephony's public contract:

* ``call.waiting``       ``{call_id}``: a caller has joined the queue.
* ``call.claimed``       ``{call_id, listener_id}``: a listener took the caller; their line is being rung.
* ``call.answered``      ``{call_id, listener_id, answered_at}``: the listener joined the caller's conference.
* ``call.ended``         ``{call_id, listener_id, ended_at, abandoned}``: the caller's call is over.
* ``participant.joined`` / ``participant.left``
                         ``{call_id, call_sid, label, role}``: someone joined or left the caller's
                         conference; ``call_sid`` is the participant's own leg and ``role`` is
                         ``caller``, ``listener`` or ``partner``.
* ``call.leg_ended``     ``{call_id, call_sid, label, status}``: a leg dialled into the caller's
                         conference never got there (``busy``, ``failed``, ``no-answer``,
                         ``canceled``), from its status callback or its ``participant-leave``.
* ``callback.requested`` ``{callback_request_id, call_id, reason}``: a caller left a voicemail (or
                         reached voicemail) and is waiting to be rung back.

Times are ISO 8601 strings in UTC.
"""

CALL_WAITING = "call.waiting"
CALL_CLAIMED = "call.claimed"
CALL_ANSWERED = "call.answered"
CALL_ENDED = "call.ended"
PARTICIPANT_JOINED = "participant.joined"
PARTICIPANT_LEFT = "participant.left"
CALLBACK_REQUESTED = "callback.requested"
LEG_ENDED = "call.leg_ended"

# Live (SSE) event types, published to ``role:listener`` and ``role:supervisor``.
LIVE_QUEUE = "queue"
LIVE_CALLBACKS = "callbacks"
LIVE_PRESENCE = "presence"
