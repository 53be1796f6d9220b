"""Report light: what was recorded (calls, sessions, call logs, warm transfers) as aggregates over
a date range, for supervisors and commissioners, drawn on the server and downloadable."""
