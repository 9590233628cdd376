"""classrooms"""
