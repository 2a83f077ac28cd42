"""The OpenAPI explorer is served by the app itself: no CDN at run time."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_docs_page_and_assets_are_local(api_client: TestClient) -> None:
    page = api_client.get("/docs")
    assert page.status_code == 200
    assert "/docs/assets/swagger-ui-bundle.js" in page.text
    assert "cdn." not in page.text
    assert "http" not in page.headers["content-security-policy"]
    for name, kind in (("swagger-ui-bundle.js", "javascript"), ("swagger-ui.css", "css")):
        asset = api_client.get(f"/docs/assets/{name}")
        assert asset.status_code == 200
        assert kind in asset.headers["content-type"]
    assert api_client.get("/docs/assets/..%2F__init__.py").status_code == 404
    assert api_client.get("/docs/assets/secret.txt").status_code == 404
    assert api_client.get("/openapi.json").json()["info"]["title"] == "BlogItEarnIt"
