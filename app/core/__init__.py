"""The shared core: settings, database, clock, event bus, job loop, errors and security.

It imports nothing else of the project, so every package can depend on it.
"""
