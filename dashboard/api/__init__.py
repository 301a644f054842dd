"""The versioned REST API (`/api/v1`): thin routes over the cached query services, the ingestion
services and the auth service; dependencies in `deps`, schemas in `schemas`, errors in `errors`."""
