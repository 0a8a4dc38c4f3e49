"""The morning report: its data, HTML rendering and the `report` command."""
