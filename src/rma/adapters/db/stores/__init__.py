"""SQLAlchemy stores, one per concern; the unit of work holds one of each on its session."""
