"""Use cases composed from page objects: plain functions ``fn(ctx: OperationContext) -> dict``.

No Flask here. The runner (:mod:`emodal.api.business`) resolves the session, holds its lock, builds
the :class:`~emodal.operations.context.OperationContext` and renders what the function returns.
"""
