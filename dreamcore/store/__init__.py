"""Persistence: Peewee tables, migrations, the DreamStore and the run lock."""
