"""respx for the checker's own transport, as for every httpx client.

respx mocks httpcore by default; the checker's connections are aiohttp's
(`catalog.check.transport.AiohttpPool`), so `@respx.mock` would let its requests through
to the network. This mocker patches that transport as well as httpcore's classes; the
test session makes it respx's default (`conftest.py`), so every test that mocks HTTP
mocks the checker too and an unmatched request fails instead of leaving the machine.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx
from respx.mocks import HTTPCoreMocker


class PoolsMocker(HTTPCoreMocker):
    name = "linkhealth"
    targets: ClassVar[list[str]] = [*HTTPCoreMocker.targets, "catalog.check.transport.AiohttpPool"]

    @classmethod
    def to_httpx_request(cls, **kwargs: Any) -> httpx.Request:
        request = kwargs["request"]
        if isinstance(request, httpx.Request):  # ours: the request is httpx's own
            return request
        return super().to_httpx_request(**kwargs)

    @classmethod
    async def prepare_async_request(
        cls, httpx_request: httpx.Request, **kwargs: Any
    ) -> tuple[httpx.Request, dict[str, Any]]:
        if isinstance(kwargs["request"], httpx.Request):  # ours: the request is httpx's own
            await httpx_request.aread()
            return httpx_request, kwargs
        return await super().prepare_async_request(httpx_request, **kwargs)

    @classmethod
    async def from_async_httpx_response(
        cls, httpx_response: httpx.Response, target: Any, **kwargs: Any
    ) -> Any:
        request = kwargs["request"]
        if isinstance(request, httpx.Request):  # ours: the request is httpx's own
            # A new, unread response as a transport returns one (respx's has been read and
            # closed, so the client would never close the body the pool waits for).
            return httpx.Response(
                httpx_response.status_code,
                headers=httpx_response.headers.raw,
                stream=httpx_response.stream,
                extensions=httpx_response.extensions,
                request=request,
            )
        return await super().from_async_httpx_response(httpx_response, target, **kwargs)
