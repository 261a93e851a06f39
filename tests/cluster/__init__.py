"""Several maildesk instances on one PostgreSQL database, as separate processes."""
