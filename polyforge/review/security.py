"""What stands between the network and the review app: host and origin checks, logins, CSRF, rate limits.

`Guard` is an ASGI middleware in front of every route, so a route added later is protected without doing
anything: a request must name an allowed host (DNS rebinding), a state-changing one must come from an
allowed origin and carry the CSRF token of its session, and only the login page and static files answer
anyone who has not logged in (with a session cookie) or sent an API token (`Authorization: Bearer ...`).
"""

from __future__ import annotations

import hmac
import ipaddress
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qs, quote, urlsplit

from sqlalchemy.orm import sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from polyforge.storage.accounts import Viewer, viewer_for_session, viewer_for_token

SESSION_COOKIE = "polyforge_session"
LOGIN_COOKIE = "polyforge_login"  # the login form's CSRF token, before there is a session
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_PATHS = frozenset({"/login"})
PUBLIC_PREFIXES = ("/static/",)
SECURITY_HEADERS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "same-origin"}
# Pages and API answers hold a user's data and tokens: no browser or proxy keeps them (static files may be kept).
NO_STORE = {"cache-control": "no-store"}
# Over https, the browser goes on using https for this host (a year), whatever link it is given.
HSTS = {"strict-transport-security": "max-age=31536000"}
# For the app's own pages: script, styles and forms only from the app's own files (no inline script, no eval).
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'")
WILDCARD_ADDRESSES = frozenset({"0.0.0.0", "::", ""})
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def host_key(netloc: str, scheme: str) -> str | None:
    """`host:port` in one spelling (lower case, the scheme's default port filled in), or None when malformed."""
    try:
        parts = urlsplit(f"//{netloc}")
        port = parts.port or (443 if scheme in ("https", "wss") else 80)
    except ValueError:
        return None
    host = parts.hostname
    if not host:
        return None
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class WebSettings:
    """Where the app is served and how annotators reach it."""

    host: str = "127.0.0.1"  # the bound address
    port: int = 8000
    public_urls: tuple[str, ...] = ()  # addresses annotators open besides http://HOST:PORT (names, an https proxy)
    session_hours: float = 12.0  # a browser session's lifetime; a new login ends the user's older sessions
    token_days: float | None = 90.0  # an API token's lifetime (None: tokens never expire)
    api_docs: bool = False  # serve the API's description at /docs and /openapi.json (to logged-in users)
    login_failures: int = 5  # failed logins allowed per client address and name before they wait
    login_failures_per_address: int = 20  # failed logins allowed per client address, whatever the names
    login_window_s: float = 60.0  # the first wait, doubled after each further failure
    login_max_wait_s: float = 3600.0
    max_body_bytes: int = 2 << 20  # any request's body: a whole corrected answer fits, a disk-filling note does not

    @property
    def session_lifetime(self) -> timedelta:
        return timedelta(hours=self.session_hours)

    @property
    def token_lifetime(self) -> timedelta | None:
        return None if self.token_days is None else timedelta(days=self.token_days)

    def allowed_hosts(self) -> frozenset[str]:
        """The `host:port` values a request may name: the bound address (its loopback names when it is a loopback
        or wildcard address) and every public URL's."""
        bound = [self.host] if self.host not in WILDCARD_ADDRESSES and not is_loopback(self.host) else LOOPBACK_NAMES
        keys = {host_key(_bracketed(host) + f":{self.port}", "http") for host in bound}
        keys |= {host_key(parts.netloc, parts.scheme) for parts in map(urlsplit, self.public_urls)}
        return frozenset(key for key in keys if key)


def _bracketed(host: str) -> str:
    bare = host.strip("[]")
    return f"[{bare}]" if ":" in bare else bare


class LoginThrottle:
    """Failed logins slow down whoever makes them without locking the owner out: they are counted per client
    address and name (an attacker guessing the admin's password from one address waits; the admin, from another,
    does not) and per address alone (one address trying many names waits too). Past the allowed failures, each
    further try waits `window_s`, then twice as long after each new failure, up to `max_wait_s`; a key quiet for
    its wait plus a window is forgotten.

    An attempt counts as a failure from the moment it is admitted, before its password is hashed, so that guesses
    sent in parallel are counted as they arrive; a login that succeeds takes it back and clears its address and
    name."""

    def __init__(self, per_name: int = 5, per_address: int = 20, window_s: float = 60.0, max_wait_s: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic):
        self.per_name, self.per_address = per_name, per_address
        self.window_s, self.max_wait_s, self.clock = window_s, max_wait_s, clock
        self._failed: dict[tuple, tuple[int, float]] = {}  # key -> (failures, time of the last one)
        self._lock = threading.Lock()

    def _delay(self, failures: int, allowed: int) -> float:
        return 0.0 if failures < allowed else min(self.window_s * 2 ** (failures - allowed), self.max_wait_s)

    def _wait(self, key: tuple, allowed: int) -> float:
        failures, last = self._failed.get(key, (0, 0.0))
        delay, quiet = self._delay(failures, allowed), self.clock() - last
        if failures and quiet > delay + self.window_s:
            del self._failed[key]  # keep the table as small as the recent failures
            return 0.0
        return max(0.0, delay - quiet) if failures >= allowed else 0.0

    def _keys(self, address: str, name: str) -> tuple[tuple[tuple, int], tuple[tuple, int]]:
        return ((address, name.strip().lower()), self.per_name), ((address,), self.per_address)

    def admit(self, address: str, name: str) -> float:
        """Seconds before `address` may try `name` again, or 0 when it may: then the attempt is counted."""
        with self._lock:
            keys = self._keys(address, name)
            wait = max(self._wait(key, allowed) for key, allowed in keys)
            if wait == 0:
                for key, _ in keys:
                    failures, _last = self._failed.get(key, (0, 0.0))
                    self._failed[key] = (failures + 1, self.clock())
            return wait

    def succeeded(self, address: str, name: str) -> None:
        """The password was right: the address and name start afresh, the address alone gets its attempt back."""
        with self._lock:
            (pair, _), (alone, _) = self._keys(address, name)
            self._failed.pop(pair, None)
            failures, last = self._failed.get(alone, (1, 0.0))
            if failures > 1:
                self._failed[alone] = (failures - 1, last)
            else:
                self._failed.pop(alone, None)


