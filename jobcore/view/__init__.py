"""What people read: table cells, durations and screen text, shared by the CLI and the dashboard."""
