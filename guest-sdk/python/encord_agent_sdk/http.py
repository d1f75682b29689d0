"""HTTP requests from a Python agent, the `requests` way, to hosts the
operator granted with `runner-host --allow-net HOST[:PORT]` (any other is
refused before anything is sent):

    from encord_agent_sdk import http

    r = http.post(f"{base}/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    r.raise_for_status()
    answer = r.json()

One blocking call through the host (`encord:agent/http`); redirects are not
followed; the answer's body is capped at the instance's memory limit.
"""

from __future__ import annotations

import json as _json
from typing import Any, Mapping, Optional


class HTTPError(Exception):
    """A request that could not be made or answered, or (from
    `raise_for_status`) an answer with a 4xx or 5xx status."""

    def __init__(self, message: str, response: Optional["Response"] = None):
        super().__init__(message)
        self.response = response


class Denied(HTTPError):
    """The host is not granted: nothing was sent."""


class Timeout(HTTPError):
    """No whole answer within the request's timeout."""


class Response:
    def __init__(self, status: int, headers: list, body: bytes, url: str):
        self.status_code = status
        self.headers = {k.lower(): v for k, v in headers}
        self.content = bytes(body)
        self.url = url

    @property
    def status(self) -> int:
        return self.status_code

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return _json.loads(self.content)

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            # The body's start helps (an API's error message); the URL's
            # query is left out (it may carry a key).
            where = self.url.split("?", 1)[0]
            raise HTTPError(f"HTTP {self.status_code} from {where}: {self.text[:500]}", self)

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"


def request(
    method: str,
    url: str,
    *,
    json: Any = None,
    data: Optional[bytes | str] = None,
    headers: Optional[Mapping[str, str]] = None,
    timeout: Optional[float] = None,
) -> Response:
    """Sends one request and returns its answer, whatever its status."""
    try:
        from wit_world.imports import http as host
        from componentize_py_types import Err
    except ImportError:
        raise HTTPError(f"no HTTP outside runner-host: build the agent with encord-agent-build to reach {url}") from None
    head = [(str(k), str(v)) for k, v in (headers or {}).items()]
    if json is not None:
        body = _json.dumps(json).encode()
        if not any(k.lower() == "content-type" for k, _ in head):
            head.append(("content-type", "application/json"))
    elif isinstance(data, str):
        body = data.encode()
    else:
        body = bytes(data or b"")
    req = host.Request(method=method.upper(), url=url, headers=head, body=body, timeout=timeout)
    try:
        answer = host.send(req)
    except Err as e:
        raise _error(e.value, url) from None
    return Response(answer.status, answer.headers, answer.body, url)


def _error(e, url: str) -> HTTPError:
    kind = type(e).__name__.lower()
    value = getattr(e, "value", None)
    if "denied" in kind:
        return Denied(
            f"HTTP request to `{value}` denied: the host is not granted (runner-host --allow-net HOST[:PORT])"
        )
    if "timeout" in kind:
        return Timeout(f"HTTP request to {url.split('?', 1)[0]} timed out")
    if "invalid" in kind:
        return HTTPError(f"`{value}` is not an http:// or https:// URL with a host")
    if "large" in kind:
        return HTTPError(f"the answer from {url.split('?', 1)[0]} is {value} bytes, over the agent's memory limit")
    return HTTPError(f"HTTP request to {url.split('?', 1)[0]} failed: {value}")


def get(url: str, **kwargs) -> Response:
    return request("GET", url, **kwargs)


def post(url: str, **kwargs) -> Response:
    return request("POST", url, **kwargs)


def put(url: str, **kwargs) -> Response:
    return request("PUT", url, **kwargs)


def patch(url: str, **kwargs) -> Response:
    return request("PATCH", url, **kwargs)


def delete(url: str, **kwargs) -> Response:
    return request("DELETE", url, **kwargs)
