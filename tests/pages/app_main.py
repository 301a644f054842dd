"""Main file for NiceGUI's `user` fixture: the real app assembly (`configure`) on the database the
test prepared (`DASHBOARD_DATABASE_URL`), without demo seeding or the simulator."""

from nicegui import ui

from dashboard.app import configure
from dashboard.settings import Settings

configure(Settings(), demo=False)
ui.run(reload=False, show=False, storage_secret="page-tests", language="en-US")
