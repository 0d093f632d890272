"""The operator console (issue 14): ``GET /console``, HTML pages over the session registry.

``routes`` holds the blueprint and its pages, ``signin`` the cookie sign-in and CSRF token,
``views`` the figures the pages show; templates and the stylesheet/script live next to them.
"""
from emodal.api.console.routes import bp

__all__ = ["bp"]
