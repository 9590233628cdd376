"""The gradebook: every student of a classroom against every exercise, best or latest attempt.

``sheet.py`` builds the table from the stored submissions (one query for the attempts, one for
the results of the chosen ones); ``export.py`` writes it as CSV or Gradescope ``results.json``;
``api.py`` serves both to staff. Each cell carries the grade twice: ``score``/``max_score``,
the final grade over every test, and ``shown_score``/``shown_max_score``, what the student sees
at that moment. They differ only before the due date of an exercise with ``after_due`` tests:
the student's grade is then computed over the other tests (a student who saw 7.2 / 8 has
9 / 10 in the final grade when the withheld tests pass).
"""
