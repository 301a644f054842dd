"""The test suite. NiceGUI keeps its general storage in a temporary directory here, not in a
`.nicegui/` of the work tree (this runs before anything imports NiceGUI, which reads the path
once)."""

import os
import tempfile

os.environ.setdefault("NICEGUI_STORAGE_PATH", tempfile.mkdtemp(prefix="tb-test-nicegui-"))
