"""Page objects of the REAL portal (PORTAL_SPEC Part A + B17 portability rules)."""
