"""Reusable NiceGUI widgets: the shared frame, gauges, timelines, tables."""
