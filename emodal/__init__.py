"""E-Modal Business Operations API: persistent authenticated portal sessions over HTTP."""

__version__ = "2.0.0"
