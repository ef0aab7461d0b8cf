"""The dashboard: server-rendered pages at `/dashboard`, served by the API process itself, behind
the same keys and scopes as the API (a login page takes a key; the session is an HttpOnly,
SameSite=Strict cookie; every action carries a CSRF token). No build step, nothing from a CDN:
templates and static files ship in this package."""
