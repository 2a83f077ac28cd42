"""Is a piece of HTML inert? Parsed, not pattern-matched: escaped text that mentions a script is fine."""

from __future__ import annotations

from html.parser import HTMLParser

EXECUTABLE_TAGS = frozenset({"script", "iframe", "object", "embed", "frame", "frameset", "applet", "base"})
URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "xlink:href", "data", "srcdoc", "poster"})
TRUSTED_SCRIPT_SOURCES = ("/static/",)


class _Finder(HTMLParser):
    def __init__(self, allow_own_scripts: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.allow_own_scripts = allow_own_scripts
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): (value or "") for name, value in attrs}
        if tag in EXECUTABLE_TAGS:
            own = tag == "script" and values.get("src", "").startswith(TRUSTED_SCRIPT_SOURCES)
            if not (self.allow_own_scripts and own):
                self.found.append(f"<{tag}>")
        for name, value in values.items():
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=…>")
            if name in URL_ATTRIBUTES and value.strip().lower().replace("\t", "").startswith(
                ("javascript:", "vbscript:", "data:text/html")
            ):
                self.found.append(f"<{tag} {name}={value[:40]}>")
        if tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            self.found.append("<meta http-equiv=refresh>")

    handle_startendtag = handle_starttag


def executable_markup(html: str, *, allow_own_scripts: bool = False) -> list[str]:
    """Every tag or attribute in ``html`` that could run code (own /static/ scripts allowed on request)."""
    finder = _Finder(allow_own_scripts)
    finder.feed(html)
    finder.close()
    return finder.found
