"""Query services (reads) and ingestion services (writes) over the database layer."""
