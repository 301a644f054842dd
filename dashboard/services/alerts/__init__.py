"""Alerts: the outbox written with the events that raise them (delivery comes next)."""
