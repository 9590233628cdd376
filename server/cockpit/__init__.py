"""The instructor's cockpit: the live class grid (``progress.update``), exercise analytics by
SQL, hints unlocked, bought and pushed, score overrides with their audit, and inline comments
on students' files. The rules are pure, in ``rooms/cockpit/``."""
