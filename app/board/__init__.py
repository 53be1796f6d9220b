"""The supervisors' board: the line right now, and how many listeners the next hours need."""
