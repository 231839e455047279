"""The recorded truth: the state folder, the SQLite database, its rows and their transitions."""
