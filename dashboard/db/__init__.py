"""Database layer: models, column types, engine/session and migrations."""
