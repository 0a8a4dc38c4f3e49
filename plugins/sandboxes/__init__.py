"""Built-in sandboxes."""
