"""Running the lesson: spotlight, freeze, push, announcements, countdowns and whole-class
pairs (:mod:`server.lesson.component`); each student's progress (:mod:`server.lesson.progress`).
"""
