"""Warm-transfer tickets as FHIR R4 Tasks, for partners' own case systems (read side)."""
