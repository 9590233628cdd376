from __future__ import annotations

import pytest

from rooms.demos.definition import Format, parse
from rooms.demos.model import DemoDefinition

# Five steps: a timed explanation with a pause point, a code step with a check, a quiz,
# a short-answer quiz, a closing explanation. Steps 0-1 auto-advance; the rest wait.
DEMO = """
id = "walkthrough"
title = "Walkthrough"
difficulty = "beginner"
estimated_minutes = 5

[[steps]]
id = "intro"
type = "explanation"
title = "Intro"
[steps.content]
text = "Hello."
[steps.timing]
auto_advance = true
duration = 30
pause_points = [10]

[[steps]]
id = "code"
type = "code"
title = "Code"
[steps.content]
language = "python"
[[steps.content.files]]
path = "main.py"
text = "print(1)\\nprint(2)\\n"
highlight = [2]
[steps.timing]
auto_advance = true
duration = 5
[steps.validation]
language = "python"
student_file = "main.py"
expected_stdout = "3\\n"

[[steps]]
id = "pick"
type = "interaction"
title = "Pick"
[steps.content]
kind = "single"
question = "Two plus two?"
points = 100
window = 20
choices = [{text = "3"}, {text = "4", correct = true}, {text = "5"}]

[[steps]]
id = "name"
type = "interaction"
title = "Name"
[steps.content]
kind = "short"
question = "Worst case of bubble sort?"
accept = ["O(n^2)"]

[[steps]]
id = "bye"
type = "explanation"
title = "Bye"
[steps.content]
text = "Thanks."
"""


@pytest.fixture
def demo() -> DemoDefinition:
    return parse(DEMO, file="walkthrough.toml", fmt=Format.TOML)
