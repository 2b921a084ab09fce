"""What a person sees when a page cannot answer: a page in the site's language with a way back,
never the web server's English text, and a form kept valid for as long as the login lasts."""
from __future__ import annotations

import time

from flask import Flask
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from .conftest import csrf, logged_in


class _SignedTwoHoursAgo(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 2 * 3600


def test_a_missing_case_or_page_answers_with_a_chinese_page_and_a_way_back(app: Flask) -> None:
    operator = logged_in(app, "operator")
    for path in ("/cases/999999", "/tasks/999999", "/no-such-page"):
        answer = operator.get(path)
        text = answer.get_data(as_text=True)
        assert answer.status_code == 404, path
        assert 'id="not-found"' in text and "页面或记录不存在" in text and 'id="go-back"' in text, path


def test_a_page_a_role_may_not_open_says_so_for_pages_not_only_cases(app: Flask) -> None:
    answer = logged_in(app, "operator").get("/admin/")
    text = answer.get_data(as_text=True)
    assert answer.status_code == 403
    assert 'id="forbidden"' in text and "您的角色无权查看或办理此页面" in text


def test_a_form_opened_hours_ago_is_still_accepted(app: Flask) -> None:
    """A handler opens a task in the morning and submits after the site visit."""
    assessor = logged_in(app, "assessor")
    csrf(assessor.get("/assessment/sampling/").get_data(as_text=True))  # the session holds its token now
    with assessor.session_transaction() as session:
        raw_token = session["csrf_token"]
    # Signed as Flask-WTF signs a form's token, two hours ago.
    signed = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="wtf-csrf-token", signer=_SignedTwoHoursAgo)
    old_token = signed.dumps(raw_token)
    answer = assessor.post("/assessment/sampling/draw", data={"seed": "十二", "csrf_token": old_token})
    assert answer.status_code == 422  # past the token check: the seed itself is refused, beside its field
    assert 'id="error-seed"' in answer.get_data(as_text=True)


def test_a_form_from_before_a_new_login_says_how_to_keep_what_was_typed(app: Flask) -> None:
    assessor = logged_in(app, "assessor")
    opened = csrf(assessor.get("/assessment/sampling/").get_data(as_text=True))
    token = csrf(assessor.get("/login").get_data(as_text=True))  # logs in again in the same browser
    relogin = assessor.post("/login", data={"username": "assessor", "password": "demo", "csrf_token": token})
    assert relogin.status_code == 302
    answer = assessor.post("/assessment/sampling/draw", data={"seed": "42", "csrf_token": opened})
    text = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert 'id="stale-form"' in text and "已填内容仍在" in text
    assert "The CSRF token" not in text


def test_a_wrong_method_keeps_the_allow_header(app: Flask) -> None:
    answer = logged_in(app, "operator").post("/admin/")
    assert answer.status_code == 405
    assert "GET" in answer.headers["Allow"]
    assert 'data-code="405"' in answer.get_data(as_text=True)
