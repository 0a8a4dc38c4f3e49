"""Built-in procedure sources."""
