"""Server-rendered web pages (Jinja2), their assets and charts."""
