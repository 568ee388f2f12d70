"""Storage adapter: SQLAlchemy 2.x Core tables, engine set-up and the unit of work."""
