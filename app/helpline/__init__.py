"""The helpline domain: timed support sessions, call logs, repeat callers, the listener dashboard."""
