"""Use cases composed from page objects: plain functions ``fn(ctx: OperationContext) -> dict | FileResult``.

No Flask here. The runner (:mod:`emodal.operations.runner`) resolves the session, holds its lock,
builds the :class:`~emodal.operations.context.OperationContext` and returns what the function
produced as an ``OperationResult``; the HTTP layer renders it.
"""
