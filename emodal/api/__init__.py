"""HTTP layer (thin): parse the request, call the session layer / an operation, render the result.

Blueprints: ``sessions`` (/get_session, /sessions), ``ops`` (/health, /cleanup, admin, /metrics,
/openapi.json), ``files`` (/files), plus the business blueprints ``containers`` and ``appointments``.
Business routes run through :func:`emodal.api.business.execute`; request bodies are pydantic models
(:mod:`emodal.api.schemas`), registered with :mod:`emodal.api.openapi` for /openapi.json.
"""
