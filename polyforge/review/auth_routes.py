"""Logging in and out: the login form with its own CSRF token, the password check behind `LoginThrottle`, and the
session cookie."""

import math
import secrets
from typing import Annotated

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from polyforge.review.dependencies import Db, Who
from polyforge.review.pages import page
from polyforge.review.params import ShortText
from polyforge.review.security import LOGIN_COOKIE, SESSION_COOKIE, LoginThrottle, WebSettings, safe_next
from polyforge.storage.accounts import authenticate_password, end_session, start_session


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


def login_form(request: Request, next: str, name: str = "", error: str | None = None, status_code: int = 200):
    """The login form (its CSRF token rides in a cookie of its own until there is a session)."""
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    response = page(request, "login.html", {"login_token": token, "next": next, "name": name, "error": error},
                    status_code)
    set_cookie(request, response, LOGIN_COOKIE, token, 3600)
    return response


def add_routes(app: FastAPI) -> None:
    settings: WebSettings = app.state.settings

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/"):
        if request.state.viewer is not None:
            return RedirectResponse(safe_next(next), 303)
        return login_form(request, safe_next(next))

    @app.post("/login", response_class=HTMLResponse)
    def login(request: Request, db: Db, name: Annotated[ShortText, Form()] = "", password: Annotated[str, Form()] = "",
              next: Annotated[str, Form()] = "/"):
        """Check the password (failures slow down their client address and name, `LoginThrottle`) and start a
        session, ending the user's older ones."""
        throttle: LoginThrottle = app.state.throttle
        address = request.client.host if request.client else "?"
        wait = math.ceil(throttle.admit(address, name))  # counted before the hash: parallel guesses count at once
        if wait:
            response = login_form(request, safe_next(next), name, f"too many failed logins: try again in {wait} s", 429)
            response.headers["retry-after"] = str(wait)
            return response
        user = authenticate_password(db, name, password)
        if user is None:
            return login_form(request, safe_next(next), name, "wrong name or password", 401)
        throttle.succeeded(address, name)
        end_session(db, request.cookies.get(SESSION_COOKIE, ""))  # another user's session in this browser, too
        response = RedirectResponse(safe_next(next), 303)
        set_cookie(request, response, SESSION_COOKIE, start_session(db, user, settings.session_lifetime),
                   int(settings.session_lifetime.total_seconds()))
        response.delete_cookie(LOGIN_COOKIE)
        return response

    @app.post("/logout")
    def logout(request: Request, db: Db):
        end_session(db, request.cookies.get(SESSION_COOKIE, ""))
        response = RedirectResponse("/login", 303)
        response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict")
        return response

    @app.get("/api/me")
    def api_me(who: Who) -> dict[str, str]:
        """The user the request authenticates as."""
        return {"name": who.name, "role": who.role}
