"""Browsers: Chrome factory (local/remote), screenshots with overlay, debug bundles."""
