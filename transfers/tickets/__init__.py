"""Warm-transfer tickets: a caller handed to one service's enhanced-support queue."""
