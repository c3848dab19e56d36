"""OsservaBrescia: the observatory of the province of Brescia (``observatory.yaml`` here)."""
