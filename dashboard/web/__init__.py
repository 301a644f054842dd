"""The browser side of the service: the guards in front of the NiceGUI pages."""
