"""The console's page modules: each holds a ``router`` (``context.page_router()``), an optional
``NAV`` entry, and its templates in ``console/templates/<module>/``; ``console.app.PAGES``
lists them."""
