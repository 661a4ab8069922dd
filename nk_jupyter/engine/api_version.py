"""The version of the API socket's messages (engine/messages.py): it changes when a message
changes; the launcher writes it into lab.json and clients check it before they speak."""
API_VERSION = 2
