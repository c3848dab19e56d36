"""OsservaBiella: the observatory of the province of Biella (``observatory.yaml`` here)."""
