"""The dashboard's widgets, one per file, each fed by the app (none reads the database)."""
