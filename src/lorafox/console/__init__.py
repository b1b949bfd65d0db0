"""The web console at ``/console``: server-rendered pages (Jinja2) made live with htmx, for the
same users as the API, with the same access rules (the pages call the API's use cases with the
session's user). No build step and nothing fetched from outside: the libraries (htmx, Leaflet,
uPlot) are files of the package, served from ``/console/static/``.

``app.py`` builds the app and lists the page modules; ``context.py`` gives pages the session,
the CSRF check and the use cases; ``templating.py`` the templates and the security headers;
``forms.py`` the form bodies; ``errors.py`` the error pages.
"""

from lorafox.console.app import PAGES, create_console
from lorafox.console.context import ConsoleContext

__all__ = ["PAGES", "ConsoleContext", "create_console"]
