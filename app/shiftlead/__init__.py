"""The shift lead: board alerts acknowledged by name, asking for help, and immediate risk during
the call (the safeguarding record and the crisis line's warm transfer)."""
