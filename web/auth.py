"""Logging in and out of the pages (a session cookie; the API uses tokens instead)."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from engine import Gridflow, LoginThrottled, NotAuthenticated, User

from .pages import back_to_referrer, local_path

bp = Blueprint("auth", __name__)
View = TypeVar("View", bound=Callable[..., Any])


def engine() -> Gridflow:
    return cast(Gridflow, current_app.extensions["gridflow"])


@bp.before_app_request
def load_user() -> None:
    g.user = None
    user_id = session.get("user_id")
    if user_id is not None:
        try:
            g.user = engine().directory.signed_in(user_id, session.get("credential_version"))
        except NotAuthenticated:  # deactivated, logged out or a new password since this cookie
            session.clear()


def remember(user: User) -> None:
    """The session cookie names the user and his credential version: it ends when that changes."""
    session["user_id"] = user.id
    session["credential_version"] = user.credential_version


def login_required(view: View) -> View:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.user is None:
            return redirect(url_for("auth.login", next=request.path))
        return view(*args, **kwargs)

    return cast(View, wrapped)


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    error = None
    if request.method == "POST":
        try:
            user = engine().directory.log_in(
                request.form.get("username", ""), request.form.get("password", ""), request.remote_addr or ""
            )
        except LoginThrottled as refused:
            error = _("登录失败次数过多，请 %(minutes)s 分钟后再试", minutes=refused.minutes)
            page = render_template("auth/login.html", error=error)
            return page, 429, {"Retry-After": str(refused.retry_after)}
        if user is None:
            error = _("用户名或密码错误")
        else:
            session.clear()
            remember(user)
            return redirect(local_path(request.args.get("next", "")) or url_for("inbox.index"))  # never off-site
    return render_template("auth/login.html", error=error)


@bp.get("/language/<code>")
def language(code: str) -> Response:
    """中文 / English: kept in the session; Chinese is the source language of every page."""
    if code in ("zh", "en"):
        session["language"] = code
    return redirect(back_to_referrer())


@bp.post("/logout")
def logout() -> Response:
    """Ends every session and API token of the user, not only this cookie."""
    if g.user is not None:
        engine().directory.log_out(g.user.id)
    session.clear()
    return redirect(url_for("auth.login"))
