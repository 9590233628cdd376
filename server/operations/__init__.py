"""What an operator needs around a running deployment: backups of the SQLite store, the
event-loop lag probe, and the shutdown deadline. Nothing here serves a classroom."""
