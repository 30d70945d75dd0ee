"""``sourcewise serve``: the router over HTTP (FastAPI on uvicorn), on a durable ledger.

=================  ==============================================================
``app``            the ASGI application: endpoints, authentication, retries, logs
``operations``     what each endpoint does to the router, JSON in and out
``platforms``      Shopify, commercetools and Magento endpoints over the router
``idempotency``    durable answers to retried requests (``Idempotency-Key``)
``auth``           bearer tokens, Shopify's webhook signature, constant-time checks
``metrics``        Prometheus metrics, and the timed ledger store
``openapi``        the JSON Schemas of the bodies, for the OpenAPI document
=================  ==============================================================

Typical use (what the command does)::

    import uvicorn
    from sourcewise.engine.service.app import ServiceConfig, create_app

    uvicorn.run(create_app(ServiceConfig("sqlite:///var/ledger.db", "data/sample")), port=8080)
"""
