"""Typed results of the query services, shared by the REST API and the pages.

Each model carries a `SCHEMA_VERSION` class variable: the cache puts it in its keys so that a
deploy with a changed model never decodes bytes written by the old one.
"""