def safe_next(target: str | None) -> str:
    """A path inside this app to go to after logging in; anything else (another site) becomes /."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def wants_json(path: str) -> bool:
    return path.startswith("/api/") or path == "/openapi.json"


class Guard:
    """The ASGI middleware described in the module docstring; puts the request's `Viewer` (or None on a public
    path) in `request.state.viewer`."""

    def __init__(self, app: ASGIApp, settings: WebSettings, sessions: sessionmaker):
        self.app, self.sessions = app, sessions
        self.hosts = settings.allowed_hosts()
        self.max_body_bytes = settings.max_body_bytes
        self.token_lifetime = settings.token_lifetime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # no websockets here
            await send({"type": "websocket.close", "code": 1008})
            return
        request = Request(scope)
        headers = dict(SECURITY_HEADERS)
        if not request.url.path.startswith(PUBLIC_PREFIXES):
            headers |= NO_STORE
        if request.url.scheme == "https":
            headers |= HSTS
        send = _with_headers(send, headers)
        refusal, viewer = await self._check(request)
        if refusal is None and request.method not in SAFE_METHODS:
            body, refusal = await self._read_body(request, receive)
            receive = _replay(body, receive)
            if refusal is None and (viewer is None or viewer.csrf_token):
                refusal = self._check_csrf(request, viewer, body)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        scope.setdefault("state", {})["viewer"] = viewer
        await self.app(scope, receive, send)

    async def _check(self, request: Request) -> tuple[Response | None, Viewer | None]:
        """A refusal for the request (or None) and who sends it (None: nobody logged in)."""
        scheme = request.url.scheme
        host = request.headers.get("host", "")
        if host_key(host, scheme) not in self.hosts:
            return PlainTextResponse(f"unknown host {host!r}: open the app at the address it is served on "
                                     "(`polyforge review serve --public-url` adds one)", 400), None
        if request.method not in SAFE_METHODS:
            origin = request.headers.get("origin")
            cross_site = request.headers.get("sec-fetch-site") in ("cross-site", "same-site")
            if cross_site or (origin is not None and host_key(urlsplit(origin).netloc, urlsplit(origin).scheme)
                                                       not in self.hosts):
                return PlainTextResponse("cross-origin request refused", 403), None
        viewer, bad_token = await run_in_threadpool(self._identify, request)
        if bad_token:
            return JSONResponse({"detail": "unknown or expired API token (`polyforge review users token NAME` makes "
                                           "a new one)"},
                                401, headers={"www-authenticate": "Bearer"}), None
        path = request.url.path
        if viewer is None and path not in PUBLIC_PATHS and not path.startswith(PUBLIC_PREFIXES):
            if wants_json(path):
                return JSONResponse({"detail": "log in first: send Authorization: Bearer TOKEN, or a session cookie "
                                               "from /login"}, 401, headers={"www-authenticate": "Bearer"}), None
            target = path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", 303), None
        return None, viewer

    def _identify(self, request: Request) -> tuple[Viewer | None, bool]:
        """(who the request comes from, whether it carried an API token that is not valid)."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self.sessions() as db:
            if scheme.lower() == "bearer" and token.strip():
                viewer = viewer_for_token(db, token.strip(), self.token_lifetime)
                return viewer, viewer is None
            cookie = request.cookies.get(SESSION_COOKIE)
            return (viewer_for_session(db, cookie) if cookie else None), False

    async def _read_body(self, request: Request, receive: Receive) -> tuple[bytes, Response | None]:
        """The whole body read up front, at most `max_body_bytes` of it (one limit for every route, JSON or form,
        whether it says its length or not), or a refusal."""
        too_large = PlainTextResponse(f"request body over {self.max_body_bytes} bytes: send less (a note, a "
                                      "correction or a form of that size is not stored)", 413)
        declared = request.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > self.max_body_bytes:
            return b"", too_large
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body_bytes:
                return b"", too_large
            if not message.get("more_body", False):
                break
        return b"".join(chunks), None

    def _check_csrf(self, request: Request, viewer: Viewer | None, body: bytes) -> Response | None:
        """A state-changing request from a browser carries the CSRF token of its session (of the login form
        before one exists), in the X-CSRF-Token header or the form's csrf_token field."""
        expected = viewer.csrf_token if viewer else request.cookies.get(LOGIN_COOKIE)
        given = request.headers.get(CSRF_HEADER)
        if given is None and request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            given = parse_qs(body.decode("latin-1")).get(CSRF_FIELD, [None])[0]
        if not expected or not given or not hmac.compare_digest(given.encode(), expected.encode()):
            return PlainTextResponse("CSRF token missing or wrong: reload the page and send the form again", 403)
        return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the body already read, then whatever comes next (a disconnect)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


def _with_headers(send: Send, headers: dict[str, str]) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            present = {name.lower() for name, _ in message.get("headers", [])}
            extra = [(name.encode(), value.encode()) for name, value in headers.items() if name.encode() not in present]
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return sending
