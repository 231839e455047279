"""jobtui: the live terminal dashboard over jobcore's state folder.

Data flows one way: workers write SQLite, the watcher notices, the app re-reads, widgets
update. Actions flow back through the same ``jobcore`` functions the CLI uses.
"""
