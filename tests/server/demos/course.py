"""The demo course the live-demo tests import (three demos: a tour of every step type, a quick
auto-advancing one, one that outlives its presenter), and the room-socket steps they share."""

from __future__ import annotations

from pathlib import Path

from server.courses.importer import import_course
from server.store import Store

CODE = "def greet(name):\n    return f'hello {name}'\n\nprint(greet('demo'))\n"

TOUR = f'''
id = "tour"
title = "A short tour"
description = "Every kind of step a live demo needs."
difficulty = "beginner"
estimated_minutes = 5

[[steps]]
id = "intro"
type = "explanation"
title = "Intro"
[steps.content]
text = "Welcome."

[[steps]]
id = "code"
type = "code"
title = "The code"
[steps.content]
language = "python"
[[steps.content.files]]
path = "main.py"
text = """{CODE}"""
[[steps.content.files]]
path = "notes.txt"
text = "not shown in the document"

[[steps]]
id = "your-turn"
type = "explanation"
title = "Print 42"
[steps.content]
text = "Make main.py print 42."
[steps.validation]
language = "python"
student_file = "main.py"
expected_stdout = "42\\n"

[[steps]]
id = "quiz"
type = "interaction"
title = "Quick check"
[steps.content]
kind = "single"
question = "Which one?"
points = 100
window = 60
[[steps.content.choices]]
text = "A"
[[steps.content.choices]]
text = "B"
correct = true

[[steps]]
id = "end"
type = "explanation"
title = "The end"
[steps.content]
text = "Bye."
'''

QUICK = """
id = "quick"
title = "Runs by itself"
description = "Short auto-advancing steps."
difficulty = "beginner"
estimated_minutes = 1

[[steps]]
id = "one"
type = "explanation"
title = "One"
[steps.content]
text = "Pauses, then moves on."
[steps.timing]
auto_advance = true
duration = 0.4
pause_points = [0.2]

[[steps]]
id = "two"
type = "explanation"
title = "Two"
[steps.content]
text = "Moves on after a moment."
[steps.timing]
auto_advance = true
duration = 0.3

[[steps]]
id = "three"
type = "explanation"
title = "Three"
[steps.content]
text = "The last step stays."
"""


RELAY = """
id = "relay"
title = "Outlives its presenter"
description = "A long step after a pause, then a short one."
difficulty = "beginner"
estimated_minutes = 1

[[steps]]
id = "hold"
type = "explanation"
title = "Hold"
[steps.content]
text = "Pauses at once, then runs three seconds."
[steps.timing]
auto_advance = true
duration = 3
pause_points = [0.1]

[[steps]]
id = "short"
type = "explanation"
title = "Short"
[steps.content]
text = "Moves on quickly."
[steps.timing]
auto_advance = true
duration = 0.3

[[steps]]
id = "last"
type = "explanation"
title = "Last"
[steps.content]
text = "Stays."
"""


def write_course(folder: Path) -> Path:
    demos = folder / "demos"
    demos.mkdir(parents=True)
    (demos / "tour.toml").write_text(TOUR)
    (demos / "quick.toml").write_text(QUICK)
    (demos / "relay.toml").write_text(RELAY)
    return folder


async def import_into(database_url: str, classroom_id: int, folder: Path) -> None:
    store = Store(database_url)
    try:
        report = await import_course(store, classroom_id, folder)
    finally:
        await store.close()
    assert sorted(d["id"] for d in report.demos) == ["quick", "relay", "tour"]
