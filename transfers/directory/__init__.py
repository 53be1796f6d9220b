"""The partner directory in HSDS words: organisations, their services, areas and schedules."""
