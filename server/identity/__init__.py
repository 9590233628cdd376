"""Students who stay themselves: personal rejoin codes (and QR codes), email and password for
students, class rosters, renaming, merging two accounts of one person, roster-only joining."""
