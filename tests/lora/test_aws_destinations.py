"""Confirming an AWS IoT HTTP destination: only an https URL of an AWS host is fetched, at most
once a minute per integration (httpx's mock transport stands for AWS)."""

from __future__ import annotations

import httpx

from lorafox.lora.push import AwsDestinations


async def test_only_aws_urls_are_fetched_once_a_minute() -> None:
    fetched: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        fetched.append(str(request.url))
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        destinations = AwsDestinations(client)
        url = "https://iot.eu-west-1.amazonaws.com/confirmdestination/abc"
        assert not await destinations.confirm("i1", "http://iot.eu-west-1.amazonaws.com/x")
        assert not await destinations.confirm("i1", "https://evil.example/x.amazonaws.com")
        assert not await destinations.confirm("i1", "https://127.0.0.1/")
        assert await destinations.confirm("i1", url)
        assert not await destinations.confirm("i1", url)  # again within the minute
        assert await destinations.confirm("i2", url)
    assert fetched == [url, url]
