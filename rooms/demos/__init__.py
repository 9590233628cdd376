"""Instructor-led demos: definitions as data, the presentation state of a room, quizzes, timeline.

- ``definition``: ``load(path)``, ``parse(text, file=, fmt=)``, ``from_dict(data)`` give a
  ``DemoDefinition`` (TOML, YAML, Markdown with front matter; refused with ``file:line: reason``).
- ``presenter``: ``Presenter``, the sans-I/O state of one room's presentation; its docstring lists
  the commands and the event shapes.
- ``quiz``: ``Quiz`` (answers, tally, close) and ``speed_points``.
- ``timeline``: ``TimelineRecord`` (who was where, when) and ``positions``.
"""
