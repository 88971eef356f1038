"""The public forecast service (Cloud Run): HTML page and JSON API over the cached champion.

`service.app.create_app` builds the Flask app; gunicorn serves the factory `service.app:create_app()`.
"""
