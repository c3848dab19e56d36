"""OsservaTrento: the observatory of the autonomous province of Trento."""
