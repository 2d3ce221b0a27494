"""Signals the hub sends; the operations app's metrics listen (the hub imports no app above it)."""
from django.dispatch import Signal

# A hub connection was accepted / has closed (sent once each per connection).
hub_connection_opened = Signal()
hub_connection_closed = Signal()
