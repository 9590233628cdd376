"""What a classroom has loaded and how its last course import went, for the dashboard's
classroom card: every upload is logged (refused ones with their ``file:line: reason`` lines),
and ``GET /api/classrooms/{id}/course`` answers with the loaded exercises and demos and the last
import."""
