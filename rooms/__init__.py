"""Pure room logic: y-websocket sync and awareness, room state, demos, grading, leaderboard.

Nothing here imports asyncio, Starlette, Redis or SQL: objects take bytes or dicts in and
hand (recipient, message) pairs out. ``server/`` moves the bytes.
"""
