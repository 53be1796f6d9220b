"""Openline: call handling and warm transfers for a 24/7 mental-health support line."""
