"""OpenCode Classroom server: the Starlette app, its settings, store, auth and CLI.

``rooms/`` and ``sandbox/`` know nothing of this package; it wires them together.
"""

__version__ = "0.1.0"
