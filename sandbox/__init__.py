"""Running untrusted code: the language table, limits, backends (Docker, local), the run queue."""
