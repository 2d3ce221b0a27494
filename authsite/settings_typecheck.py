"""Settings for mypy's django-stubs plugin only: it loads the settings to learn
the installed apps, and needs no production SECRET_KEY to do so."""
import os

os.environ.setdefault("DEBUG", "1")

from authsite.settings import *  # noqa: E402,F401,F403
