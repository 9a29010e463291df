"""Per-token rate limit of one intake replica: 429 with Retry-After in the error shape."""

import uuid
from typing import Any

import httpx

from intake.app import create_app


async def test_over_the_rate_is_429_with_retry_after(stack: Any, namespace: str, kit: Any) -> None:
    """With a burst of 2 per token, the third quick request is refused with 429 and Retry-After."""
    settings = kit.settings_for(stack, namespace, rate_per_second=0.5, rate_burst=2)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
            url = f"/cases/{uuid.uuid4()}/recipients"
            answers = [await http.get(url, headers=kit.auth(kit.ZACK)) for _ in range(3)]
            other = await http.get(url, headers=kit.auth(kit.LISA))
    assert [a.status_code for a in answers] == [404, 404, 429]
    assert int(answers[2].headers["retry-after"]) >= 1
    assert answers[2].json()["errors"][0]["rule"] == "rate_limit"
    assert other.status_code == 404
